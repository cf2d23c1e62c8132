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
/// A document without "session_id" is an error, unless `id_from_file_name` names the session
/// (reported through the diagnostic handler).
SessionTrace read_trace(JsonReader& r, std::string_view id_from_file_name = {});

}  // namespace synth::tracing::detail
