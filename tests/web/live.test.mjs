// Live: a session stored while the list is open appears within 3 s; paused, nothing arrives
// until live is switched on again.
import assert from 'node:assert/strict';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot, seed } from './harness.mjs';

const count = (page) => page.evaluate(() => document.querySelectorAll('[data-testid=session-row]').length);

await run('live', [episode('live-0', 2, { index: 0 })], async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  assert.equal(await count(page), 1);

  await seed(url, [episode('live-1', 2, { index: 1 })]);
  const t = Date.now();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 2, null, { timeout: 3000 });
  console.log(`live: the new session appeared after ${Date.now() - t} ms`);

  await page.getByTestId('live-toggle').click();
  assert.match(await page.getByTestId('live-toggle').textContent(), /Paused/);
  await seed(url, [episode('live-2', 2, { index: 2 })]);
  await page.waitForTimeout(3500);
  assert.equal(await count(page), 2, 'paused: the new session does not appear');
  await screenshot(page, 'live-paused');

  await page.getByTestId('live-toggle').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 3, null, { timeout: 3000 });
  assert.deepEqual(page.problems, []);
});
