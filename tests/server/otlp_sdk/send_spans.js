// Sends one agent turn as GenAI spans through the official OpenTelemetry JS SDK to a collector:
//   node send_spans.js <base url> <proto|http> <conversation id>
// Prints the export results; exits 1 when an export failed.
'use strict';
const { NodeTracerProvider } = require('@opentelemetry/sdk-trace-node');
const { BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
const { resourceFromAttributes } = require('@opentelemetry/resources');
const { SpanKind, SpanStatusCode, context, trace } = require('@opentelemetry/api');

const [base, protocol, conversation] = process.argv.slice(2);
const { OTLPTraceExporter } = protocol === 'proto'
  ? require('@opentelemetry/exporter-trace-otlp-proto')
  : require('@opentelemetry/exporter-trace-otlp-http');

const exporter = new OTLPTraceExporter({ url: `${base}/v1/traces` });
const results = [];
const exportSpans = exporter.export.bind(exporter);
exporter.export = (spans, done) => exportSpans(spans, (result) => {
  results.push({ code: result.code, error: result.error ? String(result.error) : undefined, spans: spans.length });
  done(result);
});

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'js-agent', 'service.version': '1.0.0' }),
  // The batching processor, as NodeSDK sets up by default: the spans of the turn go together.
  spanProcessors: [new BatchSpanProcessor(exporter, { scheduledDelayMillis: 60000 })],
});
const tracer = provider.getTracer('synth-tracing-tests', '1.0.0');

const t0 = Date.now() - 5000;
const at = (ms) => new Date(t0 + ms);

const agent = tracer.startSpan('invoke_agent travel', {
  kind: SpanKind.INTERNAL,
  startTime: at(0),
  attributes: { 'gen_ai.operation.name': 'invoke_agent', 'gen_ai.agent.name': 'travel', 'gen_ai.conversation.id': conversation },
});
const inAgent = trace.setSpan(context.active(), agent);

const chat = tracer.startSpan('chat gpt-4o-mini', {
  kind: SpanKind.CLIENT,
  startTime: at(10),
  attributes: {
    'gen_ai.operation.name': 'chat',
    'gen_ai.provider.name': 'openai',
    'gen_ai.conversation.id': conversation,
    'gen_ai.request.model': 'gpt-4o-mini',
    'gen_ai.request.temperature': 0.3,
    'gen_ai.input.messages': JSON.stringify([
      { role: 'user', parts: [{ type: 'text', content: `Weather in Paris? (${protocol})` }] },
    ]),
  },
}, inAgent);
chat.setAttributes({
  'gen_ai.response.model': 'gpt-4o-mini-2024-07-18',
  'gen_ai.response.finish_reasons': ['stop'],
  'gen_ai.usage.input_tokens': 31,
  'gen_ai.usage.output_tokens': 9,
  'gen_ai.output.messages': JSON.stringify([
    { role: 'assistant', parts: [{ type: 'text', content: 'Sunny, 24 C.' }], finish_reason: 'stop' },
  ]),
});
chat.end(at(810));

const tool = tracer.startSpan('execute_tool get_weather', {
  startTime: at(820),
  attributes: {
    'gen_ai.operation.name': 'execute_tool',
    'gen_ai.tool.name': 'get_weather',
    'gen_ai.tool.call.id': 'call_1',
    'gen_ai.tool.call.arguments': '{"city":"Paris"}',
  },
}, inAgent);
const http = tracer.startSpan('GET', {
  kind: SpanKind.CLIENT,
  startTime: at(830),
  attributes: { 'http.request.method': 'GET', 'url.full': 'http://127.0.0.1:9/weather', 'http.response.status_code': 503 },
}, trace.setSpan(inAgent, tool));
http.setStatus({ code: SpanStatusCode.ERROR, message: 'upstream unavailable' });
http.end(at(900));
tool.end(at(910));
agent.end(at(1000));

provider.forceFlush()
  .then(() => provider.shutdown())
  .then(() => {
    process.stdout.write(JSON.stringify(results) + '\n');
    process.exit(results.length > 0 && results.every((r) => r.code === 0) ? 0 : 1);
  }, (error) => {
    process.stdout.write(JSON.stringify({ error: String(error), results }) + '\n');
    process.exit(1);
  });
