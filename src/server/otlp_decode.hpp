// Internal: reading an OTLP/HTTP ExportTraceServiceRequest (protobuf or JSON, already
// decompressed) into plain spans. Hand-written for the few messages the trace service uses; the
// mirror of src/otel/encode.cpp. Callable on any bytes (the fuzz harness drives it): it throws
// only OtlpDecodeError, and its work is bounded by the body's size and a nesting limit.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::server {

/// A body that is not an ExportTraceServiceRequest: `what()` names the message and field where
/// reading stopped, the byte offset (protobuf), and the problem.
class OtlpDecodeError : public Error {
 public:
  using Error::Error;
};

/// AnyValues nested deeper than this (arrays and key-value lists) are refused.
inline constexpr int kOtlpMaxDepth = 32;

/// A span event (Span.Event).
struct OtlpEvent {
  std::string name;
  std::uint64_t time_unix_nano = 0;
  Value attributes = Value::object();
};

/// A span's input and output messages as its LLM call event keeps them (otlp::read_messages):
/// each `{role, content, ...}`, null when it has none.
struct OtlpMessages {
  Value input;
  Value output;
};

/// A span, with the attributes of the resource and scope that sent it.
struct OtlpSpan {
  std::string trace_id;        ///< 32 lower-case hex digits ("" when absent or all zero, which is invalid)
  std::string span_id;         ///< 16 lower-case hex digits ("" when absent or all zero)
  std::string parent_span_id;  ///< "" for a root span (also when sent as all zero)
  std::string name;
  int kind = 0;  ///< SpanKind: 0 unspecified, 1 internal, 2 server, 3 client, 4 producer, 5 consumer
  std::uint64_t start_unix_nano = 0;
  std::uint64_t end_unix_nano = 0;
  /// Attributes as an object; AnyValue maps onto Value (kvlist → object, bytes → hex string).
  Value attributes = Value::object();
  std::vector<OtlpEvent> events;
  int status_code = 0;  ///< 0 unset, 1 ok, 2 error
  std::string status_message;
  std::size_t resource = 0;  ///< index into OtlpTraces::resources
  std::string scope_name;
  /// Its messages once read from `attributes` (otlp::read_messages), so that their JSON text is
  /// parsed once: deciding whether an LLM call waits for its log records reads them, its event
  /// takes them. Empty until read; reset by whatever changes `attributes` (fold_logs_into_span).
  std::optional<OtlpMessages> messages;
};

/// The spans of a request, and the attributes of each resource they came from.
struct OtlpTraces {
  std::vector<Value> resources;
  std::vector<OtlpSpan> spans;
  /// The size of the (decompressed) body they were read from; 0 when not read from one.
  std::size_t body_bytes = 0;
};

/// Sets `object[key] = value` as Value::set does (a repeated key: the last wins), moving the key
/// in: how both decoders add an attribute.
inline void set_attribute(Value& object, std::string key, Value value) {
  if (Value* same = object.find(key)) {
    *same = std::move(value);
  } else {
    object.as_object().emplace_back(std::move(key), std::move(value));
  }
}

/// Reads a protobuf ExportTraceServiceRequest (opentelemetry/proto/collector/trace/v1). Unknown
/// fields are skipped, as protobuf readers do.
OtlpTraces decode_otlp_traces_protobuf(std::string_view body);
/// Reads an OTLP/JSON ExportTraceServiceRequest (camelCase or snake_case field names, hex ids,
/// 64-bit integers as numbers or decimal strings).
OtlpTraces decode_otlp_traces_json(std::string_view body);

/// A log record (LogRecord): GenAI instrumentations send prompt and completion content as logs.
struct OtlpLog {
  std::string trace_id;  ///< hex, "" when absent or all zero
  std::string span_id;   ///< hex, "" when absent or all zero (no span)
  std::uint64_t time_unix_nano = 0;  ///< its time, else its observed time
  std::string event_name;            ///< the event_name field, else the attribute event.name
  Value body;
  Value attributes = Value::object();
  std::size_t resource = 0;  ///< index into OtlpLogs::resources
};

/// The log records of a request, and the attributes of each resource they came from.
struct OtlpLogs {
  std::vector<Value> resources;
  std::vector<OtlpLog> logs;
};

/// Reads a protobuf ExportLogsServiceRequest (opentelemetry/proto/collector/logs/v1).
OtlpLogs decode_otlp_logs_protobuf(std::string_view body);
/// Reads an OTLP/JSON ExportLogsServiceRequest.
OtlpLogs decode_otlp_logs_json(std::string_view body);

}  // namespace synth::tracing::server
