// One event's detail, its payloads fetched on demand: an LLM call as a chat with tokens by
// bucket, cost and its source, latency; an environment step with reward, termination and the
// state diff; a runtime operation with its actions, result and error. A raw JSON toggle shows
// everything stored.
import { useEffect, useState } from 'preact/hooks';
import { html } from '../html.js';
import { getJSON } from '../api.js';
import { Chat } from './chat.js';
import { Json, StateDiff } from './json.js';
import { KIND_GLYPH, KIND_LABEL, isNum, ms, num, reward, usd, when } from '../format.js';

// Where a call's cost came from: what the trace records, never a guess. The ai_call scope
// records cost_source = "provider" for a cost the provider reported; the tracer, when it prices a
// call, records cost_source = "price_table" and the table's date (price_table_as_of), or
// cost_status when it could not price (unknown model, no usage).
export function costSource(e) {
  const md = e.metadata || {};
  const asOf = md.price_table_as_of;
  if (md.cost_status === 'unknown_model') {
    return `unknown model: ${e.model ?? '(none)'} is not in the price table${asOf ? ` (prices as of ${asOf})` : ''}, so no cost`;
  }
  if (md.cost_status === 'no_usage') return 'not priced: the provider reported no token usage';
  if (md.cost_source === 'provider') return 'provider-reported';
  if (isNum(e.cost) && (md.cost_source === 'price_table' || asOf)) {
    return asOf ? `price table (prices as of ${asOf})` : 'price table (its date was not recorded)';
  }
  if (md.cost_source) return String(md.cost_source);
  if (isNum(e.cost)) return 'not recorded (the price table when traced, or a cost given with the event)';
  return 'no cost recorded';
}

function Field({ label, children, testid }) {
  return html`<div class="field"><span class="label">${label}</span><span class="value" data-testid=${testid}>${children}</span></div>`;
}

function Tokens({ e }) {
  const rows = [
    ['input', e.prompt_tokens], ['  of which cached', e.cached_tokens], ['  of which cache write', e.cache_write_tokens],
    ['output', e.completion_tokens], ['  of which reasoning', e.reasoning_tokens], ['total', e.total_tokens],
  ];
  return html`<table class="tokens" data-testid="tokens">${rows.map(([k, v]) => html`<tr><td>${k}</td><td class="n">${num(v)}</td></tr>`)}</table>`;
}

function LlmCall({ e }) {
  const md = e.metadata || {};
  const params = e.system_state_before && typeof e.system_state_before === 'object'
    ? Object.fromEntries(Object.entries(e.system_state_before).filter(([k, v]) => !['messages', 'input_messages', 'prompt', 'system', 'model'].includes(k) && typeof v !== 'object'))
    : {};
  return html`<div>
    <div class="fields">
      <${Field} label="model" testid="detail-model">${e.model ?? '—'}</${Field}>
      <${Field} label="provider">${e.provider ?? e.event_provider ?? '—'}</${Field}>
      <${Field} label="cost" testid="detail-cost">${usd(e.cost)}</${Field}>
      <${Field} label="cost source" testid="detail-cost-source">${costSource(e)}</${Field}>
      <${Field} label="latency">${ms(e.latency_ms ?? e.duration_ms)}</${Field}>
      <${Field} label="time to first token">${ms(md.time_to_first_token_ms)}</${Field}>
      ${Object.entries(params).map(([k, v]) => html`<${Field} label=${k}>${String(v)}</${Field}>`)}
    </div>
    <${Tokens} e=${e} />
    <h4>Messages</h4>
    <${Chat} before=${e.system_state_before} after=${e.system_state_after} />
  </div>`;
}

function EnvStep({ e }) {
  return html`<div>
    <div class="fields">
      <${Field} label="reward" testid="detail-reward">${reward(e.reward)}</${Field}>
      <${Field} label="terminated" testid="detail-terminated">${e.terminated == null ? '—' : String(e.terminated)}</${Field}>
      <${Field} label="truncated">${e.truncated === true ? 'true' : e.truncated === false ? 'false' : '—'}</${Field}>
    </div>
    <h4>State: what changed</h4>
    <${StateDiff} before=${e.system_state_before} after=${e.system_state_after} />
    ${e.observation_diff != null && html`<h4>Observation diff</h4><${Json} value=${e.observation_diff} />`}
  </div>`;
}

function RuntimeOp({ e }) {
  const md = e.metadata || {};
  return html`<div>
    <div class="fields">
      <${Field} label="status">${e.status ?? '—'}</${Field}>
      ${md.error != null && html`<${Field} label="error" testid="detail-error"><span class="bad">${typeof md.error === 'string' ? md.error : JSON.stringify(md.error)}</span></${Field}>`}
    </div>
    <h4>Actions / arguments</h4><${Json} value=${e.actions ?? e.system_state_before} />
    <h4>Result</h4><${Json} value=${e.system_state_after} />
  </div>`;
}

export function EventDetail({ id, onClose }) {
  const [e, setE] = useState(null);
  const [error, setError] = useState('');
  const [raw, setRaw] = useState(false);
  useEffect(() => {
    setE(null);
    setError('');
    getJSON(`/api/v1/events/${id}`).then(setE, (err) => setError(err.message));
  }, [id]);
  if (error) return html`<div class="detail"><div class="error">${error}</div></div>`;
  if (!e) return html`<div class="detail muted">Loading event ${id}…</div>`;
  const body = e.kind === 'cais' ? html`<${LlmCall} e=${e} />` : e.kind === 'environment' ? html`<${EnvStep} e=${e} />` : html`<${RuntimeOp} e=${e} />`;
  return html`<div class="detail" data-testid="event-detail" data-event-id=${e.id}>
    <div class="dhead">
      <span class="glyph k-${e.kind}">${KIND_GLYPH[e.kind]}</span>
      <b data-testid="detail-name">${e.name || KIND_LABEL[e.kind]}</b>
      <span class="muted">${KIND_LABEL[e.kind]} · ${e.system} · ${e.step_id ?? 'no step'} · ${when(e.started_at)} · ${ms(e.duration_ms)}</span>
      <span class="grow"></span>
      <button data-testid="raw-toggle" onClick=${() => setRaw(!raw)}>${raw ? 'Formatted' : 'Raw JSON'}</button>
      <button title="Close (Esc)" onClick=${onClose}>×</button>
    </div>
    ${e.cut_payloads && e.cut_payloads.length > 0 && html`<div class="warn">Cut by the server (--max-event-bytes): ${e.cut_payloads.join(', ')}</div>`}
    ${raw ? html`<${Json} value=${e} testid="raw-json" />` : body}
  </div>`;
}
