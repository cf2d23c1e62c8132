// The headline benchmark (issue 11): one step of an RL-style loop as an agent runs it. A step is a
// policy call through ai_call (prompt, answer, usage), a tool check through runtime_operation and
// an environment step through environment_step (action, observation, reward), in a timestep,
// around 20 us of simulated work (policy 12 us, tool 2 us, environment 6 us); episodes (sessions)
// of 100 steps. BM_RolloutStep/default_sinks is the figure users get: the default configuration
// with the DuckDB and JSON file sinks on; BM_RolloutStep/bare is the tracer without sinks.
//
// Every iteration runs the step once untraced and once traced (run_paired): `tracing_ns` is what
// tracing adds per step, `tracing_pct` that as a share of the 20 us step. BM_RolloutStepUntraced
// runs the step in a run without a tracer.
#include <benchmark/benchmark.h>

#include <chrono>
#include <optional>
#include <string>

#include <synth/tracing.hpp>

#include "bench_support.hpp"

namespace st = synth::tracing;
using namespace std::chrono_literals;
using synth_bench::Setup;

namespace {

constexpr std::chrono::microseconds kStep = 20us;
constexpr int kStepsPerEpisode = 100;

const synth_bench::BusyWork policy_work(12us);
const synth_bench::BusyWork tool_work(2us);
const synth_bench::BusyWork environment_work(6us);

using synth_bench::kPrompt;
const std::string kAnswer = R"({"action": "north", "reason": "toward the treasure"})";

// The step without tracing. Not inlined (nor the traced one), so that callgrind counts the
// instructions of each per call (BENCHMARKS.md).
[[gnu::noinline]] void untraced_step() {
  policy_work();
  tool_work();
  environment_work();
}

struct Episode {
  st::SessionTracer& tracer;
  std::optional<st::SessionScope> session;
  int turn = 0;
};

// The same step traced; starts and ends the episode's session on its first and last step.
[[gnu::noinline]] void traced_step(Episode& episode) {
  if (!episode.session) {
    episode.session.emplace(episode.tracer.start_session({}, {{"env", "gridworld"}, {"policy", "gpt-4o-mini"}}));
  }
  const int turn = episode.turn++;
  {
    auto step = episode.tracer.timestep(turn);
    {
      auto call = st::ai_call("policy", {.model = "gpt-4o-mini", .system_id = "agent"});
      call.request({{"prompt", kPrompt}});
      policy_work();
      call.response({{"content", kAnswer}}).usage({.prompt_tokens = 60, .completion_tokens = 14});
    }
    {
      auto tool = st::runtime_operation("tool.check_move");
      tool.actions({{"check", "north"}});
      tool_work();
    }
    {
      auto environment = st::environment_step("move", {.system_id = "gridworld"});
      environment.action("north");
      environment_work();
      environment.observation({{"x", turn % 6}, {"y", 3}})
          .reward(turn % 10 == 9 ? 1.0 : 0.0)
          .terminated(turn + 1 == kStepsPerEpisode);
    }
  }
  if (episode.turn == kStepsPerEpisode) {
    episode.session.reset();
    episode.turn = 0;
  }
}

void BM_RolloutStep(benchmark::State& state, Setup setup) {
  const auto bench = synth_bench::run_tracer(setup);
  {
    Episode episode{bench->tracer()};
    synth_bench::run_paired(state, untraced_step, [&] { traced_step(episode); }, kStep);
  }
  bench->report(state);
  bench->report_sink_cpu(state);
}
BENCHMARK_CAPTURE(BM_RolloutStep, default_sinks, Setup::default_sinks)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RolloutStep, no_checkpoint, Setup::no_checkpoint)->UseManualTime()->Unit(benchmark::kMicrosecond);
BENCHMARK_CAPTURE(BM_RolloutStep, bare, Setup::bare)->UseManualTime()->Unit(benchmark::kMicrosecond);

// The step alone, in a run without any tracer: on one core (taskset) the sinks' thread takes its
// share of the core during the untraced halves of the runs above too, so there the cost of
// tracing is the traced time minus this one.
void BM_RolloutStepUntraced(benchmark::State& state) {
  for (auto _ : state) untraced_step();
}
BENCHMARK(BM_RolloutStepUntraced)->Unit(benchmark::kMicrosecond)->UseRealTime();

}  // namespace
