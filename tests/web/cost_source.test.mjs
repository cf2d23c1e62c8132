// The event detail says where an LLM call's cost came from, as the trace records it (what the
// ai_call scope and the tracer write, instrument_test Instrument.AiCallRecordsWhereItsCostCameFrom):
// reported by the provider (metadata.cost_source = "provider"), the price table with its date
// (price_table_as_of, and a cost), an unknown model (cost_status = "unknown_model", no cost), and
// a cost whose source the trace does not record (the Python original's, or add_event's).
import assert from 'node:assert/strict';
import { session } from './fixtures.mjs';
import { newPage, run, screenshot } from './harness.mjs';

const calls = [
  { name: 'reported', model: 'meta-llama/llama-3.1-8b', cost: 0.00042, metadata: { cost_source: 'provider' } },
  { name: 'priced', model: 'gpt-4o', cost: 0.0015, metadata: { price_table_as_of: '2025-06-01' } },
  { name: 'unknown', model: 'acme-llm-7b', metadata: { cost_status: 'unknown_model', price_table_as_of: '2025-06-01' } },
  { name: 'given', model: 'gpt-4o', cost: 0.002 },
];
const s = session('costs', [{ at: 0, events: calls.map((c, i) => ({ kind: 'cais', at: i * 100, dur: 50, ...c })) }]);
s.session_time_steps[0].events[2].cost = null;  // unknown model: no cost (the fixture defaults one)

await run('cost_source', [s], async ({ browser, url }) => {
  const page = await newPage(browser);
  await page.goto(`${url}/sessions/costs`);
  await page.getByTestId('session-view').waitFor();
  const expected = {
    reported: ['provider-reported', '$0.000420'],
    priced: ['price table (prices as of 2025-06-01)', '$0.00150'],
    unknown: ['unknown model: acme-llm-7b is not in the price table (prices as of 2025-06-01), so no cost', '—'],
    given: ['not recorded (the price table when traced, or a cost given with the event)', '$0.00200'],
  };
  const events = page.locator('[data-testid=tree-event][data-kind=cais]');
  await events.first().waitFor();
  assert.equal(await events.count(), 4);
  for (let i = 0; i < 4; i++) {
    await events.nth(i).click();
    await page.getByTestId('event-detail').waitFor();
    const [source, cost] = expected[calls[i].name];
    await page.waitForFunction((text) => document.querySelector('[data-testid=detail-cost-source]')?.textContent === text, source)
      .catch(async () => assert.fail(`event ${calls[i].name}: cost source "${await page.getByTestId('detail-cost-source').textContent()}", expected "${source}"`));
    assert.equal(await page.getByTestId('detail-cost').textContent(), cost, calls[i].name);
    if (i === 1) await screenshot(page, 'detail-cost-source');
  }
  assert.deepEqual(page.problems, []);
});
