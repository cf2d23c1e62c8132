// The conversation: messages grouped by timestep, one column (lane) per origin system, a
// reward badge per step.
import { html } from '../html.js';
import { preview, reward } from '../format.js';

export function Conversation({ steps, messages, onSelect, selKey }) {
  const systems = [...new Set(messages.map((m) => m.content?.origin_system_id ?? '?'))];
  const byStep = new Map();
  for (const m of messages) {
    const k = m.step_id ?? '';
    if (!byStep.has(k)) byStep.set(k, []);
    byStep.get(k).push(m);
  }
  const order = steps.filter((s) => s.step_id != null).map((s) => [s.step_id, s]);
  if (byStep.has('')) order.push(['', { step_id: '(outside steps)' }]);
  if (messages.length === 0) return html`<p class="muted">This session has no messages.</p>`;
  return html`<div class="conversation" data-testid="conversation" style=${{ '--lanes': systems.length }}>
    <div class="conv-head">${systems.map((s) => html`<span>${s}</span>`)}</div>
    ${order.map(([k, s]) => byStep.has(k) && html`<div class="conv-step">
      <div class="conv-step-head">${s.step_id}${s.reward != null && html` <span class=${`badge ${s.reward > 0 ? 'pos' : s.reward < 0 ? 'neg' : ''}`}>${reward(s.reward)}</span>`}</div>
      ${byStep.get(k).map((m) => {
        const lane = systems.indexOf(m.content?.origin_system_id ?? '?');
        const payload = m.content?.payload;
        return html`<div class=${`conv-msg${selKey === `m${m.id}` ? ' sel' : ''}`} style=${{ gridColumn: `${lane + 1}` }}
            data-testid="conv-message" onClick=${() => onSelect(m)}>
          <span class="tag">${m.message_type}</span> ${preview(typeof payload === 'string' ? payload : JSON.stringify(payload ?? m.content), 400)}
        </div>`;
      })}
    </div>`)}
  </div>`;
}
