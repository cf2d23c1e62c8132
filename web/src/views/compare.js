// Two sessions side by side: timesteps aligned by index with deltas of duration, tokens, cost and
// reward; the first step where they diverge (different messages or events) is highlighted; in a
// chosen step, events are paired by name, its messages shown next to each other (the differing
// ones marked) and each differing pair of messages diffed line by line.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { allEvents, allMessages, enc, getJSON } from '../api.js';
import { follow, setQuery } from '../router.js';
import { isoMs, ms, num, reward, usd } from '../format.js';
import { align, lineDiff } from '../diff.js';

// A message as lines that diff well: text payloads as they are, others as indented JSON.
function messageText(m) {
  const payload = m.content?.payload ?? m.content;
  return typeof payload === 'string' ? payload : JSON.stringify(payload, null, 2);
}

async function loadSide(id) {
  const [detail, events, messages] = await Promise.all([getJSON(`/api/v1/sessions/${enc(id)}`), allEvents(id), allMessages(id)]);
  const steps = detail.timesteps.filter((s) => s.step_id != null);
  return steps.map((s) => ({
    ...s,
    duration: isoMs(s.ended_at) - isoMs(s.started_at),
    rows: events.filter((e) => e.step_id === s.step_id),
    events: events.filter((e) => e.step_id === s.step_id).map((e) => `${e.kind}:${e.name}`),
    messages: messages.filter((m) => m.step_id === s.step_id).map((m) => `${m.message_type}: ${messageText(m)}`),
    types: messages.filter((m) => m.step_id === s.step_id).map((m) => m.message_type),
  }));
}

/** The first step index whose messages or event names differ (or that only one session has). */
export function divergence(a, b) {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!a[i] || !b[i]) return i;
    if (JSON.stringify(a[i].messages) !== JSON.stringify(b[i].messages) || JSON.stringify(a[i].events) !== JSON.stringify(b[i].events)) return i;
  }
  return -1;
}

/** Events of two steps paired by name, in order (longest common subsequence); unpaired ones
 * stand alone. */
export function alignEvents(a, b) {
  return align(a, b, (x, y) => x.kind === y.kind && x.name === y.name);
}

// The messages of a step paired by type, in order (LCS: a message only one session has does not
// shift the pairs after it), each differing pair as a line diff (- only in A, + only in B,
// unchanged lines as context). Rendered as text, never as HTML.
function MessageDiffs({ x, y }) {
  const index = (s) => (s ? s.messages.map((_, i) => i) : []);
  const pairs = align(index(x), index(y), (i, j) => x.types[i] === y.types[j]);
  const blocks = [];
  pairs.forEach(([i, j], k) => {
    const a = i == null ? null : x.messages[i];
    const b = j == null ? null : y.messages[j];
    if (a === b) return;
    const lines = lineDiff(a, b);
    const where = i == null ? ` (only in B, its message ${j + 1})` : j == null ? ` (only in A, its message ${i + 1})`
      : i === j ? '' : ` (B's message ${j + 1})`;
    blocks.push(html`<div class="msgdiff" data-testid="message-diff" data-message=${k}>
      <div class="muted">message ${i == null ? '—' : i + 1}${where}</div>
      <pre class="text">${lines.map((l) => html`<span class=${l.op === '-' ? 'del' : l.op === '+' ? 'add' : 'same'} data-op=${l.op}>${l.op} ${l.text}</span>`)}</pre>
    </div>`);
  });
  if (blocks.length === 0) return html`<p class="muted" data-testid="message-diff-none">The messages of this step are the same.</p>`;
  return html`<div data-testid="message-diffs">${blocks}</div>`;
}

function EventPairs({ x, y }) {
  const pairs = alignEvents(x ? x.rows : [], y ? y.rows : []);
  const cell = (e) => (e ? `${e.name} (${e.kind === 'cais' ? 'LLM' : e.kind})` : '—');
  return html`<table class="grid" data-testid="event-pairs">
    <tr><th>A event</th><th>B event</th><th>Δ duration</th><th>Δ tokens</th><th>Δ cost</th><th>Δ reward</th></tr>
    ${pairs.map(([p, q]) => html`<tr class=${p && q ? '' : 'unpaired'}><td>${cell(p)}</td><td>${cell(q)}</td>
      <td>${delta(p?.duration_ms, q?.duration_ms, ms)}</td><td>${delta(p?.total_tokens, q?.total_tokens, num)}</td>
      <td>${delta(p?.cost, q?.cost, usd)}</td><td>${delta(p?.reward, q?.reward, reward)}</td></tr>`)}
  </table>`;
}

const delta = (x, y, f) => (typeof x === 'number' && typeof y === 'number' ? `${y - x >= 0 ? '+' : ''}${f(y - x)}` : '');

export function CompareView({ query }) {
  const [a, setA] = useState(query.a || '');
  const [b, setB] = useState(query.b || '');
  const [sides, setSides] = useState(null);
  const [error, setError] = useState('');
  useEffect(() => {
    if (!query.a || !query.b) return;
    setSides(null);
    Promise.all([loadSide(query.a), loadSide(query.b)]).then(setSides, (e) => setError(e.message));
  }, [query.a, query.b]);
  const pick = html`<div class="row">
    <input data-testid="compare-a" placeholder="session A" value=${a} onInput=${(e) => setA(e.currentTarget.value)} />
    <input data-testid="compare-b" placeholder="session B" value=${b} onInput=${(e) => setB(e.currentTarget.value)} />
    <button data-testid="compare-go" onClick=${() => setQuery({ a: a.trim(), b: b.trim() })}>Compare</button></div>`;
  if (!query.a || !query.b) return html`<div class="page">${pick}<p class="muted">Give two session ids.</p></div>`;
  if (error) return html`<div class="page">${pick}<div class="error">${error}</div></div>`;
  if (!sides) return html`<div class="page">${pick}<p class="muted">Loading…</p></div>`;
  const [sa, sb] = sides;
  const div = divergence(sa, sb);
  const focus = query.step != null ? Number(query.step) : div;
  const rows = [];
  for (let i = 0; i < Math.max(sa.length, sb.length); i++) {
    const x = sa[i];
    const y = sb[i];
    rows.push(html`<tr class=${`${i === div ? 'diverge' : ''}${i === focus ? ' focus' : ''}`} data-testid=${i === div ? 'divergent-step' : 'compare-step'}
        data-step=${i} onClick=${() => setQuery({ step: i }, { replace: true })}>
      <td>${i}${i === div ? ' ◀ first difference' : ''}</td>
      <td>${x ? x.step_id : '—'}</td><td>${y ? y.step_id : '—'}</td>
      <td>${x ? ms(x.duration) : '—'}</td><td>${y ? ms(y.duration) : '—'}</td><td class="d">${delta(x?.duration, y?.duration, ms)}</td>
      <td>${num(x?.tokens)}</td><td>${num(y?.tokens)}</td><td class="d">${delta(x?.tokens, y?.tokens, num)}</td>
      <td>${usd(x?.cost)}</td><td>${usd(y?.cost)}</td><td class="d">${delta(x?.cost, y?.cost, usd)}</td>
      <td>${reward(x?.reward)}</td><td>${reward(y?.reward)}</td><td class="d">${delta(x?.reward, y?.reward, reward)}</td>
    </tr>`);
  }
  const side = (s) => (s ? html`<div><b>messages</b>
    ${s.messages.map((m, j) => html`<pre class=${`text ${(focus >= 0 && sa[focus] && sb[focus] && sa[focus].messages[j] !== sb[focus].messages[j]) ? 'changed' : ''}`}>${m}</pre>`)}</div>` : html`<p class="muted">no step ${focus}</p>`);
  return html`<div class="page compare" data-testid="compare-view">
    ${pick}
    <p>${div < 0 ? 'The two sessions do not diverge.' : html`They first diverge at step <b data-testid="divergence-index">${div}</b>.`}${' '}
      <a href=${`/sessions/${enc(query.a)}`} onClick=${follow}>open A</a> · <a href=${`/sessions/${enc(query.b)}`} onClick=${follow}>open B</a></p>
    <div class="scroll"><table class="grid">
      <tr><th>#</th><th>A step</th><th>B step</th><th>A dur</th><th>B dur</th><th>Δ</th><th>A tok</th><th>B tok</th><th>Δ</th>
        <th>A cost</th><th>B cost</th><th>Δ</th><th>A reward</th><th>B reward</th><th>Δ</th></tr>
      ${rows}
    </table></div>
    ${focus >= 0 && html`<h3>Step ${focus}</h3><${EventPairs} x=${sa[focus]} y=${sb[focus]} />
      <h4>Messages, line by line (− A, + B)</h4><${MessageDiffs} x=${sa[focus]} y=${sb[focus]} />
      <div class="sidebyside">${side(sa[focus])}${side(sb[focus])}</div>`}
  </div>`;
}
