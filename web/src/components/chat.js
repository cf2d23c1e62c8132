// An LLM call's messages as a chat: role, text, tool calls and their results. Accepts the
// shapes calls are recorded in (OpenAI-style messages, GenAI parts, a prompt string, choices).
import { html } from '../html.js';
import { LongText } from './json.js';

const asArray = (v) => (Array.isArray(v) ? v : v == null ? [] : [v]);

function textOf(part) {
  if (part == null) return '';
  if (typeof part === 'string') return part;
  if (typeof part.text === 'string') return part.text;
  if (typeof part.content === 'string') return part.content;
  return null;
}

export function inputMessages(before) {
  if (before == null || typeof before !== 'object') return before == null ? [] : [{ role: 'input', content: before }];
  const m = before.messages || before.input_messages || before['gen_ai.input.messages'] || before.input;
  const out = [];
  if (before.system || before.system_instructions) out.push({ role: 'system', content: before.system || before.system_instructions });
  if (Array.isArray(m)) return out.concat(m);
  if (typeof m === 'string') return out.concat([{ role: 'user', content: m }]);
  if (typeof before.prompt === 'string') return out.concat([{ role: 'user', content: before.prompt }]);
  return out;
}

export function outputMessages(after) {
  if (after == null) return [];
  if (typeof after !== 'object') return [{ role: 'assistant', content: after }];
  if (Array.isArray(after.choices)) return after.choices.map((c) => c.message || { role: 'assistant', content: c.text });
  const m = after.messages || after.output_messages || after['gen_ai.output.messages'];
  if (Array.isArray(m)) return m;
  if (after.message) return [after.message];
  if (after.content !== undefined || after.tool_calls) {
    return [{ role: after.role || 'assistant', content: after.content, tool_calls: after.tool_calls, finish_reason: after.finish_reason }];
  }
  if (typeof after.text === 'string') return [{ role: 'assistant', content: after.text }];
  return [];
}

function ToolCall({ call: given }) {
  // OpenInference wraps each call in {tool_call: {...}}.
  const call = given && given.tool_call ? given.tool_call : given || {};
  const fn = call.function || call;
  const args = fn.arguments ?? call.arguments ?? call.input;
  return html`<div class="toolcall" data-testid="tool-call">
    <span class="tag">tool call</span> <b>${fn.name || call.name || '?'}</b>${call.id ? html` <span class="muted">${call.id}</span>` : ''}
    <${LongText} text=${typeof args === 'string' ? args : JSON.stringify(args, null, 2)} />
  </div>`;
}

function Part({ part }) {
  if (part && part.type === 'json') return html`<${LongText} text=${JSON.stringify(part.value, null, 2)} />`;
  const text = textOf(part);
  if (text != null && (part.type == null || part.type === 'text' || typeof part === 'string')) return html`<${LongText} testid="message-text" text=${text} />`;
  if (part.type === 'tool_call' || part.type === 'tool_use') return html`<${ToolCall} call=${part} />`;
  if (part.type === 'tool_call_response' || part.type === 'tool_result') {
    return html`<div class="toolcall"><span class="tag">tool result</span> <span class="muted">${part.id || part.tool_use_id || ''}</span>
      <${LongText} text=${textOf(part.response ?? part.result ?? part.content) ?? JSON.stringify(part.response ?? part.result ?? part.content, null, 2)} /></div>`;
  }
  if (part.type === 'reasoning' || part.type === 'thinking') {
    return html`<div class="reasoning"><span class="tag">reasoning</span><${LongText} text=${text ?? part.thinking ?? ''} /></div>`;
  }
  return html`<${LongText} text=${JSON.stringify(part, null, 2)} />`;
}

export function Message({ msg }) {
  const role = msg.role || msg.type || 'message';
  const content = msg.parts || msg.content;
  return html`<div class="msg role-${String(role).replace(/[^a-z_]/gi, '')}" data-testid="chat-message" data-role=${role}>
    <div class="role">${role}${msg.name ? ` · ${msg.name}` : ''}${msg.tool_call_id ? ` · ${msg.tool_call_id}` : ''}${msg.finish_reason ? html` <span class="muted">(${msg.finish_reason})</span>` : ''}</div>
    ${Array.isArray(content) ? content.map((p) => html`<${Part} part=${p} />`) : content != null && html`<${Part} part=${typeof content === 'string' ? content : { type: 'json', value: content }} />`}
    ${asArray(msg.tool_calls).map((c) => html`<${ToolCall} call=${c} />`)}
  </div>`;
}

export function Chat({ before, after }) {
  const input = inputMessages(before);
  const output = outputMessages(after);
  return html`<div class="chat" data-testid="chat">
    ${input.map((m) => html`<${Message} msg=${m} />`)}
    ${output.length > 0 && html`<div class="sep">response</div>`}
    ${output.map((m) => html`<${Message} msg=${m} />`)}
    ${input.length + output.length === 0 && html`<p class="muted">No messages recorded for this call (see the raw JSON).</p>`}
  </div>`;
}
