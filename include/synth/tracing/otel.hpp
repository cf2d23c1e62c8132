// OpenTelemetry: spans, their OTLP encoding, exporters, the batching processor, and W3C trace
// context for continuing a trace across processes.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing {

/// OTLP SpanKind values.
enum class SpanKind : std::uint8_t { unspecified = 0, internal = 1, server = 2, client = 3, producer = 4, consumer = 5 };

/// OTLP Status.code values.
enum class SpanStatus : std::uint8_t { unset = 0, ok = 1, error = 2 };

/// A timestamped event inside a span (an exception, say).
struct SpanEvent {
  std::string name;
  Timestamp time{};
  /// An object; values: strings, booleans, integers, doubles, arrays, objects.
  Value attributes = Value::object();

  friend bool operator==(const SpanEvent&, const SpanEvent&) = default;
};

/// A finished span, as exported.
struct SpanData {
  std::uint64_t trace_id_high = 0;
  std::uint64_t trace_id_low = 0;
  std::uint64_t span_id = 0;
  /// 0 for a root span.
  std::uint64_t parent_span_id = 0;
  std::string name;
  SpanKind kind = SpanKind::internal;
  Timestamp start{};
  Timestamp end{};
  /// An object; values: strings, booleans, integers, doubles, arrays (AnyValue arrays), objects
  /// (AnyValue key-value lists).
  Value attributes = Value::object();
  std::vector<SpanEvent> events;
  SpanStatus status = SpanStatus::unset;
  std::string status_message;
  /// W3C tracestate carried over from a remote parent.
  std::string trace_state;

  friend bool operator==(const SpanData&, const SpanData&) = default;
};

/// Attributes describing the producer (service.name, service.version, deployment.environment,
/// telemetry.sdk.*), and the instrumentation scope name and version.
struct OtlpResource {
  Value attributes = Value::object();
  std::string scope_name = "synth-tracing";
  std::string scope_version;
};

/// An ExportTraceServiceRequest in OTLP's binary protobuf encoding.
std::string encode_otlp_protobuf(std::span<const SpanData> spans, const OtlpResource& resource);
/// The same request in OTLP/JSON (hex ids, decimal-string 64-bit integers, integer enums).
std::string encode_otlp_json(std::span<const SpanData> spans, const OtlpResource& resource);

// ---- W3C trace context ----

/// A span in another process to continue from (W3C traceparent, with its tracestate).
struct RemoteParent {
  std::uint64_t trace_id_high = 0;
  std::uint64_t trace_id_low = 0;
  std::uint64_t span_id = 0;
  bool sampled = true;
  std::string trace_state;

  friend bool operator==(const RemoteParent&, const RemoteParent&) = default;
};

/// Parses a `traceparent` header ("00-<32 hex>-<16 hex>-<2 hex flags>", version 00, or a later
/// version read as 00 with trailing fields ignored) and keeps `tracestate`. nullopt when invalid
/// (all-zero ids, bad hex, wrong lengths, version ff).
std::optional<RemoteParent> parse_traceparent(std::string_view traceparent, std::string_view tracestate = {});

/// The `traceparent` header value for a span.
std::string format_traceparent(std::uint64_t trace_id_high, std::uint64_t trace_id_low, std::uint64_t span_id,
                               bool sampled = true);

}  // namespace synth::tracing
