// The other views and how the viewer is served: stats (uPlot chart, costliest sessions), SQL
// (table and error), the conversation tab, the export downloads (the Chrome trace well-formed),
// and the HTTP side: gzip, ETag/304, client routes answering the index page, /api/ never.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot, startServe } from './harness.mjs';

const sessions = [episode('v-one', 3, { index: 0, rewards: [0.5, 0.5, 1] }), episode('v-two', 2, { index: 1, model: 'o3-mini' })];

function get(url, headers = {}) {
  return new Promise((resolve, reject) => {
    request(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }));
    }).on('error', reject).end();
  });
}

await run('views', sessions, async ({ browser, url }) => {
  // Served: the index, gzip-compressed when asked, with an ETag answered by 304.
  const index = await get(`${url}/`, { 'Accept-Encoding': 'gzip' });
  assert.equal(index.status, 200);
  assert.equal(index.headers['content-encoding'], 'gzip');
  assert.ok(index.headers.etag);
  assert.equal((await get(`${url}/`, { 'If-None-Match': index.headers.etag })).status, 304);
  const plain = await get(`${url}/sessions/v-one`);
  assert.equal(plain.status, 200);
  assert.equal(plain.headers['content-encoding'], undefined, 'a client without gzip gets the page decompressed');
  assert.match(plain.body.toString(), /<script type="module" src="\/assets\/main-[A-Z0-9]+\.js">/);
  // Session ids may hold dots (episode-17.v2): their pages are the viewer's, not missing files.
  for (const path of ['/compare?a=x&b=y', '/stats', '/sql', '/sessions/a/b', '/sessions/run.1', '/sessions/a%2F.b']) {
    assert.equal((await get(`${url}${path}`)).status, 200, path);
  }
  assert.equal((await get(`${url}/favicon.ico`)).status, 404, 'a file the viewer does not have');
  const js = /src="(\/assets\/[^"]+)"/.exec(plain.body.toString())[1];
  const asset = await get(`${url}${js}`, { 'Accept-Encoding': 'gzip, deflate, br' });
  assert.equal(asset.headers['content-encoding'], 'gzip');
  assert.match(asset.headers['cache-control'], /immutable/);
  // API answers to a browser (which offers brotli) come gzip-compressed: httplib's brotli took
  // seconds for a page of events.
  const events = await get(`${url}/api/v1/sessions/v-one/events`, { 'Accept-Encoding': 'gzip, deflate, br, zstd' });
  assert.equal(events.status, 200);
  assert.equal(events.headers['content-encoding'], 'gzip');
  const missing = await get(`${url}/api/v1/nope`);
  assert.equal(missing.status, 404);
  assert.match(missing.body.toString(), /"error"/);
  assert.equal((await get(`${url}/assets/nope.js`)).status, 404);

  const page = await newPage(browser);
  // Stats: a chart and the costliest sessions.
  await page.goto(`${url}/stats?bucket=1d&group_by=model`);
  await page.locator('[data-testid=stats-chart] canvas').first().waitFor();
  // The table comes with its own answer, after the chart's or before: wait for its third row.
  await page.locator('[data-testid=top-cost] tr').nth(2).waitFor();
  assert.equal(await page.locator('[data-testid=top-cost] tr').count(), 3);
  await page.locator('[data-testid=reward-histogram] canvas').first().waitFor();
  await screenshot(page, 'stats');
  // Dark mode (from the system): readable, screenshot for a person to judge.
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  assert.equal(await page.evaluate(() => getComputedStyle(document.body).backgroundColor), 'rgb(21, 23, 28)');
  await screenshot(page, 'sessions-dark');
  await page.emulateMedia({ colorScheme: 'light' });

  // SQL: a result table, then an error from the server.
  await page.goto(`${url}/sql`);
  await page.getByTestId('sql-input').fill('SELECT session_id FROM session_traces ORDER BY session_id');
  await page.getByTestId('sql-run').click();
  await page.getByTestId('sql-result').waitFor();
  assert.deepEqual(await page.locator('[data-testid=sql-result] td').allTextContents(), ['v-one', 'v-two']);
  await screenshot(page, 'sql');
  await page.getByTestId('sql-input').fill('DELETE FROM session_traces');
  await page.getByTestId('sql-run').click();
  await page.getByTestId('sql-error').waitFor();

  // Conversation: messages by step, one column per origin system.
  await page.goto(`${url}/sessions/v-one?tab=conversation`);
  await page.getByTestId('conv-message').first().waitFor();
  assert.equal(await page.getByTestId('conv-message').count(), 6);
  await screenshot(page, 'conversation');

  // Messages are instants on the timeline; clicking one selects it.
  await page.getByTestId('tab-timeline').click();
  assert.equal(await page.getByTestId('tl-message').count(), 6);
  await page.getByTestId('tl-message').last().click();
  await page.getByTestId('message-detail').waitFor();
  assert.match(await page.getByTestId('message-detail').textContent(), /"action": "south"/);

  // An environment step's detail: reward, terminated and the state diff.
  await page.locator('[data-testid=tree-event][data-kind=environment]').last().click();
  await page.getByTestId('state-diff').waitFor();
  assert.equal(await page.getByTestId('detail-reward').textContent(), '+1');
  assert.equal(await page.getByTestId('detail-terminated').textContent(), 'true');
  assert.match(await page.getByTestId('state-diff').textContent(), /x23/);

  // Downloads: the Chrome trace is well-formed, with slices on lanes.
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-chrome').click()]);
  const chrome = JSON.parse(readFileSync(await download.path(), 'utf8'));
  assert.ok(chrome.traceEvents.some((e) => e.ph === 'X' && e.name === 'chat'));
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  assert.equal(JSON.parse(readFileSync(await json.path(), 'utf8')).session_id, 'v-one');

  // --ui-dir serves the viewer from a folder (development): its files, and client routes.
  if (process.env.UI_DIR) {
    const dev = await startServe(['--ui-dir', process.env.UI_DIR]);
    try {
      const devIndex = await get(`${dev.url}/sessions/x`);
      assert.equal(devIndex.status, 200);
      assert.equal(devIndex.headers['cache-control'], 'no-cache');
      assert.equal(devIndex.body.toString(), readFileSync(`${process.env.UI_DIR}/index.html`, 'utf8'));
      await page.goto(dev.url);
      await page.getByTestId('list-status').waitFor();
      assert.equal((await get(`${dev.url}/assets/..%2F..%2Fetc%2Fpasswd`)).status, 404);
    } finally {
      // Leave the dev server's page first: a request still in flight when it stops would show
      // as a console error (ERR_CONNECTION_REFUSED) in the problems checked below.
      await page.goto('about:blank').catch(() => {});
      await dev.stop();
    }
  }
  assert.deepEqual(page.problems, []);
});
