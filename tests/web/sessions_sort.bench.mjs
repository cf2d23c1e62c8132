// Not a CTest test: the sessions list route sorted by each kind of column (numbers, times, text)
// over N sessions (default 100,000), first pages and pages after a cursor, timed from Node (no
// browser). Results: BENCHMARKS.md, "The viewer".
//   SYNTH_TRACE_BINARY=build/cli/synth-trace node tests/web/sessions_sort.bench.mjs [N]
import { session } from './fixtures.mjs';
import { startServe } from './harness.mjs';
const N = Number(process.argv[2] || 100000);
const server = await startServe();
const t = Date.now();
for (let start = 0; start < N; start += 5000) {
  const batch = [];
  for (let i = start; i < Math.min(N, start + 5000); i++) {
    batch.push(JSON.stringify(session(`s-${String(i).padStart(6, '0')}`, [{ at: 0, events: [
      { kind: 'cais', at: 0, dur: 5 + (i % 50), model: ['gpt-4o', 'o3-mini', 'Claude-3-5', 'gpt-4.1'][i % 4], cost: (i % 97) / 1000 },
      { kind: 'environment', at: 60, dur: 1, reward: (i % 11) / 10, terminated: i % 2 === 0 },
    ], messages: [{ type: 'observation', from: 'env', payload: `task ${(i * 7919) % 1000} of the run`, at: 0 }] }], i % 100000)));
  }
  const res = await fetch(`${server.url}/api/v1/sessions?wait=commit`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: batch.join('\n') });
  if (!res.ok) throw new Error(`ingest failed: ${res.status}`);
}
console.log(`stored ${N} sessions in ${((Date.now() - t) / 1000).toFixed(1)} s`);
for (const sort of ['time', 'cost', 'session_id', 'models', 'first_message', 'last_message']) {
  const times = [];
  let cursor = null;
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const r = await fetch(`${server.url}/api/v1/sessions?sort=${sort}&order=asc&limit=200${cursor && i >= 3 ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    const b = await r.json();
    if (i === 0) cursor = b.next_cursor;
    times.push(Math.round(performance.now() - t0));
  }
  console.log(`sort=${sort}: first page ${times.slice(0, 3).join('/')} ms, a later page (cursor) ${times.slice(3).join('/')} ms`);
}
await server.stop();
