// Two sessions that take the same actions for steps 0-2 and differ at step 3: the compare view
// highlights step 3 as the first divergence.
import assert from 'node:assert/strict';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const same = ['south', 'east', 'east'];
const a = episode('cmp-a', 5, { actions: [...same, 'north', 'north'], index: 0 });
const b = episode('cmp-b', 5, { actions: [...same, 'west', 'north'], index: 1 });

await run('compare', [a, b], async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(`${url}/compare?a=cmp-a&b=cmp-b`);
  await page.getByTestId('compare-view').waitFor();
  await page.getByTestId('divergent-step').waitFor();
  assert.equal(await page.getByTestId('divergent-step').getAttribute('data-step'), '3');
  assert.equal(await page.getByTestId('divergence-index').textContent(), '3');
  assert.equal(await page.getByTestId('compare-step').count(), 4);
  // Step 3's events paired by name: the LLM call, the check, the environment step.
  assert.equal(await page.locator('[data-testid=event-pairs] tr').count(), 4);
  assert.equal(await page.locator('[data-testid=event-pairs] tr.unpaired').count(), 0);
  assert.ok((await page.locator('pre.changed').count()) >= 2, 'the differing action messages are marked');
  await screenshot(page, 'compare');
  // From a session's page: Compare… then the second id.
  await page.goto(`${url}/sessions/cmp-a`);
  await page.getByText('Compare…').click();
  await page.getByTestId('compare-b').fill('cmp-b');
  await page.getByTestId('compare-go').click();
  await page.getByTestId('divergent-step').waitFor();
  assert.match(page.url(), /compare\?a=cmp-a&b=cmp-b/);
  assert.deepEqual(page.problems, []);
});
