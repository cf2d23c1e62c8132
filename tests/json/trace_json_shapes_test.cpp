// SessionTrace <-> JSON: traces written by the Python original (hand-written from the reference)
// and the README / test-API shape.
#include "json/trace_json_support.hpp"

namespace {

using namespace trace_json_support;

// ------------------------------------------------------------------------------------------
// 2. Traces written by the Python original (hand-written from the reference)
// ------------------------------------------------------------------------------------------

TEST(TraceJsonPython, Section1eExample) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/section_1e_example.json"));
  EXPECT_EQ(t.session_id, "s-1");
  EXPECT_EQ(t.created_at, utc(2025, 1, 1, 9, 59, 59));  // naive time read as UTC
  EXPECT_TRUE(t.start_metadata().is_null()) << "the original has no session_start entry";

  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "run");
  EXPECT_EQ(t.session_metadata[0].data, Value::object({{"seed", 1}}));
  EXPECT_EQ(t.session_metadata[0].timestamp, utc(2025, 1, 1, 10));

  ASSERT_EQ(t.session_time_steps.size(), 1u);
  const SessionTimeStep& step = t.session_time_steps[0];
  EXPECT_EQ(step.step_id, "step_0");
  EXPECT_EQ(step.step_index, 0);
  EXPECT_EQ(step.turn_number, 0);
  EXPECT_EQ(step.timestamp, utc(2025, 1, 1, 10));
  EXPECT_EQ(step.step_metadata, Value::object());

  ASSERT_EQ(step.events.size(), 1u);
  ASSERT_EQ(synth::tracing::event_type(step.events[0]), EventType::cais) << "inferred from the LLM fields";
  const auto& e = as<CAISEvent>(step.events[0]);
  ASSERT_TRUE(e.time_record.has_value());
  EXPECT_EQ(e.time_record->event_time, utc(2025, 1, 1, 10, 0, 1));
  EXPECT_EQ(e.time_record->message_time, 0);
  EXPECT_EQ(e.system_instance_id, "agent");
  EXPECT_EQ(e.system_state_before, Value::object({{"gen_ai.request.model", "gpt-4"}}));
  EXPECT_TRUE(e.system_state_after.is_null());
  EXPECT_TRUE(e.llm_call_records.empty());
  EXPECT_FALSE(e.span_id.has_value());
  EXPECT_FALSE(e.trace_id.has_value());
  EXPECT_EQ(e.model_name, "gpt-4");
  EXPECT_FALSE(e.provider.has_value()) << "the provider stays in metadata";
  EXPECT_EQ(e.prompt_tokens, 12);
  EXPECT_EQ(e.completion_tokens, 3);
  EXPECT_EQ(e.total_tokens, 15);
  EXPECT_FALSE(e.cached_tokens.has_value());
  EXPECT_FALSE(e.cache_write_tokens.has_value());
  EXPECT_FALSE(e.reasoning_tokens.has_value());
  EXPECT_EQ(e.cost, 0.00054);
  EXPECT_EQ(e.latency_ms, 420.0);
  EXPECT_EQ(e.metadata, Value::object({{"provider", "openai"}}));
  EXPECT_TRUE(e.event_metadata.empty());

  ASSERT_EQ(step.step_messages.size(), 1u);
  const SessionEventMessage& m = step.step_messages[0];
  EXPECT_EQ(m.content, Value::object({{"origin_system_id", "env"}, {"payload", {{"obs", "door"}}}}));
  EXPECT_EQ(m.message_type, "observation");
  EXPECT_EQ(m.timestamp, utc(2025, 1, 1, 10));
  ASSERT_TRUE(m.time_record.has_value());
  EXPECT_EQ(m.time_record->event_time, utc(2025, 1, 1, 10));
  EXPECT_EQ(m.time_record->message_time, 0);

  // The histories repeat the timestep's items.
  ASSERT_EQ(t.event_history.size(), 1u);
  EXPECT_TRUE(t.event_history[0] == step.events[0]);
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_TRUE(t.message_history[0] == m);

  expect_lossless(t, "section_1e_example.json");
  // Our output tags each event with its kind.
  const nlohmann::ordered_json out = nlohmann::ordered_json::parse(t.to_json());
  EXPECT_EQ(out["event_history"][0]["event_type"], "cais");
  EXPECT_EQ(out["event_history"][0]["cost"], 0.00054);
}

TEST(TraceJsonPython, EnvironmentAndRuntimeEventsWithoutEventType) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/env_runtime_session.json"));
  EXPECT_EQ(t.session_id, "crafter-episode-7");
  EXPECT_EQ(t.created_at, utc(2025, 3, 4, 12, 30, 44, 500'000'000));
  EXPECT_TRUE(t.start_metadata().is_null());
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "env_config");
  EXPECT_EQ(t.session_metadata[0].data, Value::object({{"world", "crafter"}, {"size", {64, 64}}}));
  EXPECT_EQ(t.session_metadata[0].timestamp, utc(2025, 3, 4, 12, 30, 44, 999'999'000));

  ASSERT_EQ(t.session_time_steps.size(), 2u);
  const SessionTimeStep& s0 = t.session_time_steps[0];
  const SessionTimeStep& s1 = t.session_time_steps[1];
  EXPECT_EQ(s0.step_id, "step_0");
  EXPECT_EQ(s1.step_id, "step_1");
  EXPECT_EQ(s0.step_index, 0);
  EXPECT_EQ(s1.step_index, 1);
  EXPECT_EQ(s0.turn_number, 0) << "taken from the first event's message_time";
  EXPECT_EQ(s1.turn_number, 1) << "taken from the first event's message_time";
  EXPECT_EQ(s0.timestamp, utc(2025, 3, 4, 12, 30, 45, 50'000));
  EXPECT_EQ(s0.step_metadata, Value::object({{"phase", "explore"}}));

  ASSERT_EQ(s0.events.size(), 2u);
  ASSERT_EQ(s1.events.size(), 3u);

  // A full session_tracer CAISEvent, with Python's \u escapes for non-ASCII text.
  const auto& llm = as<CAISEvent>(s0.events[0]);
  EXPECT_EQ(llm.system_instance_id, "llm_agent");
  EXPECT_EQ(llm.time_record->event_time, utc(2025, 3, 4, 12, 30, 45, 123'456'000));
  EXPECT_EQ(llm.system_state_before["messages"][0]["content"].as_string(), "Caf\xC3\xA9?");
  EXPECT_EQ(llm.system_state_after["content"].as_string(), "Go north \xF0\x9F\x98\x80");
  ASSERT_EQ(llm.llm_call_records.size(), 1u);
  EXPECT_EQ(llm.llm_call_records[0]["gen_ai.usage.prompt_tokens"].as_int(), 120);
  EXPECT_EQ(llm.span_id, "1234567890123456789");
  EXPECT_EQ(llm.trace_id, "98765432109876543210987654321");
  EXPECT_EQ(llm.model_name, "gpt-4o-mini");
  EXPECT_EQ(llm.prompt_tokens, 120);
  EXPECT_EQ(llm.completion_tokens, 8);
  EXPECT_EQ(llm.total_tokens, 128);
  EXPECT_EQ(llm.cost, 2.28e-05);
  EXPECT_EQ(llm.latency_ms, 812.5);
  ASSERT_EQ(llm.event_metadata.size(), 1u);
  EXPECT_EQ(llm.event_metadata[0]["hook_name"].as_string(), "long_call");
  EXPECT_EQ(llm.event_metadata[0]["priority"].as_int(), 1);

  // EnvironmentEvent: recognised by reward/terminated/observation_diff, not by its system id.
  const auto& env = as<EnvironmentEvent>(s0.events[1]);
  EXPECT_EQ(env.system_instance_id, "crafter_env");
  EXPECT_EQ(env.time_record->event_time, utc(2025, 3, 4, 12, 30, 46, 1'000));
  EXPECT_EQ(env.reward, 1.0);
  EXPECT_EQ(env.terminated, false);
  EXPECT_FALSE(env.truncated.has_value());
  EXPECT_EQ(env.observation_diff, Value::object({{"inventory", {{"wood", 1}}}}));
  EXPECT_EQ(env.system_state_after, Value::object({{"position", {3, 5}}}));

  // RuntimeEvent: recognised by its actions key.
  const auto& rt = as<RuntimeEvent>(s1.events[0]);
  EXPECT_EQ(rt.system_instance_id, "executor");
  EXPECT_EQ(rt.time_record->message_time, 1);
  EXPECT_EQ(rt.time_record->event_time, utc(2025, 3, 4, 12, 30, 47, 500'000'000));
  EXPECT_EQ(rt.actions, Value::array({"move_north"}));
  EXPECT_EQ(rt.metadata, Value::object({{"duration_ms", 3.25}}));

  // Keys present with null values (as the original writes its defaults) still decide the kind.
  const auto& env_nulls = as<EnvironmentEvent>(s1.events[1]);
  EXPECT_EQ(env_nulls.system_instance_id, "crafter_env");
  EXPECT_FALSE(env_nulls.reward.has_value());
  EXPECT_FALSE(env_nulls.terminated.has_value());
  EXPECT_TRUE(env_nulls.observation_diff.is_null());
  EXPECT_TRUE(env_nulls.system_state_before.is_null());
  EXPECT_EQ(env_nulls.time_record->event_time, utc(2025, 3, 4, 12, 30, 48));
  const auto& rt_null = as<RuntimeEvent>(s1.events[2]);
  EXPECT_EQ(rt_null.system_instance_id, "executor");
  EXPECT_TRUE(rt_null.actions.is_null());

  ASSERT_EQ(s0.step_messages.size(), 1u);
  EXPECT_TRUE(s1.step_messages.empty());
  const SessionEventMessage& m = s0.step_messages[0];
  EXPECT_EQ(m.content["payload"]["text"].as_string(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(m.timestamp, utc(2025, 3, 4, 12, 30, 45, 100'000));

  ASSERT_EQ(t.event_history.size(), 5u);
  EXPECT_TRUE(t.event_history[0] == s0.events[0]);
  EXPECT_TRUE(t.event_history[1] == s0.events[1]);
  EXPECT_TRUE(t.event_history[2] == s1.events[0]);
  EXPECT_TRUE(t.event_history[3] == s1.events[1]);
  EXPECT_TRUE(t.event_history[4] == s1.events[2]);
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_TRUE(t.message_history[0] == m);

  expect_lossless(t, "env_runtime_session.json");
}

TEST(TraceJsonPython, AbstractionsFamilyEvents) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/abstractions_events.json"));
  EXPECT_EQ(t.session_id, "decorated-run");
  EXPECT_EQ(t.created_at, utc(2025, 1, 1, 9, 59, 59, 999'999'000));
  ASSERT_EQ(t.session_time_steps.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].turn_number, 2);
  ASSERT_EQ(t.session_time_steps[0].events.size(), 1u);
  ASSERT_EQ(t.event_history.size(), 5u);

  // abstractions CAISEvent: no span/token fields, llm_call_records marks the kind.
  const auto& llm = as<CAISEvent>(t.event_history[0]);
  EXPECT_EQ(llm.system_instance_id, "lm_gpt-4o-mini");
  EXPECT_EQ(llm.time_record->event_time, utc(2025, 1, 1, 10, 0, 0, 250'000'000));
  EXPECT_FALSE(llm.model_name.has_value());
  EXPECT_FALSE(llm.prompt_tokens.has_value());
  EXPECT_EQ(llm.system_state_before["gen_ai.request.model"].as_string(), "gpt-4o-mini");
  EXPECT_EQ(llm.metadata, Value::object({{"duration_ms", 812.4}}));

  // The session_tracer event recorded in the timestep is also in the history.
  EXPECT_TRUE(t.event_history[1] == t.session_time_steps[0].events[0]);
  EXPECT_EQ(as<EnvironmentEvent>(t.event_history[1]).system_instance_id, "environment");

  // abstractions EnvironmentEvent with an epoch-seconds float event_time.
  const auto& env = as<EnvironmentEvent>(t.event_history[2]);
  EXPECT_EQ(env.system_instance_id, "crafter");
  ASSERT_TRUE(env.time_record.has_value());
  EXPECT_EQ(env.time_record->event_time, utc(2025, 1, 1, 10, 0, 1, 250'000'000));
  EXPECT_EQ(env.time_record->message_time, 2);
  EXPECT_EQ(env.reward, 0.5);
  EXPECT_EQ(env.terminated, true);
  EXPECT_TRUE(env.observation_diff.is_null());
  EXPECT_EQ(env.metadata, Value::object({{"duration_ms", 4.0}}));

  // abstractions RuntimeEvent: no metadata key, TimeRecord(None, None).
  const auto& rt = as<RuntimeEvent>(t.event_history[3]);
  EXPECT_EQ(rt.system_instance_id, "runtime");
  ASSERT_TRUE(rt.time_record.has_value());
  EXPECT_EQ(rt.time_record->event_time, Timestamp{});
  EXPECT_EQ(rt.time_record->message_time, 0);
  EXPECT_EQ(rt.metadata, Value::object()) << "a missing metadata key reads as {}";
  EXPECT_TRUE(rt.actions.is_null());
  EXPECT_EQ(rt.system_state_after, Value::object({{"runtime.success", true}}));

  // The older variant: actions and metadata, no time_record.
  const auto& old = as<RuntimeEvent>(t.event_history[4]);
  EXPECT_FALSE(old.time_record.has_value());
  EXPECT_EQ(old.actions[0]["tool"].as_string(), "save");
  EXPECT_EQ(old.metadata, Value::object({{"variant", "1381e6c"}}));

  EXPECT_TRUE(t.message_history.empty());
  EXPECT_TRUE(t.session_metadata.empty());
  expect_lossless(t, "abstractions_events.json");
}

TEST(TraceJsonPython, IntegerStepIds) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/integer_step_id.json"));
  ASSERT_EQ(t.session_time_steps.size(), 2u);
  EXPECT_EQ(t.session_time_steps[0].step_id, "1");
  EXPECT_EQ(t.session_time_steps[1].step_id, "2");
  EXPECT_EQ(t.session_time_steps[0].turn_number, 1);
  EXPECT_EQ(t.session_time_steps[1].turn_number, 1) << "no events: the position";
  ASSERT_EQ(t.session_time_steps[0].step_messages.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].step_messages[0].message_type, "action");
  EXPECT_EQ(t.session_time_steps[0].step_messages[0].timestamp, utc(2025, 6, 1, 8, 0, 0, 1'000));
  const auto& e = as<CAISEvent>(t.session_time_steps[0].events.at(0));
  EXPECT_EQ(e.model_name, "claude-3-haiku");
  EXPECT_EQ(e.total_tokens, 40);
  EXPECT_FALSE(e.cost.has_value());
  EXPECT_EQ(e.time_record->event_time, utc(2025, 6, 1, 8, 0, 0, 500'000'000));
  ASSERT_EQ(t.event_history.size(), 1u);
  ASSERT_EQ(t.message_history.size(), 1u);
  expect_lossless(t, "integer_step_id.json");
  // Written back as strings.
  const nlohmann::json out = nlohmann::json::parse(t.to_json());
  EXPECT_EQ(out["session_time_steps"][0]["step_id"], "1");
}

// ------------------------------------------------------------------------------------------
// 3. The README / test-API shape
// ------------------------------------------------------------------------------------------

void expect_readme_timesteps(const SessionTrace& t) {
  ASSERT_EQ(t.session_time_steps.size(), 3u);
  const auto& steps = t.session_time_steps;
  EXPECT_EQ(steps[0].step_id, "step_0");
  EXPECT_EQ(steps[1].step_id, "step_1");
  EXPECT_EQ(steps[2].step_id, "step_5") << "default ids come from turn_number, not position";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(steps[i].step_index, static_cast<std::int64_t>(i));
  EXPECT_EQ(steps[0].turn_number, 0);
  EXPECT_EQ(steps[1].turn_number, 1);
  EXPECT_EQ(steps[2].turn_number, 5);
  EXPECT_EQ(steps[1].step_metadata, Value::object({{"note", "first move"}}));
  EXPECT_EQ(steps[0].step_metadata, Value::object());

  // messages -> step_messages
  ASSERT_EQ(steps[0].step_messages.size(), 1u);
  ASSERT_EQ(steps[1].step_messages.size(), 1u);
  EXPECT_TRUE(steps[2].step_messages.empty());
  EXPECT_EQ(steps[0].step_messages[0].message_type, "observation");
  EXPECT_EQ(steps[0].step_messages[0].content["payload"]["obs"].as_string(), "start");
  EXPECT_EQ(steps[1].step_messages[0].content["payload"]["action"].as_string(), "up");
  EXPECT_EQ(steps[1].step_messages[0].time_record->message_time, 1);

  ASSERT_EQ(steps[0].events.size(), 1u);
  const auto& llm = as<CAISEvent>(steps[0].events[0]);  // declared as "LMCAISEvent"
  EXPECT_EQ(llm.model_name, "gpt-4");
  EXPECT_EQ(llm.total_tokens, 300);
  EXPECT_EQ(llm.cost, 0.015);
  EXPECT_TRUE(llm.system_state_before.is_null());
  EXPECT_EQ(llm.metadata, Value::object());
  const auto& env = as<EnvironmentEvent>(steps[1].events.at(0));
  EXPECT_EQ(env.reward, 1.0);
  EXPECT_EQ(env.terminated, false);
  EXPECT_EQ(as<EnvironmentEvent>(steps[2].events.at(0)).terminated, true);
}

TEST(TraceJsonReadmeShape, WithHistories) {
  const SessionTrace t = SessionTrace::read_file(data_path("readme_shape/with_histories.json"));
  EXPECT_EQ(t.session_id, "readme-session");
  EXPECT_EQ(t.created_at, utc(2025, 2, 2, 11, 59, 59));
  // metadata -> the "session_start" entry of session_metadata
  EXPECT_EQ(t.start_metadata(), Value::object({{"experiment", "crafter"}, {"seed", 42}}));
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "session_start");
  EXPECT_EQ(t.session_metadata[0].timestamp, t.created_at);
  expect_readme_timesteps(t);

  // Histories as given, including the history-only runtime event.
  ASSERT_EQ(t.event_history.size(), 4u);
  EXPECT_TRUE(t.event_history[0] == t.session_time_steps[0].events[0]);
  EXPECT_TRUE(t.event_history[1] == t.session_time_steps[1].events[0]);
  const auto& deco = as<RuntimeEvent>(t.event_history[2]);
  EXPECT_EQ(deco.system_state_before, Value::object({{"runtime.operation", "log"}}));
  EXPECT_TRUE(t.event_history[3] == t.session_time_steps[2].events[0]);
  ASSERT_EQ(t.message_history.size(), 2u);
  EXPECT_TRUE(t.message_history[0] == t.session_time_steps[0].step_messages[0]);
  EXPECT_TRUE(t.message_history[1] == t.session_time_steps[1].step_messages[0]);

  expect_lossless(t, "readme with_histories.json");
  // Written in the original's shape.
  const nlohmann::json out = nlohmann::json::parse(t.to_json());
  EXPECT_TRUE(out.contains("session_time_steps"));
  EXPECT_FALSE(out.contains("timesteps"));
  EXPECT_FALSE(out.contains("metadata"));
  EXPECT_EQ(out["session_metadata"][0]["metadata_type"], "session_start");
  EXPECT_EQ(out["session_metadata"][0]["data"]["seed"], 42);
}

TEST(TraceJsonReadmeShape, WithoutHistoriesDerivesThemFromTimesteps) {
  const SessionTrace t = SessionTrace::read_file(data_path("readme_shape/without_histories.json"));
  EXPECT_EQ(t.session_id, "readme-session");
  EXPECT_EQ(t.created_at, Timestamp{});
  EXPECT_EQ(t.start_metadata(), Value::object({{"experiment", "crafter"}, {"seed", 42}}));
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].timestamp, Timestamp{});
  expect_readme_timesteps(t);

  std::vector<Event> events;
  std::vector<SessionEventMessage> messages;
  for (const auto& s : t.session_time_steps) {
    events.insert(events.end(), s.events.begin(), s.events.end());
    messages.insert(messages.end(), s.step_messages.begin(), s.step_messages.end());
  }
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(t.event_history == events);
  EXPECT_TRUE(t.message_history == messages);
  expect_lossless(t, "readme without_histories.json");
}

TEST(TraceJsonReadmeShape, EmptyOrNullMetadataAddsNoEntry) {
  for (const char* json : {R"({"session_id":"x","metadata":{},"timesteps":[]})",
                           R"({"session_id":"x","metadata":null,"timesteps":[]})",
                           R"({"session_id":"x","timesteps":[]})"}) {
    const SessionTrace t = SessionTrace::from_json(json);
    EXPECT_TRUE(t.session_metadata.empty()) << json;
    EXPECT_TRUE(t.start_metadata().is_null()) << json;
  }
}

TEST(TraceJsonReadmeShape, OnlyOneHistoryGiven) {
  // The missing history is derived, the given one is kept as is.
  const SessionTrace t = SessionTrace::from_json(R"({"session_id":"x","timesteps":[
      {"turn_number":3,"messages":[{"content":"hi","message_type":"user"}],"events":[{"reward":1.0}]}],
    "event_history":[]})");
  ASSERT_EQ(t.session_time_steps.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].step_id, "step_3");
  EXPECT_TRUE(t.event_history.empty());
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_EQ(t.message_history[0].content.as_string(), "hi");
}

}  // namespace
