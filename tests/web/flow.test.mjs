// list → filter → open a session → select an LLM call → read its messages and cost → back;
// then a deep link to the same view, reloaded.
import assert from 'node:assert/strict';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const sessions = [
  episode('alpha-good', 3, { model: 'gpt-4o', rewards: [0.1, 0.2, 1.0], index: 0 }),
  episode('beta-bad', 4, { model: 'claude-sonnet-4', rewards: [-0.5, -0.5, -0.5, -0.5], index: 1, error: true }),
  episode('gamma-mid', 2, { model: 'gpt-4o', rewards: [0.1, 0.1], index: 2 }),
];

await run('flow', sessions, async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(url);
  const rows = page.getByTestId('session-row');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 3);
  // Newest first by default.
  assert.deepEqual(await rows.evaluateAll((r) => r.map((x) => x.dataset.sessionId)), ['gamma-mid', 'beta-bad', 'alpha-good']);
  await screenshot(page, 'sessions');

  // Sort by reward, descending.
  await page.getByTestId('sort-reward').click();
  await page.waitForURL(/sort=reward/);
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]').dataset.sessionId === 'alpha-good');

  // Sort by steps, ascending on the second click.
  await page.getByTestId('sort-steps').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]').dataset.sessionId === 'beta-bad');
  await page.getByTestId('sort-steps').click();
  await page.waitForURL(/order=asc/);
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]').dataset.sessionId === 'gamma-mid');
  await page.getByTestId('sort-reward').click();
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]').dataset.sessionId === 'alpha-good');

  // A filter expression compiled by the server.
  await page.getByTestId('filter-input').fill('reward > 0.5 and model == "gpt-4o" and errors == 0');
  await page.getByTestId('filter-input').press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);
  assert.equal(await rows.first().getAttribute('data-session-id'), 'alpha-good');
  assert.match(page.url(), /filter=reward/);
  assert.equal(await page.getByTestId('chip').count(), 1);

  // A bad expression: the server's error is shown.
  await page.getByTestId('filter-input').fill('reward >');
  await page.getByTestId('filter-input').press('Enter');
  await page.getByTestId('list-error').waitFor();
  assert.match(await page.getByTestId('list-error').textContent(), /filter: at character/);
  await page.goBack();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);

  // A chip: errors only.
  await page.getByTestId('filter-input').fill('');
  await page.getByTestId('filter-input').press('Enter');
  await page.getByTestId('pick-errors').selectOption('true');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid=session-row]')].map((r) => r.dataset.sessionId).join() === 'beta-bad');
  await page.getByTestId('pick-errors').selectOption('');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 3);

  // Text search in messages.
  await page.getByTestId('search').fill('alpha-good');
  await page.getByTestId('search').press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);
  const listUrl = page.url();

  // Open the session, select its first LLM call.
  await rows.first().click();
  await page.waitForURL(/\/sessions\/alpha-good/);
  await page.getByTestId('session-view').waitFor();
  assert.equal(await page.getByTestId('session-title').textContent(), 'alpha-good');
  await page.locator('[data-testid=tree-event][data-kind=cais]').first().click();
  await page.getByTestId('event-detail').waitFor();
  const messages = page.getByTestId('chat-message');
  await messages.first().waitFor();
  assert.deepEqual(await messages.evaluateAll((m) => m.map((x) => x.dataset.role)), ['system', 'user', 'assistant']);
  assert.equal(await messages.nth(1).locator('[data-testid=message-text]').textContent(), 'Step 0: where now?');
  assert.equal(await messages.nth(2).locator('[data-testid=message-text]').textContent(), '{"action":"south"}');
  assert.equal(await page.getByTestId('detail-cost').textContent(), '$0.00120');
  assert.equal(await page.getByTestId('detail-model').textContent(), 'gpt-4o');
  assert.match(await page.getByTestId('tokens').textContent(), /input80/);
  assert.match(page.url(), /sel=e\d+/);
  await screenshot(page, 'session-llm-call');

  // Raw JSON toggle.
  await page.getByTestId('raw-toggle').click();
  assert.match(await page.getByTestId('raw-json').textContent(), /"system_state_before"/);

  // Deep link: reload opens the same selection.
  const deep = page.url();
  await page.reload();
  await page.getByTestId('event-detail').waitFor();
  assert.equal(page.url(), deep);
  assert.equal(await page.getByTestId('detail-cost').textContent(), '$0.00120');

  // Back to the filtered list.
  await page.getByTestId('back').click();
  await page.waitForURL((u) => u.pathname === '/' || u.pathname === '/sessions');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);
  assert.equal(new URL(page.url()).searchParams.get('q'), new URL(listUrl).searchParams.get('q'));

  // A pasted deep link in a fresh page.
  const fresh = await newPage(browser);
  await fresh.goto(deep);
  await fresh.getByTestId('event-detail').waitFor();
  assert.equal(await fresh.getByTestId('session-title').textContent(), 'alpha-good');
  // An unknown session says so.
  await fresh.goto(`${url}/sessions/nope`);
  await fresh.getByTestId('session-error').waitFor();
  assert.deepEqual(page.problems, []);
});
