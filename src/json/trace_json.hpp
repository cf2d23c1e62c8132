// Internal: trace model <-> JSON, in the original synth-ai shape.
#pragma once

#include "json/reader.hpp"
#include "json/writer.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

void write_event(JsonWriter& w, const Event& event);
void write_message(JsonWriter& w, const SessionEventMessage& message);
void write_trace(JsonWriter& w, const SessionTrace& trace);

/// Reads a whole trace document (our shape, the Python original's, or the README/test shape).
SessionTrace read_trace(JsonReader& r);

}  // namespace synth::tracing::detail
