// Our directly recorded events and messages back from the span events src/otel/spans.cpp
// (span_event) writes: every field it writes is read back as it was.
#include "server/otlp_map.hpp"

namespace synth::tracing::server::otlp {

namespace {

template <class T>
std::optional<T> get(const Value& a, std::string_view key);

template <>
std::optional<std::int64_t> get(const Value& a, std::string_view key) {
  const Value* v = a.find(key);
  if (v == nullptr || !v->is_number()) return std::nullopt;
  try {
    return v->as_int();
  } catch (const Error&) {
    return std::nullopt;
  }
}

template <>
std::optional<double> get(const Value& a, std::string_view key) {
  const Value* v = a.find(key);
  return v != nullptr && v->is_number() ? std::optional(v->as_double()) : std::nullopt;
}

template <>
std::optional<bool> get(const Value& a, std::string_view key) {
  const Value* v = a.find(key);
  return v != nullptr && v->is_bool() ? std::optional(v->as_bool()) : std::nullopt;
}

template <>
std::optional<std::string> get(const Value& a, std::string_view key) {
  const Value* v = a.find(key);
  return v != nullptr && v->is_string() ? std::optional(v->as_string()) : std::nullopt;
}

// The value of `key`, moved out of the attributes (the event is their only reader).
Value take(Value& a, std::string_view key) {
  Value* v = a.find(key);
  return v != nullptr ? std::move(*v) : Value();
}

// What every kind has: span_event writes the system id only when not empty, the turn only
// when the event has a time record, and leaves out empty payloads.
template <class E>
void read_common(E& e, OtlpEvent& ev) {
  Value& a = ev.attributes;
  e.system_instance_id = get<std::string>(a, "synth.system_id").value_or("");
  if (const auto turn = get<std::int64_t>(a, "synth.turn")) e.time_record = TimeRecord{timestamp_of(ev.time_unix_nano), *turn};
  e.system_state_before = take(a, "synth.state_before");
  e.system_state_after = take(a, "synth.state_after");
  if (Value* md = a.find("synth.metadata"); md != nullptr && md->is_object()) e.metadata = std::move(*md);
  if (Value* em = a.find("synth.event_metadata"); em != nullptr && em->is_array()) e.event_metadata = std::move(em->as_array());
}

}  // namespace

std::optional<Event> synth_span_event(OtlpEvent& ev) {
  if (!ev.name.starts_with("synth.event.")) return std::nullopt;
  const auto type = parse_event_type(std::string_view(ev.name).substr(12));
  if (!type) return std::nullopt;
  Value& a = ev.attributes;
  switch (*type) {
    case EventType::cais: {
      CAISEvent e;
      read_common(e, ev);
      e.model_name = get<std::string>(a, "gen_ai.response.model");
      if (const auto provider = get<std::string>(a, "gen_ai.provider.name")) e.provider = normalize_provider(*provider);
      e.prompt_tokens = get<std::int64_t>(a, "gen_ai.usage.input_tokens");
      e.completion_tokens = get<std::int64_t>(a, "gen_ai.usage.output_tokens");
      e.cached_tokens = get<std::int64_t>(a, "gen_ai.usage.cache_read.input_tokens");
      e.reasoning_tokens = get<std::int64_t>(a, "gen_ai.usage.reasoning.output_tokens");
      e.cache_write_tokens = get<std::int64_t>(a, "gen_ai.usage.cache_creation.input_tokens");
      e.total_tokens = get<std::int64_t>(a, "synth.total_tokens");
      e.cost = get<double>(a, "synth.cost_usd");
      e.latency_ms = get<double>(a, "synth.latency_ms");
      return Event(std::move(e));
    }
    case EventType::environment: {
      EnvironmentEvent e;
      read_common(e, ev);
      e.reward = get<double>(a, "synth.reward");
      e.terminated = get<bool>(a, "synth.terminated");
      e.truncated = get<bool>(a, "synth.truncated");
      e.observation_diff = take(a, "synth.observation_diff");
      return Event(std::move(e));
    }
    case EventType::runtime: {
      RuntimeEvent e;
      read_common(e, ev);
      e.actions = take(a, "synth.actions");
      return Event(std::move(e));
    }
  }
  return std::nullopt;
}

std::optional<SessionEventMessage> synth_span_message(OtlpEvent& ev) {
  if (ev.name != "synth.message") return std::nullopt;
  Value& a = ev.attributes;
  SessionEventMessage m;
  m.message_type = get<std::string>(a, "synth.message_type").value_or("unknown");
  m.content = take(a, "synth.content");
  m.timestamp = timestamp_of(ev.time_unix_nano);
  if (const auto turn = get<std::int64_t>(a, "synth.turn")) m.time_record = TimeRecord{m.timestamp, *turn};
  return m;
}

}  // namespace synth::tracing::server::otlp
