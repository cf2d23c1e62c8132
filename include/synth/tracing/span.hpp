// Spans as the tracer makes them (sessions, timesteps and instrumentation scopes become spans
// when span export is on), the counters of their export, and W3C trace context for continuing a
// trace across processes. Target synth::tracing_core; exporting them: otel.hpp.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/context.hpp"
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

/// A finished span whose SpanData is built later, on the export thread: the tracer hands over
/// its scopes' spans this way, so that the agent's thread only queues what it already has.
/// BatchSpanProcessor::end() takes it; an implementation must keep build() valid until release().
class PendingSpan {
 public:
  /// The span, exactly as it would have been built when it ended. Called at most once, on the
  /// export thread; may throw (the span is then counted failed).
  virtual SpanData build() = 0;
  /// Gives the span up (built or not). Called exactly once, by whoever holds it last.
  virtual void release() noexcept = 0;

 protected:
  ~PendingSpan() = default;
};

/// Releases a PendingSpan (the deleter of PendingSpanPtr).
struct PendingSpanRelease {
  void operator()(PendingSpan* span) const noexcept { span->release(); }
};
/// Owns a PendingSpan until it is built and released.
using PendingSpanPtr = std::unique_ptr<PendingSpan, PendingSpanRelease>;

/// Counters of a span processor (BatchSpanProcessor, the tracer's span export). Every span ended is exactly one of: exported, dropped,
/// failed, or still queued.
struct BatchStats {
  std::uint64_t spans_ended = 0;
  std::uint64_t spans_exported = 0;
  /// Not exported: the queue was full, or the processor was shut down (spans still queued at
  /// the shutdown deadline, spans ended after it).
  std::uint64_t spans_dropped = 0;
  /// Refused: the exporter reported failure (abandoned at the shutdown deadline included), or
  /// the receiver rejected them in a partial success.
  std::uint64_t spans_failed = 0;
  std::uint64_t batches = 0;
  std::uint64_t queued = 0;  ///< waiting for export (in the queue or in the batch being filled)
};

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

/// The `traceparent` header that continues the work at `context` in another process (an HTTP
/// request, an environment server, a child process): the session's trace id and the innermost
/// open scope, else the timestep's or the session's span; not sampled for a session sampled out.
/// "" for an empty context.
///
///     headers["traceparent"] = synth::tracing::traceparent(tracer.current_context());
std::string traceparent(const Context& context);
/// The W3C `tracestate` the session received from its remote parent ("" when none).
std::string tracestate(const Context& context);

}  // namespace synth::tracing
