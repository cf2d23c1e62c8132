// "Open in Perfetto" without the internet: playwright answers https://ui.perfetto.dev with a small
// page that speaks Perfetto's documented postMessage protocol (perfetto.dev, "Deep linking to the
// Perfetto UI"): it registers its listener late (as the real UI does while it loads), accepts
// messages only from its opener, answers 'PING' with 'PONG' and keeps what {perfetto: {...}}
// brought. The buffer it receives must be the session's Chrome Trace, byte for byte the download.
// Then with no network (the route aborts): the user is told to download, and the download works.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { episode } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const PERFETTO_PAGE = `<!doctype html><title>Perfetto UI (test stand-in)</title><body>loading…<script>
window.received = [];
window.pings = 0;
// Like the real UI: not listening yet while it loads, so the first PINGs are lost.
setTimeout(() => window.addEventListener('message', (e) => {
  if (e.source !== window.opener) return;
  if (e.data === 'PING') { window.pings++; e.source.postMessage('PONG', '*'); return; }
  const p = e.data && e.data.perfetto;
  if (!p) return;
  window.received.push({
    isArrayBuffer: p.buffer instanceof ArrayBuffer,
    text: p.buffer instanceof ArrayBuffer ? new TextDecoder().decode(p.buffer) : String(p.buffer),
    title: p.title, fileName: p.fileName, url: p.url, origin: e.origin,
  });
  document.body.textContent = 'trace received: ' + p.title;
}), 700);
</script></body>`;

await run('perfetto', [episode('pf-one', 3, { rewards: [0.25, 0.5, 1] })], async ({ browser, url }) => {
  const page = await newPage(browser);
  const context = page.context();
  let served = 0;
  await context.route('https://ui.perfetto.dev/**', (route) => {
    served++;
    return route.fulfill({ status: 200, contentType: 'text/html', body: PERFETTO_PAGE });
  });
  await page.goto(`${url}/sessions/pf-one`);
  await page.getByTestId('open-perfetto').waitFor();

  const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-chrome').click()]);
  const downloaded = readFileSync(await download.path(), 'utf8');

  const [perfetto] = await Promise.all([context.waitForEvent('page'), page.getByTestId('open-perfetto').click()]);
  await perfetto.waitForFunction(() => window.received.length > 0, null, { timeout: 15000 });
  const got = await perfetto.evaluate(() => ({ received: window.received, pings: window.pings }));
  assert.equal(served, 1);
  assert.ok(got.pings >= 1, 'answered a PING sent after its late listener started (the opener retried)');
  assert.equal(got.received.length, 1, 'one trace posted');
  const r = got.received[0];
  assert.equal(r.isArrayBuffer, true, 'the buffer is an ArrayBuffer, as Perfetto requires');
  assert.equal(r.title, 'pf-one');
  assert.equal(r.fileName, 'pf-one.chrome.json');
  assert.equal(r.url, `${url}/sessions/pf-one`);
  assert.equal(r.origin, url, 'posted by the viewer');
  assert.equal(r.text, downloaded, 'the same bytes as the Chrome Trace download');
  const trace = JSON.parse(r.text);
  assert.ok(Array.isArray(trace.traceEvents));
  // The session's events, in microseconds from its start: LLM calls at 0, 100, 200 ms for 40 ms.
  const chats = trace.traceEvents.filter((e) => e.ph === 'X' && e.name === 'chat').map((e) => [e.ts, e.dur]);
  assert.deepEqual(chats, [[0, 40000], [100000, 40000], [200000, 40000]]);
  const moves = trace.traceEvents.filter((e) => e.ph === 'X' && e.name === 'move').map((e) => e.ts);
  assert.deepEqual(moves, [55000, 155000, 255000]);
  await page.getByTestId('perfetto-note').filter({ hasText: 'Sent to Perfetto' }).waitFor();
  await screenshot(perfetto, 'perfetto-stand-in');
  await perfetto.close();

  // No network: the tab shows an error page, nothing answers; the user is told to download.
  await context.unroute('https://ui.perfetto.dev/**');
  await context.route('https://ui.perfetto.dev/**', (route) => route.abort('internetdisconnected'));
  const t0 = Date.now();
  const [offline] = await Promise.all([context.waitForEvent('page'), page.getByTestId('open-perfetto').click()]);
  const note = page.getByTestId('perfetto-note').filter({ hasText: 'did not answer' });
  await note.waitFor({ timeout: 15000 });
  assert.match(await note.textContent(), /no internet\?\).*download the Chrome Trace/);
  assert.ok(Date.now() - t0 >= 9000, 'it kept pinging for the whole wait before giving up');
  await screenshot(page, 'perfetto-offline');
  await offline.close();
  const [again] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-chrome').click()]);
  assert.equal(readFileSync(await again.path(), 'utf8'), downloaded, 'the download still works');
  assert.deepEqual(page.problems, []);
});
