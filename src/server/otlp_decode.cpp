// OTLP trace requests read by hand: protobuf wire format (field numbers from trace.proto,
// common.proto, resource.proto, trace_service.proto) and the OTLP/JSON mapping.
#include "server/otlp_decode.hpp"

#include <bit>
#include <charconv>
#include <cstring>

#include "hex.hpp"
#include "json/writer.hpp"

namespace synth::tracing::server {

namespace {

enum WireType : std::uint8_t { kVarint = 0, kFixed64 = 1, kLengthDelimited = 2, kFixed32 = 5 };

using detail::hex_bytes;

// One message's bytes; `base` is its offset in the body, for errors.
class ProtoReader {
 public:
  ProtoReader(std::string_view bytes, std::size_t base, const char* message)
      : data_(bytes), base_(base), message_(message) {}

  /// The next field's number and wire type; false at the end of the message.
  bool next(std::uint32_t& field, WireType& type) {
    if (pos_ >= data_.size()) return false;
    const std::uint64_t key = varint();
    field = static_cast<std::uint32_t>(key >> 3);
    type = static_cast<WireType>(key & 7);
    if (field == 0 || key >> 32 != 0) fail("field number " + std::to_string(key >> 3) + " is not valid");
    if (type != kVarint && type != kFixed64 && type != kLengthDelimited && type != kFixed32) {
      fail("wire type " + std::to_string(static_cast<int>(type)) + " of field " + std::to_string(field) +
           " is not one OTLP uses (groups are not)");
    }
    field_ = field;
    return true;
  }
  std::uint64_t varint() {
    // Most are one byte (field keys, the lengths of ids, keys and short values): read inline.
    if (pos_ < data_.size() && (static_cast<unsigned char>(data_[pos_]) & 0x80) == 0) {
      return static_cast<unsigned char>(data_[pos_++]);
    }
    std::uint64_t v = 0;
    for (int shift = 0; shift < 70; shift += 7) {
      if (pos_ >= data_.size()) fail("a varint is cut off by the end of the message");
      const auto byte = static_cast<unsigned char>(data_[pos_++]);
      if (shift == 63 && byte > 1) fail("a varint is longer than 64 bits");
      v |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
      if ((byte & 0x80) == 0) return v;
    }
    fail("a varint is longer than 10 bytes");
  }
  std::uint64_t fixed64() {
    if (data_.size() - pos_ < 8) fail("a fixed64 is cut off by the end of the message");
    std::uint64_t v = 0;
    for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(data_[pos_ + i]);
    pos_ += 8;
    return v;
  }
  /// A length-delimited field's bytes, and where they start in the body.
  std::string_view bytes(std::size_t* offset = nullptr) {
    const std::uint64_t n = varint();
    if (n > data_.size() - pos_) {
      fail("field " + std::to_string(field_) + " says it holds " + std::to_string(n) + " bytes, but " +
           std::to_string(data_.size() - pos_) + " are left");
    }
    if (offset != nullptr) *offset = base_ + pos_;
    const std::string_view out(data_.data() + pos_, n);  // in bounds: checked above
    pos_ += n;
    return out;
  }
  /// A nested message's reader.
  ProtoReader message(const char* name) {
    std::size_t offset = 0;
    const std::string_view b = bytes(&offset);
    return ProtoReader(b, offset, name);
  }
  /// The field's value when it has the expected wire type; else an error.
  void expect(WireType actual, WireType wanted) {
    if (actual != wanted) {
      fail("field " + std::to_string(field_) + " has wire type " + std::to_string(static_cast<int>(actual)) +
           ", not " + std::to_string(static_cast<int>(wanted)));
    }
  }
  void skip(WireType type) {
    switch (type) {
      case kVarint:
        varint();
        break;
      case kFixed64:
        fixed64();
        break;
      case kLengthDelimited:
        bytes();
        break;
      case kFixed32:
        if (data_.size() - pos_ < 4) fail("a fixed32 is cut off by the end of the message");
        pos_ += 4;
        break;
    }
  }
  [[noreturn]] void fail(const std::string& problem) const {
    throw OtlpDecodeError("malformed OTLP protobuf at byte " + std::to_string(base_ + pos_) + " in " + message_ + ": " +
                          problem);
  }

 private:
  std::string_view data_;
  std::size_t base_;
  const char* message_;
  std::size_t pos_ = 0;
  std::uint32_t field_ = 0;
};

std::string string_field(ProtoReader& r, WireType type) {
  r.expect(type, kLengthDelimited);
  const std::string_view s = r.bytes();
  // Protobuf strings must be UTF-8; an SDK's bad bytes become U+FFFD, as our JSON writer makes
  // them, rather than the store refusing the span's whole session after its request was answered.
  if (detail::first_invalid_utf8(s) != s.size()) return detail::replace_invalid_utf8(s);
  return std::string(s);
}

Value read_any_value(ProtoReader r, int depth);

// KeyValue { key = 1; value = 2 } into `object`.
void read_key_value(ProtoReader r, Value& object, int depth) {
  std::string key;
  Value value;
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    if (field == 1) {
      key = string_field(r, type);
    } else if (field == 2) {
      r.expect(type, kLengthDelimited);
      value = read_any_value(r.message("AnyValue"), depth + 1);
    } else {
      r.skip(type);
    }
  }
  set_attribute(object, std::move(key), std::move(value));
}

// AnyValue { string = 1; bool = 2; int = 3; double = 4; array = 5; kvlist = 6; bytes = 7 }
Value read_any_value(ProtoReader r, int depth) {
  if (depth > kOtlpMaxDepth) r.fail("values are nested deeper than " + std::to_string(kOtlpMaxDepth) + " levels");
  Value out;
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    switch (field) {
      case 1:
        out = string_field(r, type);
        break;
      case 2:
        r.expect(type, kVarint);
        out = r.varint() != 0;
        break;
      case 3:
        r.expect(type, kVarint);
        out = static_cast<std::int64_t>(r.varint());
        break;
      case 4:
        r.expect(type, kFixed64);
        out = std::bit_cast<double>(r.fixed64());
        break;
      case 5:
      case 6: {
        r.expect(type, kLengthDelimited);
        const bool array = field == 5;
        out = array ? Value::array() : Value::object();
        ProtoReader list = r.message(array ? "ArrayValue" : "KeyValueList");
        std::uint32_t f;
        WireType t;
        while (list.next(f, t)) {
          if (f != 1) {
            list.skip(t);
            continue;
          }
          list.expect(t, kLengthDelimited);
          if (array) {
            out.push_back(read_any_value(list.message("AnyValue"), depth + 1));
          } else {
            read_key_value(list.message("KeyValue"), out, depth + 1);
          }
        }
        break;
      }
      case 7:
        r.expect(type, kLengthDelimited);
        out = hex_bytes(r.bytes());
        break;
      default:
        r.skip(type);
    }
  }
  return out;
}

std::string id_field(ProtoReader& r, WireType type, std::size_t size, const char* name) {
  r.expect(type, kLengthDelimited);
  const std::string_view b = r.bytes();
  if (!b.empty() && b.size() != size) {
    r.fail(std::string(name) + " has " + std::to_string(b.size()) + " bytes, not " + std::to_string(size));
  }
  // All zero is an invalid id (trace.proto): none, as when it is absent.
  if (b.find_first_not_of('\0') == std::string_view::npos) return {};
  return hex_bytes(b);
}

OtlpEvent read_event(ProtoReader r) {
  OtlpEvent e;
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    if (field == 1) {
      r.expect(type, kFixed64);
      e.time_unix_nano = r.fixed64();
    } else if (field == 2) {
      e.name = string_field(r, type);
    } else if (field == 3) {
      r.expect(type, kLengthDelimited);
      read_key_value(r.message("KeyValue"), e.attributes, 1);
    } else {
      r.skip(type);
    }
  }
  return e;
}

// How many fields numbered `wanted` the message holds (those read before a malformed part: the
// reading proper reports it).
std::size_t count_fields(ProtoReader r, std::uint32_t wanted) {
  std::size_t n = 0;
  try {
    std::uint32_t field;
    WireType type;
    while (r.next(field, type)) {
      n += field == wanted;
      r.skip(type);
    }
  } catch (const OtlpDecodeError&) {
  }
  return n;
}

OtlpSpan read_span(ProtoReader r) {
  OtlpSpan s;
  // Its attributes' object allocated once: growing it moved each attribute a few times.
  s.attributes.as_object().reserve(count_fields(r, 9));
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    switch (field) {
      case 1:
        s.trace_id = id_field(r, type, 16, "trace_id");
        break;
      case 2:
        s.span_id = id_field(r, type, 8, "span_id");
        break;
      case 4:
        s.parent_span_id = id_field(r, type, 8, "parent_span_id");
        break;
      case 5:
        s.name = string_field(r, type);
        break;
      case 6:
        r.expect(type, kVarint);
        s.kind = static_cast<int>(r.varint() & 0xFF);
        break;
      case 7:
        r.expect(type, kFixed64);
        s.start_unix_nano = r.fixed64();
        break;
      case 8:
        r.expect(type, kFixed64);
        s.end_unix_nano = r.fixed64();
        break;
      case 9:
        r.expect(type, kLengthDelimited);
        read_key_value(r.message("KeyValue"), s.attributes, 1);
        break;
      case 11:
        r.expect(type, kLengthDelimited);
        s.events.push_back(read_event(r.message("Span.Event")));
        break;
      case 15: {
        r.expect(type, kLengthDelimited);
        ProtoReader status = r.message("Status");
        std::uint32_t f;
        WireType t;
        while (status.next(f, t)) {
          if (f == 2) {
            s.status_message = string_field(status, t);
          } else if (f == 3) {
            status.expect(t, kVarint);
            s.status_code = static_cast<int>(status.varint() & 0xFF);
          } else {
            status.skip(t);
          }
        }
        break;
      }
      default:
        r.skip(type);
    }
  }
  return s;
}

// Attributes of a Resource or InstrumentationScope (field 1 / 3), and a scope's name.
Value read_attributes_of(ProtoReader r, std::uint32_t attributes_field, std::string* name) {
  Value attributes = Value::object();
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    if (field == attributes_field) {
      r.expect(type, kLengthDelimited);
      read_key_value(r.message("KeyValue"), attributes, 1);
    } else if (field == 1 && name != nullptr) {
      *name = string_field(r, type);
    } else {
      r.skip(type);
    }
  }
  return attributes;
}

// How many spans the request holds (those before a malformed part: the reading proper reports
// it), so that its span vector is allocated once.
std::size_t count_spans(std::string_view body) {
  std::size_t n = 0;
  try {
    ProtoReader request(body, 0, "ExportTraceServiceRequest");
    std::uint32_t field;
    WireType type;
    while (request.next(field, type)) {
      if (field != 1 || type != kLengthDelimited) {
        request.skip(type);
        continue;
      }
      ProtoReader rs = request.message("ResourceSpans");
      while (rs.next(field, type)) {
        if (field == 2 && type == kLengthDelimited) {
          n += count_fields(rs.message("ScopeSpans"), 2);
        } else {
          rs.skip(type);
        }
      }
    }
  } catch (const OtlpDecodeError&) {
  }
  return n;
}

// The messages of an OTLP export request, by kind: ExportTraceServiceRequest { ResourceSpans = 1 },
// ResourceSpans { Resource = 1; ScopeSpans = 2 }, ScopeSpans { InstrumentationScope = 1; Span = 2 },
// and the same numbers for logs (ResourceLogs, ScopeLogs, LogRecord).
struct ExportRequestNames {
  const char* request;
  const char* per_resource;
  const char* per_scope;
  const char* record;
};

// Calls on_record(message, resource, scope name) for each record, in order; each resource's
// attributes go to `resources` (the index passed with its records).
template <class OnRecord>
void walk_export_request(std::string_view body, const ExportRequestNames& names, std::vector<Value>& resources,
                         OnRecord&& on_record) {
  ProtoReader request(body, 0, names.request);
  std::uint32_t field;
  WireType type;
  while (request.next(field, type)) {
    if (field != 1) {
      request.skip(type);
      continue;
    }
    request.expect(type, kLengthDelimited);
    ProtoReader rs = request.message(names.per_resource);
    const std::size_t resource = resources.size();
    resources.push_back(Value::object());
    std::uint32_t f;
    WireType t;
    while (rs.next(f, t)) {
      if (f == 1) {
        rs.expect(t, kLengthDelimited);
        resources[resource] = read_attributes_of(rs.message("Resource"), 1, nullptr);
      } else if (f == 2) {
        rs.expect(t, kLengthDelimited);
        ProtoReader ss = rs.message(names.per_scope);
        std::string scope;
        std::uint32_t g;
        WireType u;
        while (ss.next(g, u)) {
          if (g == 1) {
            ss.expect(u, kLengthDelimited);
            read_attributes_of(ss.message("InstrumentationScope"), 3, &scope);
          } else if (g == 2) {
            ss.expect(u, kLengthDelimited);
            on_record(ss.message(names.record), resource, scope);
          } else {
            ss.skip(u);
          }
        }
      } else {
        rs.skip(t);
      }
    }
  }
}

}  // namespace

OtlpTraces decode_otlp_traces_protobuf(std::string_view body) {
  OtlpTraces out;
  out.body_bytes = body.size();
  out.spans.reserve(count_spans(body));
  const ExportRequestNames names{"ExportTraceServiceRequest", "ResourceSpans", "ScopeSpans", "Span"};
  walk_export_request(body, names, out.resources, [&](ProtoReader span_message, std::size_t resource, const std::string& scope) {
    OtlpSpan span = read_span(span_message);
    span.resource = resource;
    span.scope_name = scope;
    out.spans.push_back(std::move(span));
  });
  return out;
}

namespace {

// LogRecord { time = 1; severity_number = 2; severity_text = 3; body = 5; attributes = 6;
//             trace_id = 9; span_id = 10; observed_time = 11; event_name = 12 }
OtlpLog read_log(ProtoReader r) {
  OtlpLog log;
  std::uint64_t observed = 0;
  std::uint32_t field;
  WireType type;
  while (r.next(field, type)) {
    switch (field) {
      case 1:
      case 11:
        r.expect(type, kFixed64);
        (field == 1 ? log.time_unix_nano : observed) = r.fixed64();
        break;
      case 5:
        r.expect(type, kLengthDelimited);
        log.body = read_any_value(r.message("AnyValue"), 1);
        break;
      case 6:
        r.expect(type, kLengthDelimited);
        read_key_value(r.message("KeyValue"), log.attributes, 1);
        break;
      case 9:
        log.trace_id = id_field(r, type, 16, "trace_id");
        break;
      case 10:
        log.span_id = id_field(r, type, 8, "span_id");
        break;
      case 12:
        log.event_name = string_field(r, type);
        break;
      default:
        r.skip(type);
    }
  }
  if (log.time_unix_nano == 0) log.time_unix_nano = observed;
  return log;
}

}  // namespace

OtlpLogs decode_otlp_logs_protobuf(std::string_view body) {
  OtlpLogs out;
  const ExportRequestNames names{"ExportLogsServiceRequest", "ResourceLogs", "ScopeLogs", "LogRecord"};
  walk_export_request(body, names, out.resources, [&](ProtoReader record, std::size_t resource, const std::string&) {
    OtlpLog log = read_log(record);
    log.resource = resource;
    if (log.event_name.empty()) {
      if (const Value* name = log.attributes.find("event.name"); name != nullptr && name->is_string()) {
        log.event_name = name->as_string();
      }
    }
    out.logs.push_back(std::move(log));
  });
  return out;
}

}  // namespace synth::tracing::server
