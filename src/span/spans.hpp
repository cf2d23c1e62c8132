// Internal: sessions, timesteps and instrumentation scopes become spans (GenAI conventions for
// LLM calls) when span export is on; synth::tracing_otel exports them (otel/pipeline.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "synth/tracing/config.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/span.hpp"

namespace synth::tracing::detail {

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
  /// The id of that timestep ("" outside one): a receiver places the span's event there even
  /// when the timestep's own span, which ends later, comes in a later export.
  std::string_view step_id;
  /// The event the scope made (nullptr for a trace_span without one).
  const Event* event = nullptr;
  /// A trace_span's attributes.
  const Value* attributes = nullptr;
  /// {"type", "message"} when the scope failed, else null.
  const Value* error = nullptr;
};

/// The span of a scope, following the GenAI conventions for LLM calls and tool executions.
SpanData scope_span(const ScopeSpanInput& in);

/// A timestep span's own attributes: the step's id and turn, `index` (left out when negative: the
/// receiver numbers it), and its metadata (an OTLP key-value list, masked as every attribute is)
/// when it has any.
Value timestep_span_attributes(const SessionTimeStep& step, std::int64_t index);

/// An event or message recorded directly (not through a scope) in mode otel, as a span event of
/// the span current where it was recorded: named "synth.event.<cais|environment|runtime>" or
/// "synth.message", at its time, with its fields as attributes (GenAI names for LLM calls).
SpanEvent span_event(const Event& event);
SpanEvent span_event(const SessionEventMessage& message);

/// The OpenTelemetry GenAI `gen_ai.provider.name` for a provider of our vocabulary.
std::string_view genai_provider_name(std::string_view provider) noexcept;

}  // namespace synth::tracing::detail
