// Hot-path costs of SessionTracer. Targets (issue 2, this 2-core machine):
//   add_event of a CAISEvent with 4 scalar fields + 2-key metadata: median <= 150 ns, and with
//   2 threads each in its own session <= 2x that; disabled tracer <= 5 ns; context capture +
//   attach <= 100 ns.
#include <benchmark/benchmark.h>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

namespace {

// The event the targets name: 4 scalar fields and a 2-key metadata object.
st::CAISEvent make_event(std::int64_t i) {
  return st::CAISEvent{.system_instance_id = "agent",
                       .model_name = "gpt-4o-mini",
                       .prompt_tokens = i,
                       .completion_tokens = 42,
                       .metadata = {{"provider", "openai"}, {"attempt", 1}}};
}

st::SessionTracer& shared_tracer() {
  static st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 0});
  return tracer;
}

// Keeps a session (and, if asked, a timestep) open on this thread, replacing it every 4096 calls
// to next() so memory stays bounded; the replacement is outside the timed region.
class RotatingSession {
 public:
  RotatingSession(benchmark::State& state, bool with_timestep) : state_(state), with_timestep_(with_timestep) {
    open();
  }
  void next() {
    if (++count_ % 4096 != 0) return;
    state_.PauseTiming();
    step_.reset();
    session_.reset();
    open();
    state_.ResumeTiming();
  }

 private:
  void open() {
    session_.emplace(shared_tracer().start_session());
    if (with_timestep_) step_.emplace(shared_tracer().timestep(0));
  }
  benchmark::State& state_;
  const bool with_timestep_;
  std::int64_t count_ = 0;
  std::optional<st::SessionScope> session_;
  std::optional<st::TimestepScope> step_;
};

void BM_ConstructEvent(benchmark::State& state) {
  std::int64_t i = 0;
  for (auto _ : state) {
    auto e = make_event(i++);
    benchmark::DoNotOptimize(e);
  }
}
BENCHMARK(BM_ConstructEvent)->Threads(1)->Threads(2)->UseRealTime();

// Construct the event and record it: what an agent pays per call.
void BM_AddEvent(benchmark::State& state) {
  st::SessionTracer& tracer = shared_tracer();
  RotatingSession session(state, true);
  std::int64_t i = 0;
  for (auto _ : state) {
    tracer.add_event(make_event(i++));
    session.next();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AddEvent)->Threads(1)->Threads(2)->UseRealTime();

// The same outside a timestep: one copy fewer (history only).
void BM_AddEventNoTimestep(benchmark::State& state) {
  st::SessionTracer& tracer = shared_tracer();
  RotatingSession session(state, false);
  std::int64_t i = 0;
  for (auto _ : state) {
    tracer.add_event(make_event(i++));
    session.next();
  }
}
BENCHMARK(BM_AddEventNoTimestep);

void BM_AddMessage(benchmark::State& state) {
  st::SessionTracer& tracer = shared_tracer();
  RotatingSession session(state, true);
  std::int64_t i = 0;
  for (auto _ : state) {
    tracer.add_message(st::make_message("env", {{"obs", "door"}, {"hp", i++}}, "observation", 0));
    session.next();
  }
}
BENCHMARK(BM_AddMessage);

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

void BM_TimestepOpenClose(benchmark::State& state) {
  st::SessionTracer& tracer = shared_tracer();
  RotatingSession session(state, false);
  std::int64_t i = 0;
  for (auto _ : state) {
    auto step = tracer.timestep(i++);
    session.next();
  }
}
BENCHMARK(BM_TimestepOpenClose);

// A whole small session: start, 10 timesteps of 3 events, end (no sinks).
void BM_SessionOf30Events(benchmark::State& state) {
  st::SessionTracer& tracer = shared_tracer();
  std::int64_t i = 0;
  for (auto _ : state) {
    auto session = tracer.start_session();
    for (int t = 0; t < 10; ++t) {
      auto step = tracer.timestep(t);
      for (int e = 0; e < 3; ++e) tracer.add_event(make_event(i++));
    }
  }
  state.SetItemsProcessed(state.iterations() * 30);
}
BENCHMARK(BM_SessionOf30Events);

}  // namespace
