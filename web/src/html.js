// htm bound to Preact: JSX-like templates without a compile step. Preact sets text children as
// text nodes, so trace content is never parsed as HTML.
import { h } from 'preact';
import htm from 'htm';

export const html = htm.bind(h);
