// The seed README's "Manual Tracing Pattern": build a CAISEvent and a message yourself.
#include <iostream>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

int main() {
  st::SessionTracer tracer;
  auto session = tracer.start_session("manual-demo");
  const std::int64_t turn_number = 0;
  auto step = tracer.timestep(turn_number);

  // Event for an LLM call.
  st::CAISEvent event{.time_record = st::TimeRecord{st::now(), turn_number},
                      .system_instance_id = "agent_123",
                      .model_name = "gpt-4",
                      .prompt_tokens = 50,
                      .completion_tokens = 100};
  tracer.add_event(event);

  // A message: origin system and payload, stamped with the turn.
  tracer.add_message(st::make_message("agent_123", {{"action", "move_north"}}, "action", turn_number));

  // The same message spelled out field by field.
  tracer.add_message(st::SessionEventMessage{
      .content = {{"origin_system_id", "agent_123"}, {"payload", {{"action", "move_north"}}}},
      .message_type = "action",
      .time_record = st::TimeRecord{st::now(), turn_number},
  });

  std::cout << tracer.get_session_trace("manual-demo")->to_json({.indent = 2}) << "\n";
}
