// Not a CTest test (storing 100 k sessions takes minutes here; browser_many_sessions is the CTest
// version at a smaller count): the sessions list with 100,000 sessions, timed in chromium. Run:
//   SYNTH_TRACE_BINARY=build/cli/synth-trace node tests/web/sessions_100k.bench.mjs [N] [ROW]
// SESSIONS_DB=/tmp/x.duckdb keeps the database (built on the first run, reused after);
// BENCH_UI_DIR=DIR serves the viewer from DIR (`node web/build.mjs --out DIR` of another version, to
// compare); a ROW of 0 stops after the first page.
// Prints: the first page's time and what it is made of (each request the page makes, as the
// browser saw it, and the same requests timed again from Node), then scrolling to row ROW
// (default 50,000): frames longer than 50 ms and the keyset page fetches; then sort and filter.
// Results: BENCHMARKS.md, "The viewer".
import { existsSync } from 'node:fs';
import { seedMany } from './fixtures.mjs';
import { launch, newPage, startServe } from './harness.mjs';
import { scrollSessionsTo, summary } from './sessions_scroll.mjs';

const N = Number(process.argv[2] || 100000);
const ROW = Number(process.argv[3] || 50000);
const db = process.env.SESSIONS_DB;
const reuse = db && existsSync(db);
const server = await startServe(process.env.BENCH_UI_DIR ? ['--ui-dir', process.env.BENCH_UI_DIR] : [], { db });
if (!reuse) console.log(`stored ${N} sessions in ${(await seedMany(server.url, N)).toFixed(1)} s`);
const fmt = (x) => `${Math.round(x)} ms`;
const fmts = (s) => `median ${fmt(s.median)}, p95 ${fmt(s.p95)}, max ${fmt(s.max)} (${s.n})`;

const browser = await launch();
const page = await newPage(browser);
// In the page: when the first row is drawn, from the navigation's start (no playwright round trips).
await page.addInitScript(() => {
  new MutationObserver((_, obs) => {
    if (document.querySelector('[data-testid=session-row]')) {
      window.synthFirstRow = performance.now();
      obs.disconnect();
    }
  }).observe(document, { childList: true, subtree: true });
});
const t0 = Date.now();
await page.goto(server.url);
await page.getByTestId('session-row').first().waitFor();
console.log(`first page shown (page load included): ${Date.now() - t0} ms as playwright sees it, first row drawn at ${Math.round(await page.evaluate(() => window.synthFirstRow))} ms in the page`);
const loadTimes = await page.evaluate(() => performance.getEntries()
  .filter((e) => e.entryType === 'navigation' || e.entryType === 'resource' || e.entryType === 'paint')
  .map((e) => ({ name: e.name.replace(location.origin, ''), start: e.startTime, waiting: e.responseStart ? e.responseStart - e.requestStart : 0, end: e.responseEnd || e.startTime })));
for (const e of loadTimes) console.log(`  ${e.name.slice(0, 70).padEnd(70)} starts ${fmt(e.start)}, server ${fmt(e.waiting)}, done ${fmt(e.end)}`);
for (const path of ['/api/v1/sessions?sort=time&order=desc&limit=200', '/api/v1/facets', '/api/v1/health']) {
  const times = [];
  for (let i = 0; i < 3; i++) {
    const t = performance.now();
    await (await fetch(`${server.url}${path}`)).arrayBuffer();
    times.push(performance.now() - t);
  }
  console.log(`  from Node, alone: ${path}: ${times.map(fmt).join(' / ')}`);
}

if (ROW === 0) {
  await browser.close();
  await server.stop();
  process.exit(0);
}
const r = await scrollSessionsTo(page, ROW);
const long = r.frames.filter((f) => f > 50);
console.log(`scrolled to row ${ROW}: ${(r.elapsed / 1000).toFixed(1)} s, ${r.loaded} rows loaded, at most ${r.maxDom} rows in the DOM`);
console.log(`  frames: ${r.frames.length}, longer than 50 ms: ${long.length} (${fmts(summary(long))}); all frames ${fmts(summary(r.frames))}`);
console.log(`  keyset page fetches (200 rows): total ${fmts(summary(r.fetches.map((f) => f.total)))}`);
console.log(`    of which server (request sent → first byte): ${fmts(summary(r.fetches.map((f) => f.waiting)))}`);
const deep = r.fetches.slice(-10);
console.log(`    the last 10 (past row ${r.loaded - 2000}): ${fmts(summary(deep.map((f) => f.total)))}`);

const time = async (label, fn) => {
  const t = Date.now();
  await fn();
  console.log(`${label}: ${Date.now() - t} ms`);
};
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
