// The seed README's "Basic Usage": a tracer, a session with metadata, a timestep per turn.
// (The LM client that records LLM calls by itself comes with its own issue; here the call is
// recorded by hand.)
#include <iostream>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

int main() {
  st::SessionTracer tracer;

  {
    auto session = tracer.start_session("session-123", {{"experiment", "test"}});
    {
      auto step = tracer.timestep(0);
      tracer.add_event(st::CAISEvent{.system_instance_id = "my_agent",
                                     .system_state_before = {{"prompt", "Hello!"}},
                                     .system_state_after = {{"response", "Hi there."}},
                                     .model_name = "gpt-4",
                                     .prompt_tokens = 9,
                                     .completion_tokens = 4,
                                     .total_tokens = 13});
    }
  }

  const auto trace = tracer.get_session_trace("session-123");
  std::cout << trace->to_json({.indent = 2}) << "\n";
}
