// Internal: the tracer's OpenTelemetry side. Sessions, timesteps and instrumentation scopes
// become spans (GenAI conventions for LLM calls), which a BatchSpanProcessor exports.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "synth/tracing/config.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/otel.hpp"

namespace synth::tracing::detail {

class OutgoingPolicy;

/// The spans of one tracer: built on the recording thread from data the tracer has anyway,
/// masked and priced on the export thread, exported in batches.
class SpanPipeline {
 public:
  /// Null when spans are not wanted: mode v2 or disabled, or no endpoint configured.
  /// Throws Error for an endpoint that is neither http(s):// nor file://.
  static std::unique_ptr<SpanPipeline> from_config(const TracingConfig& config,
                                                   std::shared_ptr<const OutgoingPolicy> policy);

  SpanPipeline(std::unique_ptr<SpanExporter> exporter, const TracingConfig& config,
               std::shared_ptr<const OutgoingPolicy> policy);

  /// Queues a finished span; never blocks (a full queue drops it, counted).
  void end(SpanData&& span) noexcept { processor_.end(std::move(span)); }
  /// Starts exporting what is queued now, without waiting for it.
  void export_soon() noexcept;
  bool flush(std::chrono::milliseconds timeout) { return processor_.force_flush(timeout); }
  /// Exports what is queued until `deadline`, then drops (and counts) the rest and stops;
  /// spans ended later are dropped. True when everything was exported.
  bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept;
  BatchStats stats() const { return processor_.stats(); }

 private:
  BatchSpanProcessor processor_;
};

/// What a finished instrumentation scope knows, for its span.
struct ScopeSpanInput {
  std::string_view kind;  ///< "ai_call", "environment_step", "runtime_operation", "trace_span"
  std::string_view name;  ///< the scope's operation / step / span name
  std::string_view session_id;
  std::uint64_t trace_id_high = 0;
  std::uint64_t trace_id_low = 0;
  std::uint64_t span_id = 0;
  std::uint64_t parent_span_id = 0;
  Timestamp start{};
  Timestamp end{};
  std::int64_t turn = 0;
  std::int64_t step_index = -1;
  /// The event the scope made (nullptr for a trace_span without one).
  const Event* event = nullptr;
  /// A trace_span's attributes.
  const Value* attributes = nullptr;
  /// {"type", "message"} when the scope failed, else null.
  const Value* error = nullptr;
};

/// The span of a scope, following the GenAI conventions for LLM calls and tool executions.
SpanData scope_span(const ScopeSpanInput& in);

/// An event or message recorded directly (not through a scope) in mode otel, as a span event of
/// the span current where it was recorded: named "synth.event.<cais|environment|runtime>" or
/// "synth.message", at its time, with its fields as attributes (GenAI names for LLM calls).
SpanEvent span_event(const Event& event);
SpanEvent span_event(const SessionEventMessage& message);

/// The OpenTelemetry GenAI `gen_ai.provider.name` for a provider of our vocabulary.
std::string_view genai_provider_name(std::string_view provider) noexcept;

}  // namespace synth::tracing::detail
