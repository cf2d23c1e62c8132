#include <variant>

#include "json/trace_json.hpp"

namespace synth::tracing::detail {

namespace {

void write_time_record(JsonWriter& w, const std::optional<TimeRecord>& tr) {
  if (!tr) {
    w.null();
    return;
  }
  w.begin_object();
  w.plain_key("event_time");
  w.timestamp(tr->event_time);
  w.plain_key("message_time");
  w.integer(tr->message_time);
  w.end_object();
}

void write_optional(JsonWriter& w, const std::optional<std::string>& s) {
  if (s) {
    w.string(*s);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<std::int64_t>& i) {
  if (i) {
    w.integer(*i);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<double>& d) {
  if (d) {
    w.number(*d);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<bool>& b) {
  if (b) {
    w.boolean(*b);
  } else {
    w.null();
  }
}

void write_values(JsonWriter& w, const std::vector<Value>& values) {
  w.begin_array();
  for (const Value& v : values) w.value(v);
  w.end_array();
}

// Fields every event kind starts with, in the original's order (after our event_type).
template <class E>
void write_event_head(JsonWriter& w, const E& e, EventType type) {
  w.plain_key("event_type");
  w.string(event_type_name(type));
  w.plain_key("time_record");
  write_time_record(w, e.time_record);
  w.plain_key("system_instance_id");
  w.string(e.system_instance_id);
  w.plain_key("system_state_before");
  w.value(e.system_state_before);
  w.plain_key("system_state_after");
  w.value(e.system_state_after);
}

// Null metadata is written as {} (and so reads back as {}), as the original always has a dict.
void write_metadata(JsonWriter& w, const Value& metadata) {
  if (metadata.is_null()) {
    w.begin_object();
    w.end_object();
  } else {
    w.value(metadata);
  }
}

template <class E>
void write_event_tail(JsonWriter& w, const E& e) {
  w.plain_key("metadata");
  write_metadata(w, e.metadata);
  w.plain_key("event_metadata");
  write_values(w, e.event_metadata);
}

void write_fields(JsonWriter& w, const CAISEvent& e) {
  write_event_head(w, e, EventType::cais);
  w.plain_key("llm_call_records");
  write_values(w, e.llm_call_records);
  w.plain_key("span_id");
  write_optional(w, e.span_id);
  w.plain_key("trace_id");
  write_optional(w, e.trace_id);
  w.plain_key("model_name");
  write_optional(w, e.model_name);
  w.plain_key("provider");
  write_optional(w, e.provider);
  w.plain_key("prompt_tokens");
  write_optional(w, e.prompt_tokens);
  w.plain_key("completion_tokens");
  write_optional(w, e.completion_tokens);
  w.plain_key("total_tokens");
  write_optional(w, e.total_tokens);
  w.plain_key("cached_tokens");
  write_optional(w, e.cached_tokens);
  w.plain_key("cache_write_tokens");
  write_optional(w, e.cache_write_tokens);
  w.plain_key("reasoning_tokens");
  write_optional(w, e.reasoning_tokens);
  w.plain_key("cost");
  write_optional(w, e.cost);
  w.plain_key("latency_ms");
  write_optional(w, e.latency_ms);
  write_event_tail(w, e);
}

void write_fields(JsonWriter& w, const EnvironmentEvent& e) {
  write_event_head(w, e, EventType::environment);
  w.plain_key("reward");
  write_optional(w, e.reward);
  w.plain_key("terminated");
  write_optional(w, e.terminated);
  w.plain_key("truncated");
  write_optional(w, e.truncated);
  w.plain_key("observation_diff");
  w.value(e.observation_diff);
  write_event_tail(w, e);
}

void write_fields(JsonWriter& w, const RuntimeEvent& e) {
  write_event_head(w, e, EventType::runtime);
  w.plain_key("actions");
  w.value(e.actions);
  write_event_tail(w, e);
}

}  // namespace

void write_event(JsonWriter& w, const Event& event) {
  w.begin_object();
  std::visit([&w](const auto& e) { write_fields(w, e); }, event);
  w.end_object();
}

void write_message(JsonWriter& w, const SessionEventMessage& m) {
  w.begin_object();
  w.plain_key("content");
  w.value(m.content);
  w.plain_key("timestamp");
  w.timestamp(m.timestamp);
  w.plain_key("message_type");
  w.string(m.message_type);
  w.plain_key("time_record");
  write_time_record(w, m.time_record);
  w.end_object();
}

void write_timestep(JsonWriter& w, const SessionTimeStep& step) {
  w.begin_object();
  w.plain_key("step_id");
  w.string(step.step_id);
  w.plain_key("step_index");
  w.integer(step.step_index);
  w.plain_key("turn_number");
  w.integer(step.turn_number);
  w.plain_key("events");
  w.begin_array();
  for (const Event& e : step.events) write_event(w, e);
  w.end_array();
  w.plain_key("step_messages");
  w.begin_array();
  for (const SessionEventMessage& m : step.step_messages) write_message(w, m);
  w.end_array();
  w.plain_key("timestamp");
  w.timestamp(step.timestamp);
  w.plain_key("step_metadata");
  write_metadata(w, step.step_metadata);
  w.end_object();
}

void write_metadata_entry(JsonWriter& w, const SessionMetadataEntry& m) {
  w.begin_object();
  w.plain_key("metadata_type");
  w.string(m.metadata_type);
  w.plain_key("data");
  w.value(m.data);
  w.plain_key("timestamp");
  w.timestamp(m.timestamp);
  w.end_object();
}

void write_trace(JsonWriter& w, const SessionTrace& t) {
  w.begin_object();
  w.plain_key("session_id");
  w.string(t.session_id);
  w.plain_key("session_time_steps");
  w.begin_array();
  for (const SessionTimeStep& step : t.session_time_steps) write_timestep(w, step);
  w.end_array();
  w.plain_key("session_metadata");
  w.begin_array();
  for (const SessionMetadataEntry& m : t.session_metadata) write_metadata_entry(w, m);
  w.end_array();
  w.plain_key("message_history");
  w.begin_array();
  for (const SessionEventMessage& m : t.message_history) write_message(w, m);
  w.end_array();
  w.plain_key("event_history");
  w.begin_array();
  for (const Event& e : t.event_history) write_event(w, e);
  w.end_array();
  w.plain_key("created_at");
  w.timestamp(t.created_at);
  w.end_object();
}

}  // namespace synth::tracing::detail
