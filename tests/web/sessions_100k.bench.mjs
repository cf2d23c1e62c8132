// Not a CTest test (storing 100 k sessions takes minutes here): the sessions list with 100,000
// sessions, timed in chromium. Run:
//   SYNTH_TRACE_BINARY=build/cli/synth-trace node tests/web/sessions_100k.bench.mjs [N]
// Prints the time to the first page, to scroll through 5,000 rows (25 keyset pages), to sort by
// cost and to apply a filter expression. Results: BENCHMARKS.md, "The viewer".
import { session } from './fixtures.mjs';
import { launch, newPage, startServe } from './harness.mjs';

const N = Number(process.argv[2] || 100000);
const server = await startServe();
const t = Date.now();
for (let start = 0; start < N; start += 5000) {
  const batch = [];
  for (let i = start; i < Math.min(N, start + 5000); i++) {
    batch.push(JSON.stringify(session(`s-${String(i).padStart(6, '0')}`, [{ at: 0, events: [
      { kind: 'cais', at: 0, dur: 5 + (i % 50), model: i % 3 ? 'gpt-4o' : 'o3-mini', cost: (i % 97) / 1000, input: [{ role: 'user', content: `task ${i}` }], output: 'done' },
      { kind: 'environment', at: 60, dur: 1, reward: (i % 11) / 10, terminated: i % 2 === 0 },
    ] }], i % 100000)));
  }
  const res = await fetch(`${server.url}/api/v1/sessions?wait=commit`, { method: 'POST', headers: { 'Content-Type': 'application/x-ndjson' }, body: batch.join('\n') });
  if (!res.ok) throw new Error(`ingest failed: ${res.status} ${await res.text()}`);
}
console.log(`stored ${N} sessions in ${((Date.now() - t) / 1000).toFixed(1)} s`);

const browser = await launch();
const page = await newPage(browser);
const time = async (label, fn) => {
  const t0 = Date.now();
  await fn();
  console.log(`${label}: ${Date.now() - t0} ms`);
};
await time('first page shown', async () => {
  await page.goto(server.url);
  await page.getByTestId('session-row').first().waitFor();
});
await time('scrolled through 5,000 rows (keyset pages as it goes)', async () => {
  for (let n = 0; n < 50; n++) {
    await page.getByTestId('sessions-list').evaluate((el) => { el.scrollTop = el.scrollHeight; });
    await page.waitForTimeout(20);
    const rows = await page.evaluate(() => Number(document.querySelector('[data-testid=list-status]').textContent.split(' ')[0]));
    if (rows >= 5000) break;
  }
});
console.log(`rows in the DOM: ${await page.locator('[data-testid=session-row]').count()}`);
await time('sorted by cost', async () => {
  await page.getByTestId('sort-cost').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=list-status]').textContent.startsWith('200 '));
});
await time('filter reward > 0.5 and model == "gpt-4o"', async () => {
  await page.getByTestId('filter-input').fill('reward > 0.5 and model == "gpt-4o"');
  await page.getByTestId('filter-input').press('Enter');
  await page.waitForURL(/filter=/);
  await page.waitForFunction(() => !document.querySelector('[data-testid=list-status]').textContent.includes('loading'));
});
await browser.close();
await server.stop();
