// OTLP encoding of spans: protobuf (opentelemetry/proto/collector/trace/v1) written by hand,
// and OTLP/JSON. Field numbers are the proto files' (trace.proto, common.proto, resource.proto).
#include <bit>
#include <cmath>
#include <cstring>

#include "hex.hpp"
#include "json/writer.hpp"
#include "synth/tracing/otel.hpp"

namespace synth::tracing {

namespace {

enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2 };

// Appends protobuf fields to a string. Nested messages are written in place after a one-byte
// length placeholder, widened afterwards when the message turned out longer: one code path per
// message, and canonical (minimal) length varints.
class ProtoWriter {
 public:
  explicit ProtoWriter(std::string& out) : out_(out) {}

  void varint(std::uint64_t v) {
    char buf[10];
    out_.append(buf, encode_varint(v, buf));
  }
  void tag(std::uint32_t field, WireType type) { varint((static_cast<std::uint64_t>(field) << 3) | type); }

  /// Written even when empty (AnyValue's string_value: "" is a value). Protobuf strings must be
  /// UTF-8: each invalid byte becomes U+FFFD, as in the JSON encoding.
  void string_always(std::uint32_t field, std::string_view s) {
    tag(field, kLengthDelimited);
    if (detail::first_invalid_utf8(s) == s.size()) {
      varint(s.size());
      out_.append(s);
      return;
    }
    const std::string fixed = detail::replace_invalid_utf8(s);
    varint(fixed.size());
    out_.append(fixed);
  }
  /// Omitted when empty (proto3 default).
  void string_field(std::uint32_t field, std::string_view s) {
    if (!s.empty()) string_always(field, s);
  }
  /// Trace (16 bytes) and span (8 bytes) ids, big-endian; omitted when zero.
  void id_field(std::uint32_t field, std::uint64_t high, std::uint64_t low, bool wide) {
    if (high == 0 && low == 0) return;
    tag(field, kLengthDelimited);
    varint(wide ? 16 : 8);
    char buf[16];
    std::size_t n = 0;
    if (wide) {
      for (int shift = 56; shift >= 0; shift -= 8) buf[n++] = static_cast<char>(high >> shift);
    }
    for (int shift = 56; shift >= 0; shift -= 8) buf[n++] = static_cast<char>(low >> shift);
    out_.append(buf, n);
  }
  void varint_field(std::uint32_t field, std::uint64_t v) {
    if (v == 0) return;
    tag(field, kVarint);
    varint(v);
  }
  void int64_always(std::uint32_t field, std::int64_t v) {
    tag(field, kVarint);
    varint(static_cast<std::uint64_t>(v));  // two's complement, as protobuf int64
  }
  void bool_always(std::uint32_t field, bool v) {
    tag(field, kVarint);
    out_.push_back(v ? '\1' : '\0');
  }
  void double_always(std::uint32_t field, double v) {
    tag(field, kFixed64);
    fixed64(std::bit_cast<std::uint64_t>(v));
  }
  void fixed64_field(std::uint32_t field, std::uint64_t v) {
    if (v == 0) return;
    tag(field, kFixed64);
    fixed64(v);
  }

  /// Starts a nested message; returns where its body starts.
  std::size_t begin(std::uint32_t field) {
    tag(field, kLengthDelimited);
    out_.push_back('\0');
    return out_.size();
  }
  void end(std::size_t body_start) {
    const std::size_t length = out_.size() - body_start;
    if (length < 0x80) {
      out_[body_start - 1] = static_cast<char>(length);
      return;
    }
    char buf[10];
    const std::size_t n = encode_varint(length, buf);
    out_.resize(out_.size() + n - 1);  // widen the placeholder: move the body right
    std::memmove(out_.data() + body_start + n - 1, out_.data() + body_start, length);
    std::memcpy(out_.data() + body_start - 1, buf, n);
  }

 private:
  static std::size_t encode_varint(std::uint64_t v, char* buf) {
    std::size_t n = 0;
    while (v >= 0x80) {
      buf[n++] = static_cast<char>(v | 0x80);
      v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    return n;
  }
  void fixed64(std::uint64_t v) {
    char buf[8];
    for (int i = 0; i < 8; ++i) buf[i] = static_cast<char>(v >> (8 * i));  // little-endian
    out_.append(buf, 8);
  }

  std::string& out_;
};

std::uint64_t unix_nanos(Timestamp t) { return static_cast<std::uint64_t>(t.time_since_epoch().count()); }

void write_any_value(ProtoWriter& w, const Value& v);

// KeyValue { string key = 1; AnyValue value = 2; }, one per member of `object`.
void write_key_values(ProtoWriter& w, std::uint32_t field, const Value& object) {
  if (!object.is_object()) return;
  for (const auto& [key, value] : object.as_object()) {
    const std::size_t kv = w.begin(field);
    w.string_field(1, key);
    const std::size_t any = w.begin(2);
    write_any_value(w, value);
    w.end(any);
    w.end(kv);
  }
}

// AnyValue { string_value = 1; bool_value = 2; int_value = 3; double_value = 4;
//            ArrayValue array_value = 5 { repeated AnyValue values = 1 };
//            KeyValueList kvlist_value = 6 { repeated KeyValue values = 1 } }
void write_any_value(ProtoWriter& w, const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      break;  // an empty AnyValue
    case Value::Kind::boolean:
      w.bool_always(2, v.as_bool());
      break;
    case Value::Kind::integer:
      w.int64_always(3, v.as_int());
      break;
    case Value::Kind::unsigned_integer:
    case Value::Kind::floating:
      w.double_always(4, v.as_double());  // an integer beyond int64: the nearest double
      break;
    case Value::Kind::string:
      w.string_always(1, v.as_string());
      break;
    case Value::Kind::array: {
      const std::size_t array = w.begin(5);
      for (const Value& element : v.as_array()) {
        const std::size_t any = w.begin(1);
        write_any_value(w, element);
        w.end(any);
      }
      w.end(array);
      break;
    }
    case Value::Kind::object: {
      const std::size_t list = w.begin(6);
      write_key_values(w, 1, v);
      w.end(list);
      break;
    }
  }
}

// Span { trace_id = 1; span_id = 2; trace_state = 3; parent_span_id = 4; name = 5; kind = 6;
//        start_time_unix_nano = 7; end_time_unix_nano = 8; attributes = 9; events = 11;
//        status = 15 { message = 2; code = 3 } }
void write_span(ProtoWriter& w, const SpanData& s) {
  const std::size_t span = w.begin(2);  // ScopeSpans.spans
  w.id_field(1, s.trace_id_high, s.trace_id_low, true);
  w.id_field(2, 0, s.span_id, false);
  w.string_field(3, s.trace_state);
  w.id_field(4, 0, s.parent_span_id, false);
  w.string_field(5, s.name);
  w.varint_field(6, static_cast<std::uint64_t>(s.kind));
  w.fixed64_field(7, unix_nanos(s.start));
  w.fixed64_field(8, unix_nanos(s.end));
  write_key_values(w, 9, s.attributes);
  for (const SpanEvent& e : s.events) {
    // Event { time_unix_nano = 1 (fixed64); name = 2; attributes = 3 }
    const std::size_t event = w.begin(11);
    w.fixed64_field(1, unix_nanos(e.time));
    w.string_field(2, e.name);
    write_key_values(w, 3, e.attributes);
    w.end(event);
  }
  if (s.status != SpanStatus::unset || !s.status_message.empty()) {
    const std::size_t status = w.begin(15);
    w.string_field(2, s.status_message);
    w.varint_field(3, static_cast<std::uint64_t>(s.status));
    w.end(status);
  }
  w.end(span);
}

// A 128-bit trace id (two halves) or a 64-bit span id (`low` alone) as lower-case hex.
std::string hex(std::uint64_t high, std::uint64_t low, bool wide) {
  std::string out;
  out.reserve(wide ? 32 : 16);
  if (wide) detail::append_hex(out, high);
  detail::append_hex(out, low);
  return out;
}

void json_any_value(detail::JsonWriter& w, const Value& v);

void json_key_values(detail::JsonWriter& w, const Value& object) {
  w.begin_array();
  if (object.is_object()) {
    for (const auto& [key, value] : object.as_object()) {
      w.begin_object();
      w.plain_key("key");
      w.string(key);
      w.plain_key("value");
      json_any_value(w, value);
      w.end_object();
    }
  }
  w.end_array();
}

// OTLP/JSON AnyValue: {"stringValue": ...} / {"intValue": "<decimal>"} / ...
void json_any_value(detail::JsonWriter& w, const Value& v) {
  w.begin_object();
  switch (v.kind()) {
    case Value::Kind::null:
      break;
    case Value::Kind::boolean:
      w.plain_key("boolValue");
      w.boolean(v.as_bool());
      break;
    case Value::Kind::integer:
      w.plain_key("intValue");
      w.string(std::to_string(v.as_int()));  // 64-bit integers are decimal strings
      break;
    case Value::Kind::unsigned_integer:
    case Value::Kind::floating: {
      w.plain_key("doubleValue");
      const double d = v.as_double();
      if (std::isfinite(d)) {
        w.number(d);
      } else {  // the proto3 JSON mapping's spelling of non-finite doubles
        w.string(std::isnan(d) ? "NaN" : d > 0 ? "Infinity" : "-Infinity");
      }
      break;
    }
    case Value::Kind::string:
      w.plain_key("stringValue");
      w.string(v.as_string());
      break;
    case Value::Kind::array:
      w.plain_key("arrayValue");
      w.begin_object();
      w.plain_key("values");
      w.begin_array();
      for (const Value& e : v.as_array()) json_any_value(w, e);
      w.end_array();
      w.end_object();
      break;
    case Value::Kind::object:
      w.plain_key("kvlistValue");
      w.begin_object();
      w.plain_key("values");
      json_key_values(w, v);
      w.end_object();
      break;
  }
  w.end_object();
}

}  // namespace

// ExportTraceServiceRequest { resource_spans = 1 { resource = 1 { attributes = 1 };
//   scope_spans = 2 { scope = 1 { name = 1; version = 2 }; spans = 2 } } }
std::string encode_otlp_protobuf(std::span<const SpanData> spans, const OtlpResource& resource) {
  std::string out;
  encode_otlp_protobuf(spans, resource, out);
  return out;
}

void encode_otlp_protobuf(std::span<const SpanData> spans, const OtlpResource& resource, std::string& out) {
  out.clear();
  out.reserve(256 + spans.size() * 256);
  ProtoWriter w(out);
  const std::size_t resource_spans = w.begin(1);
  const std::size_t res = w.begin(1);
  write_key_values(w, 1, resource.attributes);
  w.end(res);
  const std::size_t scope_spans = w.begin(2);
  const std::size_t scope = w.begin(1);
  w.string_field(1, resource.scope_name);
  w.string_field(2, resource.scope_version);
  w.end(scope);
  for (const SpanData& s : spans) write_span(w, s);
  w.end(scope_spans);
  w.end(resource_spans);
}

std::string encode_otlp_json(std::span<const SpanData> spans, const OtlpResource& resource) {
  std::string out;
  encode_otlp_json(spans, resource, out);
  return out;
}

void encode_otlp_json(std::span<const SpanData> spans, const OtlpResource& resource, std::string& out) {
  out.clear();
  {
    detail::JsonWriter w(out, JsonFormat{});
    w.begin_object();
    w.plain_key("resourceSpans");
    w.begin_array();
    w.begin_object();
    w.plain_key("resource");
    w.begin_object();
    w.plain_key("attributes");
    json_key_values(w, resource.attributes);
    w.end_object();
    w.plain_key("scopeSpans");
    w.begin_array();
    w.begin_object();
    w.plain_key("scope");
    w.begin_object();
    w.plain_key("name");
    w.string(resource.scope_name);
    if (!resource.scope_version.empty()) {
      w.plain_key("version");
      w.string(resource.scope_version);
    }
    w.end_object();
    w.plain_key("spans");
    w.begin_array();
    for (const SpanData& s : spans) {
      w.begin_object();
      w.plain_key("traceId");
      w.string(hex(s.trace_id_high, s.trace_id_low, true));
      w.plain_key("spanId");
      w.string(hex(0, s.span_id, false));
      if (s.parent_span_id != 0) {
        w.plain_key("parentSpanId");
        w.string(hex(0, s.parent_span_id, false));
      }
      if (!s.trace_state.empty()) {
        w.plain_key("traceState");
        w.string(s.trace_state);
      }
      w.plain_key("name");
      w.string(s.name);
      w.plain_key("kind");
      w.integer(static_cast<std::int64_t>(s.kind));
      w.plain_key("startTimeUnixNano");
      w.string(std::to_string(unix_nanos(s.start)));
      w.plain_key("endTimeUnixNano");
      w.string(std::to_string(unix_nanos(s.end)));
      w.plain_key("attributes");
      json_key_values(w, s.attributes);
      w.plain_key("events");
      w.begin_array();
      for (const SpanEvent& e : s.events) {
        w.begin_object();
        w.plain_key("timeUnixNano");
        w.string(std::to_string(unix_nanos(e.time)));
        w.plain_key("name");
        w.string(e.name);
        w.plain_key("attributes");
        json_key_values(w, e.attributes);
        w.end_object();
      }
      w.end_array();
      w.plain_key("status");
      w.begin_object();
      if (!s.status_message.empty()) {
        w.plain_key("message");
        w.string(s.status_message);
      }
      w.plain_key("code");
      w.integer(static_cast<std::int64_t>(s.status));
      w.end_object();
      w.end_object();
    }
    w.end_array();
    w.end_object();
    w.end_array();
    w.end_object();
    w.end_array();
    w.end_object();
  }
}

}  // namespace synth::tracing
