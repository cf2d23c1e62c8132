// Reading a trace whose histories repeat its timesteps, as our writer writes them: only the text
// before the histories is indexed, and the histories are checked to be the timesteps' items.
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/session_reading.hpp"

namespace synth::tracing::detail {

namespace {

// ---- Histories that repeat the timesteps, as our writer writes them ----
//
// The histories are about a third of a trace's text and, in our files, each of their items is
// byte for byte an item of the timesteps. Indexing that text (simdjson's stage 1) cost as much
// as reading it; so when the compact text has its histories at the end of the root object, only
// the text before them is indexed and read, and the rest is checked to be exactly
//   ,"message_history":[<item>,...],"event_history":[<item>,...],"created_at":"..."}
// (members in any order, each once, every item the text of the timesteps' item at its
// position). When the rest is anything else, it is read as an object of its own. Indented text,
// a history member before the timesteps' (then in the prefix) or a problem anywhere read the
// whole text as before: same result, same errors.

// Where the message history starts (its comma), or npos. Our writer puts it first of the two;
// a history member before it is read with the rest of the prefix. (The longer the searched
// text, the further memmem skips: this search costs ~0.5 instructions per byte.)
std::size_t history_start(std::string_view text) {
  static constexpr std::string_view kNeedle = ",\"message_history\":[";
  const void* hit = memmem(text.data(), text.size(), kNeedle.data(), kNeedle.size());
  return hit ? static_cast<std::size_t>(static_cast<const char*>(hit) - text.data()) : std::string_view::npos;
}

// Checks the text after the comma before the first history; fills how many items each history repeats and
// the created_at it gives. False when the text is anything else.
struct RepeatedTail {
  std::optional<std::size_t> events, messages;
  std::optional<Timestamp> created_at;
};

bool read_repeated_items(std::string_view tail, std::size_t& pos, const std::vector<std::string_view>& texts,
                         std::size_t& count) {
  count = 0;
  if (pos < tail.size() && tail[pos] == ']') {
    ++pos;
    return true;
  }
  while (count < texts.size()) {
    const std::string_view item = texts[count];
    if (tail.size() - pos < item.size() || std::memcmp(tail.data() + pos, item.data(), item.size()) != 0) return false;
    pos += item.size();
    ++count;
    if (pos >= tail.size()) return false;
    if (tail[pos] == ']') {
      ++pos;
      return true;
    }
    if (tail[pos] != ',') return false;
    ++pos;
  }
  return false;  // more items than the timesteps have
}

bool read_repeated_tail(std::string_view tail, const ReadTexts& texts, RepeatedTail& out) {
  std::size_t pos = 0;
  const auto accept = [&](std::string_view s) {
    if (tail.substr(pos, s.size()) != s) return false;
    pos += s.size();
    return true;
  };
  while (true) {
    std::size_t count = 0;
    if (!out.messages && accept("\"message_history\":[")) {
      if (!read_repeated_items(tail, pos, texts.messages, count)) return false;
      out.messages = count;
    } else if (!out.events && accept("\"event_history\":[")) {
      if (!read_repeated_items(tail, pos, texts.events, count)) return false;
      out.events = count;
    } else if (!out.created_at && accept("\"created_at\":")) {
      if (accept("null")) {
        out.created_at = Timestamp{};
      } else {
        if (!accept("\"")) return false;
        const std::size_t begin = pos;
        // Printable ASCII without quotes or escapes: the string is its own text.
        while (pos < tail.size() && tail[pos] != '"') {
          const auto c = static_cast<unsigned char>(tail[pos]);
          if (c < 0x20 || c >= 0x7f || c == '\\') return false;
          ++pos;
        }
        const auto t = parse_timestamp(tail.substr(begin, pos - begin));
        if (!t || !accept("\"")) return false;
        out.created_at = *t;
      }
    } else {
      return false;
    }
    if (accept("}")) break;
    if (!accept(",")) return false;
  }
  for (; pos < tail.size(); ++pos) {
    const char c = tail[pos];
    if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return false;
  }
  return true;
}

// The first `count` items of the timesteps, in timestep order.
template <class Item>
std::optional<std::vector<Item>> repeated_items(const std::vector<SessionTimeStep>& steps,
                                                std::vector<Item> SessionTimeStep::*member, std::size_t count) {
  std::vector<Item> out;
  out.reserve(count);
  for (const SessionTimeStep& step : steps) {
    for (const Item& item : step.*member) {
      if (out.size() == count) return out;
      out.push_back(item);
    }
  }
  if (out.size() != count) return std::nullopt;
  return out;
}

// When `tail` (the text after the comma before the first history) is histories repeating the
// timesteps' items read into `s`, and created_at: takes them into `s`. False, leaving `s` as it
// was, when the tail is anything else.
bool take_repeated_tail(std::string_view tail_text, SessionReading& s) {
  RepeatedTail tail;
  if (!read_repeated_tail(tail_text, s.texts, tail)) return false;
  std::optional<std::vector<Event>> events;
  std::optional<std::vector<SessionEventMessage>> messages;
  if (tail.events) {
    events = repeated_items(s.t.session_time_steps, &SessionTimeStep::events, *tail.events);
    if (!events) return false;
  }
  if (tail.messages) {
    messages = repeated_items(s.t.session_time_steps, &SessionTimeStep::step_messages, *tail.messages);
    if (!messages) return false;
  }
  if (tail.created_at) s.t.created_at = *tail.created_at;
  if (events) {
    s.t.event_history = std::move(*events);
    s.have_events = true;
  }
  if (messages) {
    s.t.message_history = std::move(*messages);
    s.have_messages = true;
  }
  return true;
}

}  // namespace

std::optional<SessionTrace> read_trace_with_repeated_histories(JsonReader& r, std::string_view id_from_file_name) {
  {
    // Our own compact files: read without simdjson (nor its padded copy of the text). Any other
    // text is read below.
    const std::string_view input = r.input();
    SessionReading s;
    const auto end = read_compact_prefix(input, s);
    if (end && take_repeated_tail(input.substr(*end + 1), s)) return finish_session(r, s, id_from_file_name);
  }
  const std::string_view text = r.text();
  const std::size_t cut = history_start(text);
  if (cut == std::string_view::npos || !r.start_prefix(cut)) return std::nullopt;
  bool done = false;
  struct EndPrefix {
    JsonReader& r;
    bool& done;
    ~EndPrefix() { r.end_prefix(done); }
  } end_prefix{r, done};
  try {
    SessionReading s;
    r.read_object([&](od::value root) {
      for (auto field : root.get_object()) {
        const std::string_view key = r.key(field);
        JsonReader::Path p(r, key);
        read_session_member(r, s, key, field.value());
      }
      return 0;
    });
    // After the comma (still replaced by the prefix's closing brace).
    if (!take_repeated_tail(text.substr(cut + 1), s)) {
      // Histories of their own (items in another order, history-only items, another writer's
      // members after them): the rest is read as an object of its own, as the whole text would
      // read it from there, so nothing indexed so far is indexed again.
      if (!r.start_rest()) return std::nullopt;
      r.read_object([&](od::value rest) {
        for (auto field : rest.get_object()) {
          const std::string_view key = r.key(field);
          JsonReader::Path p(r, key);
          read_session_member(r, s, key, field.value());
        }
        return 0;
      });
    }
    SessionTrace t = finish_session(r, s, id_from_file_name);
    done = true;
    return t;
  } catch (const TraceFormatError&) {
    return std::nullopt;  // read again as a whole, which names the problem as it always has
  }
}

}  // namespace synth::tracing::detail
