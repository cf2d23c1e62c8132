// Instrumentation costs. Targets (issue 11, this 2-core machine, sinks attached): a complete
// ai_call scope with usage <= 300 ns; an environment_step scope with reward and a small
// observation <= 200 ns; wrapper overhead on a 10 us function <= 2%; (issue 4) disabled <= 5 ns;
// sampled out <= 20 ns. The recording benchmarks run bare and with the default sinks
// (bench_support.hpp).
#include <benchmark/benchmark.h>

#include <chrono>

#include <synth/tracing.hpp>

#include "bench_support.hpp"

namespace st = synth::tracing;
using synth_bench::ai_call_once;
using synth_bench::kPrompt;
using synth_bench::RotatingSession;
using synth_bench::Setup;

namespace {

void BM_AiCallScope(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), true, setup == Setup::sinks_kept_up ? &state : nullptr);
    for (auto _ : state) ai_call_once(session);
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_AiCallScope, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_AiCallScope, default_sinks, Setup::default_sinks);
BENCHMARK_CAPTURE(BM_AiCallScope, sinks_kept_up, Setup::sinks_kept_up);

// An environment step as an agent records it: open, action, a small observation, reward, record.
// Not inlined, so that callgrind counts its instructions per call (BENCHMARKS.md).
[[gnu::noinline]] void environment_step_once(RotatingSession& session, std::int64_t turn) {
  {
    auto step = st::environment_step("move", {.system_id = "gridworld"});
    step.action("north").observation({{"x", turn % 6}, {"y", 3}}).reward(turn % 10 == 9 ? 1.0 : 0.0);
  }
  session.next();
}

void BM_EnvironmentStepScope(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), true, setup == Setup::sinks_kept_up ? &state : nullptr);
    std::int64_t turn = 0;
    for (auto _ : state) environment_step_once(session, turn++);
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_EnvironmentStepScope, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_EnvironmentStepScope, default_sinks, Setup::default_sinks);
BENCHMARK_CAPTURE(BM_EnvironmentStepScope, sinks_kept_up, Setup::sinks_kept_up);

// Everything, including what happens when the session is assembled for the sinks: PII masking of
// the prompt and the cost lookup (done once per event, off the agent's thread in real use). Here
// all of it is timed on one thread, sessions of 1000 calls; a sink's own work is not included.
void BM_AiCallScopeIncludingMaskingAndCost(benchmark::State& state) {
  st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 1});
  std::int64_t n = 0;
  std::optional<st::SessionScope> session(tracer.start_session("bench-complete"));
  for (auto _ : state) {
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent"});
      call.request({{"prompt", kPrompt}}).usage({.prompt_tokens = 60, .completion_tokens = 12}).response({{"content", "north"}});
    }
    if (++n % 1000 == 0) {
      session.reset();
      const auto trace = tracer.get_session_trace("bench-complete");  // masks and prices the 1000 events
      benchmark::DoNotOptimize(trace);
      session.emplace(tracer.start_session("bench-complete"));
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

// 10 us of CPU work.
int work(int x) {
  static const synth_bench::BusyWork ten_microseconds(std::chrono::microseconds(10));
  ten_microseconds();
  return x + 1;
}

// In a run without a tracer (see BM_RolloutStepUntraced for why).
void BM_Plain10us(benchmark::State& state) {
  int x = 0;
  for (auto _ : state) x = work(x);
  benchmark::DoNotOptimize(x);
}
BENCHMARK(BM_Plain10us)->UseRealTime();

// The wrapped function, made once like an agent would; it records into the tracer of the
// session current where it is called.
auto traced_work = st::traced_runtime_operation("work", work);

// The two calls BM_Wrapped10us compares. Not inlined, so that callgrind counts the instructions
// of each per call (BENCHMARKS.md).
[[gnu::noinline]] int plain_call_once(int x) { return work(x); }
[[gnu::noinline]] int traced_call_once(RotatingSession& session, int x) {
  x = traced_work(x);
  session.next();
  return x;
}

// The wrapper around the 10 us function, each call next to one plain call (run_paired).
void BM_Wrapped10us(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), false);
    int x = 0;
    synth_bench::run_paired(
        state, [&] { x = plain_call_once(x); }, [&] { x = traced_call_once(session, x); },
        std::chrono::microseconds(10));
    benchmark::DoNotOptimize(x);
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_Wrapped10us, bare, Setup::bare)->UseManualTime();
BENCHMARK_CAPTURE(BM_Wrapped10us, default_sinks, Setup::default_sinks)->UseManualTime();

}  // namespace
