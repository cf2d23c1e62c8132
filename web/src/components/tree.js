// The session's tree: timesteps, then their events and messages in time order. Flattened into
// rows for the virtual list; collapsed steps hide their children.
import { html } from '../html.js';
import { KIND_GLYPH, KIND_LABEL, isoMs, ms, num, preview, reward, usd } from '../format.js';

export function buildNodes(steps, events, messages, collapsed) {
  const byStep = new Map();
  const put = (key, node) => {
    if (!byStep.has(key)) byStep.set(key, []);
    byStep.get(key).push(node);
  };
  for (const e of events) put(e.step_id ?? '', { key: `e${e.id}`, type: 'event', t: isoMs(e.started_at), ev: e });
  for (const m of messages) put(m.step_id ?? '', { key: `m${m.id}`, type: 'message', t: isoMs(m.timestamp || m.event_time), msg: m });
  const out = [];
  const seen = new Set();
  const group = (stepKey, stepNode) => {
    seen.add(stepKey);
    out.push(stepNode);
    if (collapsed.has(stepNode.key)) return;
    const kids = (byStep.get(stepKey) || []).sort((a, b) => a.t - b.t);
    for (const k of kids) out.push({ ...k, depth: 1 });
  };
  for (const s of steps) {
    if (s.step_id == null) continue;
    group(s.step_id, { key: `s${s.id}`, type: 'step', depth: 0, step: s, count: (byStep.get(s.step_id) || []).length });
  }
  for (const key of byStep.keys()) {
    if (!seen.has(key)) group(key, { key: `s:${key}`, type: 'step', depth: 0, step: { step_id: key || '(outside steps)' }, count: byStep.get(key).length });
  }
  return out;
}

export function TreeRow({ node, style, selected, collapsed, onClick }) {
  const cls = `trow d${node.depth}${selected ? ' sel' : ''}`;
  if (node.type === 'step') {
    const s = node.step;
    return html`<div class=${cls} style=${style} data-testid="tree-step" data-key=${node.key} onClick=${onClick}>
      <span class="twist">${collapsed ? '▸' : '▾'}</span><span class="glyph k-step">${KIND_GLYPH.step}</span>
      <span class="name">${s.step_id}</span><span class="muted">${node.count} items</span>
      <span class="grow"></span>
      ${s.tokens != null && html`<span class="m">${num(s.tokens)} tok</span>`}
      ${s.cost != null && html`<span class="m">${usd(s.cost)}</span>`}
      ${s.reward != null && html`<span class=${`badge ${s.reward > 0 ? 'pos' : s.reward < 0 ? 'neg' : ''}`}>${reward(s.reward)}</span>`}
      ${s.terminated && html`<span class="badge term">terminated</span>`}
    </div>`;
  }
  if (node.type === 'message') {
    const m = node.msg;
    const c = m.content || {};
    const text = typeof c.payload === 'string' ? c.payload : JSON.stringify(c.payload ?? c);
    return html`<div class=${cls} style=${style} data-testid="tree-message" data-key=${node.key} onClick=${onClick}>
      <span class="glyph k-message">${KIND_GLYPH.message}</span><span class="name">${m.message_type}</span>
      <span class="muted">${c.origin_system_id ?? ''}</span><span class="preview">${preview(text, 160)}</span>
    </div>`;
  }
  const e = node.ev;
  return html`<div class=${`${cls}${e.status && e.status !== 'ok' ? ' err' : ''}`} style=${style} data-testid="tree-event"
      data-kind=${e.kind} data-event-id=${e.id} data-key=${node.key} onClick=${onClick}>
    <span class=${`glyph k-${e.kind}`} title=${KIND_LABEL[e.kind]}>${KIND_GLYPH[e.kind]}</span>
    <span class="name">${e.name || KIND_LABEL[e.kind]}</span><span class="muted">${e.system}</span>
    <span class="grow"></span>
    <span class="m">${ms(e.duration_ms)}</span>
    ${e.total_tokens != null && html`<span class="m">${num(e.total_tokens)} tok</span>`}
    ${e.cost != null && html`<span class="m">${usd(e.cost)}</span>`}
    ${e.reward != null && html`<span class=${`badge ${e.reward > 0 ? 'pos' : e.reward < 0 ? 'neg' : ''}`}>${reward(e.reward)}</span>`}
  </div>`;
}
