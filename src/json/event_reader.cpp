// Reading one event: every field any kind may carry, the kind decided once all are read.
#include <string>
#include <string_view>
#include <vector>

#include "json/trace_json.hpp"

namespace synth::tracing::detail {

namespace {


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
      return key_is(k, "cost") ? EventKey::cost : EventKey::unknown;
    case 6:
      return key_is(k, "reward") ? EventKey::reward : EventKey::unknown;
    case 7:
      return key_is(k, "span_id") ? EventKey::span_id : key_is(k, "actions") ? EventKey::actions : EventKey::unknown;
    case 8:
      return key_is(k, "metadata")   ? EventKey::metadata
             : key_is(k, "trace_id") ? EventKey::trace_id
             : key_is(k, "provider") ? EventKey::provider
                               : EventKey::unknown;
    case 9:
      return key_is(k, "truncated") ? EventKey::truncated : EventKey::unknown;
    case 10:
      return key_is(k, "event_type")   ? EventKey::event_type
             : key_is(k, "model_name") ? EventKey::model_name
             : key_is(k, "latency_ms") ? EventKey::latency_ms
             : key_is(k, "terminated") ? EventKey::terminated
                                 : EventKey::unknown;
    case 11:
      return key_is(k, "time_record") ? EventKey::time_record : EventKey::unknown;
    case 12:
      return key_is(k, "total_tokens") ? EventKey::total_tokens : EventKey::unknown;
    case 13:
      return key_is(k, "prompt_tokens")   ? EventKey::prompt_tokens
             : key_is(k, "cached_tokens") ? EventKey::cached_tokens
                                    : EventKey::unknown;
    case 14:
      return key_is(k, "event_metadata") ? EventKey::event_metadata : EventKey::unknown;
    case 16:
      return key_is(k, "llm_call_records")   ? EventKey::llm_call_records
             : key_is(k, "reasoning_tokens") ? EventKey::reasoning_tokens
             : key_is(k, "observation_diff") ? EventKey::observation_diff
                                       : EventKey::unknown;
    case 17:
      return key_is(k, "completion_tokens") ? EventKey::completion_tokens : EventKey::unknown;
    case 18:
      return key_is(k, "system_instance_id")   ? EventKey::system_instance_id
             : key_is(k, "system_state_after") ? EventKey::system_state_after
             : key_is(k, "cache_write_tokens") ? EventKey::cache_write_tokens
                                         : EventKey::unknown;
    case 19:
      return key_is(k, "system_state_before") ? EventKey::system_state_before : EventKey::unknown;
    default:
      return EventKey::unknown;
  }
}

}  // namespace

namespace {
EventType declared_type(JsonReader& r, od::value v) {
  const std::string_view name = r.string_in_place(v);
  // Our own names first: parse_event_type lower-cases into a new string.
  if (name == "cais") return EventType::cais;
  if (name == "environment") return EventType::environment;
  if (name == "runtime") return EventType::runtime;
  if (const auto type = parse_event_type(name)) return *type;
  r.fail(v, "unknown event_type \"" + std::string(name) + "\" (expected cais, environment or runtime)");
}

// The default event of kind E in `out`, a default Event (which holds a default CAISEvent: kept
// rather than made again).
template <class E>
E& reset_to(Event& out) {
  if (E* e = std::get_if<E>(&out)) return *e;
  return out.emplace<E>();
}
}  // namespace

Event read_event(JsonReader& r, od::value v) {
  Event out;
  read_event(r, v, out);
  return out;
}

void read_event(JsonReader& r, od::value v, Event& out) {
  EventFields f;
  for (auto field : r.object(v)) {
    const std::string_view key = r.key(field);
    JsonReader::Path p(r, key);
    od::value fv = field.value();
    const char* at = fv.raw_json_token().data();
    switch (classify_event_key(key)) {
      case EventKey::event_type:
        f.declared = declared_type(r, fv);
        f.declared_at = at;
        break;
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
      CAISEvent& e = reset_to<CAISEvent>(out);
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
      return;
    }
    case EventType::environment: {
      conflict(f.cais_key, "an LLM-call");
      conflict(f.runtime_key, "a runtime");
      EnvironmentEvent& e = reset_to<EnvironmentEvent>(out);
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
      return;
    }
    case EventType::runtime: {
      conflict(f.cais_key, "an LLM-call");
      conflict(f.environment_key, "an environment");
      RuntimeEvent& e = reset_to<RuntimeEvent>(out);
      e.time_record = f.time_record;
      if (f.system_instance_id) e.system_instance_id = std::move(*f.system_instance_id);
      e.system_state_before = std::move(f.before);
      e.system_state_after = std::move(f.after);
      e.actions = std::move(f.actions);
      e.metadata = std::move(f.metadata);
      e.event_metadata = std::move(f.event_metadata);
      return;
    }
  }
}

}  // namespace synth::tracing::detail
