// Not a CTest test: opening a 10,000-event session from the sessions list, ROUNDS times in one
// browser, timed two ways (results: BENCHMARKS.md, "The viewer"):
//   in the page   click → the first timeline cluster and tree row are in the DOM, measured by a
//                 MutationObserver in the page (no playwright round trips; works with any build)
//   playwright    what tests/web/large.test.mjs measures (click, then waiting for both)
// Run:  SYNTH_TRACE_BINARY=build/cli/synth-trace node tests/web/session_10k.bench.mjs [ROUNDS]
import { tenThousandEvents } from './fixtures.mjs';
import { launch, newPage, seed, startServe } from './harness.mjs';

const ROUNDS = Number(process.argv[2] || 9);
const server = await startServe();
await seed(server.url, [tenThousandEvents()]);
const browser = await launch();
const page = await newPage(browser);
const inPage = [];
const outside = [];
for (let round = 0; round < ROUNDS; round++) {
  await page.goto(server.url);
  await page.getByTestId('session-row').first().waitFor();
  await page.evaluate(() => {
    window.benchDone = new Promise((resolve) => {
      let clicked = 0;
      document.addEventListener('click', () => { clicked = performance.now(); }, { capture: true, once: true });
      const seen = () => document.querySelector('[data-testid=tl-cluster]') && document.querySelector('[data-testid=tree-event]');
      new MutationObserver((_, obs) => {
        if (clicked && seen()) {
          obs.disconnect();
          resolve(performance.now() - clicked);
        }
      }).observe(document.body, { childList: true, subtree: true });
    });
  });
  const t0 = Date.now();
  await page.getByTestId('session-row').first().click();
  await page.locator('[data-testid=tl-cluster]').first().waitFor();
  await page.getByTestId('tree-event').first().waitFor();
  outside.push(Date.now() - t0);
  inPage.push(Math.round(await page.evaluate(() => window.benchDone)));
  // Let the other pages of events arrive before the next round.
  await page.waitForFunction(() => document.querySelector('[data-testid=tree-count]')?.textContent.startsWith('10000 events'));
}
const stats = (v) => {
  const s = [...v].sort((a, b) => a - b);
  return `median ${s[Math.floor(s.length / 2)]} ms (min ${s[0]}, max ${s[s.length - 1]}; ${v.join(' ')})`;
};
console.log(`rounds: ${ROUNDS}, load average ${(await import('node:os')).loadavg()[0].toFixed(2)} at the end`);
console.log(`in the page: click → first cluster and tree row: ${stats(inPage)}`);
console.log(`playwright (large.test.mjs's "opened"): ${stats(outside)}`);
await browser.close();
await server.stop();
