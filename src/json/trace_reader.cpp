// Reading a trace document: messages, timesteps, session metadata and the histories (whose
// items usually repeat the timesteps' and are copied rather than parsed again; when they come
// last, trace_repeated_histories.cpp does not even index them).
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.hpp"
#include "json/session_reading.hpp"

namespace synth::tracing::detail {

std::optional<TimeRecord> read_time_record(JsonReader& r, od::value v) {
  if (r.is_null(v)) return std::nullopt;
  TimeRecord tr;
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key_is(key, "event_time")) {
      tr.event_time = r.timestamp(fv);
    } else if (key_is(key, "message_time")) {
      tr.message_time = r.optional_integer(fv).value_or(0);
    } else {
      r.skip(fv);
    }
  }
  return tr;
}

std::vector<Value> read_value_list(JsonReader& r, od::value v) {
  std::vector<Value> out;
  if (r.is_null(v)) return out;
  std::size_t i = 0;
  for (auto element : r.array(v)) {
    JsonReader::Path p(r, i++);
    out.push_back(r.value(element.value()));
  }
  return out;
}

// metadata / step_metadata: usually an object; null (the original's older writers) reads as {}.
Value read_metadata(JsonReader& r, od::value v) {
  if (r.is_null(v)) return Value::object();
  return r.value(v);
}

// Keys the model has no field for (other writers' extras, such as the original's
// "hooks_triggered"), kept as members of `into` (null becomes an object). Returns those that do
// not fit: `into` is not an object, or already has the key.
Value::Object keep_extra_keys(Value& into, Value::Object extra) {
  if (extra.empty()) return extra;
  if (into.is_null()) into = Value::object();
  if (!into.is_object()) return extra;
  Value::Object left;
  for (auto& [key, value] : extra) {
    if (into.contains(key)) {
      left.emplace_back(std::move(key), std::move(value));
    } else {
      into.set(key, std::move(value));
    }
  }
  return left;
}

// Extra keys that could not be kept are said, not dropped silently.
void report_dropped(JsonReader& r, std::string_view where, const Value::Object& left) {
  for (const auto& [key, value] : left) {
    r.report(r.source() + ": the key \"" + key + "\" of " + std::string(where) +
           " is also inside it (or it is not an object); the outer value was not kept");
  }
}

SessionEventMessage read_message(JsonReader& r, od::value v) {
  SessionEventMessage m;
  read_message(r, v, m);
  return m;
}

void read_message(JsonReader& r, od::value v, SessionEventMessage& m) {
  Value::Object extra;  // such as the original's origin_system_id beside the content
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key_is(key, "content")) {
      m.content = r.value(fv);
    } else if (key_is(key, "message_type")) {
      m.message_type = r.optional_string_in_place(fv).value_or("unknown");
    } else if (key_is(key, "timestamp")) {
      m.timestamp = r.timestamp(fv);
    } else if (key_is(key, "time_record")) {
      m.time_record = read_time_record(r, fv);
    } else {
      extra.emplace_back(std::string(key), r.value(fv));
    }
  }
  // Extra keys go into the content; content that is not an object becomes its "payload".
  if (!extra.empty() && !m.content.is_null() && !m.content.is_object()) {
    m.content = Value(Value::Object{{"payload", std::move(m.content)}});
  }
  report_dropped(r, "a message", keep_extra_keys(m.content, std::move(extra)));
}

namespace {

// An array of items. With `texts`, records each item's text; with `repeats`, an item whose text
// is byte for byte that of the timesteps' item at the same position is copied from it, unread
// (equal bytes read to an equal item; our own files repeat every item so). `copy_from(i)` gives
// that item (null if there is none: then the item is read).
template <class Item, class ReadItem, class CopyFrom>
std::vector<Item> read_items(JsonReader& r, od::value v, ReadItem read_item, std::vector<std::string_view>* texts,
                             const std::vector<std::string_view>* repeats, CopyFrom copy_from,
                             std::vector<Item>* scratch = nullptr) {
  std::vector<Item> out;
  if (r.is_null(v)) return out;
  std::vector<Item>& items = scratch ? *scratch : out;
  items.clear();
  if (repeats) out.reserve(repeats->size());  // a history is usually as long as the timesteps' items
  const std::string_view all = r.text();
  const char* const end = all.data() + all.size();
  std::size_t i = 0;
  for (auto element : r.array(v)) {
    // Entered before element.value(), which reports malformed JSON: the error names this item.
    JsonReader::Path p(r, i);
    od::value ev = element.value();
    const char* start = ev.raw_json_token().data();
    if (repeats && i < repeats->size()) {
      const std::string_view seen = (*repeats)[i];
      // A complete object's bytes at the start of a value are the whole value. Left unread,
      // the array iteration skips it.
      if (static_cast<std::size_t>(end - start) >= seen.size() && std::memcmp(start, seen.data(), seen.size()) == 0) {
        if (const Item* same = copy_from(i)) {
          items.push_back(*same);
          ++i;
          continue;
        }
      }
    }
    ++i;
    read_item(r, ev, items.emplace_back());
    if (texts) {
      std::string_view text(start, static_cast<std::size_t>(r.position() - start));
      while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t')) {
        text.remove_suffix(1);
      }
      texts->push_back(text);
    }
  }
  if (scratch) {
    out.reserve(items.size());
    for (Item& item : items) out.push_back(std::move(item));
    items.clear();
  }
  return out;
}

SessionTimeStep read_timestep(JsonReader& r, od::value v, std::size_t position, ReadTexts* texts);

// Item readers filling a vector's new element in place.
constexpr auto kReadEvent = [](JsonReader& r, od::value v, Event& out) { read_event(r, v, out); };
constexpr auto kReadMessage = [](JsonReader& r, od::value v, SessionEventMessage& out) { read_message(r, v, out); };

std::vector<Event> read_events(JsonReader& r, od::value v, ReadTexts* texts) {
  return read_items<Event>(r, v, kReadEvent, texts ? &texts->events : nullptr, nullptr,
                           [](std::size_t) -> const Event* { return nullptr; },
                           texts ? &texts->event_scratch : nullptr);
}

std::vector<SessionEventMessage> read_messages(JsonReader& r, od::value v, ReadTexts* texts) {
  return read_items<SessionEventMessage>(r, v, kReadMessage, texts ? &texts->messages : nullptr, nullptr,
                                         [](std::size_t) -> const SessionEventMessage* { return nullptr; },
                                         texts ? &texts->message_scratch : nullptr);
}

}  // namespace

SessionTimeStep read_timestep(JsonReader& r, od::value v, std::size_t position) {
  return read_timestep(r, v, position, nullptr);
}

namespace {

SessionTimeStep read_timestep(JsonReader& r, od::value v, std::size_t position, ReadTexts* texts) {
  SessionTimeStep step;
  step.step_index = static_cast<std::int64_t>(position);
  // A key given twice replaces the items read first: so are their texts.
  const std::size_t events_mark = texts ? texts->events.size() : 0;
  const std::size_t messages_mark = texts ? texts->messages.size() : 0;
  bool have_id = false;
  bool have_turn = false;
  Value::Object extra;
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key_is(key, "step_id")) {
      // The original's tests also write integer step ids.
      if (fv.type() == od::json_type::number) {
        step.step_id = std::to_string(r.integer(fv));
      } else {
        step.step_id = r.string(fv);
      }
      have_id = true;
    } else if (key_is(key, "step_index")) {
      step.step_index = r.integer(fv);
    } else if (key_is(key, "turn_number")) {
      step.turn_number = r.optional_integer(fv).value_or(0);
      have_turn = true;
    } else if (key_is(key, "events")) {
      if (texts) texts->events.resize(events_mark);
      step.events = read_events(r, fv, texts);
    } else if (key_is(key, "step_messages") || key_is(key, "messages")) {
      if (texts) texts->messages.resize(messages_mark);
      step.step_messages = read_messages(r, fv, texts);
    } else if (key_is(key, "timestamp")) {
      step.timestamp = r.timestamp(fv);
    } else if (key_is(key, "step_metadata") || key_is(key, "metadata")) {
      step.step_metadata = read_metadata(r, fv);
    } else {
      extra.emplace_back(std::string(key), r.value(fv));
    }
  }
  report_dropped(r, "a timestep", keep_extra_keys(step.step_metadata, std::move(extra)));
  if (!have_turn) {
    // The original's timesteps carry no turn: take the first recorded message_time.
    step.turn_number = static_cast<std::int64_t>(position);
    for (const Event& e : step.events) {
      if (const auto& tr = time_record(e)) {
        step.turn_number = tr->message_time;
        break;
      }
    }
  }
  if (!have_id) step.step_id = "step_" + std::to_string(step.turn_number);
  return step;
}

// The i-th item of the timesteps, in timestep order (the histories' copy source).
template <class Item>
struct StepItems {
  const std::vector<SessionTimeStep>& steps;
  std::vector<Item> SessionTimeStep::*member;
  std::size_t step = 0, first = 0;  // items of steps before `step`

  // Called with increasing i. Null past the last item (the texts and items always align; this
  // keeps a mistake from reading out of bounds).
  const Item* operator()(std::size_t i) {
    while (step < steps.size() && (steps[step].*member).size() <= i - first) {
      first += (steps[step].*member).size();
      ++step;
    }
    return step < steps.size() ? &(steps[step].*member)[i - first] : nullptr;
  }
};

}  // namespace

SessionMetadataEntry read_metadata_entry(JsonReader& r, od::value v) {
  SessionMetadataEntry m;
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key_is(key, "metadata_type")) {
      m.metadata_type = r.string(fv);
    } else if (key_is(key, "data")) {
      m.data = r.value(fv);
    } else if (key_is(key, "timestamp")) {
      m.timestamp = r.timestamp(fv);
    } else {
      r.skip(fv);
    }
  }
  return m;
}

void read_session_member(JsonReader& r, SessionReading& s, std::string_view key, od::value fv) {
  SessionTrace& t = s.t;
  if (key_is(key, "session_id")) {
    t.session_id = r.string(fv);
    s.have_id = true;
  } else if (key_is(key, "created_at")) {
    t.created_at = r.timestamp(fv);
  } else if (key_is(key, "session_metadata")) {
    if (fv.type() == od::json_type::object) {
      s.start_metadata = r.value(fv);
    } else if (!r.is_null(fv)) {
      std::size_t i = 0;
      for (auto element : r.array(fv)) {
        JsonReader::Path ep(r, i++);
        t.session_metadata.push_back(read_metadata_entry(r, element.value()));
      }
    }
  } else if (key_is(key, "metadata")) {  // README/test shape: the start metadata as a dict
    s.start_metadata = r.value(fv);
  } else if (key_is(key, "session_time_steps") || key_is(key, "timesteps")) {
    if (!r.is_null(fv)) {
      // A second list (both keys present) appends its timesteps; the texts of the first
      // are enough, and stay aligned with the first items.
      ReadTexts* record = s.have_steps ? nullptr : &s.texts;
      std::size_t i = 0;
      for (auto element : r.array(fv)) {
        JsonReader::Path ep(r, i);
        t.session_time_steps.push_back(read_timestep(r, element.value(), i, record));
        ++i;
      }
    }
    s.have_steps = true;
  } else if (key_is(key, "event_history")) {
    StepItems<Event> items{t.session_time_steps, &SessionTimeStep::events};
    t.event_history = read_items<Event>(r, fv, kReadEvent, nullptr, &s.texts.events, items);
    s.have_events = true;
  } else if (key_is(key, "message_history")) {
    StepItems<SessionEventMessage> items{t.session_time_steps, &SessionTimeStep::step_messages};
    t.message_history = read_items<SessionEventMessage>(r, fv, kReadMessage, nullptr, &s.texts.messages, items);
    s.have_messages = true;
  } else {
    s.extra.emplace_back(std::string(key), r.value(fv));
  }
}

SessionTrace finish_session(JsonReader& r, SessionReading& s, std::string_view id_from_file_name) {
  SessionTrace& t = s.t;
  if (!s.have_id) {
    if (id_from_file_name.empty()) {
      r.fail_at(nullptr, "missing \"session_id\" (SessionTrace::read_file names such a session after its file)");
    }
    t.session_id = id_from_file_name;
    r.report(r.source() + ": no \"session_id\"; the session is named \"" + t.session_id + "\" after the file");
  }
  for (auto& [key, value] : s.extra) {
    t.session_metadata.push_back(SessionMetadataEntry{std::move(key), std::move(value), t.created_at});
  }
  if (!s.start_metadata.is_null() && !(s.start_metadata.is_object() && s.start_metadata.empty())) {
    t.session_metadata.insert(t.session_metadata.begin(),
                              SessionMetadataEntry{std::string(kSessionStartMetadata), std::move(s.start_metadata),
                                                   t.created_at});
  }
  // Shapes without histories: every item of the timesteps, in timestep order.
  if (!s.have_events) {
    for (const auto& step : t.session_time_steps) {
      t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    }
  }
  if (!s.have_messages) {
    for (const auto& step : t.session_time_steps) {
      t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
    }
  }
  return std::move(t);
}

SessionTrace read_trace(JsonReader& r, std::string_view id_from_file_name) {
  if (auto t = read_trace_with_repeated_histories(r, id_from_file_name)) return std::move(*t);
  return r.read_object([&r, id_from_file_name](od::value root) {
    SessionReading s;
    for (auto field : root.get_object()) {
      const std::string_view key = r.key(field);
      JsonReader::Path p(r, key);
      read_session_member(r, s, key, field.value());
    }
    return finish_session(r, s, id_from_file_name);
  });
}

}  // namespace synth::tracing::detail
