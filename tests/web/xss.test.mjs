// Trace content is text, never HTML: <script> and <img onerror> in messages, names, models and
// previews show as their characters and run nothing. A 5,000-character model name and a 1 MB
// message do not break the layout.
import assert from 'node:assert/strict';
import { session } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const SCRIPT = '<script>window.__xss = 1</script>';
const IMG = '<img src=x onerror="window.__xss = 2">';
const evil = session('xss-session', [{
  at: 0,
  events: [
    { kind: 'cais', name: `chat ${IMG}`, at: 0, dur: 10, model: `model ${IMG}`,
      input: [{ role: 'user', content: `hello ${SCRIPT} and ${IMG}` }], output: `answer ${IMG}` },
    { kind: 'runtime', name: `tool ${SCRIPT}`, at: 20, dur: 5, actions: [IMG], result: { html: SCRIPT } },
  ],
  messages: [{ type: 'observation', from: 'env', payload: `obs ${IMG}`, at: 1 }],
}]);
const huge = session('huge-session', [{
  at: 0,
  events: [{ kind: 'cais', at: 0, dur: 10, model: 'm'.repeat(5000), input: [{ role: 'user', content: 'x'.repeat(1 << 20) }], output: 'y' }],
}], 1);

await run('xss', [evil, huge], async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  await page.goto(`${url}/sessions/xss-session`);
  await page.getByTestId('session-view').waitFor();
  await page.locator('[data-testid=tree-event][data-kind=cais]').click();
  await page.getByTestId('chat-message').first().waitFor();
  await page.getByTestId('tab-conversation').click();
  await page.getByTestId('conv-message').first().waitFor();
  await screenshot(page, 'xss');
  const text = await page.locator('body').innerText();
  assert.ok(text.includes(SCRIPT), 'the <script> text is shown as text');
  assert.ok(text.includes(IMG), 'the <img onerror> text is shown as text');
  assert.equal(await page.getByTestId('detail-model').textContent(), `model ${IMG}`);
  assert.equal(await page.evaluate(() => window.__xss), undefined, 'nothing ran');
  assert.equal(await page.locator('img').count(), 0, 'no <img> element was created');
  assert.equal(await page.locator('main script').count(), 0, 'no <script> element was created');
  // The runtime operation's arguments and result too.
  await page.getByTestId('tab-timeline').click();
  await page.locator('[data-testid=tree-event][data-kind=runtime]').click();
  await page.getByTestId('event-detail').waitFor();
  assert.ok((await page.getByTestId('event-detail').innerText()).includes(SCRIPT));
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  // Huge content stays inside the page's width.
  await page.goto(`${url}/sessions/huge-session`);
  await page.locator('[data-testid=tree-event][data-kind=cais]').click();
  await page.getByTestId('chat-message').first().waitFor();
  await screenshot(page, 'huge');
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'no horizontal overflow');
  assert.ok((await page.locator('text=Show all').count()) > 0, 'the 1 MB message is cut with a button for the rest');
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth + 1), 'the list does not overflow');
  assert.deepEqual(page.problems, []);
});
