// The sessions the DuckDB benchmarks store (duckdb_bench.cpp, duckdb_limit_bench.cpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include <synth/tracing.hpp>

namespace synth_bench {

inline constexpr int kStepsPerSession = 100;
inline constexpr int kSessionsPerBatch = 100;

// A session as an agent records it: per timestep an LLM call (prompt state, completion state,
// usage, cost), an environment step and a tool call, and an observation and an action message.
// Events and messages sit in their timestep and in the histories, as SessionTracer builds them.
inline synth::tracing::SessionTrace realistic_session(const std::string& id, std::int64_t seed) {
  namespace st = synth::tracing;
  using st::Value;
  st::SessionTrace t;
  t.session_id = id;
  const st::Timestamp start = st::Timestamp(std::chrono::seconds(1'735'725'600 + seed * 3600));
  t.created_at = start;
  t.session_metadata.push_back({"session_start", Value{{"env", "crafter"}, {"seed", seed}}, start});
  for (int s = 0; s < kStepsPerSession; ++s) {
    const st::Timestamp at = start + std::chrono::milliseconds(s * 1500 + 7);
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.turn_number = s;
    step.timestamp = at;
    st::CAISEvent llm{
        .time_record = st::TimeRecord{at + std::chrono::microseconds(120), s},
        .system_instance_id = "agent",
        .system_state_before = {{"gen_ai.request.model", "gpt-4o-mini"},
                                {"gen_ai.request.messages",
                                 Value::array({Value{{"role", "system"}, {"content", "You play Crafter."}},
                                               Value{{"role", "user"}, {"content", "Inventory: wood 3. What next?"}}})}},
        .system_state_after = {{"gen_ai.response.content", "collect_stone"}, {"gen_ai.response.finish_reason", "stop"}},
        .model_name = "gpt-4o-mini",
        .prompt_tokens = 412 + s,
        .completion_tokens = 9,
        .total_tokens = 421 + s,
        .cost = 0.0000672,
        .latency_ms = 640.5,
        .metadata = {{"attempt", 1}}};
    st::EnvironmentEvent env{.time_record = st::TimeRecord{at + std::chrono::milliseconds(650), s},
                             .system_instance_id = "crafter",
                             .system_state_before = {{"pos", Value::array({s % 64, 7})}},
                             .system_state_after = {{"pos", Value::array({s % 64 + 1, 7})}},
                             .reward = s % 10 == 0 ? 1.0 : 0.0,
                             .terminated = s + 1 == kStepsPerSession,
                             .observation_diff = {{"inventory.stone", 1}}};
    st::RuntimeEvent tool{.time_record = st::TimeRecord{at + std::chrono::milliseconds(660), s},
                          .system_instance_id = "runtime",
                          .actions = Value::array({"collect_stone"}),
                          .metadata = {{"duration_ms", 3.25}}};
    st::SessionEventMessage observation{.content = {{"origin_system_id", "crafter"},
                                                    {"payload", {{"inventory", {{"wood", 3}, {"stone", s}}},
                                                                 {"health", 9}}}},
                                        .message_type = "observation",
                                        .timestamp = at,
                                        .time_record = st::TimeRecord{at, s}};
    st::SessionEventMessage action{.content = {{"origin_system_id", "agent"}, {"payload", {{"action", "collect_stone"}}}},
                                   .message_type = "action",
                                   .timestamp = at + std::chrono::milliseconds(641),
                                   .time_record = st::TimeRecord{at + std::chrono::milliseconds(641), s}};
    step.events = {llm, env, tool};
    step.step_messages = {observation, action};
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

}  // namespace synth_bench
