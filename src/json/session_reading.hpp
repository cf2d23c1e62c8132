// Internal: a trace document being read, shared by the member-by-member reader
// (trace_reader.cpp) and the shortcut for histories that repeat the timesteps
// (trace_repeated_histories.cpp).
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "json/trace_json.hpp"

namespace synth::tracing::detail {

// The text each item of the timesteps was read from, in timestep order, for the histories.
struct ReadTexts {
  std::vector<std::string_view> events, messages;
  // Where a timestep's items are read before moving into a vector of their exact size: growing
  // each timestep's vector allocated (and moved) two or three times per timestep.
  std::vector<Event> event_scratch;
  std::vector<SessionEventMessage> message_scratch;
};

// A trace document being read: what its members gave so far.
struct SessionReading {
  SessionTrace t;
  bool have_events = false;
  bool have_messages = false;
  bool have_id = false;
  bool have_steps = false;
  Value start_metadata;
  Value::Object extra;  // become typed metadata entries named after their keys
  ReadTexts texts;      // of the timesteps' items, when the histories come after them
};

/// Reads one member of the root object into `s`.
void read_session_member(JsonReader& r, SessionReading& s, std::string_view key, od::value fv);
/// The trace once every member is read: its id (or the file's name), metadata entries, and the
/// histories of shapes without them.
SessionTrace finish_session(JsonReader& r, SessionReading& s, std::string_view id_from_file_name);
/// Reads the members of a trace's `text` before its histories into `s` when they are exactly in
/// the compact shape our writer writes (members in its order, no whitespace), as the general
/// reader would, and returns the offset of the comma before "message_history"; nullopt
/// otherwise, with `s` then to be discarded. Views of `text` in `s` need it to outlive `s`.
std::optional<std::size_t> read_compact_prefix(std::string_view text, SessionReading& s);
/// The trace read with its histories checked to repeat the timesteps' items, without indexing
/// them; nullopt when the text is not so (or has a problem): then it is read as a whole.
std::optional<SessionTrace> read_trace_with_repeated_histories(JsonReader& r, std::string_view id_from_file_name);

}  // namespace synth::tracing::detail
