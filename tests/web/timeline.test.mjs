// The waterfall of a known session: bars in time order with widths proportional to durations;
// LLM calls that overlap get rows of their own; w zooms in, f fits again.
import assert from 'node:assert/strict';
import { session } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const known = session('timeline-known', [{
  at: 0,
  events: [
    { kind: 'cais', name: 'call-a', at: 0, dur: 100 },
    { kind: 'cais', name: 'call-b', at: 50, dur: 100 },
    { kind: 'environment', name: 'env', at: 160, dur: 40, reward: 1 },
    { kind: 'cais', name: 'call-c', at: 200, dur: 50 },
    { kind: 'runtime', name: 'tool', at: 260, dur: 140 },
  ],
}]);

const near = (a, b, tol, what) => assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} is not within ${tol} of ${b}`);

await run('timeline', [known], async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(`${url}/sessions/timeline-known`);
  await page.getByTestId('timeline').waitFor();
  await page.locator('[data-testid=tl-bar]').first().waitFor();
  await screenshot(page, 'timeline');
  const bars = async () => page.$$eval('[data-testid=tl-bar]', (gs) => gs.map((g) => {
    const r = g.querySelector('rect').getBoundingClientRect();
    return { name: g.querySelector('title').textContent.split(' · ')[0], kind: g.dataset.kind, row: Number(g.dataset.row), x: r.x, w: r.width, y: r.y };
  }));
  const by = (list) => Object.fromEntries(list.map((b) => [b.name, b]));
  const b = by(await bars());
  assert.deepEqual(Object.keys(b).sort(), ['call-a', 'call-b', 'call-c', 'env', 'tool']);

  // Overlapping calls: a and b on separate rows, c back on the first row.
  assert.equal(b['call-a'].row, 0);
  assert.equal(b['call-b'].row, 1);
  assert.equal(b['call-c'].row, 0);
  assert.ok(b['call-b'].y > b['call-a'].y, 'call-b is drawn below call-a');
  near(b['call-c'].y, b['call-a'].y, 0.5, 'call-c on call-a\'s row');

  // Order and proportions: px per ms from call-a (100 ms).
  const k = b['call-a'].w / 100;
  assert.ok(k > 0.5, `the session fills the timeline (${k} px/ms)`);
  near(b['call-b'].x - b['call-a'].x, 50 * k, 1.5, 'call-b starts 50 ms after call-a');
  near(b.env.x - b['call-a'].x, 160 * k, 1.5, 'env starts at 160 ms');
  near(b['call-c'].x - b['call-a'].x, 200 * k, 1.5, 'call-c starts at 200 ms');
  near(b.tool.x - b['call-a'].x, 260 * k, 1.5, 'tool starts at 260 ms');
  near(b.env.w, 40 * k, 1.5, 'env lasts 40 ms');
  near(b['call-c'].w, 50 * k, 1.5, 'call-c lasts 50 ms');
  near(b.tool.w, 140 * k, 1.5, 'tool lasts 140 ms');
  // Lanes per kind: env below the LLM rows, runtime below env.
  assert.ok(b.env.y > b['call-b'].y && b.tool.y > b.env.y);

  // Clicking a bar selects its event.
  await page.locator('[data-testid=tl-bar]', { hasText: 'call-c' }).first().click();
  await page.getByTestId('event-detail').waitFor();
  assert.equal(await page.getByTestId('detail-name').textContent(), 'call-c');

  // w zooms in (around the middle), the window goes to the URL; f fits.
  await page.keyboard.press('w');
  await page.waitForURL(/zoom=/);
  const z = by(await bars());
  assert.ok(z['call-c'].w > b['call-c'].w * 1.5, 'zoomed in: call-c is wider');
  await page.reload();
  await page.locator('[data-testid=tl-bar]').first().waitFor();
  near(by(await bars())['call-c'].w, z['call-c'].w, 1, 'the zoom survives a reload');
  await page.keyboard.press('f');
  await page.waitForFunction(() => !location.search.includes('zoom='));
  assert.deepEqual(page.problems, []);
});
