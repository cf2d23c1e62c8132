// Live: a session stored while the list is open appears within 3 s; paused, nothing arrives
// until live is switched on again; a session's page grows as more of it is stored; deep in a long
// list, new sessions are offered with a button instead of resetting the list.
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

  // A running session's page grows as its parts arrive (merged into the stored session).
  await page.goto(`${url}/sessions/live-0`);
  await page.getByTestId('tree-step').first().waitFor();
  assert.equal(await page.getByTestId('tree-step').count(), 2);
  const more = episode('live-0', 4, { index: 0 });
  more.session_time_steps = more.session_time_steps.slice(2);
  more.message_history = more.session_time_steps.flatMap((s) => s.step_messages);
  await seed(url, [more], 'merge');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=tree-step]').length === 4, null, { timeout: 5000 });

  // Deep in a long list, arrivals are offered instead of resetting the reader's place.
  await seed(url, Array.from({ length: 250 }, (_, i) => episode(`bulk-${String(i).padStart(3, '0')}`, 1, { index: 10 + i })));
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  await page.getByTestId('sessions-list').evaluate((el) => { el.scrollTop = el.scrollHeight; });
  await page.waitForFunction(() => document.querySelector('[data-testid=list-status]').textContent.startsWith('253 '), null, { timeout: 5000 }).catch(async (e) => { throw new Error(`${e.message}: ${await page.getByTestId('list-status').textContent()}`); });
  await seed(url, [episode('late-arrival', 1, { index: 400 })]);
  await page.getByTestId('new-sessions').waitFor({ timeout: 3000 });
  assert.match(await page.getByTestId('list-status').textContent(), /^253 /);
  await page.getByTestId('new-sessions').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]').dataset.sessionId === 'late-arrival');
  assert.deepEqual(page.problems, []);
});
