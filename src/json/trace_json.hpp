// Internal: trace model <-> JSON, in the original synth-ai shape.
#pragma once

#include "json/reader.hpp"
#include "json/writer.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

void write_event(JsonWriter& w, const Event& event);
void write_message(JsonWriter& w, const SessionEventMessage& message);
void write_trace(JsonWriter& w, const SessionTrace& trace);
/// One timestep with the events and messages it holds (none, for a timestep on its own).
void write_timestep(JsonWriter& w, const SessionTimeStep& step);
void write_metadata_entry(JsonWriter& w, const SessionMetadataEntry& entry);

/// One item of a trace document, as read_trace reads it. `position` is the timestep's index in
/// its session, used when the document has no "step_index".
Event read_event(JsonReader& r, od::value v);
SessionEventMessage read_message(JsonReader& r, od::value v);
/// The same, into a default-constructed item (such as a vector's new last element): saves
/// moving each item twice more.
void read_event(JsonReader& r, od::value v, Event& out);
void read_message(JsonReader& r, od::value v, SessionEventMessage& out);
SessionTimeStep read_timestep(JsonReader& r, od::value v, std::size_t position);
SessionMetadataEntry read_metadata_entry(JsonReader& r, od::value v);

/// Parts shared by the item readers.
/// A time record; null reads as none.
std::optional<TimeRecord> read_time_record(JsonReader& r, od::value v);
/// An array of any values; null reads as empty.
std::vector<Value> read_value_list(JsonReader& r, od::value v);
/// metadata / step_metadata: usually an object; null (the original's older writers) reads as {}.
Value read_metadata(JsonReader& r, od::value v);
/// Keys the model has no field for (other writers' extras, such as the original's
/// "hooks_triggered"), kept as members of `into` (null becomes an object). Returns those that do
/// not fit: `into` is not an object, or already has the key.
Value::Object keep_extra_keys(Value& into, Value::Object extra);
/// Says (through the diagnostic handler) which extra keys of `where` could not be kept.
void report_dropped(JsonReader& r, std::string_view where, const Value::Object& left);

/// Reads a whole trace document (our shape, the Python original's, or the README/test shape).
/// A document without "session_id" is an error, unless `id_from_file_name` names the session
/// (reported through the diagnostic handler).
SessionTrace read_trace(JsonReader& r, std::string_view id_from_file_name = {});

}  // namespace synth::tracing::detail
