#!/usr/bin/env node
// An OTLP/HTTP trace receiver for the tests (tests/otel/otlp_receiver.hpp drives it).
//
// POST /v1/traces takes binary protobuf (application/x-protobuf) or OTLP/JSON (application/json),
// optionally gzip-compressed, decodes it with the OpenTelemetry project's generated protobuf code
// (@opentelemetry/otlp-transformer's protobufjs root), validates every span, records the request
// and answers as scripted (default: 200 with an empty ExportTraceServiceResponse).
//
// Control endpoints, for the harness:
//   POST /control/script    body: a JSON array (or one object) of scripted answers, appended to the queue
//   GET  /control/requests  every POST /v1/traces so far, decoded, ids as lowercase hex
//   GET  /control/stats     {"requests": n, "pending": unanswered, "spans": n, "pending_script": n}
//   POST /control/reset     forgets the requests and the scripted answers
//
// Usage: node receiver.js [--port N] [--exit-on-stdin-close] [--count-only] [--decode-only]
// --count-only: a request's decoded body and headers are forgotten once it is validated (counts,
// errors and answers stay), so that a long soak does not fill the receiver's memory.
// --decode-only (implies --count-only): a protobuf body is decoded with the official generated
// code as it is (no strict UTF-8 or unknown-field hooks, no toObject, validation or re-encoding)
// and its spans counted; for throughput benchmarks, where the strict checks would be the
// bottleneck. OTLP/JSON bodies are still handled the strict way.
// Prints {"port":N} as its only line on stdout once listening on 127.0.0.1; logs go to stderr.
'use strict';

const http = require('node:http');
const zlib = require('node:zlib');
const protobuf = require('protobufjs/minimal');
const root = require('@opentelemetry/otlp-transformer/build/src/generated/root');

const pb = root.opentelemetry.proto.collector.trace.v1;
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const TO_OBJECT = { longs: String, enums: Number, bytes: Array, defaults: true, json: true };

// ---- arguments ----

let port = 0;
let exitOnStdinClose = false;
let countOnly = false;
let decodeOnly = false;
for (let i = 2; i < process.argv.length; ++i) {
  const arg = process.argv[i];
  if (arg === '--port' && i + 1 < process.argv.length) {
    port = Number(process.argv[++i]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) fatal(`bad --port ${process.argv[i]}`);
  } else if (arg === '--exit-on-stdin-close') {
    exitOnStdinClose = true;
  } else if (arg === '--count-only') {
    countOnly = true;
  } else if (arg === '--decode-only') {
    decodeOnly = true;
    countOnly = true;
  } else {
    fatal(`unknown argument ${arg} (usage: receiver.js [--port N] [--exit-on-stdin-close] [--count-only] [--decode-only])`);
  }
}

function fatal(message) {
  process.stderr.write(`[otlp-receiver] ${message}\n`);
  process.exit(2);
}

// ---- strict protobuf reading ----
// protobufjs is lenient where a conformance check must not be: it decodes invalid UTF-8 into
// replacement characters, truncates a string whose length runs past the buffer, and skips unknown
// fields silently. Decoding is synchronous, so the findings of one decode go to these arrays.
let decodeErrors = null;
let decodeWarnings = null;
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8');

function strictString() {
  const bytes = this.bytes();  // throws when the length runs past the buffer
  try {
    return strictUtf8.decode(bytes);
  } catch (e) {
    if (decodeErrors) decodeErrors.push(`invalid UTF-8 in a string field ending at byte ${this.pos}`);
    return lenientUtf8.decode(bytes);
  }
}
const originalSkipType = protobuf.Reader.prototype.skipType;
if (!decodeOnly) {
  protobuf.Reader.prototype.string = strictString;
  protobuf.BufferReader.prototype.string = strictString;
  protobuf.Reader.prototype.skipType = function skipType(wireType, depth) {
    if (decodeWarnings && depth === undefined) {
      decodeWarnings.push(`unknown field (wire type ${wireType}) skipped before byte ${this.pos}`);
    }
    return originalSkipType.call(this, wireType, depth);
  };
}

// ---- ids ----

function toHex(bytes) {
  return Buffer.from(bytes).toString('hex');
}

// Replaces the byte arrays of trace and span ids by lowercase hex, and bytesValue by base64 (as
// OTLP/JSON writes them). Absent resource, scope and status messages become their defaults.
function idsToHex(request) {
  for (const rs of request.resourceSpans || []) {
    if (!rs.resource) rs.resource = { attributes: [], droppedAttributesCount: 0 };
    for (const ss of rs.scopeSpans || []) {
      if (!ss.scope) ss.scope = { attributes: [], name: '', version: '', droppedAttributesCount: 0 };
      for (const span of ss.spans || []) {
        if (!span.status) span.status = { message: '', code: 0 };
        for (const key of ['traceId', 'spanId', 'parentSpanId']) {
          if (Array.isArray(span[key])) span[key] = toHex(span[key]);
        }
        for (const link of span.links || []) {
          for (const key of ['traceId', 'spanId']) {
            if (Array.isArray(link[key])) link[key] = toHex(link[key]);
          }
        }
      }
    }
  }
  walkAnyValues(request, (any) => {
    if (Array.isArray(any.bytesValue)) any.bytesValue = Buffer.from(any.bytesValue).toString('base64');
  });
  return request;
}

function walkAnyValues(node, visit) {
  if (Array.isArray(node)) {
    for (const element of node) walkAnyValues(element, visit);
  } else if (node !== null && typeof node === 'object') {
    if (Object.prototype.hasOwnProperty.call(node, 'key') && node.value && typeof node.value === 'object') {
      visit(node.value);
    }
    for (const key of Object.keys(node)) walkAnyValues(node[key], visit);
  }
}

// ---- binary protobuf ----

// --decode-only: the whole message decoded by the generated code, its spans counted.
function decodeAndCount(body) {
  const message = pb.ExportTraceServiceRequest.decode(body);
  let n = 0;
  for (const rs of message.resourceSpans) for (const ss of rs.scopeSpans) n += ss.spans.length;
  return n;
}

function decodeProtobuf(body, errors, warnings) {
  decodeErrors = errors;
  decodeWarnings = warnings;
  let message;
  try {
    message = pb.ExportTraceServiceRequest.decode(body);
  } finally {
    decodeErrors = null;
    decodeWarnings = null;
  }
  // Re-encoded by the official code, a canonical encoding comes out byte for byte the same (the
  // decoded message keeps exactly the fields that were on the wire). A difference means fields out
  // of order, non-minimal varints, a field of the wrong wire type, or an unknown field.
  const again = Buffer.from(pb.ExportTraceServiceRequest.encode(message).finish());
  if (!again.equals(body)) {
    let at = 0;
    while (at < again.length && at < body.length && again[at] === body[at]) ++at;
    warnings.push(`not canonical: re-encoding the decoded request (${again.length} bytes) differs from the ` +
                  `body (${body.length} bytes) from byte ${at} on`);
  }
  return idsToHex(pb.ExportTraceServiceRequest.toObject(message, TO_OBJECT));
}

// ---- OTLP/JSON ----
// A schema of the trace messages as OTLP/JSON spells them (lowerCamelCase keys, hex ids, 64-bit
// integers as decimal strings, enums as integers). Every key of the body is checked against it.

const S = {
  string: { t: 'string' }, bool: { t: 'bool' }, uint32: { t: 'uint32' }, fixed32: { t: 'uint32' },
  int64: { t: 'int64' }, fixed64: { t: 'fixed64' }, double: { t: 'double' }, bytes: { t: 'bytes' },
  traceId: { t: 'id', bytes: 16 }, spanId: { t: 'id', bytes: 8 },
};
const M = {};
M.AnyValue = { oneof: true, fields: {} };
M.KeyValue = { fields: { key: S.string, value: { m: 'AnyValue' } } };
M.ArrayValue = { fields: { values: { m: 'AnyValue', repeated: true } } };
M.KeyValueList = { fields: { values: { m: 'KeyValue', repeated: true } } };
Object.assign(M.AnyValue.fields, {
  stringValue: S.string, boolValue: S.bool, intValue: S.int64, doubleValue: S.double,
  arrayValue: { m: 'ArrayValue' }, kvlistValue: { m: 'KeyValueList' }, bytesValue: S.bytes,
});
const attributes = { m: 'KeyValue', repeated: true };
M.Resource = { fields: { attributes, droppedAttributesCount: S.uint32 } };
M.InstrumentationScope = { fields: { name: S.string, version: S.string, attributes, droppedAttributesCount: S.uint32 } };
M.Status = { fields: { message: S.string, code: { t: 'enum', max: 2 } } };
M.Event = { fields: { timeUnixNano: S.fixed64, name: S.string, attributes, droppedAttributesCount: S.uint32 } };
M.Link = {
  fields: { traceId: S.traceId, spanId: S.spanId, traceState: S.string, attributes, droppedAttributesCount: S.uint32,
            flags: S.fixed32 },
};
M.Span = {
  fields: {
    traceId: S.traceId, spanId: S.spanId, traceState: S.string, parentSpanId: S.spanId, flags: S.fixed32,
    name: S.string, kind: { t: 'enum', max: 5 }, startTimeUnixNano: S.fixed64, endTimeUnixNano: S.fixed64,
    attributes, droppedAttributesCount: S.uint32, events: { m: 'Event', repeated: true },
    droppedEventsCount: S.uint32, links: { m: 'Link', repeated: true }, droppedLinksCount: S.uint32,
    status: { m: 'Status' },
  },
};
M.ScopeSpans = { fields: { scope: { m: 'InstrumentationScope' }, spans: { m: 'Span', repeated: true }, schemaUrl: S.string } };
M.ResourceSpans = { fields: { resource: { m: 'Resource' }, scopeSpans: { m: 'ScopeSpans', repeated: true }, schemaUrl: S.string } };
M.ExportTraceServiceRequest = { fields: { resourceSpans: { m: 'ResourceSpans', repeated: true } } };

const UINT64_MAX = (1n << 64n) - 1n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

// Checks `value` against message type `type`; returns a copy that protobufjs' fromObject takes
// (ids as byte arrays). Problems go to `errors` with their path.
function checkMessage(value, type, path, errors) {
  const schema = M[type];
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    errors.push(`${path}: expected a ${type} object, got ${JSON.stringify(value)}`);
    return {};
  }
  const out = {};
  let members = 0;
  for (const key of Object.keys(value)) {
    const field = schema.fields[key];
    if (!field) {
      errors.push(`${path}: unknown key "${key}" in ${type}`);
      continue;
    }
    const fieldPath = `${path}.${key}`;
    if (field.repeated) {
      if (!Array.isArray(value[key])) {
        errors.push(`${fieldPath}: expected an array`);
        continue;
      }
      out[key] = value[key].map((element, i) => checkMessage(element, field.m, `${fieldPath}[${i}]`, errors));
    } else if (field.m) {
      out[key] = checkMessage(value[key], field.m, fieldPath, errors);
    } else {
      const converted = checkScalar(value[key], field, fieldPath, errors);
      if (converted !== undefined) out[key] = converted;
    }
    ++members;
  }
  if (schema.oneof && members > 1) errors.push(`${path}: ${members} members of the AnyValue oneof set`);
  return out;
}

function checkScalar(v, field, path, errors) {
  const bad = (what) => {
    errors.push(`${path}: ${what}, got ${JSON.stringify(v)}`);
    return undefined;
  };
  switch (field.t) {
    case 'string':
      return typeof v === 'string' ? v : bad('expected a string');
    case 'bool':
      return typeof v === 'boolean' ? v : bad('expected true or false');
    case 'uint32':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffffffff) return v;
      return bad('expected an unsigned 32-bit integer');
    case 'enum':
      if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= field.max) return v;
      return bad(`expected an integer enum value in 0..${field.max} (OTLP/JSON enums are integers)`);
    case 'int64':
    case 'fixed64': {
      if (typeof v !== 'string') return bad('expected a 64-bit integer as a decimal string');
      const ok = field.t === 'int64' ? /^-?(0|[1-9][0-9]*)$/.test(v) : /^(0|[1-9][0-9]*)$/.test(v);
      if (!ok) return bad('expected a decimal integer string');
      const n = BigInt(v);
      if (field.t === 'int64' ? n < INT64_MIN || n > INT64_MAX : n > UINT64_MAX) return bad('out of range');
      return v;
    }
    case 'double':
      if (typeof v === 'number') return v;
      if (v === 'NaN' || v === 'Infinity' || v === '-Infinity') return Number(v);
      return bad('expected a number, "NaN", "Infinity" or "-Infinity"');
    case 'bytes':
      if (typeof v === 'string' && /^[A-Za-z0-9+/_-]*={0,2}$/.test(v)) return v;
      return bad('expected base64');
    case 'id':
      if (typeof v !== 'string' || !/^([0-9a-fA-F]{2})*$/.test(v)) return bad('expected a hex string');
      if (v.length !== 0 && v.length !== 2 * field.bytes) {
        errors.push(`${path}: expected ${2 * field.bytes} hex digits, got ${v.length}`);
      }
      return Array.from(Buffer.from(v, 'hex'));
    default:
      throw new Error(`schema type ${field.t}`);
  }
}

function decodeJson(body, errors) {
  const parsed = JSON.parse(body.toString('utf8'));  // throws a SyntaxError on bad JSON
  if (!strictUtf8Ok(body)) errors.push('the JSON body is not valid UTF-8');
  const plain = checkMessage(parsed, 'ExportTraceServiceRequest', '$', errors);
  const message = pb.ExportTraceServiceRequest.fromObject(plain);
  return idsToHex(pb.ExportTraceServiceRequest.toObject(message, TO_OBJECT));
}

function strictUtf8Ok(bytes) {
  try {
    strictUtf8.decode(bytes);
    return true;
  } catch (e) {
    return false;
  }
}

// ---- span validation (the same for both encodings, on the decoded form) ----

function validate(request, errors) {
  let count = 0;
  (request.resourceSpans || []).forEach((rs, r) => {
    (rs.scopeSpans || []).forEach((ss, s) => {
      (ss.spans || []).forEach((span, i) => {
        ++count;
        const at = `resourceSpans[${r}].scopeSpans[${s}].spans[${i}]`;
        const id = (hex, digits, what, optional) => {
          if (optional && hex === '') return;
          if (hex.length !== digits) errors.push(`${at}: ${what} has ${hex.length / 2} bytes, not ${digits / 2}`);
          else if (/^0*$/.test(hex)) errors.push(`${at}: ${what} is all zero`);
        };
        id(span.traceId, 32, 'traceId', false);
        id(span.spanId, 16, 'spanId', false);
        id(span.parentSpanId, 16, 'parentSpanId', true);
        if (!span.name) errors.push(`${at}: empty name`);
        if (BigInt(span.endTimeUnixNano) < BigInt(span.startTimeUnixNano)) {
          errors.push(`${at}: endTimeUnixNano ${span.endTimeUnixNano} before startTimeUnixNano ${span.startTimeUnixNano}`);
        }
        if (span.kind < 0 || span.kind > 5) errors.push(`${at}: kind ${span.kind} out of range`);
        if (span.status && (span.status.code < 0 || span.status.code > 2)) {
          errors.push(`${at}: status.code ${span.status.code} out of range`);
        }
      });
    });
  });
  return count;
}

// ---- state ----

let requests = [];
let queue = [];

const SCRIPT_KEYS = new Set(['status', 'retry_after', 'partial_success', 'delay_ms', 'close', 'headers', 'body',
                             'message']);

function checkScriptEntry(entry) {
  if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) throw new Error('an entry is not an object');
  for (const key of Object.keys(entry)) {
    if (!SCRIPT_KEYS.has(key)) throw new Error(`unknown key "${key}" (known: ${[...SCRIPT_KEYS].join(', ')})`);
  }
  if (entry.status !== undefined && !(Number.isInteger(entry.status) && entry.status >= 100 && entry.status <= 599)) {
    throw new Error(`bad status ${JSON.stringify(entry.status)}`);
  }
  if (entry.delay_ms !== undefined && !(Number.isFinite(entry.delay_ms) && entry.delay_ms >= 0)) {
    throw new Error(`bad delay_ms ${JSON.stringify(entry.delay_ms)}`);
  }
  const ps = entry.partial_success;
  if (ps !== undefined) {
    if (ps === null || typeof ps !== 'object') throw new Error('partial_success is not an object');
    for (const key of Object.keys(ps)) {
      if (key !== 'rejected_spans' && key !== 'error_message') throw new Error(`unknown partial_success key "${key}"`);
    }
  }
}

function countedSpans(record) {
  return (record.decoded || record.decoded_forgotten) && record.status_answered !== null && record.status_answered >= 200 &&
         record.status_answered < 300 && !record.client_closed ? record.span_count : 0;
}

// ---- HTTP ----

function readBody(req, callback) {
  const chunks = [];
  let size = 0;
  let tooLarge = false;
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) tooLarge = true;
    else chunks.push(chunk);
  });
  req.on('end', () => callback(tooLarge ? null : Buffer.concat(chunks)));
  req.on('error', () => {});
}

function sendJson(res, status, value) {
  const body = Buffer.from(JSON.stringify(value));
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': body.length });
  res.end(body);
}

// The gRPC code a Status body carries for an HTTP status.
function grpcCode(status) {
  switch (status) {
    case 400: return 3;   // INVALID_ARGUMENT
    case 401: return 16;  // UNAUTHENTICATED
    case 403: return 7;   // PERMISSION_DENIED
    case 404: return 5;   // NOT_FOUND
    case 413: return 8;   // RESOURCE_EXHAUSTED
    case 429: return 8;   // RESOURCE_EXHAUSTED
    case 502: case 503: case 504: return 14;  // UNAVAILABLE
    default: return 2;    // UNKNOWN
  }
}

function responseBody(status, entry, json, defaultMessage) {
  if (status >= 200 && status < 300) {
    const ps = entry.partial_success;
    if (json) {
      if (!ps) return Buffer.from('{}');
      const partial = {};
      if (ps.rejected_spans !== undefined) partial.rejectedSpans = String(ps.rejected_spans);
      if (ps.error_message !== undefined) partial.errorMessage = String(ps.error_message);
      return Buffer.from(JSON.stringify({ partialSuccess: partial }));
    }
    const response = {};
    if (ps) {
      response.partialSuccess = {};
      if (ps.rejected_spans !== undefined) response.partialSuccess.rejectedSpans = String(ps.rejected_spans);
      if (ps.error_message !== undefined) response.partialSuccess.errorMessage = String(ps.error_message);
    }
    return Buffer.from(pb.ExportTraceServiceResponse.encode(pb.ExportTraceServiceResponse.fromObject(response)).finish());
  }
  // google.rpc.Status { int32 code = 1; string message = 2; }
  const code = grpcCode(status);
  const message = entry.message !== undefined ? String(entry.message) : defaultMessage || http.STATUS_CODES[status] || '';
  if (json) return Buffer.from(JSON.stringify({ code, message }));
  const w = protobuf.Writer.create();
  w.uint32((1 << 3) | 0).int32(code);
  if (message) w.uint32((2 << 3) | 2).string(message);
  return Buffer.from(w.finish());
}

function handleTraces(req, res, body) {
  const record = {
    index: requests.length,
    received_at_ms: Date.now(),
    method: req.method,
    path: req.url,
    content_type: req.headers['content-type'] || '',
    content_encoding: req.headers['content-encoding'] || '',
    headers: { ...req.headers },
    body_bytes: body ? body.length : 0,
    decoded: null,
    decode_error: null,
    span_count: 0,
    errors: [],
    warnings: [],
    script: null,
    status_answered: null,
    answered: false,
    closed_without_answer: false,
    client_closed: false,
  };
  requests.push(record);
  const entry = queue.length > 0 ? queue.shift() : {};
  record.script = Object.keys(entry).length > 0 ? entry : null;

  const mediaType = record.content_type.split(';')[0].trim().toLowerCase();
  const json = mediaType === 'application/json';
  let failure = null;  // [status, message] when the body cannot be taken
  if (body === null) {
    failure = [413, `body larger than ${MAX_BODY_BYTES} bytes`];
  } else if (mediaType !== 'application/x-protobuf' && !json) {
    failure = [415, `unsupported Content-Type "${record.content_type}" (application/x-protobuf or application/json)`];
  } else {
    let raw = body;
    const encoding = record.content_encoding.trim().toLowerCase();
    try {
      if (encoding === 'gzip') raw = zlib.gunzipSync(body);
      else if (encoding !== '' && encoding !== 'identity') throw new Error(`unsupported Content-Encoding "${encoding}"`);
      if (decodeOnly && !json) {
        record.span_count = decodeAndCount(raw);
        record.decoded = true;  // forgotten below, as with --count-only
      } else {
        record.decoded = json ? decodeJson(raw, record.errors) : decodeProtobuf(raw, record.errors, record.warnings);
        record.span_count = validate(record.decoded, record.errors);
      }
      if (countOnly) {
        record.decoded = null;
        record.decoded_forgotten = true;
        record.headers = {};
      }
    } catch (e) {
      record.decoded = null;
      record.decode_error = `${e.name || 'Error'}: ${e.message}`;
      record.errors.push(`decode failed: ${record.decode_error}`);
      failure = [400, record.decode_error];
    }
  }

  const answer = () => {
    if (entry.close) {
      record.closed_without_answer = true;
      req.socket.destroy();
      return;
    }
    if (!res.socket || res.socket.destroyed) {
      record.client_closed = true;
      return;
    }
    const status = entry.status !== undefined ? entry.status : failure ? failure[0] : 200;
    const payload = entry.body !== undefined ? Buffer.from(String(entry.body))
                                             : responseBody(status, entry, json, failure && failure[1]);
    const headers = {
      'Content-Type': json ? 'application/json' : 'application/x-protobuf',
      'Content-Length': payload.length,
    };
    if (entry.retry_after !== undefined) headers['Retry-After'] = String(entry.retry_after);
    Object.assign(headers, entry.headers || {});
    record.status_answered = status;
    record.answered = true;
    record.answered_at_ms = Date.now();
    res.writeHead(status, headers);
    res.end(payload);
  };
  if (entry.delay_ms) setTimeout(answer, entry.delay_ms);
  else answer();
}

function handleControl(req, res, body) {
  const url = req.url.split('?')[0];
  if (req.method === 'GET' && url === '/control/requests') return sendJson(res, 200, requests);
  if (req.method === 'GET' && url === '/control/stats') {
    const spans = requests.reduce((sum, r) => sum + countedSpans(r), 0);
    const pending = requests.filter((r) => !r.answered && !r.closed_without_answer && !r.client_closed).length;
    return sendJson(res, 200, { requests: requests.length, pending, spans, pending_script: queue.length });
  }
  if (req.method === 'POST' && url === '/control/reset') {
    requests = [];
    queue = [];
    return sendJson(res, 200, {});
  }
  if (req.method === 'POST' && url === '/control/script') {
    let entries;
    try {
      entries = JSON.parse(body.toString('utf8'));
      if (!Array.isArray(entries)) entries = [entries];
      entries.forEach(checkScriptEntry);
    } catch (e) {
      return sendJson(res, 400, { error: `bad script: ${e.message}` });
    }
    queue.push(...entries);
    return sendJson(res, 200, { queued: queue.length });
  }
  return sendJson(res, 404, { error: `no control endpoint ${req.method} ${url}` });
}

const server = http.createServer((req, res) => {
  readBody(req, (body) => {
    const url = req.url.split('?')[0];
    if (url === '/v1/traces') {
      if (req.method !== 'POST') {
        res.writeHead(405, { Allow: 'POST', 'Content-Length': 0 });
        return res.end();
      }
      return handleTraces(req, res, body);
    }
    if (url.startsWith('/control/')) return handleControl(req, res, body || Buffer.alloc(0));
    sendJson(res, 404, { error: `nothing at ${url}` });
  });
});
server.keepAliveTimeout = 30000;
server.on('clientError', (err, socket) => socket.destroy());
server.on('error', (err) => fatal(`cannot listen on 127.0.0.1:${port}: ${err.message}`));
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`);
});

if (exitOnStdinClose) {
  // The harness holds the other end of stdin: when it exits (even killed), stdin ends and so do we.
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));
