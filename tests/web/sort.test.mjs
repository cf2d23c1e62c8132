// Sessions sorted by a text column on the server: 230 sessions (more than one 200-row page) whose
// models repeat and differ in case; clicking "Models" sorts A→Z, scrolling loads the second keyset
// page, and the whole list is in order (case-insensitive, ties by session id) with every session
// once, across the page boundary. Clicking again reverses it.
import assert from 'node:assert/strict';
import { session } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const N = 230;
const MODELS = ['gpt-4o', 'Claude-3-5', 'gpt-4o-mini', 'o3-mini', 'GPT-4.1'];
const sessions = [];
for (let i = 0; i < N; i++) {
  sessions.push(session(`sort-${String((i * 37) % N).padStart(3, '0')}`, [{ at: 0, events: [
    { kind: 'cais', at: 0, dur: 10, model: MODELS[i % MODELS.length] },
  ], messages: [{ type: 'observation', from: 'env', payload: `task ${String.fromCharCode(97 + (i % 26))}`, at: 0 }] }], i));
}

// Every row of the (virtualized) list, by scrolling it through: [{ id, text of `column` }].
async function allRows(page, column) {
  const list = page.getByTestId('sessions-list');
  const seen = new Map();
  const height = await list.evaluate((el) => el.clientHeight);
  for (let y = 0; ; y += height / 2) {
    await list.evaluate((el, top) => { el.scrollTop = top; }, y);
    await page.waitForTimeout(30);
    const rows = await page.locator('[data-testid=session-row]').evaluateAll((els, col) => els.map((el) => ({
      index: Math.round(parseFloat(el.style.top) / el.offsetHeight), id: el.dataset.sessionId,
      text: el.children[col].textContent,
    })), column);
    for (const r of rows) seen.set(r.index, r);
    const end = await list.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 1);
    if (end) break;
  }
  return [...seen.keys()].sort((a, b) => a - b).map((i) => seen.get(i));
}

const inOrder = (rows, descending) => {
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1];
    const b = rows[i];
    const [ka, kb] = [a.text.toLowerCase(), b.text.toLowerCase()];
    const ok = ka === kb ? (descending ? a.id > b.id : a.id < b.id) : (descending ? ka > kb : ka < kb);
    assert.ok(ok, `rows ${i - 1} and ${i} out of order: ${JSON.stringify(a)} then ${JSON.stringify(b)}`);
  }
};

await run('sort', sessions, async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(url);
  await page.getByTestId('session-row').first().waitFor();
  const status = page.getByTestId('list-status');
  const MODELS_COLUMN = 12;
  assert.equal(await page.locator('.shead span').nth(MODELS_COLUMN).textContent(), 'Models');

  // The first click sorts A→Z (a text column), the second Z→A.
  for (const order of ['asc', 'desc']) {
    const first = order === 'asc' ? 'Claude-3-5' : 'o3-mini';
    await page.getByTestId('sort-models').click();
    await page.waitForURL(new RegExp(`sort=models&order=${order}|order=${order}&sort=models`));
    await page.waitForFunction(([col, text]) => document.querySelector('[data-testid=session-row]')?.children[col].textContent === text
      && /^200 sessions \(more as you scroll\) · live/.test(document.querySelector('[data-testid=list-status]').textContent), [MODELS_COLUMN, first]);
    const rows = await allRows(page, MODELS_COLUMN);
    await page.waitForFunction((n) => document.querySelector('[data-testid=list-status]').textContent.startsWith(`${n} sessions · `), N);
    // The second page may have arrived after the walk started: walk again now that all are here.
    const all = rows.length === N ? rows : await allRows(page, MODELS_COLUMN);
    assert.equal(all.length, N, `${all.length} rows after scrolling (${await status.textContent()})`);
    assert.equal(new Set(all.map((r) => r.id)).size, N, 'every session exactly once');
    inOrder(all, order === 'desc');
    // Across the boundary of the first keyset page (rows 199 and 200) in particular.
    inOrder(all.slice(195, 205), order === 'desc');
    assert.equal(all[0].text, first);
    await screenshot(page, `sessions-sorted-models-${order}`);
  }

  // Another text column: the session id, the URL keeps it (a reload gives the same order).
  await page.getByTestId('sort-session_id').click();
  await page.waitForURL(/sort=session_id/);
  await page.waitForFunction(() => document.querySelector('[data-testid=session-row]')?.dataset.sessionId === 'sort-000');
  await page.reload();
  await page.getByTestId('session-row').first().waitFor();
  assert.equal(await page.getByTestId('session-row').first().getAttribute('data-session-id'), 'sort-000');
  assert.deepEqual(page.problems, []);
});
