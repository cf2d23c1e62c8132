// Two sessions that take the same actions for steps 0-2 and differ at step 3: the compare view
// highlights step 3 as the first divergence. Two more whose step-3 message (multi-line text)
// differs in one line: the line diff shows that line removed and its replacement added, the
// other lines as context, all as text (a line holding markup stays text).
import assert from 'node:assert/strict';
import { episode, session } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const same = ['south', 'east', 'east'];
const a = episode('cmp-a', 5, { actions: [...same, 'north', 'north'], index: 0 });
const b = episode('cmp-b', 5, { actions: [...same, 'west', 'north'], index: 1 });

const plan = (line2) => ['Plan for the room:', line2, '<img src=x onerror="window.pwned=1">', 'then report back.'].join('\n');
const textual = (id, index, line2) => session(id, [0, 1, 2, 3].map((i) => ({
  at: i * 100,
  events: [{ kind: 'cais', at: i * 100, dur: 30, name: 'plan' }],
  messages: [
    { type: 'observation', from: 'env', payload: `room ${i}`, at: i * 100 },
    { type: 'action', from: 'agent', payload: i === 3 ? plan(line2) : `go ${i}`, at: i * 100 + 40 },
  ],
})), index);
const c = textual('cmp-c', 2, 'open the north door');
const d = textual('cmp-d', 3, 'open the west door');
// The same as cmp-d with a note before step 3's action: the actions are still paired (by type).
const e = textual('cmp-e', 4, 'open the west door');
e.session_time_steps[3].step_messages.splice(1, 0, { ...e.session_time_steps[3].step_messages[1], message_type: 'note',
  content: { origin_system_id: 'agent', payload: 'thinking' } });
e.message_history = e.session_time_steps.flatMap((s) => s.step_messages);

await run('compare', [a, b, c, d, e], async ({ browser, url }) => {
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
  // The differing action message (indented JSON) diffed line by line.
  const diff = page.getByTestId('message-diff');
  assert.equal(await diff.count(), 1, 'one message of step 3 differs');
  assert.deepEqual(await diff.locator('[data-op="-"]').allTextContents(), ['-   "action": "north"']);
  assert.deepEqual(await diff.locator('[data-op="+"]').allTextContents(), ['+   "action": "west"']);
  await screenshot(page, 'compare');

  // Multi-line text: one line changed of four.
  await page.goto(`${url}/compare?a=cmp-c&b=cmp-d`);
  await page.getByTestId('divergent-step').waitFor();
  assert.equal(await page.getByTestId('divergence-index').textContent(), '3');
  const lines = page.locator('[data-testid=message-diff][data-message="1"] pre > span');
  assert.deepEqual(await lines.evaluateAll((els) => els.map((e) => [e.dataset.op, e.textContent])), [
    [' ', '  action: Plan for the room:'],
    ['-', '- open the north door'],
    ['+', '+ open the west door'],
    [' ', '  <img src=x onerror="window.pwned=1">'],
    [' ', '  then report back.'],
  ]);
  assert.equal(await page.getByTestId('message-diff').count(), 1, 'the observation is the same');
  assert.equal(await page.locator('.msgdiff img').count(), 0, 'markup in a message is text');
  assert.equal(await page.evaluate(() => window.pwned), undefined);
  await screenshot(page, 'compare-line-diff');

  // A message only B has: shown as added, and the pairs after it are not shifted.
  await page.goto(`${url}/compare?a=cmp-c&b=cmp-e`);
  await page.getByTestId('divergent-step').waitFor();
  const blocks = page.getByTestId('message-diff');
  assert.equal(await blocks.count(), 2, 'the note, then the action');
  assert.deepEqual(await blocks.nth(0).locator('pre > span').evaluateAll((els) => els.map((x) => [x.dataset.op, x.textContent])),
    [['+', '+ note: thinking']]);
  assert.deepEqual(await blocks.nth(1).locator('[data-op="-"], [data-op="+"]').allTextContents(),
    ['- open the north door', '+ open the west door']);
  // Another step: its messages are the same.
  await page.getByTestId('compare-step').first().click();
  await page.getByTestId('message-diff-none').waitFor();
  // From a session's page: Compare… then the second id.
  await page.goto(`${url}/sessions/cmp-a`);
  await page.getByText('Compare…').click();
  await page.getByTestId('compare-b').fill('cmp-b');
  await page.getByTestId('compare-go').click();
  await page.getByTestId('divergent-step').waitFor();
  assert.match(page.url(), /compare\?a=cmp-a&b=cmp-b/);
  assert.deepEqual(page.problems, []);
});
