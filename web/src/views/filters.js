// The sessions list's filter bar: text search, filter chips (time range, experiment, model,
// system, reward range, terminated, errors) and the filter expression, all kept in the URL.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { getJSON } from '../api.js';
import { setQuery } from '../router.js';

export const FILTER_KEYS = ['q', 'filter', 'range', 'experiment', 'model', 'system', 'min_reward', 'max_reward', 'terminated', 'has_errors'];
const RANGES = { '15m': 900, '1h': 3600, '24h': 86400, '7d': 604800, '30d': 2592000 };

/** The API parameters of the list's URL query. */
export function listParams(query) {
  const p = {};
  for (const k of FILTER_KEYS) if (query[k] != null && query[k] !== '' && k !== 'range') p[k] = query[k];
  if (RANGES[query.range]) p.from = Math.floor(Date.now() / 1000) - RANGES[query.range];
  return p;
}

const LABELS = {
  q: 'text', filter: 'expr', range: 'last', experiment: 'experiment', model: 'model', system: 'system',
  min_reward: 'reward ≥', max_reward: 'reward ≤', terminated: 'terminated', has_errors: 'errors',
};

function Pick({ name, values, query, label }) {
  return html`<select data-testid=${`pick-${name}`} value=${query[name] || ''}
    onChange=${(e) => setQuery({ [name]: e.currentTarget.value })}>
    <option value="">${label}: any</option>
    ${values.map((v) => html`<option value=${v} title=${v}>${v.length > 60 ? `${v.slice(0, 60)}…` : v}</option>`)}
  </select>`;
}

/** `ready`: the list's first page has arrived; the facets (a scan of every session and event)
 * wait for it, or they would compete with it for the server's CPU. */
export function FilterBar({ query, error, ready }) {
  const [facets, setFacets] = useState({ models: [], systems: [], experiments: [] });
  const [expr, setExpr] = useState(query.filter || '');
  const [text, setText] = useState(query.q || '');
  useEffect(() => setExpr(query.filter || ''), [query.filter]);
  useEffect(() => setText(query.q || ''), [query.q]);
  useEffect(() => {
    if (ready) getJSON('/api/v1/facets').then(setFacets, () => {});
  }, [ready]);
  const values = (list) => (list || []).map((f) => f.value);
  const chips = FILTER_KEYS.filter((k) => query[k]);
  return html`<div class="filters">
    <div class="row">
      <input data-search data-testid="search" class="search" placeholder="Search messages and ids  ( / )" value=${text}
        onInput=${(e) => setText(e.currentTarget.value)}
        onKeyDown=${(e) => e.key === 'Enter' && setQuery({ q: text.trim() })} />
      <input data-testid="filter-input" class="expr" placeholder='Filter: reward > 0.5 and model == "gpt-4o" and errors == 0'
        value=${expr} onInput=${(e) => setExpr(e.currentTarget.value)}
        onKeyDown=${(e) => e.key === 'Enter' && setQuery({ filter: expr.trim() })} />
      <button data-testid="filter-apply" onClick=${() => setQuery({ filter: expr.trim(), q: text.trim() })}>Apply</button>
    </div>
    <div class="row">
      <select data-testid="pick-range" value=${query.range || ''} onChange=${(e) => setQuery({ range: e.currentTarget.value })}>
        <option value="">time: all</option>
        ${Object.keys(RANGES).map((r) => html`<option value=${r}>last ${r}</option>`)}
      </select>
      <${Pick} name="experiment" label="experiment" values=${values(facets.experiments)} query=${query} />
      <${Pick} name="model" label="model" values=${values(facets.models)} query=${query} />
      <${Pick} name="system" label="system" values=${values(facets.systems)} query=${query} />
      <input class="num" type="number" step="any" placeholder="reward ≥" value=${query.min_reward || ''}
        onChange=${(e) => setQuery({ min_reward: e.currentTarget.value })} />
      <input class="num" type="number" step="any" placeholder="reward ≤" value=${query.max_reward || ''}
        onChange=${(e) => setQuery({ max_reward: e.currentTarget.value })} />
      <select data-testid="pick-terminated" value=${query.terminated || ''} onChange=${(e) => setQuery({ terminated: e.currentTarget.value })}>
        <option value="">terminated: any</option><option value="true">terminated</option><option value="false">not terminated</option>
      </select>
      <select data-testid="pick-errors" value=${query.has_errors || ''} onChange=${(e) => setQuery({ has_errors: e.currentTarget.value })}>
        <option value="">errors: any</option><option value="true">with errors</option><option value="false">without errors</option>
      </select>
      ${chips.map((k) => html`<span class="chip" data-testid="chip">${LABELS[k]}: ${query[k]}
        <button title="Remove" onClick=${() => setQuery({ [k]: '' })}>×</button></span>`)}
    </div>
    ${error && html`<div class="error" data-testid="list-error">${error}</div>`}
  </div>`;
}
