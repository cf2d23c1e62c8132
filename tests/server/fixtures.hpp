// Sessions for the server's tests: deterministic times, LLM calls with model, tokens and cost,
// environment steps with reward (the last terminates), a tool call that fails, messages.
#pragma once

#include <chrono>
#include <cmath>
#include <string>

#include "synth/tracing/model.hpp"

namespace synth_test {

namespace st = synth::tracing;

struct SessionShape {
  int steps = 3;
  std::string model = "gpt-4o-mini";
  double reward_per_step = 0.5;
  bool failing_tool = false;
  /// Seconds after 2025-01-01T00:00:00Z when the session starts.
  int start_second = 0;
};

// Whole microseconds, as the database keeps times: a stored session equals its original.
inline st::Timestamp at_second(double seconds) {
  return *st::parse_timestamp("2025-01-01T00:00:00Z") +
         std::chrono::microseconds(std::llround(seconds * 1e6));
}

inline st::SessionTrace sample_session(const std::string& id, const SessionShape& shape = {}) {
  st::SessionTrace t;
  t.session_id = id;
  t.created_at = at_second(shape.start_second);
  t.session_metadata.push_back({"session_start", st::Value{{"experiment", "baseline"}}, t.created_at});
  for (int s = 0; s < shape.steps; ++s) {
    const double base = shape.start_second + s;
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.turn_number = s;
    step.timestamp = at_second(base);
    st::CAISEvent call{.time_record = st::TimeRecord{at_second(base + 0.1), s},
                       .system_instance_id = "agent",
                       .model_name = shape.model,
                       .provider = "openai",
                       .prompt_tokens = 100,
                       .completion_tokens = 20,
                       .total_tokens = 120,
                       .cost = 0.001,
                       .latency_ms = 200.0,
                       .metadata = st::Value{{"operation", "chat"}, {"duration_ms", 200.0}}};
    st::EnvironmentEvent env{.time_record = st::TimeRecord{at_second(base + 0.4), s},
                             .system_instance_id = "gridworld",
                             .reward = shape.reward_per_step,
                             .terminated = s + 1 == shape.steps,
                             .metadata = st::Value{{"step", "move"}, {"duration_ms", 50.0}}};
    st::RuntimeEvent tool{.time_record = st::TimeRecord{at_second(base + 0.5), s},
                          .system_instance_id = "tools",
                          .actions = st::Value{{"query", "door " + std::to_string(s)}},
                          .metadata = shape.failing_tool && s == 0
                                          ? st::Value{{"operation_type", "search"},
                                                      {"error", st::Value{{"type", "Timeout"}, {"message", "slow"}}}}
                                          : st::Value{{"operation_type", "search"}}};
    st::SessionEventMessage message;
    message.message_type = "observation";
    message.content = st::Value{{"origin_system_id", "gridworld"}, {"payload", "room " + std::to_string(s)}};
    message.timestamp = at_second(base + 0.05);
    message.time_record = st::TimeRecord{message.timestamp, s};
    step.events = {call, env, tool};
    step.step_messages = {message};
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    t.message_history.push_back(message);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

}  // namespace synth_test
