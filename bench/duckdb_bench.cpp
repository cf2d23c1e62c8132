// DuckDB trace store. Targets (this 2-core machine):
//   (a) insert_traces into a FILE database, sustained: >= 300 k events/s, with realistic sessions
//       (100 timesteps x 3 events + 2 messages, batches of 100 sessions);
//   (b) query_messages for one session in a database of 1 M messages: <= 50 ms;
//   (c) end to end through DuckDBSink behind a SessionTracer: sessions/s (no target).
//
// Run (medians over repetitions):
//   duckdb_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The 1 M-message database of (b) is built once into /tmp/synth_duckdb_bench_1m_messages.duckdb
// and reused by later runs (delete the file to rebuild it).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <synth/tracing.hpp>
#include <synth/tracing/duckdb.hpp>

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::Value;

namespace {

constexpr int kStepsPerSession = 100;
constexpr int kSessionsPerBatch = 100;

void remove_database(const fs::path& path) {
  std::error_code ec;
  fs::remove(path, ec);
  fs::remove(fs::path(path.string() + ".wal"), ec);
}

// A session as an agent records it: per timestep an LLM call (prompt state, completion state,
// usage, cost), an environment step and a tool call, and an observation and an action message.
// Events and messages sit in their timestep and in the histories, as SessionTracer builds them.
st::SessionTrace realistic_session(const std::string& id, std::int64_t seed) {
  st::SessionTrace t;
  t.session_id = id;
  const st::Timestamp start = st::Timestamp(std::chrono::seconds(1'735'725'600 + seed * 3600));
  t.created_at = start;
  t.session_metadata.push_back({"session_start", Value{{"env", "crafter"}, {"seed", seed}}, start});
  for (int s = 0; s < kStepsPerSession; ++s) {
    const st::Timestamp at = start + std::chrono::milliseconds(s * 1500 + 7);
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.turn_number = s;
    step.timestamp = at;
    st::CAISEvent llm{
        .time_record = st::TimeRecord{at + std::chrono::microseconds(120), s},
        .system_instance_id = "agent",
        .system_state_before = {{"gen_ai.request.model", "gpt-4o-mini"},
                                {"gen_ai.request.messages",
                                 Value::array({Value{{"role", "system"}, {"content", "You play Crafter."}},
                                               Value{{"role", "user"}, {"content", "Inventory: wood 3. What next?"}}})}},
        .system_state_after = {{"gen_ai.response.content", "collect_stone"}, {"gen_ai.response.finish_reason", "stop"}},
        .model_name = "gpt-4o-mini",
        .prompt_tokens = 412 + s,
        .completion_tokens = 9,
        .total_tokens = 421 + s,
        .cost = 0.0000672,
        .latency_ms = 640.5,
        .metadata = {{"attempt", 1}}};
    st::EnvironmentEvent env{.time_record = st::TimeRecord{at + std::chrono::milliseconds(650), s},
                             .system_instance_id = "crafter",
                             .system_state_before = {{"pos", Value::array({s % 64, 7})}},
                             .system_state_after = {{"pos", Value::array({s % 64 + 1, 7})}},
                             .reward = s % 10 == 0 ? 1.0 : 0.0,
                             .terminated = s + 1 == kStepsPerSession,
                             .observation_diff = {{"inventory.stone", 1}}};
    st::RuntimeEvent tool{.time_record = st::TimeRecord{at + std::chrono::milliseconds(660), s},
                          .system_instance_id = "runtime",
                          .actions = Value::array({"collect_stone"}),
                          .metadata = {{"duration_ms", 3.25}}};
    st::SessionEventMessage observation{.content = {{"origin_system_id", "crafter"},
                                                    {"payload", {{"inventory", {{"wood", 3}, {"stone", s}}},
                                                                 {"health", 9}}}},
                                        .message_type = "observation",
                                        .timestamp = at,
                                        .time_record = st::TimeRecord{at, s}};
    st::SessionEventMessage action{.content = {{"origin_system_id", "agent"}, {"payload", {{"action", "collect_stone"}}}},
                                   .message_type = "action",
                                   .timestamp = at + std::chrono::milliseconds(641),
                                   .time_record = st::TimeRecord{at + std::chrono::milliseconds(641), s}};
    step.events = {llm, env, tool};
    step.step_messages = {observation, action};
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

// (a) Sustained batch inserts into a file database: every iteration appends 100 new sessions
// (30,000 events, 20,000 messages, 10,000 timesteps) to the same, growing file; with the
// original's indexes (indexes:1, the default) and without them (indexes:0).
void BM_InsertTracesFile(benchmark::State& state) {
  const fs::path path = fs::temp_directory_path() / "synth_duckdb_bench_insert.duckdb";
  remove_database(path);
  std::vector<st::SessionTrace> batch;
  for (int i = 0; i < kSessionsPerBatch; ++i) batch.push_back(realistic_session("template", i));
  std::int64_t events = 0;
  std::int64_t rows = 0;
  {
    st::DuckDBTraceManager db(path, {.indexes = state.range(0) != 0});
    std::int64_t round = 0;
    for (auto _ : state) {
      state.PauseTiming();
      for (int i = 0; i < kSessionsPerBatch; ++i) {
        batch[static_cast<std::size_t>(i)].session_id = "run-" + std::to_string(round) + "-" + std::to_string(i);
      }
      ++round;
      state.ResumeTiming();
      const st::InsertSummary summary = db.insert_traces(batch, kSessionsPerBatch);
      if (summary.inserted != batch.size()) state.SkipWithError("sessions were not inserted");
      for (const auto& t : batch) {
        events += static_cast<std::int64_t>(t.event_history.size());
        rows += 1 + static_cast<std::int64_t>(t.session_time_steps.size() + t.event_history.size() +
                                              t.message_history.size());
      }
    }
  }
  state.SetItemsProcessed(events);  // items = events
  state.counters["rows_per_second"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(fs::file_size(path)) / 1e6;
  remove_database(path);
}
BENCHMARK(BM_InsertTracesFile)->ArgName("indexes")->Arg(1)->Arg(0)->Iterations(20)->Unit(benchmark::kMillisecond)->UseRealTime();

// (b) A database of 5,000 sessions x 200 messages = 1,000,000 messages (and 500,000 timesteps),
// with random UUID-like session ids so that no ordering helps the lookup.
constexpr int kQuerySessions = 5000;
constexpr int kMessagesPerQuerySession = 200;

std::string uuid_like(std::mt19937_64& rng) {
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) out += '-';
    out += hex[rng() % 16];
  }
  return out;
}

std::vector<std::string> query_session_ids() {
  std::mt19937_64 rng(42);
  std::vector<std::string> ids;
  for (int i = 0; i < kQuerySessions; ++i) ids.push_back(uuid_like(rng));
  return ids;
}

fs::path million_message_database(const std::vector<std::string>& ids) {
  const fs::path path = fs::temp_directory_path() / "synth_duckdb_bench_1m_messages.duckdb";
  if (fs::exists(path)) {
    try {
      st::DuckDBTraceManager db(path);
      const auto n = db.query("SELECT COUNT(*) FROM messages").rows.at(0).at(0).as_int();
      if (n == static_cast<std::int64_t>(kQuerySessions) * kMessagesPerQuerySession) return path;
    } catch (const st::Error&) {
      // rebuild below
    }
  }
  remove_database(path);
  st::DuckDBTraceManager db(path);
  std::vector<st::SessionTrace> batch;
  for (int i = 0; i < kQuerySessions; ++i) {
    st::SessionTrace t;
    t.session_id = ids[static_cast<std::size_t>(i)];
    t.created_at = st::Timestamp(std::chrono::seconds(1'735'725'600 + i));
    for (int s = 0; s < kMessagesPerQuerySession / 2; ++s) {
      st::SessionTimeStep step;
      step.step_id = "step_" + std::to_string(s);
      step.step_index = s;
      step.turn_number = s;
      step.timestamp = t.created_at + std::chrono::seconds(s);
      for (const char* type : {"observation", "action"}) {
        st::SessionEventMessage m{.content = {{"origin_system_id", type}, {"payload", {{"turn", s}, {"text", "x y z"}}}},
                                  .message_type = type,
                                  .timestamp = step.timestamp,
                                  .time_record = st::TimeRecord{step.timestamp, s}};
        step.step_messages.push_back(m);
        t.message_history.push_back(std::move(m));
      }
      t.session_time_steps.push_back(std::move(step));
    }
    batch.push_back(std::move(t));
    if (batch.size() == 500) {
      db.insert_traces(batch, 500);
      batch.clear();
    }
  }
  db.insert_traces(batch, 500);
  return path;
}

void BM_QueryMessagesOneSessionOf1M(benchmark::State& state) {
  const std::vector<std::string> ids = query_session_ids();
  const fs::path path = million_message_database(ids);
  st::DuckDBTraceManager db(path);
  std::mt19937_64 rng(7);
  std::int64_t rows = 0;
  for (auto _ : state) {
    const std::string& id = ids[rng() % ids.size()];
    const st::QueryResult r = db.query_messages({id});
    if (r.rows.size() != static_cast<std::size_t>(kMessagesPerQuerySession)) state.SkipWithError("wrong row count");
    rows += static_cast<std::int64_t>(r.rows.size());
  }
  state.SetItemsProcessed(rows);
}
BENCHMARK(BM_QueryMessagesOneSessionOf1M)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same lookup through load_trace (the whole session rebuilt).
void BM_LoadTraceOneSessionOf1M(benchmark::State& state) {
  const std::vector<std::string> ids = query_session_ids();
  const fs::path path = million_message_database(ids);
  st::DuckDBTraceManager db(path);
  std::mt19937_64 rng(9);
  for (auto _ : state) {
    auto t = db.load_trace(ids[rng() % ids.size()]);
    if (!t || t->message_history.size() != static_cast<std::size_t>(kMessagesPerQuerySession)) {
      state.SkipWithError("wrong session");
    }
    benchmark::DoNotOptimize(t);
  }
}
BENCHMARK(BM_LoadTraceOneSessionOf1M)->Unit(benchmark::kMillisecond)->UseRealTime();

// (c) End to end: agents record sessions (20 timesteps x 3 events + 2 messages) into a tracer
// whose DuckDBSink stores them on the tracer's sink thread; each iteration records 200 sessions
// and waits until they are committed.
void BM_SinkEndToEnd(benchmark::State& state) {
  const fs::path path = fs::temp_directory_path() / "synth_duckdb_bench_sink.duckdb";
  remove_database(path);
  constexpr int kSessions = 200;
  constexpr int kSteps = 20;
  std::int64_t sessions = 0;
  {
    st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 0, .sink_queue_capacity = 4096});
    auto sink = std::make_shared<st::DuckDBSink>(path);
    tracer.add_sink(sink);
    std::int64_t next_id = 0;
    for (auto _ : state) {
      for (int i = 0; i < kSessions; ++i) {
        auto session = tracer.start_session("e2e-" + std::to_string(next_id++), {{"env", "crafter"}});
        for (int s = 0; s < kSteps; ++s) {
          auto step = tracer.timestep(s);
          tracer.add_message(st::make_message("crafter", {{"inventory", {{"wood", s}}}}, "observation", s));
          tracer.add_event(st::CAISEvent{.system_instance_id = "agent",
                                         .model_name = "gpt-4o-mini",
                                         .prompt_tokens = 412,
                                         .completion_tokens = 9,
                                         .cost = 0.0000672,
                                         .latency_ms = 640.5,
                                         .metadata = {{"attempt", 1}}});
          tracer.add_event(st::EnvironmentEvent{.system_instance_id = "crafter", .reward = 0.0, .terminated = false});
          tracer.add_event(st::RuntimeEvent{.actions = Value::array({"collect_stone"})});
          tracer.add_message(st::make_message("agent", {{"action", "collect_stone"}}, "action", s));
        }
      }
      if (!tracer.flush(std::chrono::minutes(5))) state.SkipWithError("flush timed out");
      sessions += kSessions;
    }
    if (tracer.stats().sink_errors != 0 || tracer.stats().sessions_dropped != 0) state.SkipWithError("sessions lost");
  }
  state.SetItemsProcessed(sessions);  // items = sessions
  state.counters["events_per_second"] =
      benchmark::Counter(static_cast<double>(sessions * kSteps * 3), benchmark::Counter::kIsRate);
  remove_database(path);
}
BENCHMARK(BM_SinkEndToEnd)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
