// A small agent loop traced end to end: a grid-world environment, a scripted policy (not an
// LLM), episodes run on several threads through one tracer, each episode a session, each turn
// a timestep with an observation, a policy decision, an action check and an environment step.
// Traces are written as JSON files; a summary is printed and one file is read back.
//
//   agent_loop [--episodes N] [--threads T] [--out DIR] [--seed S]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <synth/tracing.hpp>

#include "gridworld.hpp"

namespace st = synth::tracing;

namespace {

struct Options {
  int episodes = 6;
  int threads = 2;
  std::string out = "traces";
  unsigned seed = 7;
};

struct EpisodeSummary {
  std::string id;
  int steps = 0;
  double reward = 0;
  bool reached = false;
};

EpisodeSummary run_episode(st::SessionTracer& tracer, int index, unsigned seed) {
  constexpr int kMaxSteps = 40;
  std::mt19937 rng(seed + static_cast<unsigned>(index));
  gridworld::GridWorld env(6, rng);
  EpisodeSummary summary{"episode-" + std::to_string(index)};
  auto session = tracer.start_session(summary.id, {{"environment", "gridworld-6x6"},
                                                   {"policy", "scripted"},
                                                   {"seed", seed + static_cast<unsigned>(index)}});
  for (int turn = 0; turn < kMaxSteps && !summary.reached; ++turn) {
    auto step = tracer.timestep(turn);
    const st::Value obs = env.observe();
    tracer.add_message(st::make_message("gridworld", obs, "observation", turn));

    const auto started = std::chrono::steady_clock::now();
    auto [action, why] = gridworld::scripted_policy(obs, rng);
    const double latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    tracer.add_event(st::CAISEvent{.system_instance_id = "agent",
                                   .system_state_before = {{"observation", obs}},
                                   .system_state_after = {{"action", action}, {"reasoning", why}},
                                   .model_name = "scripted-policy",
                                   .provider = "local",
                                   .latency_ms = latency_ms,
                                   .metadata = {{"note", "scripted policy, not an LLM: no tokens or cost"}}});
    tracer.add_message(st::make_message("agent", {{"action", action}}, "action", turn));

    tracer.add_event(st::RuntimeEvent{.system_instance_id = "action_validator",
                                      .actions = {action},
                                      .metadata = {{"valid", true}}});

    const auto before = env.position();
    const auto result = env.step(action);
    const auto after = env.position();
    summary.steps = turn + 1;
    summary.reward += result.reward;
    summary.reached = result.terminated;
    tracer.add_event(st::EnvironmentEvent{
        .system_instance_id = "gridworld",
        .system_state_before = {{"position", {before[0], before[1]}}},
        .system_state_after = {{"position", {after[0], after[1]}}},
        .reward = result.reward,
        .terminated = result.terminated,
        .truncated = !result.terminated && turn + 1 == kMaxSteps,
        .observation_diff = result.bumped ? st::Value{{"bumped", true}} : st::Value{{"position", {after[0], after[1]}}},
    });
  }
  tracer.add_session_metadata("outcome", {{"reached_goal", summary.reached}, {"steps", summary.steps},
                                          {"total_reward", summary.reward}});
  return summary;
}

Options parse_args(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "agent_loop: " << arg << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (arg == "--episodes") {
        o.episodes = std::stoi(next());
      } else if (arg == "--threads") {
        o.threads = std::max(1, std::stoi(next()));
      } else if (arg == "--out") {
        o.out = next();
      } else if (arg == "--seed") {
        o.seed = static_cast<unsigned>(std::stoul(next()));
      } else if (arg == "--help" || arg == "-h") {
        std::cout << "usage: agent_loop [--episodes N] [--threads T] [--out DIR] [--seed S]\n";
        std::exit(0);
      } else {
        std::cerr << "agent_loop: unknown option " << arg << " (try --help)\n";
        std::exit(2);
      }
    } catch (const std::logic_error&) {
      std::cerr << "agent_loop: " << arg << " needs a number\n";
      std::exit(2);
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options opt = parse_args(argc, argv);
  std::cout << "synth-tracing " << st::kVersion << " demo: " << opt.episodes
            << " episodes of a 6x6 grid world, scripted policy (no LLM), " << opt.threads << " threads\n\n";

  std::vector<EpisodeSummary> summaries(static_cast<std::size_t>(opt.episodes));
  st::TracerStats stats;
  const auto started = std::chrono::steady_clock::now();
  try {
    st::SessionTracer tracer(st::TracingConfig{.save_dir = opt.out});
    std::vector<std::thread> workers;
    for (int t = 0; t < opt.threads; ++t) {
      workers.emplace_back([&, t] {
        for (int e = t; e < opt.episodes; e += opt.threads) {
          summaries[static_cast<std::size_t>(e)] = run_episode(tracer, e, opt.seed);
        }
      });
    }
    for (auto& w : workers) w.join();
    tracer.flush();
    stats = tracer.stats();
  } catch (const st::Error& e) {
    std::cerr << "agent_loop: " << e.what() << "\n";
    return 1;
  }
  const double elapsed_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();

  std::printf("%-12s %6s %8s  %-8s\n", "session", "steps", "reward", "outcome");
  for (const auto& s : summaries) {
    std::printf("%-12s %6d %8.2f  %-8s\n", s.id.c_str(), s.steps, s.reward, s.reached ? "reached" : "timeout");
  }
  std::printf("\nrecorded %llu sessions, %llu events, %llu messages in %.1f ms; %llu sink errors\n",
              static_cast<unsigned long long>(stats.sessions_ended),
              static_cast<unsigned long long>(stats.events_recorded),
              static_cast<unsigned long long>(stats.messages_recorded), elapsed_ms,
              static_cast<unsigned long long>(stats.sink_errors));

  // Read one trace back from disk, as any later analysis would.
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(opt.out)) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  std::printf("trace files in %s/: %zu\n", opt.out.c_str(), files.size());
  if (!files.empty()) {
    try {
      const auto trace = st::SessionTrace::read_file(files.back());
      std::printf("read back %s: session %s, %zu timesteps, %zu events, %zu messages\n",
                  files.back().filename().c_str(), trace.session_id.c_str(), trace.session_time_steps.size(),
                  trace.event_history.size(), trace.message_history.size());
    } catch (const st::TraceFormatError& e) {
      std::cerr << "agent_loop: " << e.what() << "\n";
      return 1;
    }
  }
  return stats.sink_errors == 0 ? 0 : 1;
}
