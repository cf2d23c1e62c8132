#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.hpp"
#include "json/trace_json.hpp"

namespace synth::tracing::detail {

namespace {

std::optional<TimeRecord> read_time_record(JsonReader& r, od::value v) {
  if (r.is_null(v)) return std::nullopt;
  TimeRecord tr;
  for (auto field : r.object(v)) {
    const std::string_view key = field.unescaped_key();
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key == "event_time") {
      tr.event_time = r.timestamp(fv);
    } else if (key == "message_time") {
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
void report_dropped(const JsonReader& r, std::string_view where, const Value::Object& left) {
  for (const auto& [key, value] : left) {
    report(r.source() + ": the key \"" + key + "\" of " + std::string(where) +
           " is also inside it (or it is not an object); the outer value was not kept");
  }
}

// Every field any event kind may carry; the kind is decided once all are read.
struct EventFields {
  std::optional<EventType> declared;
  const char* declared_at = nullptr;
  std::optional<TimeRecord> time_record;
  std::optional<std::string> system_instance_id;
  Value before, after;
  std::vector<Value> llm_call_records;
  std::optional<std::string> span_id, trace_id, model_name, provider;
  std::optional<std::int64_t> prompt_tokens, completion_tokens, total_tokens, cached_tokens, cache_write_tokens,
      reasoning_tokens;
  std::optional<double> cost, latency_ms, reward;
  std::optional<bool> terminated, truncated;
  Value observation_diff, actions;
  Value metadata = Value::object();
  std::vector<Value> event_metadata;
  Value::Object extra;  // keys of no field
  // Which kind-specific keys were present (even with null values, as the original writes them).
  const char* cais_key = nullptr;
  const char* environment_key = nullptr;
  const char* runtime_key = nullptr;
};

enum class EventKey {
  unknown, event_type, time_record, system_instance_id, system_state_before, system_state_after, metadata,
  event_metadata, llm_call_records, span_id, trace_id, model_name, provider, prompt_tokens, completion_tokens,
  total_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost, latency_ms, reward, terminated, truncated, observation_diff,
  actions
};

// Key lookup by length first: one or two comparisons instead of a chain of twenty.
EventKey classify_event_key(std::string_view k) noexcept {
  switch (k.size()) {
    case 4:
      return k == "cost" ? EventKey::cost : EventKey::unknown;
    case 6:
      return k == "reward" ? EventKey::reward : EventKey::unknown;
    case 7:
      return k == "span_id" ? EventKey::span_id : k == "actions" ? EventKey::actions : EventKey::unknown;
    case 8:
      return k == "metadata"   ? EventKey::metadata
             : k == "trace_id" ? EventKey::trace_id
             : k == "provider" ? EventKey::provider
                               : EventKey::unknown;
    case 9:
      return k == "truncated" ? EventKey::truncated : EventKey::unknown;
    case 10:
      return k == "event_type"   ? EventKey::event_type
             : k == "model_name" ? EventKey::model_name
             : k == "latency_ms" ? EventKey::latency_ms
             : k == "terminated" ? EventKey::terminated
                                 : EventKey::unknown;
    case 11:
      return k == "time_record" ? EventKey::time_record : EventKey::unknown;
    case 12:
      return k == "total_tokens" ? EventKey::total_tokens : EventKey::unknown;
    case 13:
      return k == "prompt_tokens"   ? EventKey::prompt_tokens
             : k == "cached_tokens" ? EventKey::cached_tokens
                                    : EventKey::unknown;
    case 14:
      return k == "event_metadata" ? EventKey::event_metadata : EventKey::unknown;
    case 16:
      return k == "llm_call_records"   ? EventKey::llm_call_records
             : k == "reasoning_tokens" ? EventKey::reasoning_tokens
             : k == "observation_diff" ? EventKey::observation_diff
                                       : EventKey::unknown;
    case 17:
      return k == "completion_tokens" ? EventKey::completion_tokens : EventKey::unknown;
    case 18:
      return k == "system_instance_id"   ? EventKey::system_instance_id
             : k == "system_state_after" ? EventKey::system_state_after
             : k == "cache_write_tokens" ? EventKey::cache_write_tokens
                                         : EventKey::unknown;
    case 19:
      return k == "system_state_before" ? EventKey::system_state_before : EventKey::unknown;
    default:
      return EventKey::unknown;
  }
}

}  // namespace

Event read_event(JsonReader& r, od::value v) {
  EventFields f;
  for (auto field : r.object(v)) {
    const std::string_view key = field.unescaped_key();
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    const char* at = fv.raw_json_token().data();
    switch (classify_event_key(key)) {
      case EventKey::event_type: {
        const std::string name = r.string(fv);
        f.declared = parse_event_type(name);
        if (!f.declared) r.fail(fv, "unknown event_type \"" + name + "\" (expected cais, environment or runtime)");
        f.declared_at = at;
        break;
      }
      case EventKey::time_record:
        f.time_record = read_time_record(r, fv);
        break;
      case EventKey::system_instance_id:
        f.system_instance_id = r.optional_string(fv);
        break;
      case EventKey::system_state_before:
        f.before = r.value(fv);
        break;
      case EventKey::system_state_after:
        f.after = r.value(fv);
        break;
      case EventKey::metadata:
        f.metadata = read_metadata(r, fv);
        break;
      case EventKey::event_metadata:
        f.event_metadata = read_value_list(r, fv);
        break;
      case EventKey::llm_call_records:
        f.llm_call_records = read_value_list(r, fv);
        f.cais_key = at;
        break;
      case EventKey::span_id:
        f.span_id = r.optional_string(fv);
        f.cais_key = at;
        break;
      case EventKey::trace_id:
        f.trace_id = r.optional_string(fv);
        f.cais_key = at;
        break;
      case EventKey::model_name:
        f.model_name = r.optional_string(fv);
        f.cais_key = at;
        break;
      case EventKey::provider:
        f.provider = r.optional_string(fv);
        f.cais_key = at;
        break;
      case EventKey::prompt_tokens:
        f.prompt_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::completion_tokens:
        f.completion_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::total_tokens:
        f.total_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::cached_tokens:
        f.cached_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::cache_write_tokens:
        f.cache_write_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::reasoning_tokens:
        f.reasoning_tokens = r.optional_integer(fv);
        f.cais_key = at;
        break;
      case EventKey::cost:
        f.cost = r.optional_number(fv);
        f.cais_key = at;
        break;
      case EventKey::latency_ms:
        f.latency_ms = r.optional_number(fv);
        f.cais_key = at;
        break;
      case EventKey::reward:
        f.reward = r.optional_number(fv);
        f.environment_key = at;
        break;
      case EventKey::terminated:
        f.terminated = r.optional_boolean(fv);
        f.environment_key = at;
        break;
      case EventKey::truncated:
        f.truncated = r.optional_boolean(fv);
        f.environment_key = at;
        break;
      case EventKey::observation_diff:
        f.observation_diff = r.value(fv);
        f.environment_key = at;
        break;
      case EventKey::actions:
        f.actions = r.value(fv);
        f.runtime_key = at;
        break;
      case EventKey::unknown:
        f.extra.emplace_back(std::string(key), r.value(fv));  // other writers' keys: kept in metadata
        break;
    }
  }

  EventType type = EventType::cais;
  if (f.declared) {
    type = *f.declared;
  } else if (f.cais_key) {
    type = EventType::cais;
  } else if (f.environment_key) {
    type = EventType::environment;
  } else if (f.runtime_key) {
    type = EventType::runtime;
  } else if (f.system_instance_id == "environment") {
    type = EventType::environment;
  } else if (f.system_instance_id == "runtime") {
    type = EventType::runtime;
  }
  // Extra keys go into the metadata; when it cannot take one, into event_metadata.
  for (auto& [key, value] : keep_extra_keys(f.metadata, std::move(f.extra))) {
    f.event_metadata.emplace_back(Value::Object{{std::move(key), std::move(value)}});
  }
  // A field of another kind would be lost silently; refuse it instead.
  const auto conflict = [&](const char* at, std::string_view kind) {
    if (at) {
      r.fail_at(at, std::string(kind) + " field in a " + std::string(event_type_name(type)) +
                        " event (the event's fields do not match its event_type)");
    }
  };
  switch (type) {
    case EventType::cais: {
      conflict(f.environment_key, "an environment");
      conflict(f.runtime_key, "a runtime");
      CAISEvent e;
      e.time_record = f.time_record;
      if (f.system_instance_id) e.system_instance_id = std::move(*f.system_instance_id);
      e.system_state_before = std::move(f.before);
      e.system_state_after = std::move(f.after);
      e.llm_call_records = std::move(f.llm_call_records);
      e.span_id = std::move(f.span_id);
      e.trace_id = std::move(f.trace_id);
      e.model_name = std::move(f.model_name);
      e.provider = std::move(f.provider);
      e.prompt_tokens = f.prompt_tokens;
      e.completion_tokens = f.completion_tokens;
      e.total_tokens = f.total_tokens;
      e.cached_tokens = f.cached_tokens;
      e.cache_write_tokens = f.cache_write_tokens;
      e.reasoning_tokens = f.reasoning_tokens;
      e.cost = f.cost;
      e.latency_ms = f.latency_ms;
      e.metadata = std::move(f.metadata);
      e.event_metadata = std::move(f.event_metadata);
      return e;
    }
    case EventType::environment: {
      conflict(f.cais_key, "an LLM-call");
      conflict(f.runtime_key, "a runtime");
      EnvironmentEvent e;
      e.time_record = f.time_record;
      if (f.system_instance_id) e.system_instance_id = std::move(*f.system_instance_id);
      e.system_state_before = std::move(f.before);
      e.system_state_after = std::move(f.after);
      e.reward = f.reward;
      e.terminated = f.terminated;
      e.truncated = f.truncated;
      e.observation_diff = std::move(f.observation_diff);
      e.metadata = std::move(f.metadata);
      e.event_metadata = std::move(f.event_metadata);
      return e;
    }
    case EventType::runtime: {
      conflict(f.cais_key, "an LLM-call");
      conflict(f.environment_key, "an environment");
      RuntimeEvent e;
      e.time_record = f.time_record;
      if (f.system_instance_id) e.system_instance_id = std::move(*f.system_instance_id);
      e.system_state_before = std::move(f.before);
      e.system_state_after = std::move(f.after);
      e.actions = std::move(f.actions);
      e.metadata = std::move(f.metadata);
      e.event_metadata = std::move(f.event_metadata);
      return e;
    }
  }
  return CAISEvent{};
}

SessionEventMessage read_message(JsonReader& r, od::value v) {
  SessionEventMessage m;
  Value::Object extra;  // such as the original's origin_system_id beside the content
  for (auto field : r.object(v)) {
    const std::string_view key = field.unescaped_key();
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key == "content") {
      m.content = r.value(fv);
    } else if (key == "message_type") {
      m.message_type = r.optional_string(fv).value_or("unknown");
    } else if (key == "timestamp") {
      m.timestamp = r.timestamp(fv);
    } else if (key == "time_record") {
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
  return m;
}

namespace {

// The text each item of the timesteps was read from, in timestep order, for the histories.
struct ReadTexts {
  std::vector<std::string_view> events, messages;
};

// An array of items. With `texts`, records each item's text; with `repeats`, an item whose text
// is byte for byte that of the timesteps' item at the same position is copied from it, unread
// (equal bytes read to an equal item; our own files repeat every item so). `copy_from(i)` gives
// that item (null if there is none: then the item is read).
template <class Item, class ReadItem, class CopyFrom>
std::vector<Item> read_items(JsonReader& r, od::value v, ReadItem read_item, std::vector<std::string_view>* texts,
                             const std::vector<std::string_view>* repeats, CopyFrom copy_from) {
  std::vector<Item> out;
  if (r.is_null(v)) return out;
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
          out.push_back(*same);
          ++i;
          continue;
        }
      }
    }
    ++i;
    out.push_back(read_item(r, ev));
    if (texts) {
      std::string_view text(start, static_cast<std::size_t>(r.position() - start));
      while (!text.empty() && (text.back() == ' ' || text.back() == '\n' || text.back() == '\r' || text.back() == '\t')) {
        text.remove_suffix(1);
      }
      texts->push_back(text);
    }
  }
  return out;
}

SessionTimeStep read_timestep(JsonReader& r, od::value v, std::size_t position, ReadTexts* texts);

std::vector<Event> read_events(JsonReader& r, od::value v, std::vector<std::string_view>* texts = nullptr) {
  return read_items<Event>(r, v, read_event, texts, nullptr, [](std::size_t) -> const Event* { return nullptr; });
}

std::vector<SessionEventMessage> read_messages(JsonReader& r, od::value v,
                                               std::vector<std::string_view>* texts = nullptr) {
  return read_items<SessionEventMessage>(r, v, read_message, texts, nullptr,
                                         [](std::size_t) -> const SessionEventMessage* { return nullptr; });
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
    const std::string_view key = field.unescaped_key();
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key == "step_id") {
      // The original's tests also write integer step ids.
      if (fv.type() == od::json_type::number) {
        step.step_id = std::to_string(r.integer(fv));
      } else {
        step.step_id = r.string(fv);
      }
      have_id = true;
    } else if (key == "step_index") {
      step.step_index = r.integer(fv);
    } else if (key == "turn_number") {
      step.turn_number = r.optional_integer(fv).value_or(0);
      have_turn = true;
    } else if (key == "events") {
      if (texts) texts->events.resize(events_mark);
      step.events = read_events(r, fv, texts ? &texts->events : nullptr);
    } else if (key == "step_messages" || key == "messages") {
      if (texts) texts->messages.resize(messages_mark);
      step.step_messages = read_messages(r, fv, texts ? &texts->messages : nullptr);
    } else if (key == "timestamp") {
      step.timestamp = r.timestamp(fv);
    } else if (key == "step_metadata" || key == "metadata") {
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
    const std::string_view key = field.unescaped_key();
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    if (key == "metadata_type") {
      m.metadata_type = r.string(fv);
    } else if (key == "data") {
      m.data = r.value(fv);
    } else if (key == "timestamp") {
      m.timestamp = r.timestamp(fv);
    } else {
      r.skip(fv);
    }
  }
  return m;
}


SessionTrace read_trace(JsonReader& r, std::string_view id_from_file_name) {
  return r.read_object([&r, id_from_file_name](od::value root) {
    SessionTrace t;
    bool have_events = false;
    bool have_messages = false;
    bool have_id = false;
    Value start_metadata;
    Value::Object extra;  // become typed metadata entries named after their keys
    ReadTexts texts;      // of the timesteps' items, when the histories come after them
    bool have_steps = false;
    for (auto field : root.get_object()) {
      const std::string_view key = field.unescaped_key();
      JsonReader::Path p(r, key);
      od::value fv = field.value();
      if (key == "session_id") {
        t.session_id = r.string(fv);
        have_id = true;
      } else if (key == "created_at") {
        t.created_at = r.timestamp(fv);
      } else if (key == "session_metadata") {
        if (fv.type() == od::json_type::object) {
          start_metadata = r.value(fv);
        } else if (!r.is_null(fv)) {
          std::size_t i = 0;
          for (auto element : r.array(fv)) {
            JsonReader::Path ep(r, i++);
            t.session_metadata.push_back(read_metadata_entry(r, element.value()));
          }
        }
      } else if (key == "metadata") {  // README/test shape: the start metadata as a dict
        start_metadata = r.value(fv);
      } else if (key == "session_time_steps" || key == "timesteps") {
        if (!r.is_null(fv)) {
          // A second list (both keys present) appends its timesteps; the texts of the first
          // are enough, and stay aligned with the first items.
          ReadTexts* record = have_steps ? nullptr : &texts;
          std::size_t i = 0;
          for (auto element : r.array(fv)) {
            JsonReader::Path ep(r, i);
            t.session_time_steps.push_back(read_timestep(r, element.value(), i, record));
            ++i;
          }
        }
        have_steps = true;
      } else if (key == "event_history") {
        StepItems<Event> items{t.session_time_steps, &SessionTimeStep::events};
        t.event_history = read_items<Event>(r, fv, read_event, nullptr, &texts.events, items);
        have_events = true;
      } else if (key == "message_history") {
        StepItems<SessionEventMessage> items{t.session_time_steps, &SessionTimeStep::step_messages};
        t.message_history = read_items<SessionEventMessage>(r, fv, read_message, nullptr, &texts.messages, items);
        have_messages = true;
      } else {
        extra.emplace_back(std::string(key), r.value(fv));
      }
    }
    if (!have_id) {
      if (id_from_file_name.empty()) {
        r.fail_at(nullptr, "missing \"session_id\" (SessionTrace::read_file names such a session after its file)");
      }
      t.session_id = id_from_file_name;
      report(r.source() + ": no \"session_id\"; the session is named \"" + t.session_id + "\" after the file");
    }
    for (auto& [key, value] : extra) {
      t.session_metadata.push_back(SessionMetadataEntry{std::move(key), std::move(value), t.created_at});
    }
    if (!start_metadata.is_null() && !(start_metadata.is_object() && start_metadata.empty())) {
      t.session_metadata.insert(t.session_metadata.begin(),
                                SessionMetadataEntry{std::string(kSessionStartMetadata), std::move(start_metadata),
                                                     t.created_at});
    }
    // Shapes without histories: every item of the timesteps, in timestep order.
    if (!have_events) {
      for (const auto& step : t.session_time_steps) {
        t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
      }
    }
    if (!have_messages) {
      for (const auto& step : t.session_time_steps) {
        t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
      }
    }
    return t;
  });
}

}  // namespace synth::tracing::detail
