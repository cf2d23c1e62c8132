// The same flow by keyboard only: / search, j/k rows, Enter opens, j to an LLM call, Esc closes
// the detail and then goes back; ? help; [ ] collapse and expand; keys do nothing in a text box.
import assert from 'node:assert/strict';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const sessions = [
  episode('k-one', 2, { index: 0 }),
  episode('k-two', 3, { index: 1 }),
  episode('k-three', 2, { index: 2 }),
];
const selected = (page) => page.evaluate(() => document.querySelector('[data-testid=session-row].sel')?.dataset.sessionId ?? null);

await run('keyboard', sessions, async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  await page.locator('body').click({ position: { x: 600, y: 700 } });

  await page.keyboard.press('j');
  assert.equal(await selected(page), 'k-three');
  await page.keyboard.press('j');
  await page.keyboard.press('j');
  assert.equal(await selected(page), 'k-one');
  await page.keyboard.press('k');
  assert.equal(await selected(page), 'k-two');

  // ? lists the shortcuts.
  await page.keyboard.press('?');
  await page.getByTestId('help').waitFor();
  await screenshot(page, 'help');
  await page.keyboard.press('?');
  assert.equal(await page.getByTestId('help').count(), 0);

  // / focuses the search; keys typed there are text, not shortcuts.
  await page.keyboard.press('/');
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'search');
  await page.keyboard.type('k-tj');
  assert.equal(await selected(page), 'k-two');
  await page.keyboard.press('Backspace');
  await page.keyboard.type('wo');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);
  await page.keyboard.press('Escape');

  // Enter opens the selected session.
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.getByTestId('session-view').waitFor();
  assert.equal(await page.getByTestId('session-title').textContent(), 'k-two');

  // j walks the tree: step_0, then its first event (the LLM call at the step's start).
  await page.keyboard.press('j');
  assert.match(page.url(), /sel=s\d+/);
  await page.keyboard.press('j');
  await page.getByTestId('event-detail').waitFor();
  assert.equal(await page.getByTestId('detail-name').textContent(), 'chat');
  assert.equal(await page.getByTestId('chat-message').count(), 3);

  // [ collapses every step, ] expands them.
  await page.keyboard.press('[');
  assert.equal(await page.getByTestId('tree-event').count(), 0);
  assert.equal(await page.getByTestId('tree-step').count(), 3);
  await page.keyboard.press(']');
  assert.ok((await page.getByTestId('tree-event').count()) > 0);

  // Esc closes the detail, then goes back to the list as it was.
  await page.keyboard.press('Escape');
  assert.equal(await page.getByTestId('event-detail').count(), 0);
  await page.keyboard.press('Escape');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=session-row]').length === 1);
  assert.equal(new URL(page.url()).searchParams.get('q'), 'k-two');
  assert.deepEqual(page.problems, []);
});
