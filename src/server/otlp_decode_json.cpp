// OTLP/JSON trace requests (the protobuf JSON mapping: lowerCamelCase names, snake_case also
// read; hex ids; 64-bit integers as decimal strings or numbers; enums as numbers or names).
#include <charconv>
#include <limits>

#include "server/otlp_decode.hpp"

namespace synth::tracing::server {

namespace {

[[noreturn]] void fail(const std::string& where, const std::string& problem) {
  throw OtlpDecodeError("malformed OTLP JSON at " + where + ": " + problem);
}

const Value* member(const Value& object, std::string_view camel, std::string_view snake) {
  if (!object.is_object()) return nullptr;
  const Value* v = object.find(camel);
  if (v == nullptr) v = object.find(snake);
  return v != nullptr && !v->is_null() ? v : nullptr;
}

const Value::Array& array_member(const Value& object, std::string_view camel, std::string_view snake,
                                 const std::string& where) {
  static const Value::Array kEmpty;
  const Value* v = member(object, camel, snake);
  if (v == nullptr) return kEmpty;
  if (!v->is_array()) fail(where + "." + std::string(camel), "is " + std::string(kind_name(v->kind())) + ", not an array");
  return v->as_array();
}

std::string string_member(const Value& object, std::string_view camel, std::string_view snake, const std::string& where) {
  const Value* v = member(object, camel, snake);
  if (v == nullptr) return {};
  if (!v->is_string()) fail(where + "." + std::string(camel), "is " + std::string(kind_name(v->kind())) + ", not a string");
  return v->as_string();
}

// A fixed64/uint64 field: a decimal string or a number.
std::uint64_t uint_member(const Value& object, std::string_view camel, std::string_view snake, const std::string& where) {
  const Value* v = member(object, camel, snake);
  if (v == nullptr) return 0;
  if (v->is_string()) {
    const std::string& s = v->as_string();
    std::uint64_t out = 0;
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(where + "." + std::string(camel), "'" + s + "' is not an unsigned integer");
    return out;
  }
  if (v->is_integer() && v->kind() != Value::Kind::integer) return v->as_uint();
  if (v->is_integer() && v->as_int() >= 0) return static_cast<std::uint64_t>(v->as_int());
  fail(where + "." + std::string(camel), "is not an unsigned integer");
}

// An enum: its number, or its name looked up in `names` (index = number).
int enum_member(const Value& object, std::string_view camel, const std::string& where,
                std::initializer_list<std::string_view> names) {
  const Value* v = member(object, camel, camel);
  if (v == nullptr) return 0;
  if (v->is_integer()) return static_cast<int>(v->as_int() & 0xFF);
  if (v->is_string()) {
    int i = 0;
    for (const std::string_view name : names) {
      if (v->as_string() == name) return i;
      ++i;
    }
  }
  fail(where + "." + std::string(camel), "is not a known value");
}

std::string hex_id(const Value& object, std::string_view camel, std::string_view snake, std::size_t digits,
                   const std::string& where) {
  std::string id = string_member(object, camel, snake, where);
  if (id.empty()) return id;
  if (id.size() != digits) fail(where + "." + std::string(camel), "'" + id + "' is not " + std::to_string(digits) + " hex digits");
  for (char& c : id) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      fail(where + "." + std::string(camel), "'" + id + "' is not hex (OTLP/JSON ids are hex, not base64)");
    }
  }
  return id;
}

Value any_value(const Value& v, const std::string& where, int depth);

void key_values(const Value& list_owner, std::string_view camel, Value& into, const std::string& where, int depth) {
  const Value::Array& list = array_member(list_owner, camel, camel, where);
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string at = where + "." + std::string(camel) + "[" + std::to_string(i) + "]";
    if (!list[i].is_object()) fail(at, "is not an object");
    const std::string key = string_member(list[i], "key", "key", at);
    const Value* value = member(list[i], "value", "value");
    into.set(key, value != nullptr ? any_value(*value, at + ".value", depth + 1) : Value());
  }
}

Value any_value(const Value& v, const std::string& where, int depth) {
  if (depth > kOtlpMaxDepth) fail(where, "values are nested deeper than " + std::to_string(kOtlpMaxDepth) + " levels");
  if (!v.is_object()) fail(where, "is not an AnyValue object");
  if (const Value* s = member(v, "stringValue", "string_value")) {
    if (!s->is_string()) fail(where, "stringValue is not a string");
    return *s;
  }
  if (const Value* b = member(v, "boolValue", "bool_value")) {
    if (!b->is_bool()) fail(where, "boolValue is not a boolean");
    return *b;
  }
  if (const Value* i = member(v, "intValue", "int_value")) {
    if (i->is_integer() && i->kind() == Value::Kind::integer) return *i;
    std::int64_t out = 0;
    const std::string s = i->is_string() ? i->as_string() : i->dump();
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) fail(where, "intValue '" + s + "' is not a 64-bit integer");
    return out;
  }
  if (const Value* d = member(v, "doubleValue", "double_value")) {
    if (d->is_number()) return d->as_double();
    if (d->is_string() && d->as_string() == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (d->is_string() && d->as_string() == "Infinity") return std::numeric_limits<double>::infinity();
    if (d->is_string() && d->as_string() == "-Infinity") return -std::numeric_limits<double>::infinity();
    fail(where, "doubleValue is not a number");
  }
  if (const Value* a = member(v, "arrayValue", "array_value")) {
    Value out = Value::array();
    const Value::Array& values = array_member(*a, "values", "values", where + ".arrayValue");
    for (std::size_t i = 0; i < values.size(); ++i) {
      out.push_back(any_value(values[i], where + ".arrayValue.values[" + std::to_string(i) + "]", depth + 1));
    }
    return out;
  }
  if (const Value* kv = member(v, "kvlistValue", "kvlist_value")) {
    Value out = Value::object();
    key_values(*kv, "values", out, where + ".kvlistValue", depth + 1);
    return out;
  }
  if (const Value* bytes = member(v, "bytesValue", "bytes_value")) return *bytes;  // base64 text, kept as it is
  return Value();
}

OtlpSpan read_span(const Value& s, const std::string& where) {
  if (!s.is_object()) fail(where, "is not an object");
  OtlpSpan out;
  out.trace_id = hex_id(s, "traceId", "trace_id", 32, where);
  out.span_id = hex_id(s, "spanId", "span_id", 16, where);
  out.parent_span_id = hex_id(s, "parentSpanId", "parent_span_id", 16, where);
  out.name = string_member(s, "name", "name", where);
  out.kind = enum_member(s, "kind", where,
                         {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                          "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"});
  out.start_unix_nano = uint_member(s, "startTimeUnixNano", "start_time_unix_nano", where);
  out.end_unix_nano = uint_member(s, "endTimeUnixNano", "end_time_unix_nano", where);
  key_values(s, "attributes", out.attributes, where, 0);
  const Value::Array& events = array_member(s, "events", "events", where);
  for (std::size_t i = 0; i < events.size(); ++i) {
    const std::string at = where + ".events[" + std::to_string(i) + "]";
    if (!events[i].is_object()) fail(at, "is not an object");
    OtlpEvent e;
    e.name = string_member(events[i], "name", "name", at);
    e.time_unix_nano = uint_member(events[i], "timeUnixNano", "time_unix_nano", at);
    key_values(events[i], "attributes", e.attributes, at, 0);
    out.events.push_back(std::move(e));
  }
  if (const Value* status = member(s, "status", "status")) {
    out.status_code = enum_member(*status, "code", where + ".status", {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"});
    out.status_message = string_member(*status, "message", "message", where + ".status");
  }
  return out;
}

Value parse_root(std::string_view body, const char* message) {
  Value root;
  try {
    root = Value::parse(body, "the OTLP/JSON body");
  } catch (const Error& e) {
    throw OtlpDecodeError(std::string("malformed OTLP JSON: ") + e.what());
  }
  if (!root.is_object()) fail("the top level", std::string("is not an ") + message + " object");
  return root;
}

OtlpLog read_log(const Value& l, const std::string& where) {
  if (!l.is_object()) fail(where, "is not an object");
  OtlpLog out;
  out.trace_id = hex_id(l, "traceId", "trace_id", 32, where);
  out.span_id = hex_id(l, "spanId", "span_id", 16, where);
  out.time_unix_nano = uint_member(l, "timeUnixNano", "time_unix_nano", where);
  if (out.time_unix_nano == 0) out.time_unix_nano = uint_member(l, "observedTimeUnixNano", "observed_time_unix_nano", where);
  out.event_name = string_member(l, "eventName", "event_name", where);
  if (const Value* body = member(l, "body", "body")) out.body = any_value(*body, where + ".body", 1);
  key_values(l, "attributes", out.attributes, where, 0);
  if (out.event_name.empty()) {
    if (const Value* name = out.attributes.find("event.name"); name != nullptr && name->is_string()) out.event_name = name->as_string();
  }
  return out;
}

}  // namespace

OtlpLogs decode_otlp_logs_json(std::string_view body) {
  const Value root = parse_root(body, "ExportLogsServiceRequest");
  OtlpLogs out;
  const Value::Array& resource_logs = array_member(root, "resourceLogs", "resource_logs", "request");
  for (std::size_t r = 0; r < resource_logs.size(); ++r) {
    const std::string rw = "resourceLogs[" + std::to_string(r) + "]";
    const Value& rl = resource_logs[r];
    if (!rl.is_object()) fail(rw, "is not an object");
    const std::size_t resource = out.resources.size();
    out.resources.push_back(Value::object());
    if (const Value* res = member(rl, "resource", "resource")) key_values(*res, "attributes", out.resources[resource], rw + ".resource", 0);
    const Value::Array& scope_logs = array_member(rl, "scopeLogs", "scope_logs", rw);
    for (std::size_t s = 0; s < scope_logs.size(); ++s) {
      const std::string sw = rw + ".scopeLogs[" + std::to_string(s) + "]";
      if (!scope_logs[s].is_object()) fail(sw, "is not an object");
      const Value::Array& records = array_member(scope_logs[s], "logRecords", "log_records", sw);
      for (std::size_t i = 0; i < records.size(); ++i) {
        OtlpLog log = read_log(records[i], sw + ".logRecords[" + std::to_string(i) + "]");
        log.resource = resource;
        out.logs.push_back(std::move(log));
      }
    }
  }
  return out;
}

OtlpTraces decode_otlp_traces_json(std::string_view body) {
  const Value root = parse_root(body, "ExportTraceServiceRequest");
  if (!root.empty() && member(root, "resourceSpans", "resource_spans") == nullptr) {
    fail("the top level", "has no resourceSpans: not an ExportTraceServiceRequest" +
                              std::string(root.contains("session_id") ? " (sessions in our trace JSON go to POST /api/v1/sessions)" : ""));
  }
  OtlpTraces out;
  out.body_bytes = body.size();
  const Value::Array& resource_spans = array_member(root, "resourceSpans", "resource_spans", "request");
  for (std::size_t r = 0; r < resource_spans.size(); ++r) {
    const std::string rw = "resourceSpans[" + std::to_string(r) + "]";
    const Value& rs = resource_spans[r];
    if (!rs.is_object()) fail(rw, "is not an object");
    const std::size_t resource = out.resources.size();
    out.resources.push_back(Value::object());
    if (const Value* res = member(rs, "resource", "resource")) key_values(*res, "attributes", out.resources[resource], rw + ".resource", 0);
    const Value::Array& scope_spans = array_member(rs, "scopeSpans", "scope_spans", rw);
    for (std::size_t s = 0; s < scope_spans.size(); ++s) {
      const std::string sw = rw + ".scopeSpans[" + std::to_string(s) + "]";
      if (!scope_spans[s].is_object()) fail(sw, "is not an object");
      std::string scope;
      if (const Value* sc = member(scope_spans[s], "scope", "scope")) scope = string_member(*sc, "name", "name", sw + ".scope");
      const Value::Array& spans = array_member(scope_spans[s], "spans", "spans", sw);
      for (std::size_t i = 0; i < spans.size(); ++i) {
        OtlpSpan span = read_span(spans[i], sw + ".spans[" + std::to_string(i) + "]");
        span.resource = resource;
        span.scope_name = scope;
        out.spans.push_back(std::move(span));
      }
    }
  }
  return out;
}

}  // namespace synth::tracing::server
