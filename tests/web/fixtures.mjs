// Sessions in our trace JSON (what POST /api/v1/sessions reads), with times chosen by the test.
const T0 = Date.parse('2026-03-01T10:00:00Z');
const iso = (ms) => new Date(Math.floor(ms)).toISOString().replace(/\.(\d{3})Z$/, (m, f) => `.${f}${String(Math.round((ms % 1) * 1000)).padStart(3, '0')}Z`);

function event(e, turn, base) {
  const time_record = { event_time: iso(base + e.at), message_time: turn };
  const metadata = { duration_ms: e.dur, ...(e.metadata || {}) };
  if (e.kind === 'cais') {
    metadata.operation = e.name || 'chat';
    return {
      event_type: 'cais', time_record, system_instance_id: e.system || 'agent',
      system_state_before: { model: e.model || 'gpt-4o', temperature: 0.2, messages: e.input || [{ role: 'user', content: 'hello' }] },
      system_state_after: { content: e.output ?? 'ok', finish_reason: 'stop' },
      llm_call_records: [], model_name: e.model || 'gpt-4o', provider: e.provider || 'openai',
      prompt_tokens: e.prompt ?? 100, completion_tokens: e.completion ?? 20, total_tokens: (e.prompt ?? 100) + (e.completion ?? 20),
      cached_tokens: e.cached ?? null, cost: e.cost ?? 0.001, latency_ms: e.dur, metadata, event_metadata: [],
    };
  }
  if (e.kind === 'environment') {
    metadata.step = e.name || 'step';
    return {
      event_type: 'environment', time_record, system_instance_id: e.system || 'env',
      system_state_before: e.before ?? { position: [0, 0] }, system_state_after: e.after ?? { position: [0, 1] },
      reward: e.reward ?? 0, terminated: e.terminated ?? false, truncated: false, metadata, event_metadata: [],
    };
  }
  metadata.operation_type = e.name || 'tool';
  return {
    event_type: 'runtime', time_record, system_instance_id: e.system || 'tools', system_state_before: null,
    system_state_after: e.result ?? null, actions: e.actions ?? ['run'], metadata, event_metadata: [],
  };
}

/**
 * steps: [{ at, events: [{kind, at, dur, ...}], messages: [{type, from, payload, at}] }], times in
 * ms from the session's start (session i starts at T0 + i minutes).
 */
export function session(id, steps, index = 0) {
  const base = T0 + index * 60000;
  const messages = [];
  const session_time_steps = steps.map((s, i) => {
    const step_messages = (s.messages || []).map((m) => ({
      content: { origin_system_id: m.from, payload: m.payload }, timestamp: iso(base + m.at), message_type: m.type,
      time_record: { event_time: iso(base + m.at), message_time: i },
    }));
    messages.push(...step_messages);
    return {
      step_id: `step_${i}`, step_index: i, turn_number: i, timestamp: iso(base + (s.at ?? s.events[0]?.at ?? 0)),
      events: s.events.map((e) => event(e, i, base)), step_messages, step_metadata: {},
    };
  });
  return { session_id: id, created_at: iso(base), session_time_steps, message_history: messages, session_metadata: [] };
}

/** An agent loop: each step an LLM call, a tool check and an environment step, 100 ms apart. */
export function episode(id, n, { model = 'gpt-4o', rewards = [], actions = [], index = 0, error = false } = {}) {
  const steps = [];
  for (let i = 0; i < n; i++) {
    const at = i * 100;
    const action = actions[i] ?? 'south';
    steps.push({
      at,
      events: [
        { kind: 'cais', at, dur: 40, model, input: [{ role: 'system', content: 'You play a grid world.' }, { role: 'user', content: `Step ${i}: where now?` }],
          output: `{"action":"${action}"}`, prompt: 80 + i, completion: 10, cost: 0.0012 },
        { kind: 'runtime', at: at + 45, dur: 5, name: 'validate_action', actions: [action],
          ...(error && i === n - 1 ? { metadata: { error: 'invalid action', success: false } } : {}) },
        { kind: 'environment', at: at + 55, dur: 20, name: 'move', reward: rewards[i] ?? -0.01, terminated: i === n - 1, before: { x: i }, after: { x: i + 1 } },
      ],
      messages: [
        { type: 'observation', from: 'env', payload: { x: i }, at },
        { type: 'action', from: 'agent', payload: { action }, at: at + 44 },
      ],
    });
  }
  return session(id, steps, index);
}

/** The 10,000-event session of the large-session test and benchmark: 1,000 timesteps of an LLM
 * call, eight runtime operations and an environment step, 50 ms apart. */
export function tenThousandEvents(id = 'big-10k') {
  const steps = [];
  for (let i = 0; i < 1000; i++) {
    const at = i * 50;
    steps.push({
      at,
      events: [
        { kind: 'cais', at, dur: 20, prompt: 50, completion: 5, cost: 0.0001, input: [{ role: 'user', content: `step ${i}` }], output: 'ok' },
        ...Array.from({ length: 8 }, (_, j) => ({ kind: 'runtime', name: `tool-${j}`, at: at + 20 + j * 2, dur: 2 })),
        { kind: 'environment', at: at + 40, dur: 8, reward: 0.001 },
      ],
    });
  }
  return session(id, steps);
}

/** Session i of the many-sessions list test and benchmark: one LLM call and one environment step,
 * ids s-000000, s-000001, … (ascending with their start time). */
export function smallSession(i) {
  return session(`s-${String(i).padStart(6, '0')}`, [{ at: 0, events: [
    { kind: 'cais', at: 0, dur: 5 + (i % 50), model: i % 3 ? 'gpt-4o' : 'o3-mini', cost: (i % 97) / 1000, input: [{ role: 'user', content: `task ${i}` }], output: 'done' },
    { kind: 'environment', at: 60, dur: 1, reward: (i % 11) / 10, terminated: i % 2 === 0 },
  ] }], i);
}

/** Stores smallSession(0 … n-1) through POST /api/v1/sessions in NDJSON batches; returns seconds. */
export async function seedMany(url, n, batchSize = 5000) {
  const t = Date.now();
  for (let start = 0; start < n; start += batchSize) {
    const batch = [];
    for (let i = start; i < Math.min(n, start + batchSize); i++) batch.push(JSON.stringify(smallSession(i)));
    const res = await fetch(`${url}/api/v1/sessions?wait=commit`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: batch.join('\n') });
    if (!res.ok) throw new Error(`ingest of sessions ${start}… failed: ${res.status} ${await res.text()}`);
  }
  return (Date.now() - t) / 1000;
}
