// JSON trace speed. Targets (issue 2): write >= 2 M events/s, read >= 1 M events/s.
// An "event" here is one recorded event; the JSON holds it twice (timestep and history), as
// the original's format does, and both copies are in the measured work.
#include <benchmark/benchmark.h>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

namespace {

// A trace shaped like a real rollout: per timestep one LLM call, one tool call, one env step
// and two messages, with realistic small states.
st::SessionTrace make_trace(int timesteps) {
  st::SessionTrace t;
  t.session_id = "bench-session";
  t.created_at = st::now();
  t.session_metadata.push_back({"session_start", {{"experiment", "bench"}, {"seed", 1}}, t.created_at});
  for (int i = 0; i < timesteps; ++i) {
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(i);
    step.step_index = i;
    step.turn_number = i;
    step.timestamp = st::now();
    const st::TimeRecord tr{st::now(), i};
    step.events.push_back(st::CAISEvent{.time_record = tr,
                                        .system_instance_id = "agent",
                                        .system_state_before = {{"prompt", "You are in a room. Exits: north, east."}},
                                        .system_state_after = {{"action", "move_north"}},
                                        .model_name = "gpt-4o-mini",
                                        .provider = "openai",
                                        .prompt_tokens = 812,
                                        .completion_tokens = 37,
                                        .total_tokens = 849,
                                        .cost = 0.000144,
                                        .latency_ms = 412.5,
                                        .metadata = {{"attempt", 1}}});
    step.events.push_back(st::RuntimeEvent{.time_record = tr,
                                           .system_instance_id = "tools",
                                           .actions = {"move_north"},
                                           .metadata = {{"valid", true}}});
    step.events.push_back(st::EnvironmentEvent{.time_record = tr,
                                               .system_instance_id = "env",
                                               .reward = 0.1,
                                               .terminated = false,
                                               .observation_diff = {{"room", i}}});
    step.step_messages.push_back(st::make_message("env", {{"observation", "a door"}}, "observation", i));
    step.step_messages.push_back(st::make_message("agent", {{"action", "move_north"}}, "action", i));
    for (const auto& e : step.events) t.event_history.push_back(e);
    for (const auto& m : step.step_messages) t.message_history.push_back(m);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

void BM_WriteTrace(benchmark::State& state) {
  const auto trace = make_trace(static_cast<int>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string json = trace.to_json();
    bytes = json.size();
    benchmark::DoNotOptimize(json);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trace.event_history.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_WriteTrace)->Arg(1000);

// As the JSON file sink writes: into one reused buffer.
void BM_WriteTraceReusedBuffer(benchmark::State& state) {
  const auto trace = make_trace(static_cast<int>(state.range(0)));
  std::string buffer;
  for (auto _ : state) {
    buffer.clear();
    trace.write_json(buffer);
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trace.event_history.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buffer.size()));
}
BENCHMARK(BM_WriteTraceReusedBuffer)->Arg(1000);

void BM_ReadTrace(benchmark::State& state) {
  const auto trace = make_trace(static_cast<int>(state.range(0)));
  const std::string json = trace.to_json();
  for (auto _ : state) {
    auto back = st::SessionTrace::from_json(json);
    benchmark::DoNotOptimize(back);
  }
  state.SetItemsProcessed(state.iterations() * static_cast<std::int64_t>(trace.event_history.size()));
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(json.size()));
}
BENCHMARK(BM_ReadTrace)->Arg(1000);

void BM_ValueDump(benchmark::State& state) {
  const st::Value v = {{"prompt", "You are in a room. Exits: north, east."}, {"tokens", 812}, {"ok", true},
                       {"history", {"a", "b", "c"}}};
  for (auto _ : state) benchmark::DoNotOptimize(v.dump());
}
BENCHMARK(BM_ValueDump);

}  // namespace
