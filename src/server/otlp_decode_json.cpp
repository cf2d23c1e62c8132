// OTLP/JSON trace and log requests (the protobuf JSON mapping: lowerCamelCase names, snake_case
// also read; hex ids; bytes values in base64; 64-bit integers as decimal strings or numbers, with
// an exponent if integral; doubles as numbers or strings; enums as numbers or names).
// Read with simdjson's on-demand API straight into the spans: no tree of the whole body is built
// (it was half of the decoding's time, its destruction a tenth), and the path named in errors is
// kept by JsonReader's guards rather than built as a string per member.
#include <algorithm>
#include <charconv>
#include <limits>

#include "hex.hpp"
#include "json/reader.hpp"
#include "server/otlp_decode.hpp"
#include "server/proto3_json.hpp"

namespace synth::tracing::server {

namespace {

namespace od = simdjson::ondemand;
using detail::JsonReader;
using detail::key_is;
using simdjson::error_code;

template <std::size_t C, std::size_t S>
bool named(std::string_view key, const char (&camel)[C], const char (&snake)[S]) noexcept {
  return key_is(key, camel) || key_is(key, snake);
}

// Calls `read(key, value)` for each member of the object `v` whose value is not null (the JSON
// mapping reads a null member as an absent one), with the member's key on the error path. When
// both spellings of a field are sent, the later one is kept.
template <class Read>
void for_each_member(JsonReader& r, od::value v, Read&& read) {
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path path(r, key);
    od::value member = field.value();
    if (r.is_null(member)) continue;
    read(key, member);
  }
}

// Calls `read(element)` for each element of the array `v`, its index on the error path.
template <class Read>
void for_each_element(JsonReader& r, od::value v, Read&& read) {
  std::size_t i = 0;
  for (auto element : r.array(v)) {
    JsonReader::Path path(r, i++);
    read(element.value());
  }
}

std::string hex_id(JsonReader& r, od::value v, std::size_t digits) {
  const char* at = v.raw_json_token().data();
  std::string id = r.string(v);
  if (id.empty()) return id;
  if (id.size() != digits) r.fail_at(at, "'" + id + "' is not " + std::to_string(digits) + " hex digits");
  for (char& c : id) {
    if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      r.fail_at(at, "'" + id + "' is not hex (OTLP/JSON ids are hex, not base64)");
    }
  }
  // All zero is an invalid id (trace.proto): none, as when it is absent.
  if (id.find_first_not_of('0') == std::string::npos) id.clear();
  return id;
}

// A 64-bit integer field as the proto3 JSON mapping sends it: a number or a decimal string.
// Fails, naming the value and `what` it should be, unless it is an integer that `fits`.
template <class Fits>
Integer integer_field(JsonReader& r, od::value v, Fits fits, const char* what) {
  const char* at = v.raw_json_token().data();
  std::string shown;
  if (v.type() == od::json_type::string) {
    const std::string_view s = r.string_in_place(v);
    if (const auto i = exact_integer(s); i && fits(*i)) return *i;
    shown.append(1, '\'').append(s).append(1, '\'');
  } else {
    shown = detail::token_text(v);
    if (v.type() == od::json_type::number) {
      if (const auto i = exact_integer(shown); i && fits(*i)) return *i;
    }
  }
  r.fail_at(at, shown + " is not " + what);
}

// A fixed64/uint64 field (times).
std::uint64_t unsigned_integer(JsonReader& r, od::value v) {
  std::uint64_t out = 0;
  if (v.type() == od::json_type::number && v.get_uint64().get(out) == error_code::SUCCESS) return out;
  return integer_field(
             r, v, [](Integer i) { return !i.negative || i.magnitude == 0; }, "an unsigned integer")
      .magnitude;
}

// An int64 field (intValue).
std::int64_t signed_integer(JsonReader& r, od::value v) {
  std::int64_t out = 0;
  if (v.type() == od::json_type::number && v.get_int64().get(out) == error_code::SUCCESS) return out;
  constexpr auto kMax = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  const Integer i = integer_field(
      r, v, [](Integer n) { return n.magnitude <= kMax + (n.negative ? 1 : 0); }, "a 64-bit integer");
  // Modulo 2^64, so that the magnitude 2^63 becomes the lowest int64.
  return static_cast<std::int64_t>(i.negative ? 0 - i.magnitude : i.magnitude);
}

// A double field as the proto3 JSON mapping sends it: a number, or a string holding one or
// "NaN", "Infinity", "-Infinity".
double double_value(JsonReader& r, od::value v) {
  const char* at = v.raw_json_token().data();
  double d = 0;
  if (v.type() == od::json_type::number) {
    if (v.get_double().get(d) == error_code::SUCCESS) return d;
  } else if (v.type() == od::json_type::string) {
    const std::string_view s = r.string_in_place(v);
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
    // A digit first, as in JSON: from_chars would also take "inf", "nan" and the like.
    const std::size_t first = s.starts_with('-') ? 1 : 0;
    if (first < s.size() && s[first] >= '0' && s[first] <= '9') {
      const auto result = std::from_chars(s.data(), s.data() + s.size(), d);
      if (result.ec == std::errc() && result.ptr == s.data() + s.size()) return d;
    }
  }
  r.fail_at(at, detail::token_text(v) + " is not a number");
}

// An enum: its number, or its name looked up in `names` (index = number).
int enum_value(JsonReader& r, od::value v, std::initializer_list<std::string_view> names) {
  const char* at = v.raw_json_token().data();
  if (v.type() == od::json_type::number) {
    std::int64_t number = 0;
    if (v.get_int64().get(number) == error_code::SUCCESS) return static_cast<int>(number & 0xFF);
  } else if (v.type() == od::json_type::string) {
    const std::string_view name = r.string_in_place(v);
    int i = 0;
    for (const std::string_view known : names) {
      if (name == known) return i;
      ++i;
    }
  }
  r.fail_at(at, "is not a known value");
}

void key_values(JsonReader& r, od::value list, Value& into, int depth);

// An AnyValue object. Of several members (a oneof sent twice), the first in this order is kept:
// string, bool, int, double, array, kvlist, bytes; each member must be well-formed.
Value any_value(JsonReader& r, od::value v, int depth) {
  if (depth > kOtlpMaxDepth) r.fail(v, "values are nested deeper than " + std::to_string(kOtlpMaxDepth) + " levels");
  if (v.type() != od::json_type::object) r.fail(v, "is not an AnyValue object");
  Value out;
  int kept = std::numeric_limits<int>::max();  // the rank of the member in `out`
  const auto keep = [&](int rank, auto&& read) {
    Value read_value = read();
    if (rank < kept) {
      out = std::move(read_value);
      kept = rank;
    }
  };
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    const char* at = m.raw_json_token().data();
    if (named(key, "stringValue", "string_value")) {
      if (m.type() != od::json_type::string) r.fail_at(at, "stringValue is not a string");
      keep(0, [&] { return Value(std::string(r.string_in_place(m))); });
    } else if (named(key, "boolValue", "bool_value")) {
      bool b = false;
      if (m.type() != od::json_type::boolean || m.get_bool().get(b) != error_code::SUCCESS) {
        r.fail_at(at, "boolValue is not a boolean");
      }
      keep(1, [&] { return Value(b); });
    } else if (named(key, "intValue", "int_value")) {
      const std::int64_t i = signed_integer(r, m);
      keep(2, [&] { return Value(i); });
    } else if (named(key, "doubleValue", "double_value")) {
      const double d = double_value(r, m);
      keep(3, [&] { return Value(d); });
    } else if (named(key, "arrayValue", "array_value")) {
      keep(4, [&] {
        Value array = Value::array();
        for_each_member(r, m, [&](std::string_view k, od::value values) {
          if (!key_is(k, "values")) return;
          for_each_element(r, values, [&](od::value e) { array.push_back(any_value(r, e, depth + 1)); });
        });
        return array;
      });
    } else if (named(key, "kvlistValue", "kvlist_value")) {
      keep(5, [&] {
        Value object = Value::object();
        for_each_member(r, m, [&](std::string_view k, od::value values) {
          if (key_is(k, "values")) key_values(r, values, object, depth + 1);
        });
        return object;
      });
    } else if (named(key, "bytesValue", "bytes_value")) {
      // Base64 in JSON; kept as hex, as the protobuf decoder keeps the same bytes.
      if (m.type() != od::json_type::string) r.fail_at(at, "bytesValue is not a string");
      const std::optional<std::string> bytes = base64_bytes(r.string_in_place(m));
      if (!bytes) r.fail_at(at, "bytesValue is not base64");
      keep(6, [&] { return Value(detail::hex_bytes(*bytes)); });
    }
  });
  return out;
}

// A list of KeyValue objects into the object `into` (a repeated key: the last wins).
void key_values(JsonReader& r, od::value list, Value& into, int depth) {
  for_each_element(r, list, [&](od::value kv) {
    std::string key;
    Value value;
    for_each_member(r, kv, [&](std::string_view k, od::value m) {
      if (key_is(k, "key")) {
        key = r.string(m);
      } else if (key_is(k, "value")) {
        value = any_value(r, m, depth + 1);
      }
    });
    set_attribute(into, std::move(key), std::move(value));
  });
}

// The attributes member of a Resource (or any object): the others are skipped.
void attributes_of(JsonReader& r, od::value v, Value& into) {
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    if (key_is(key, "attributes")) key_values(r, m, into, 0);
  });
}

OtlpEvent read_event(JsonReader& r, od::value v) {
  OtlpEvent e;
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    if (key_is(key, "name")) {
      e.name = r.string(m);
    } else if (named(key, "timeUnixNano", "time_unix_nano")) {
      e.time_unix_nano = unsigned_integer(r, m);
    } else if (key_is(key, "attributes")) {
      key_values(r, m, e.attributes, 0);
    }
  });
  return e;
}

OtlpSpan read_span(JsonReader& r, od::value v) {
  OtlpSpan s;
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    if (named(key, "traceId", "trace_id")) {
      s.trace_id = hex_id(r, m, 32);
    } else if (named(key, "spanId", "span_id")) {
      s.span_id = hex_id(r, m, 16);
    } else if (named(key, "parentSpanId", "parent_span_id")) {
      s.parent_span_id = hex_id(r, m, 16);
    } else if (key_is(key, "name")) {
      s.name = r.string(m);
    } else if (key_is(key, "kind")) {
      s.kind = enum_value(r, m,
                          {"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER", "SPAN_KIND_CLIENT",
                           "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER"});
    } else if (named(key, "startTimeUnixNano", "start_time_unix_nano")) {
      s.start_unix_nano = unsigned_integer(r, m);
    } else if (named(key, "endTimeUnixNano", "end_time_unix_nano")) {
      s.end_unix_nano = unsigned_integer(r, m);
    } else if (key_is(key, "attributes")) {
      key_values(r, m, s.attributes, 0);
    } else if (key_is(key, "events")) {
      for_each_element(r, m, [&](od::value e) { s.events.push_back(read_event(r, e)); });
    } else if (key_is(key, "status")) {
      for_each_member(r, m, [&](std::string_view k, od::value sm) {
        if (key_is(k, "code")) {
          s.status_code = enum_value(r, sm, {"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"});
        } else if (key_is(k, "message")) {
          s.status_message = r.string(sm);
        }
      });
    }
  });
  return s;
}

// A ScopeSpans object's spans appended to `out`, each naming `resource` and the scope's name
// (which may come after the spans).
void read_scope_spans(JsonReader& r, od::value v, std::size_t resource, OtlpTraces& out) {
  const std::size_t first = out.spans.size();
  std::string scope;
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    if (key_is(key, "scope")) {
      for_each_member(r, m, [&](std::string_view k, od::value name) {
        if (key_is(k, "name")) scope = r.string(name);
      });
    } else if (key_is(key, "spans")) {
      for_each_element(r, m, [&](od::value span) {
        out.spans.push_back(read_span(r, span));
        out.spans.back().resource = resource;
      });
    }
  });
  for (std::size_t i = first; i < out.spans.size(); ++i) out.spans[i].scope_name = scope;
}

OtlpLog read_log(JsonReader& r, od::value v) {
  OtlpLog log;
  std::uint64_t observed = 0;
  for_each_member(r, v, [&](std::string_view key, od::value m) {
    if (named(key, "traceId", "trace_id")) {
      log.trace_id = hex_id(r, m, 32);
    } else if (named(key, "spanId", "span_id")) {
      log.span_id = hex_id(r, m, 16);
    } else if (named(key, "timeUnixNano", "time_unix_nano")) {
      log.time_unix_nano = unsigned_integer(r, m);
    } else if (named(key, "observedTimeUnixNano", "observed_time_unix_nano")) {
      observed = unsigned_integer(r, m);
    } else if (named(key, "eventName", "event_name")) {
      log.event_name = r.string(m);
    } else if (key_is(key, "body")) {
      log.body = any_value(r, m, 1);
    } else if (key_is(key, "attributes")) {
      key_values(r, m, log.attributes, 0);
    }
  });
  if (log.time_unix_nano == 0) log.time_unix_nano = observed;
  if (log.event_name.empty()) {
    if (const Value* name = log.attributes.find("event.name"); name != nullptr && name->is_string()) {
      log.event_name = name->as_string();
    }
  }
  return log;
}

// Runs `read(root)` on the body's root object; the reader's errors become OtlpDecodeError.
template <class Read>
void read_body(std::string_view body, Read&& read) {
  try {
    JsonReader r(body, "the OTLP/JSON body");
    r.read_object([&](od::value root) {
      read(r, root);
      return 0;
    });
  } catch (const TraceFormatError& e) {
    throw OtlpDecodeError(std::string("malformed OTLP JSON: ") + e.what());
  }
}

}  // namespace

OtlpLogs decode_otlp_logs_json(std::string_view body) {
  OtlpLogs out;
  read_body(body, [&](JsonReader& r, od::value root) {
    for_each_member(r, root, [&](std::string_view key, od::value resource_logs) {
      if (!named(key, "resourceLogs", "resource_logs")) return;
      for_each_element(r, resource_logs, [&](od::value rl) {
        const std::size_t resource = out.resources.size();
        out.resources.push_back(Value::object());
        for_each_member(r, rl, [&](std::string_view k, od::value m) {
          if (key_is(k, "resource")) {
            attributes_of(r, m, out.resources[resource]);
          } else if (named(k, "scopeLogs", "scope_logs")) {
            for_each_element(r, m, [&](od::value sl) {
              for_each_member(r, sl, [&](std::string_view sk, od::value records) {
                if (!named(sk, "logRecords", "log_records")) return;
                for_each_element(r, records, [&](od::value record) {
                  out.logs.push_back(read_log(r, record));
                  out.logs.back().resource = resource;
                });
              });
            });
          }
        });
      });
    });
  });
  return out;
}

OtlpTraces decode_otlp_traces_json(std::string_view body) {
  OtlpTraces out;
  out.body_bytes = body.size();
  read_body(body, [&](JsonReader& r, od::value root) {
    const char* at = root.raw_json_token().data();
    bool has_resource_spans = false, has_session_id = false;
    for (auto field : root.get_object()) {
      const std::string_view key = r.key(field);
      JsonReader::Path path(r, key);
      od::value m = field.value();
      if (key_is(key, "session_id")) has_session_id = true;
      if (!named(key, "resourceSpans", "resource_spans") || r.is_null(m)) continue;
      has_resource_spans = true;
      for_each_element(r, m, [&](od::value rs) {
        const std::size_t resource = out.resources.size();
        out.resources.push_back(Value::object());
        for_each_member(r, rs, [&](std::string_view k, od::value rm) {
          if (key_is(k, "resource")) {
            attributes_of(r, rm, out.resources[resource]);
          } else if (named(k, "scopeSpans", "scope_spans")) {
            for_each_element(r, rm, [&](od::value ss) { read_scope_spans(r, ss, resource, out); });
          }
        });
      });
    }
    // Other fields are ignored (OTLP/JSON receivers must), but our own trace JSON sent here would
    // be dropped without a word.
    if (has_session_id && !has_resource_spans) {
      r.fail_at(at, "has no resourceSpans but a session_id: sessions in our trace JSON go to POST /api/v1/sessions");
    }
  });
  return out;
}

}  // namespace synth::tracing::server
