// synth-trace demo: a self-contained traced agent. Each turn the agent asks a policy model for
// an action (an LLM-shaped call with prompt, response, tokens, cost and latency) and steps a
// grid world; the instrumentation scopes trace everything into the DuckDB database. The model is a built-in,
// deterministic, offline policy ("synth-demo-policy"), labelled as such in the traces.
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <thread>

#include <synth/tracing.hpp>

#include "cli.hpp"
#include "gridworld.hpp"

namespace synth_trace {

namespace {

constexpr const char* kModel = "synth-demo-policy";
constexpr const char* kProvider = "synth-demo";
// Illustrative prices (USD per token), in the range of small hosted models, so that the demo's
// cost columns mean something. The built-in policy itself costs nothing.
constexpr double kInputPrice = 0.15e-6;
constexpr double kOutputPrice = 0.60e-6;
constexpr int kMaxTurns = 40;

// About four characters per token for English and JSON, as tokenizers of current models give.
std::int64_t estimate_tokens(std::string_view text) { return static_cast<std::int64_t>((text.size() + 3) / 4) + 4; }

std::string describe(const st::Value& obs) {
  const auto& p = obs["position"];
  const auto& g = obs["goal"];
  std::string blocked;
  for (const auto& [direction, is_blocked] : obs["blocked"].as_object()) {
    if (is_blocked.as_bool()) blocked += (blocked.empty() ? "" : ", ") + direction;
  }
  return "You are at (" + std::to_string(p[0].as_int()) + ", " + std::to_string(p[1].as_int()) +
         "). The treasure is at (" + std::to_string(g[0].as_int()) + ", " + std::to_string(g[1].as_int()) +
         "). Blocked directions: " + (blocked.empty() ? "none" : blocked) +
         ". Reply with JSON {\"action\": north|south|west|east, \"reasoning\": ...}.";
}

struct Episode {
  std::string session_id;
  int steps = 0;
  double reward = 0;
  bool reached = false;
};

Episode run_episode(st::SessionTracer& tracer, const std::string& id, unsigned seed) {
  std::mt19937 rng(seed);
  gridworld::GridWorld env(6, rng);
  Episode e{id};
  auto session = tracer.start_session(id, {{"environment", "gridworld-6x6"},
                                           {"policy", kModel},
                                           {"policy_note", "built-in offline policy, not an LLM"},
                                           {"seed", seed}});
  const std::string system_prompt =
      "You are an agent in a 6x6 grid world looking for a treasure. Walls block some moves. "
      "Each move costs a little reward; finding the treasure gives +1.";
  for (int turn = 0; turn < kMaxTurns && !e.reached; ++turn) {
    auto step = tracer.timestep(turn);
    const st::Value obs = env.observe();
    tracer.add_message(st::make_message("gridworld", obs, "observation", turn));

    // The policy decision, traced like any LLM call.
    std::string action;
    {
      const std::string user_prompt = describe(obs);
      auto call = st::ai_call("chat", {.model = kModel, .system_id = "agent", .provider = kProvider});
      call.request({{"messages", {{{"role", "system"}, {"content", system_prompt}}, {{"role", "user"}, {"content", user_prompt}}}},
                    {"model", kModel},
                    {"temperature", 0.0}});
      auto [chosen, reasoning] = gridworld::scripted_policy(obs, rng);
      const std::string response = st::Value{{"action", chosen}, {"reasoning", reasoning}}.dump();
      const std::int64_t prompt_tokens = estimate_tokens(system_prompt) + estimate_tokens(user_prompt);
      const std::int64_t completion_tokens = estimate_tokens(response);
      call.response({{"content", response}, {"finish_reason", "stop"}})
          .usage({.prompt_tokens = prompt_tokens, .completion_tokens = completion_tokens})
          .cost(std::round((static_cast<double>(prompt_tokens) * kInputPrice +
                            static_cast<double>(completion_tokens) * kOutputPrice) * 1e9) / 1e9)
          .set("policy_note", "built-in offline policy, not an LLM; prices illustrative");
      action = chosen;
    }
    tracer.add_message(st::make_message("agent", {{"action", action}}, "action", turn));
    {
      auto check = st::runtime_operation("validate_action", {.system_id = "action_validator"});
      check.actions({action}).success(true);
    }
    auto move = st::environment_step("move", {.system_id = "gridworld"});
    const auto before = env.position();
    const auto result = env.step(action);
    const auto after = env.position();
    e.steps = turn + 1;
    e.reward += result.reward;
    e.reached = result.terminated;
    move.action(action)
        .state_before({{"position", {before[0], before[1]}}})
        .state_after({{"position", {after[0], after[1]}}})
        .reward(result.reward)
        .terminated(result.terminated)
        .truncated(!result.terminated && turn + 1 == kMaxTurns)
        .observation_diff(result.bumped ? st::Value{{"bumped", true}} : st::Value{{"position", {after[0], after[1]}}});
  }
  tracer.add_session_metadata("outcome", {{"reached_goal", e.reached}, {"steps", e.steps}, {"total_reward", e.reward}});
  return e;
}

std::string run_stamp() {
  std::string s = st::format_timestamp(st::now()).substr(0, 19);  // 2025-01-01T10:00:01
  std::erase(s, '-');
  std::erase(s, ':');
  return s;
}

}  // namespace

int run_demo(const std::filesystem::path& db, const DemoOptions& options) {
  auto sink = std::make_shared<st::DuckDBSink>(db);
  st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 0});
  tracer.add_sink(sink);

  std::cout << "synth-trace demo: " << options.episodes << " episodes of a 6x6 grid-world treasure hunt\n"
            << "policy: " << kModel << " (built-in, deterministic, offline; not an LLM)\n"
            << "database: " << db.string() << "\n\n";

  const std::string stamp = run_stamp();
  std::vector<Episode> episodes(static_cast<std::size_t>(options.episodes));
  const auto started = std::chrono::steady_clock::now();
  {
    std::vector<std::thread> workers;
    std::mutex error_mutex;
    std::string error;
    for (int t = 0; t < std::min(options.threads, options.episodes); ++t) {
      workers.emplace_back([&, t] {
        try {
          for (int i = t; i < options.episodes; i += options.threads) {
            episodes[static_cast<std::size_t>(i)] =
                run_episode(tracer, "demo-" + stamp + "-" + std::to_string(i), options.seed + static_cast<unsigned>(i));
          }
        } catch (const std::exception& ex) {
          std::lock_guard lock(error_mutex);
          error = ex.what();
        }
      });
    }
    for (auto& w : workers) w.join();
    if (!error.empty()) throw st::Error("demo episode failed: " + error);
  }
  if (!tracer.flush()) throw st::Error("the database did not finish storing the sessions within 30 s");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const st::TracerStats stats = tracer.stats();
  if (stats.sink_errors > 0 || stats.sessions_dropped > 0) {
    throw st::Error("storing the traces failed (" + std::to_string(stats.sink_errors) + " errors, " +
                    std::to_string(stats.sessions_dropped) + " sessions dropped); see the messages above");
  }

  std::vector<std::string> ids;
  for (const auto& e : episodes) ids.push_back(e.session_id);
  std::string in_list;
  std::vector<st::Value> params;
  for (const auto& id : ids) {
    in_list += in_list.empty() ? "?" : ", ?";
    params.emplace_back(id);
  }
  st::DuckDBTraceManager& store = sink->manager();
  const st::QueryResult per_session = store.query(
      "SELECT s.session_id, s.num_timesteps AS steps, s.num_events AS events, s.num_messages AS messages, "
      "s.total_tokens_used AS tokens, ROUND(s.total_cost, 6) AS cost_usd, ROUND(s.total_reward, 2) AS reward "
      "FROM session_summary s WHERE s.session_id IN (" + in_list + ") ORDER BY s.session_id",
      params);
  std::cout << per_session.to_table() << "\n";
  const st::QueryResult totals = store.query(
      "SELECT COUNT(*) AS sessions, SUM(num_timesteps) AS steps, SUM(num_events) AS events, "
      "SUM(num_messages) AS messages, SUM(total_tokens_used) AS tokens, ROUND(SUM(total_cost), 6) AS cost_usd, "
      "ROUND(SUM(total_reward), 2) AS reward FROM session_summary WHERE session_id IN (" + in_list + ")",
      params);
  std::cout << totals.to_table();
  int reached = 0;
  for (const auto& e : episodes) reached += e.reached ? 1 : 0;
  std::cout << "\n" << reached << " of " << options.episodes << " episodes found the treasure; traced and stored in "
            << std::lround(seconds * 1000) << " ms.\n\n"
            << "Try next:\n"
            << "  synth-trace --db " << db.string() << " sessions\n"
            << "  synth-trace --db " << db.string() << " show " << ids.front() << "\n"
            << "  synth-trace --db " << db.string() << " stats\n"
            << "  synth-trace --db " << db.string()
            << " query \"SELECT event_type, COUNT(*) AS n FROM events GROUP BY ALL ORDER BY n DESC\"\n"
            << "  synth-trace --db " << db.string() << " finetune-export --out demo.jsonl\n";
  return kOk;
}

}  // namespace synth_trace
