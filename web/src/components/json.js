// JSON and long text shown as text (never HTML), cut at a size the page can lay out, with a
// button for the rest.
import { useState } from 'preact/hooks';
import { html } from '../html.js';

const CUT = 20000;

export function LongText({ text, testid }) {
  const [all, setAll] = useState(false);
  const s = text == null ? '' : String(text);
  const shown = all || s.length <= CUT ? s : s.slice(0, CUT);
  return html`<div class="longtext">
    <pre class="text" data-testid=${testid}>${shown}</pre>
    ${shown.length < s.length &&
    html`<button onClick=${() => setAll(true)}>Show all (${(s.length / 1024).toFixed(0)} KiB)</button>`}
  </div>`;
}

export function Json({ value, testid }) {
  if (value === undefined) return html`<span class="muted">—</span>`;
  return html`<${LongText} testid=${testid} text=${typeof value === 'string' ? value : JSON.stringify(value, null, 2)} />`;
}

function flatten(v, path, out) {
  if (v && typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length > 0) {
    for (const k of Object.keys(v)) flatten(v[k], path ? `${path}.${k}` : k, out);
  } else {
    out.set(path || '(value)', JSON.stringify(v));
  }
  return out;
}

/** The keys that changed between two states (paths of objects; arrays compared whole). */
export function StateDiff({ before, after }) {
  const a = flatten(before ?? null, '', new Map());
  const b = flatten(after ?? null, '', new Map());
  const keys = [...new Set([...a.keys(), ...b.keys()])].sort();
  const rows = keys
    .filter((k) => a.get(k) !== b.get(k))
    .map((k) => ({ k, was: a.get(k), now: b.get(k) }));
  if (rows.length === 0) return html`<p class="muted">The state did not change.</p>`;
  return html`<table class="diff" data-testid="state-diff">
    <tr><th>key</th><th>before</th><th>after</th></tr>
    ${rows.map((r) => html`<tr class=${r.was === undefined ? 'add' : r.now === undefined ? 'del' : 'chg'}>
      <td>${r.k}</td><td><code>${r.was ?? '(absent)'}</code></td><td><code>${r.now ?? '(absent)'}</code></td></tr>`)}
  </table>`;
}
