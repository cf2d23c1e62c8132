// Instrumentation costs. Targets (issue 4, this 2-core machine): a complete ai_call scope (usage,
// cost lookup, masking a 200-byte prompt, event recorded into a session) median <= 1 us;
// disabled <= 5 ns; sampled out <= 20 ns; wrapper overhead on a 10 us function <= 2%.
#include <benchmark/benchmark.h>

#include <chrono>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

namespace {

// A 200-byte prompt with one email address in it.
const std::string kPrompt =
    "You are at (2, 3) in a 6x6 grid. The treasure is at (5, 5). Walls block north and west. "
    "Reply to ops-team@example.com with JSON {\"action\": north|south|west|east} and a short reason ok";

st::SessionTracer& tracer() {
  static st::SessionTracer t(st::TracingConfig{.max_finished_sessions = 1});
  return t;
}

// The scope as an agent pays for it, on its own thread: open, request, usage, response, record.
void BM_AiCallScope(benchmark::State& state) {
  std::optional<st::SessionScope> session(tracer().start_session());
  std::optional<st::TimestepScope> step(tracer().timestep(0));
  std::int64_t n = 0;
  for (auto _ : state) {
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent"});
      call.request({{"prompt", kPrompt}}).usage({.prompt_tokens = 60, .completion_tokens = 12}).response({{"content", "north"}});
    }
    if (++n % 4096 == 0) {
      state.PauseTiming();
      step.reset();
      session.reset();
      session.emplace(tracer().start_session());
      step.emplace(tracer().timestep(0));
      state.ResumeTiming();
    }
  }
}
BENCHMARK(BM_AiCallScope);

// Everything, including what happens when the session is assembled for the sinks: PII masking of
// the prompt and the cost lookup (done once per event, off the agent's thread in real use). Here
// all of it is timed, sessions of 1000 calls.
void BM_AiCallScopeIncludingMaskingAndCost(benchmark::State& state) {
  std::int64_t n = 0;
  std::optional<st::SessionScope> session(tracer().start_session("bench-complete"));
  for (auto _ : state) {
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent"});
      call.request({{"prompt", kPrompt}}).usage({.prompt_tokens = 60, .completion_tokens = 12}).response({{"content", "north"}});
    }
    if (++n % 1000 == 0) {
      session.reset();
      const auto trace = tracer().get_session_trace("bench-complete");  // masks and prices the 1000 events
      benchmark::DoNotOptimize(trace);
      session.emplace(tracer().start_session("bench-complete"));
    }
  }
}
BENCHMARK(BM_AiCallScopeIncludingMaskingAndCost);

void BM_AiCallScopeDisabled(benchmark::State& state) {
  st::SessionTracer off(st::TracingConfig{.enabled = false});
  auto session = off.start_session("s");
  for (auto _ : state) {
    auto call = st::ai_call("chat", {.tracer = &off});
    benchmark::DoNotOptimize(&call);
  }
}
BENCHMARK(BM_AiCallScopeDisabled);

void BM_AiCallScopeSampledOut(benchmark::State& state) {
  st::SessionTracer sampled(st::TracingConfig{.sampling_rate = 0.0});
  auto session = sampled.start_session("s");
  for (auto _ : state) {
    auto call = st::ai_call("chat", {.tracer = &sampled});
    benchmark::DoNotOptimize(&call);
  }
}
BENCHMARK(BM_AiCallScopeSampledOut);

// About 10 us of work.
int work(int x) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(10);
  while (std::chrono::steady_clock::now() < until) benchmark::ClobberMemory();
  return x + 1;
}

void BM_Plain10us(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) x = work(x);
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_Plain10us);

void BM_Wrapped10us(benchmark::State& state) {
  auto traced = st::traced_runtime_operation("work", work);
  std::optional<st::SessionScope> session(tracer().start_session());
  int x = 0;
  std::int64_t n = 0;
  for (auto _ : state) {
    x = traced(x);
    if (++n % 4096 == 0) {
      state.PauseTiming();
      session.reset();
      session.emplace(tracer().start_session());
      state.ResumeTiming();
    }
  }
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_Wrapped10us);

}  // namespace
