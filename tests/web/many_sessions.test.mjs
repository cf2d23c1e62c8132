// Many sessions: the list scrolls to its very end, every row reachable, while the DOM keeps only
// the rows in view (virtualized) and pages arrive by keyset cursor. 100 k sessions take minutes to
// store here (tests/web/sessions_100k.bench.mjs measures that many, BENCHMARKS.md); this test
// stores the largest count that builds in about 20 s on this machine (SESSIONS, default 25,000).
import assert from 'node:assert/strict';
import { seedMany } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';
import { scrollSessionsTo, summary } from './sessions_scroll.mjs';

const N = Number(process.env.SESSIONS || 25000);

await run('many_sessions', [], async ({ browser, url }) => {
  console.log(`stored ${N} sessions in ${(await seedMany(url, N)).toFixed(1)} s`);
  const page = await newPage(browser);
  const t0 = Date.now();
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  console.log(`first page shown: ${Date.now() - t0} ms`);
  // Newest first: s-<N-1> … s-000000.
  assert.equal(await page.getByTestId('session-row').first().getAttribute('data-session-id'), `s-${String(N - 1).padStart(6, '0')}`);

  const r = await scrollSessionsTo(page, N - 1);
  const long = r.frames.filter((f) => f > 50);
  console.log(`scrolled to row ${N - 1}: ${Math.round(r.elapsed)} ms; ${r.frames.length} frames, ${long.length} longer than 50 ms; ` +
    `keyset pages: ${JSON.stringify(summary(r.fetches.map((f) => Math.round(f.total))))}; at most ${r.maxDom} rows in the DOM`);
  assert.equal(r.loaded, N, 'every session loaded, none twice');
  assert.match(await page.getByTestId('list-status').textContent(), new RegExp(`^${N} sessions(?! \\(more)`));
  // The last session is drawn, and only about a screenful of rows is in the DOM.
  await page.locator('[data-testid=session-row][data-session-id="s-000000"]').waitFor();
  const dom = await page.getByTestId('session-row').count();
  assert.ok(dom > 10 && dom < 100, `${dom} rows in the DOM for ${N} sessions`);
  assert.ok(r.maxDom < 100, `at most ${r.maxDom} rows in the DOM while scrolling`);
  assert.ok(r.fetches.length >= Math.floor(N / 200) - 1, `${r.fetches.length} keyset page fetches`);
  // Rows are in order across page boundaries (keyset cursor: no repeat, no gap).
  const ids = await page.getByTestId('session-row').evaluateAll((els) => els.map((e) => e.dataset.sessionId));
  for (let i = 1; i < ids.length; i++) assert.ok(ids[i] < ids[i - 1], `order at the end: ${ids.join(' ')}`);
  await screenshot(page, 'sessions-end');
  // Middle of the list: the row at its index is the session expected there.
  const mid = Math.floor(N / 2);
  await page.getByTestId('sessions-list').evaluate((el, y) => { el.scrollTop = y; }, mid * 30);
  await page.locator(`[data-testid=session-row][data-session-id="s-${String(N - 1 - mid).padStart(6, '0')}"]`).waitFor();
  assert.deepEqual(page.problems, []);
});
