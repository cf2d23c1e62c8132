// Real `openai` client calls, instrumented by a GenAI instrumentation from npm, against a fake
// OpenAI server on 127.0.0.1 (a real HTTP server, here), exported by the OTLP/protobuf trace
// and log exporters to a collector:
//   OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=true node openai_calls.js <base url> <session id> [opentelemetry [spans-first|logs-first]]
//   node openai_calls.js <base url> <session id> openinference|traceloop
// Two chat completions. opentelemetry (@opentelemetry/instrumentation-openai, content as log
// events): under one parent span carrying gen_ai.conversation.id = <session id>; spans go out
// before logs (the logs find their session through their trace's spans), or with logs-first the
// logs before the spans (as the SDK's default delays send them: logs 1 s, spans 5 s). openinference
// (@arizeai/openinference-instrumentation-openai, content on the spans): each call its own
// trace, the session given by OpenInference's setSession (session.id on the spans). traceloop
// (OpenLLMetry's @traceloop/instrumentation-openai, content on the spans as GenAI messages):
// under one parent span carrying traceloop.association.properties.session_id. Prints
// {ok, traces: [...], logs: [...], requests: [...]} (export results and what the fake server
// received); exits 1 when something failed.
'use strict';
const http = require('node:http');
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { LoggerProvider, BatchLogRecordProcessor } = require('@opentelemetry/sdk-logs');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-proto');
const { OTLPLogExporter } = require('@opentelemetry/exporter-logs-otlp-proto');
const { context, trace } = require('@opentelemetry/api');
const { logs } = require('@opentelemetry/api-logs');
const { registerInstrumentations } = require('@opentelemetry/instrumentation');

const [base, session, flavour = 'opentelemetry', order = 'spans-first'] = process.argv.slice(2);
if (!base || !session || !['opentelemetry', 'openinference', 'traceloop'].includes(flavour) ||
    !['spans-first', 'logs-first'].includes(order)) {
  process.stderr.write('usage: node openai_calls.js <collector base url> <session id> [opentelemetry|openinference|traceloop] [spans-first|logs-first]\n');
  process.exit(2);
}

// Counts each exporter's results, to print them.
function counted(exporter, results) {
  const exportItems = exporter.export.bind(exporter);
  exporter.export = (items, done) => exportItems(items, (result) => {
    results.push({ code: result.code, error: result.error ? String(result.error) : undefined, items: items.length });
    done(result);
  });
  return exporter;
}
const traceResults = [];
const logResults = [];
const resource = resourceFromAttributes({ 'service.name': 'openai-agent', 'service.version': '2.0.0' });
// Long delays: nothing leaves before the explicit flushes at the end, so the order is fixed.
const tracerProvider = new NodeTracerProvider({
  resource,
  spanProcessors: [new BatchSpanProcessor(counted(new OTLPTraceExporter({ url: `${base}/v1/traces` }), traceResults),
    { scheduledDelayMillis: 60000 })],
});
tracerProvider.register();
const loggerProvider = new LoggerProvider({
  resource,
  processors: [new BatchLogRecordProcessor({
    exporter: counted(new OTLPLogExporter({ url: `${base}/v1/logs` }), logResults),
    scheduledDelayMillis: 60000,
  })],
});
logs.setGlobalLoggerProvider(loggerProvider);
// Content capture comes from OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT, as users set it;
// OpenInference and OpenLLMetry capture it by default.
const instrumentation = new (require({
  opentelemetry: '@opentelemetry/instrumentation-openai',
  openinference: '@arizeai/openinference-instrumentation-openai',
  traceloop: '@traceloop/instrumentation-openai',
}[flavour]).OpenAIInstrumentation)();
registerInstrumentations({ instrumentations: [instrumentation] });
// After the instrumentation: it patches `openai` as it is loaded.
const { OpenAI } = require('openai');

// The fake OpenAI server: a known completion and usage per call, in the API's shape.
const received = [];
const answers = [
  { content: 'Sunny, 24 C in Paris.', prompt_tokens: 23, completion_tokens: 7 },
  { content: 'Take sunglasses.', prompt_tokens: 41, completion_tokens: 4 },
];
const fake = http.createServer((req, res) => {
  let body = '';
  req.on('data', (d) => { body += d; });
  req.on('end', () => {
    if (req.method !== 'POST' || req.url !== '/v1/chat/completions') {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `no route ${req.method} ${req.url}` } }));
      return;
    }
    const request = JSON.parse(body);
    received.push({ model: request.model, messages: request.messages.length });
    const a = answers[(received.length - 1) % answers.length];
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({
      id: `chatcmpl-${received.length}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: 'gpt-4o-mini-2024-07-18',
      system_fingerprint: 'fp_test',
      choices: [{ index: 0, message: { role: 'assistant', content: a.content }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: a.prompt_tokens, completion_tokens: a.completion_tokens,
        total_tokens: a.prompt_tokens + a.completion_tokens },
    }));
  });
});

async function main() {
  await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve));
  const client = new OpenAI({ apiKey: 'sk-test', baseURL: `http://127.0.0.1:${fake.address().port}/v1`, maxRetries: 0 });
  const messages = [
    { role: 'system', content: 'You answer about the weather.' },
    { role: 'user', content: 'Weather in Paris?' },
  ];
  const conversation = async (inSession) => {
    const first = await inSession(() => client.chat.completions.create({ model: 'gpt-4o-mini', messages, temperature: 0.2 }));
    messages.push(first.choices[0].message, { role: 'user', content: 'What should I take?' });
    await inSession(() => client.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 50 }));
  };
  if (flavour !== 'openinference') {
    const tracer = trace.getTracer('synth-tracing-tests', '1.0.0');
    const turn = tracer.startSpan('invoke_agent weather', {
      attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'weather',
        [flavour === 'opentelemetry' ? 'gen_ai.conversation.id' : 'traceloop.association.properties.session_id']: session },
    });
    await context.with(trace.setSpan(context.active(), turn), () => conversation((call) => call()));
    turn.end();
  } else {
    const { setSession } = require('@arizeai/openinference-core');
    await conversation((call) => context.with(setSession(context.active(), { sessionId: session }), call));
  }
  if (order === 'logs-first') await loggerProvider.forceFlush();
  await tracerProvider.forceFlush();
  await loggerProvider.forceFlush();
  await tracerProvider.shutdown();
  await loggerProvider.shutdown();
  fake.close();
  const ok = traceResults.length > 0 && (logResults.length > 0 || flavour !== 'opentelemetry') && [...traceResults, ...logResults].every((r) => r.code === 0) &&
    received.length === 2;
  process.stdout.write(JSON.stringify({ ok, traces: traceResults, logs: logResults, requests: received }) + '\n');
  process.exit(ok ? 0 : 1);
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ ok: false, error: String(error && error.stack || error), traces: traceResults,
    logs: logResults, requests: received }) + '\n');
  process.exit(1);
});
