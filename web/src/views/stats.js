// Stats: cost, tokens, calls, errors and reward over time (uPlot), per model or experiment, the
// distribution of sessions' total reward per experiment, and the costliest sessions.
import { useEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import { html } from '../html.js';
import { enc, getJSON } from '../api.js';
import { follow, setQuery } from '../router.js';
import { reward, usd } from '../format.js';

const PALETTE = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

/** Sessions' total rewards in 20 bins, one series per experiment (the latest 1,000 sessions). */
function rewardHistogram(sessions) {
  const rewards = sessions.filter((s) => typeof s.reward === 'number');
  if (rewards.length === 0) return null;
  const lo = Math.min(...rewards.map((s) => s.reward));
  const hi = Math.max(...rewards.map((s) => s.reward));
  const bins = 20;
  const width = (hi - lo) / bins || 1;
  const groups = new Map();
  for (const s of rewards) {
    const g = s.experiment_id ?? 'no experiment';
    if (!groups.has(g)) groups.set(g, new Array(bins).fill(0));
    groups.get(g)[Math.min(bins - 1, Math.floor((s.reward - lo) / width))] += 1;
  }
  const xs = Array.from({ length: bins }, (_, i) => lo + (i + 0.5) * width);
  return { xs, groups: [...groups.entries()] };
}

function Histogram({ sessions }) {
  const box = useRef(null);
  useEffect(() => {
    const hist = rewardHistogram(sessions);
    if (!box.current || !hist) return undefined;
    const plot = new uPlot({
      width: box.current.clientWidth || 800,
      height: 220,
      scales: { x: { time: false } },
      series: [{ label: 'reward' }, ...hist.groups.map(([g], i) => ({
        label: String(g), stroke: PALETTE[i % PALETTE.length], fill: `${PALETTE[i % PALETTE.length]}88`,
        paths: uPlot.paths.bars({ size: [0.8, 60] }), points: { show: false },
      }))],
      axes: [{ label: 'total reward' }, { label: 'sessions' }],
    }, [hist.xs, ...hist.groups.map(([, counts]) => counts)], box.current);
    return () => plot.destroy();
  }, [sessions]);
  return html`<div ref=${box} class="chart" data-testid="reward-histogram"></div>`;
}

function Chart({ series, metric }) {
  const box = useRef(null);
  useEffect(() => {
    const el = box.current;
    if (!el || series.length === 0) return undefined;
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const data = [xs, ...series.map((s) => {
      const m = new Map(s.points.map((p) => [p[0], p[1]]));
      return xs.map((x) => (m.has(x) ? m.get(x) : null));
    })];
    const plot = new uPlot({
      width: el.clientWidth || 800,
      height: 280,
      series: [{}, ...series.map((s, i) => ({ label: String(s.group ?? 'all'), stroke: PALETTE[i % PALETTE.length], width: 2, points: { show: true } }))],
      axes: [{}, { label: metric }],
    }, data, el);
    return () => plot.destroy();
  }, [series, metric]);
  return html`<div ref=${box} class="chart" data-testid="stats-chart"></div>`;
}

export function StatsView({ query }) {
  const metric = query.metric || 'cost';
  const bucket = query.bucket || '1h';
  const group = query.group_by || 'model';
  const [series, setSeries] = useState([]);
  const [top, setTop] = useState([]);
  const [recent, setRecent] = useState([]);
  const [error, setError] = useState('');
  useEffect(() => {
    getJSON(`/api/v1/stats/timeseries?metric=${metric}&bucket=${bucket}&group_by=${group}`).then((r) => { setSeries(r.series); setError(''); }, (e) => setError(e.message));
  }, [metric, bucket, group]);
  useEffect(() => {
    getJSON('/api/v1/sessions?sort=cost&order=desc&limit=10').then((r) => setTop(r.sessions), () => {});
    getJSON('/api/v1/sessions?limit=1000').then((r) => setRecent(r.sessions), () => {});
  }, []);
  const pick = (name, value, choices) => html`<select value=${value} onChange=${(e) => setQuery({ [name]: e.currentTarget.value }, { replace: true })}>
    ${choices.map((c) => html`<option value=${c}>${name}: ${c}</option>`)}</select>`;
  return html`<div class="page stats">
    <div class="row">${pick('metric', metric, ['cost', 'tokens', 'calls', 'errors', 'reward'])}
      ${pick('bucket', bucket, ['30s', '5m', '1h', '1d'])}${pick('group_by', group, ['model', 'experiment', 'none'])}</div>
    ${error && html`<div class="error">${error}</div>`}
    ${series.length === 0 ? html`<p class="muted">No data for this metric yet.</p>` : html`<${Chart} series=${series} metric=${metric} />`}
    <h3>Total reward per session, by experiment (latest ${recent.length} sessions)</h3>
    ${recent.some((x) => typeof x.reward === 'number') ? html`<${Histogram} sessions=${recent} />` : html`<p class="muted">No rewards recorded.</p>`}
    <h3>Costliest sessions</h3>
    <table class="grid" data-testid="top-cost">
      <tr><th>session</th><th>cost</th><th>reward</th><th>models</th></tr>
      ${top.map((s) => html`<tr><td><a href=${`/sessions/${enc(s.session_id)}`} onClick=${follow}>${s.session_id}</a></td>
        <td>${usd(s.cost)}</td><td>${reward(s.reward)}</td><td>${(s.models || []).join(', ')}</td></tr>`)}
    </table>
  </div>`;
}
