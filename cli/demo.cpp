// synth-trace demo: a self-contained traced agent. Each turn the agent asks a policy model for
// an action through the LM client (synth/tracing/lm.hpp), which traces the call, and steps a
// grid world; everything is traced into the DuckDB database, or sent to the synth-trace serve that
// owns it (the viewer then shows the episodes as they are stored). By default the model is a built-in,
// deterministic, offline policy ("synth-demo-policy", provider "offline": an in-process model
// of the LM client), labelled as such in the output and the traces. With SYNTH_DEMO_MODEL (and
// optionally SYNTH_DEMO_PROVIDER, SYNTH_DEMO_BASE_URL, the provider's usual key variable) the
// decisions come from that real model instead.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include <synth/tracing.hpp>
#include <synth/tracing/lm.hpp>

#include "cli.hpp"
#include "gridworld.hpp"

namespace synth_trace {

namespace {

constexpr const char* kModel = "synth-demo-policy";
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

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::string(v) : std::string();
}

// The model the demo asks: a real one when SYNTH_DEMO_MODEL or SYNTH_DEMO_BASE_URL is set,
// otherwise the built-in offline policy.
struct PolicyModel {
  std::string model = kModel;
  std::string provider;
  std::string base_url;
  bool offline() const { return base_url.empty() && model == kModel && provider.empty(); }

  static PolicyModel from_environment() {
    PolicyModel m;
    m.base_url = env_or_empty("SYNTH_DEMO_BASE_URL");
    m.provider = env_or_empty("SYNTH_DEMO_PROVIDER");
    if (std::string model = env_or_empty("SYNTH_DEMO_MODEL"); !model.empty()) m.model = std::move(model);
    return m;
  }
};

// The offline policy as an in-process model of the LM client: the scripted policy decides from
// the observation; text, tokens and (illustrative) cost are what an LLM call would report.
st::LMResponse offline_answer(const st::Value& obs, std::mt19937& rng, const st::LMRequest& request) {
  auto [chosen, reasoning] = gridworld::scripted_policy(obs, rng);
  st::LMResponse r;
  r.text = st::Value{{"action", chosen}, {"reasoning", reasoning}}.dump();
  std::int64_t prompt_tokens = 0;
  for (const auto& m : request.messages) prompt_tokens += estimate_tokens(m.content);
  const std::int64_t completion_tokens = estimate_tokens(r.text);
  r.usage = {.prompt_tokens = prompt_tokens, .completion_tokens = completion_tokens};
  r.cost = std::round((static_cast<double>(prompt_tokens) * kInputPrice +
                       static_cast<double>(completion_tokens) * kOutputPrice) * 1e9) / 1e9;
  r.finish_reason = "stop";
  return r;
}

// The action in a model's answer ({"action": ...}), or "" when it names none of the four.
std::string action_of(const std::string& text) {
  const auto start = text.find('{');
  const auto end = text.rfind('}');
  if (start == std::string::npos || end == std::string::npos || end < start) return {};
  try {
    const st::Value v = st::Value::parse(std::string_view(text).substr(start, end - start + 1));
    if (v["action"].is_string()) {
      const std::string& a = v["action"].as_string();
      if (a == "north" || a == "south" || a == "west" || a == "east") return a;
    }
  } catch (const std::exception&) {
  }
  return {};
}

struct Episode {
  std::string session_id;
  int steps = 0;
  double reward = 0;
  bool reached = false;
};

Episode run_episode(st::SessionTracer& tracer, const PolicyModel& policy, const std::string& id, unsigned seed) {
  std::mt19937 rng(seed);
  gridworld::GridWorld env(6, rng);
  Episode e{id};
  st::Value obs;
  st::LMOptions lm_options{.model = policy.model,
                           .provider = policy.provider,
                           .temperature = 0.0,
                           .max_tokens = 200,
                           .base_url = policy.base_url,
                           .session_tracer = &tracer,
                           .system_id = "agent"};
  if (policy.offline()) {
    lm_options.in_process_model = [&obs, &rng](const st::LMRequest& request) { return offline_answer(obs, rng, request); };
  }
  st::LM lm(std::move(lm_options));
  auto session = tracer.start_session(id, {{"environment", "gridworld-6x6"},
                                           {"policy", policy.model},
                                           {"policy_provider", lm.provider()},
                                           {"policy_note", policy.offline() ? "built-in offline policy, not an LLM"
                                                                            : "a real model through the LM client"},
                                           {"seed", seed}});
  const std::string system_prompt =
      "You are an agent in a 6x6 grid world looking for a treasure. Walls block some moves. "
      "Each move costs a little reward; finding the treasure gives +1.";
  for (int turn = 0; turn < kMaxTurns && !e.reached; ++turn) {
    auto step = tracer.timestep(turn);
    obs = env.observe();
    tracer.add_message(st::make_message("gridworld", obs, "observation", turn));

    // The policy decision: an LLM call through the LM client, which traces it.
    const st::LMResponse answer = lm.generate({st::Message::system(system_prompt), st::Message::user(describe(obs))},
                                              {.json = st::JsonOutput{}});
    std::string action = action_of(answer.text);
    if (action.empty()) action = gridworld::scripted_policy(obs, rng).first;  // an unusable answer: explore
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

// To the millisecond: two runs in the same second (a script, a test) must not share session ids,
// or the second run's sessions would be skipped as stored.
std::string run_stamp() {
  std::string s = st::format_timestamp(st::now()).substr(0, 23);  // 2025-01-01T10:00:01.234
  std::erase(s, '-');
  std::erase(s, ':');
  std::erase(s, '.');
  return s;
}

// Sessions recorded faster than the database stores them wait in the spill on disk. The wait
// lasts as long as the database makes progress (however many sessions are left), saying how far
// it is; it gives up only when a minute passes without one session stored.
void wait_until_stored(st::SessionTracer& tracer) {
  constexpr auto kStall = std::chrono::minutes(1);
  std::uint64_t pending = tracer.stats().sessions_pending;
  auto last_progress = std::chrono::steady_clock::now();
  while (!tracer.flush(std::chrono::seconds(10))) {
    const std::uint64_t now_pending = tracer.stats().sessions_pending;
    const auto now = std::chrono::steady_clock::now();
    if (now_pending < pending) {
      pending = now_pending;
      last_progress = now;
      std::cerr << "synth-trace demo: " << pending << " sessions still to store (waiting in the spill on disk)\n";
    } else if (now - last_progress >= kStall) {
      throw st::Error("the database stored no session for a minute with " + std::to_string(now_pending) +
                      " sessions left; they stay in the spill on disk, and `synth-trace recover` stores them later");
    }
  }
}

}  // namespace

int run_demo(const Target& target, const DemoOptions& options) {
  const std::filesystem::path& db = target.db;
  const PolicyModel policy = PolicyModel::from_environment();
  // Beside a server that owns the file (or the one --server names), the sessions go to it, as the
  // library's DuckDB sink sends them, and the summary is read through it. The token is --token's,
  // else the configuration's collector_token (the sink's); a server that refuses it, or does not
  // answer, fails here, before the episodes.
  const std::optional<std::string> server = server_of(target);
  Target via = target;
  std::unique_ptr<TraceStore> through_server;
  std::shared_ptr<st::DuckDBSink> file_sink;
  std::shared_ptr<st::CollectorSink> server_sink;
  std::shared_ptr<st::SessionSink> sink;
  if (server) {
    st::CollectorOptions collector = st::CollectorOptions::from_config(st::TracingConfig{}.load());
    collector.url = *server;
    if (via.token.empty()) via.token = collector.token;
    collector.token = via.token;
    through_server = open_for_reading(via);
    through_server->query("SELECT 1");
    server_sink = std::make_shared<st::CollectorSink>(std::move(collector));
    sink = server_sink;
  } else {
    file_sink = std::make_shared<st::DuckDBSink>(db);
    sink = file_sink;
  }
  // How the commands after it reach the same sessions.
  const std::string where = target.server ? "--server " + *target.server : "--db " + db.string();
  // The episodes run far faster than a disk stores them, so the sink queue overflows to the
  // spill; the demo prefers waiting for the spill's writer (even through seconds of disk stalls
  // under load) to ever dropping a session: its threads wait up to a minute, not the library's 5 s.
  st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 0, .overflow_timeout_ms = 60000});
  tracer.add_sink(sink);

  std::cout << "synth-trace demo: " << options.episodes << " episodes of a 6x6 grid-world treasure hunt\n"
            << "policy: "
            << (policy.offline() ? std::string(kModel) + " (built-in, deterministic, offline; not an LLM), through the LM client"
                                 : policy.model + " through the LM client (" +
                                       (policy.base_url.empty() ? std::string("provider's public endpoint") : policy.base_url) + ")")
            << "\n"
            << "database: "
            << (!server          ? db.string()
                : target.server ? "the one of the synth-trace serve at " + *server
                                 : db.string() + ", through the synth-trace serve at " + *server + " that owns it")
            << "\n\n";

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
                run_episode(tracer, policy, "demo-" + stamp + "-" + std::to_string(i), options.seed + static_cast<unsigned>(i));
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
  wait_until_stored(tracer);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const st::TracerStats stats = tracer.stats();
  if (stats.sink_errors > 0 || stats.sessions_dropped > 0) {
    throw st::Error("storing the traces failed (" + std::to_string(stats.sink_errors) + " errors, " +
                    std::to_string(stats.sessions_dropped) + " sessions dropped); see the messages above");
  }
  if (server_sink && server_sink->stats().sessions_in_fallback > 0) {
    throw st::Error(std::to_string(server_sink->stats().sessions_in_fallback) + " sessions could not be sent to " +
                    *server + ": they are in '" + server_sink->options().fallback_dir.string() +
                    "'; store them with `synth-trace " + where + (via.token.empty() ? "" : " --token <token>") +
                    " import " + server_sink->options().fallback_dir.string() + "`");
  }

  // This run's sessions, by their id prefix (a list of ids would bind one value per episode).
  const std::vector<st::Value> params{st::Value("demo-" + stamp + "-%")};
  constexpr int kListed = 20;
  const auto query = [&](std::string_view sql) {
    return through_server ? through_server->query(sql, params) : file_sink->manager().query(sql, params);
  };
  const st::QueryResult per_session = query(
      "SELECT s.session_id, s.num_timesteps AS steps, s.num_events AS events, s.num_messages AS messages, "
      "s.total_tokens_used AS tokens, ROUND(s.total_cost, 6) AS cost_usd, ROUND(s.total_reward, 2) AS reward "
      "FROM session_summary s WHERE s.session_id LIKE ? ORDER BY s.created_at, s.session_id LIMIT " +
          std::to_string(kListed));
  std::cout << per_session.to_table();
  if (options.episodes > kListed) std::cout << "(the first " << kListed << " of " << options.episodes << " sessions)\n";
  std::cout << "\n";
  const st::QueryResult totals = query(
      "SELECT COUNT(*) AS sessions, SUM(num_timesteps) AS steps, SUM(num_events) AS events, "
      "SUM(num_messages) AS messages, SUM(total_tokens_used) AS tokens, ROUND(SUM(total_cost), 6) AS cost_usd, "
      "ROUND(SUM(total_reward), 2) AS reward FROM session_summary WHERE session_id LIKE ?");
  std::cout << totals.to_table();
  if (stats.sessions_overflowed > 0) {
    std::cout << "\n" << stats.sessions_overflowed << " of " << options.episodes
              << " sessions were recorded faster than the database stored them: they waited in the spill on disk "
                 "(nothing was dropped).\n";
  }
  int reached = 0;
  for (const auto& e : episodes) reached += e.reached ? 1 : 0;
  std::cout << "\n" << reached << " of " << options.episodes << " episodes found the treasure; traced and stored in "
            << std::lround(seconds * 1000) << " ms.\n\n"
            << "Try next:\n"
            << "  synth-trace " << where << " sessions\n"
            << "  synth-trace " << where << " show " << episodes.front().session_id << "\n"
            << "  synth-trace " << where << " stats\n"
            << "  synth-trace " << where
            << " query \"SELECT event_type, COUNT(*) AS n FROM events GROUP BY ALL ORDER BY n DESC\"\n"
            << "  synth-trace " << where << " finetune-export --out demo.jsonl\n";
  if (server) {
    std::cout << "See them in the browser viewer (sessions, timelines, LLM calls, rewards): open " << *server << "\n";
  } else {
    std::cout << "See them in the browser viewer (sessions, timelines, LLM calls, rewards): run\n"
              << "  synth-trace " << where << " serve\n"
              << "and open http://127.0.0.1:4319 (Ctrl-C stops it; the JSON API is under /api/v1/)\n";
  }
  return kOk;
}

}  // namespace synth_trace
