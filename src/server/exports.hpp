// Internal: a stored session in other tools' formats, for GET /api/v1/sessions/{id}/export.
#pragma once

#include <string>

#include <vector>

#include "synth/tracing/model.hpp"
#include "synth/tracing/otel.hpp"

namespace synth::tracing::server {

/// Chrome Trace Event JSON ({"traceEvents": [...]}, which Perfetto and chrome://tracing open):
/// times in microseconds from the session's start (3 decimals keep nanoseconds); one process
/// for the session; a lane (thread) per kind: timesteps, llm, env, runtime, messages, with more
/// lanes of a kind when its events overlap without nesting (Perfetto wants each lane's slices
/// nested); events as complete slices carrying tokens, cost, reward, model in args; messages as
/// instants; counters for cumulative reward and cost.
std::string chrome_trace_json(const SessionTrace& trace);

/// An OTLP/JSON ExportTraceServiceRequest of the session's spans, shaped as the tracer exports
/// them: the session span, a span per timestep, a span per event made by an instrumentation
/// scope (GenAI attributes for LLM calls), other events and messages as span events. Ids are the
/// recorded ones where the session has them, else derived from the session id.
std::string otlp_json(const SessionTrace& trace);

/// The spans otlp_json() encodes, and their resource (for the protobuf encoding).
struct OtlpSpans {
  std::vector<SpanData> spans;
  OtlpResource resource;
};
OtlpSpans otlp_spans(const SessionTrace& trace);

/// What an event is called: its scope's operation, step or span name, else its kind.
std::string event_name(const Event& event);
/// When an event ended: its time plus latency_ms (LLM calls) or metadata.duration_ms.
Timestamp event_end(const Event& event);

}  // namespace synth::tracing::server
