// Hot-path costs of SessionTracer. Targets (issue 2, this 2-core machine):
//   add_event of a CAISEvent with 4 scalar fields + 2-key metadata: median <= 150 ns, and with
//   2 threads each in its own session <= 2x that; disabled tracer <= 5 ns; context capture +
//   attach <= 100 ns. The recording benchmarks run bare and with the default sinks
//   (bench_support.hpp).
#include <benchmark/benchmark.h>

#include <synth/tracing.hpp>

#include "bench_support.hpp"

namespace st = synth::tracing;
using synth_bench::RotatingSession;
using synth_bench::Setup;

namespace {

// The event the targets name: 4 scalar fields and a 2-key metadata object.
st::CAISEvent make_event(std::int64_t i) {
  return st::CAISEvent{.system_instance_id = "agent",
                       .model_name = "gpt-4o-mini",
                       .prompt_tokens = i,
                       .completion_tokens = 42,
                       .metadata = {{"provider", "openai"}, {"attempt", 1}}};
}

void BM_ConstructEvent(benchmark::State& state) {
  std::int64_t i = 0;
  for (auto _ : state) {
    auto e = make_event(i++);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_ConstructEvent)->Threads(1)->Threads(2)->UseRealTime();

// Construct the event and record it: what an agent pays per call. Not inlined, so that callgrind
// counts its instructions per call (BENCHMARKS.md).
[[gnu::noinline]] void add_event_once(st::SessionTracer& tracer, RotatingSession& session, std::int64_t i) {
  tracer.add_event(make_event(i));
  session.next();
}

void BM_AddEvent(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), true);
    std::int64_t i = 0;
    for (auto _ : state) add_event_once(bench->tracer(), session, i++);
  }
  state.SetItemsProcessed(state.iterations());
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_AddEvent, bare, Setup::bare)->Threads(1)->Threads(2)->UseRealTime();
BENCHMARK_CAPTURE(BM_AddEvent, default_sinks, Setup::default_sinks)->Threads(1)->Threads(2)->UseRealTime();

// The same outside a timestep: one copy fewer (history only).
void BM_AddEventNoTimestep(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), false);
    std::int64_t i = 0;
    for (auto _ : state) {
      bench->tracer().add_event(make_event(i++));
      session.next();
    }
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_AddEventNoTimestep, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_AddEventNoTimestep, default_sinks, Setup::default_sinks);

void BM_AddMessage(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), true);
    std::int64_t i = 0;
    for (auto _ : state) {
      bench->tracer().add_message(st::make_message("env", {{"obs", "door"}, {"hp", i++}}, "observation", 0));
      session.next();
    }
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_AddMessage, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_AddMessage, default_sinks, Setup::default_sinks);

void BM_DisabledAddEvent(benchmark::State& state) {
  st::SessionTracer tracer(st::TracingConfig{.enabled = false});
  auto session = tracer.start_session("s");
  const st::CAISEvent event = make_event(1);
  for (auto _ : state) {
    tracer.add_event(event);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DisabledAddEvent);

void BM_DisabledSessionTimestepEvent(benchmark::State& state) {
  st::SessionTracer tracer(st::TracingConfig{.enabled = false});
  const st::CAISEvent event = make_event(1);
  for (auto _ : state) {
    auto session = tracer.start_session("s");
    auto step = tracer.timestep(0);
    tracer.add_event(event);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_DisabledSessionTimestepEvent);

// A session sampled out by TracingConfig::sampling_rate: target <= 20 ns per call.
void BM_SampledOutAddEvent(benchmark::State& state) {
  st::SessionTracer tracer(st::TracingConfig{.sampling_rate = 0.0});
  auto session = tracer.start_session("sampled-out");
  const st::CAISEvent event = make_event(1);
  for (auto _ : state) {
    tracer.add_event(event);
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_SampledOutAddEvent);

void BM_ContextCaptureAndAttach(benchmark::State& state) {
  st::SessionTracer tracer;
  auto session = tracer.start_session("s");
  auto step = tracer.timestep(0);
  for (auto _ : state) {
    const st::Context ctx = tracer.current_context();
    st::ContextScope attach(ctx);
    benchmark::DoNotOptimize(&attach);
  }
}
BENCHMARK(BM_ContextCaptureAndAttach);

void BM_TimestepOpenClose(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    RotatingSession session(bench->tracer(), false);
    std::int64_t i = 0;
    for (auto _ : state) {
      auto step = bench->tracer().timestep(i++);
      session.next();
    }
  }
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_TimestepOpenClose, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_TimestepOpenClose, default_sinks, Setup::default_sinks);

// A whole small session: start, 10 timesteps of 3 events, end.
void BM_SessionOf30Events(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  st::SessionTracer& tracer = bench->tracer();
  std::int64_t i = 0;
  for (auto _ : state) {
    auto session = tracer.start_session();
    for (int t = 0; t < 10; ++t) {
      auto step = tracer.timestep(t);
      for (int e = 0; e < 3; ++e) tracer.add_event(make_event(i++));
    }
  }
  state.SetItemsProcessed(state.iterations() * 30);
  bench->report(state);
}
BENCHMARK_CAPTURE(BM_SessionOf30Events, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_SessionOf30Events, default_sinks, Setup::default_sinks);

}  // namespace
