// A session that came in over OTLP (GenAI semantic conventions): its LLM call shows as a chat,
// the tool call the model asked for included.
import assert from 'node:assert/strict';
import { newPage, run, screenshot } from './harness.mjs';

const attr = (k, v) => ({ key: k, value: typeof v === 'number' ? { intValue: v } : { stringValue: v } });
const now = BigInt(Date.parse('2026-03-01T10:00:00Z')) * 1000000n;
const request = { resourceSpans: [{ resource: { attributes: [attr('service.name', 'weather-agent')] }, scopeSpans: [{ spans: [{
  traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', name: 'chat gpt-4o', kind: 3,
  startTimeUnixNano: String(now), endTimeUnixNano: String(now + 50000000n),
  attributes: [
    attr('gen_ai.operation.name', 'chat'), attr('gen_ai.request.model', 'gpt-4o'),
    attr('gen_ai.usage.input_tokens', 12), attr('gen_ai.usage.output_tokens', 3),
    attr('gen_ai.input.messages', JSON.stringify([{ role: 'user', parts: [{ type: 'text', content: 'weather in Paris?' }] }])),
    attr('gen_ai.output.messages', JSON.stringify([{ role: 'assistant', parts: [{ type: 'tool_call', id: 'call-1', name: 'get_weather', arguments: { city: 'Paris' } }] }])),
  ],
}] }] }] };

await run('otlp', [], async ({ browser, url }) => {
  const res = await fetch(`${url}/v1/traces`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(request) });
  assert.equal(res.status, 200);
  const page = await newPage(browser);
  await page.goto(url);
  // Live: the session appears once the writer has stored it.
  await page.getByTestId('session-row').first().waitFor({ timeout: 10000 });
  await page.getByTestId('session-row').first().click();
  await page.locator('[data-testid=tree-event][data-kind=cais]').click();
  await page.getByTestId('chat-message').first().waitFor();
  assert.deepEqual(await page.getByTestId('chat-message').evaluateAll((m) => m.map((x) => x.dataset.role)), ['user', 'assistant']);
  assert.equal(await page.locator('[data-testid=chat-message] [data-testid=message-text]').first().textContent(), 'weather in Paris?');
  const call = await page.getByTestId('tool-call').innerText();
  assert.match(call, /get_weather/);
  assert.match(call, /"city": "Paris"/);
  assert.equal(await page.getByTestId('detail-model').textContent(), 'gpt-4o');
  await screenshot(page, 'otlp-llm-call');
  assert.deepEqual(page.problems, []);
});
