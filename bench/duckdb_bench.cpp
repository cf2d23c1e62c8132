// DuckDB trace store. Targets (this 2-core machine):
//   (a) insert_traces into a FILE database, sustained: >= 300 k events/s, with realistic sessions
//       (100 timesteps x 3 events + 2 messages, batches of 100 sessions), and >= 70 % of the
//       limit (a'): the same rows appended with DuckDB's data-chunk API alone (duckdb_limit_bench.cpp,
//       in this executable); (a'') whether an insert costs more in a large file;
//   (b) query_messages for one session in a database of 1 M messages: <= 50 ms;
//   (c) end to end through DuckDBSink behind a SessionTracer: sessions/s (no target).
//
// Run (medians over repetitions):
//   duckdb_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The 1 M-message database of (b) is built once into /tmp/synth_duckdb_bench_1m_messages.duckdb
// and reused by later runs (delete the file to rebuild it).
#include <benchmark/benchmark.h>
#include <duckdb.h>

#include <chrono>
#include <ctime>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include <synth/tracing.hpp>
#include <synth/tracing/duckdb.hpp>

#include "realistic_session.hpp"
#include "scratch_database.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::Value;

namespace {

using synth_bench::kSessionsPerBatch;
using synth_bench::realistic_session;
using synth_bench::remove_database;


// (a) Sustained batch inserts into a file database: every iteration appends 100 new sessions
// (30,000 events, 20,000 messages, 10,000 timesteps) to the same, growing file; with the
// original's indexes (indexes:1, the default) and without them (indexes:0).
void BM_InsertTracesFile(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("duckdb_insert.duckdb");
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
      // The last batch pays for the checkpoint that writes what the WAL still holds.
      if (round == static_cast<std::int64_t>(state.max_iterations)) db.query("CHECKPOINT");
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


// (a'') Does an insert cost more as the database grows? Sessions of 20 timesteps (60 events, 40
// messages), committed 10 at a time as a DuckDBSink under a slow agent commits them, into an
// empty file (preloaded:0) and into a copy of a file already holding 20,000 such sessions
// (1.2 M events, 0.8 M messages: a long `synth-trace demo` run); the last commit pays for the
// checkpoint of what the WAL holds. The preloaded file is built once
// into /tmp/synth_duckdb_bench_large_20000.duckdb and reused (delete it to rebuild).
constexpr int kLargeSteps = 20;

st::SessionTrace small_session(const std::string& id, std::int64_t seed) {
  st::SessionTrace t = realistic_session(id, seed);
  t.session_time_steps.resize(kLargeSteps);
  t.event_history.resize(kLargeSteps * 3);
  t.message_history.resize(kLargeSteps * 2);
  return t;
}

fs::path large_database(int sessions) {
  const fs::path path = fs::temp_directory_path() / ("synth_duckdb_bench_large_" + std::to_string(sessions) + ".duckdb");
  if (fs::exists(path) && !fs::exists(fs::path(path.string() + ".wal"))) {
    try {
      st::DuckDBTraceManager db(path);
      if (db.query("SELECT COUNT(*) FROM session_traces").rows.at(0).at(0).as_int() == sessions) return path;
    } catch (const st::Error&) {
      // rebuild below
    }
  }
  remove_database(path);
  {
    st::DuckDBTraceManager db(path);
    std::vector<st::SessionTrace> batch;
    for (int i = 0; i < sessions; ++i) {
      batch.push_back(small_session("preloaded-" + std::to_string(i), i));
      if (batch.size() == 1000) {
        db.insert_traces(batch, 1000);
        batch.clear();
      }
    }
    db.insert_traces(batch, 1000);
  }
  return path;
}

void BM_InsertIntoLargeDatabase(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("duckdb_large_work.duckdb");
  remove_database(path);
  const int preloaded = static_cast<int>(state.range(0));
  if (preloaded > 0) fs::copy_file(large_database(preloaded), path);
  constexpr int kCommit = 10;
  std::vector<st::SessionTrace> batch;
  for (int i = 0; i < kCommit; ++i) batch.push_back(small_session("template", i));
  std::int64_t sessions = 0;
  {
    st::DuckDBTraceManager db(path);
    std::int64_t round = 0;
    for (auto _ : state) {
      state.PauseTiming();
      for (int i = 0; i < kCommit; ++i) {
        batch[static_cast<std::size_t>(i)].session_id = "new-" + std::to_string(round) + "-" + std::to_string(i);
      }
      ++round;
      state.ResumeTiming();
      if (db.insert_traces(batch, kCommit).inserted != batch.size()) state.SkipWithError("sessions were not inserted");
      sessions += kCommit;
      if (round == static_cast<std::int64_t>(state.max_iterations)) db.query("CHECKPOINT");  // paid here, timed
    }
  }
  state.SetItemsProcessed(sessions);  // items = sessions
  state.counters["events_per_second"] =
      benchmark::Counter(static_cast<double>(sessions * kLargeSteps * 3), benchmark::Counter::kIsRate);
  remove_database(path);
}
BENCHMARK(BM_InsertIntoLargeDatabase)->ArgName("preloaded")->Arg(0)->Arg(20000)->Iterations(200)->Unit(benchmark::kMillisecond)->UseRealTime();

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
// CPU time of `clock` (CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID) in milliseconds.
double cpu_ms(clockid_t clock) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

void BM_SinkEndToEnd(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("duckdb_sink.duckdb");
  remove_database(path);
  constexpr int kSessions = 200;
  constexpr int kSteps = 20;
  std::int64_t sessions = 0;
  {
    st::SessionTracer tracer(st::TracingConfig{.max_finished_sessions = 0, .sink_queue_capacity = 4096});
    auto sink = std::make_shared<st::DuckDBSink>(path);
    tracer.add_sink(sink);
    std::int64_t next_id = 0;
    const double process_cpu_at_start = cpu_ms(CLOCK_PROCESS_CPUTIME_ID);
    const double agent_cpu_at_start = cpu_ms(CLOCK_THREAD_CPUTIME_ID);
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
    // The sink thread's CPU (all but the agent's: DuckDB runs one thread, the sink's), which the
    // machine's load does not inflate as it does wall time.
    const double agent_cpu = cpu_ms(CLOCK_THREAD_CPUTIME_ID) - agent_cpu_at_start;
    const double sink_cpu = cpu_ms(CLOCK_PROCESS_CPUTIME_ID) - process_cpu_at_start - agent_cpu;
    state.counters["sink_cpu_ms"] = benchmark::Counter(sink_cpu, benchmark::Counter::kAvgIterations);
    state.counters["events_per_sink_cpu_second"] = static_cast<double>(sessions * kSteps * 3) / (sink_cpu / 1e3);
    if (tracer.stats().sink_errors != 0 || tracer.stats().sessions_dropped != 0) state.SkipWithError("sessions lost");
  }
  state.SetItemsProcessed(sessions);  // items = sessions
  state.counters["events_per_second"] =
      benchmark::Counter(static_cast<double>(sessions * kSteps * 3), benchmark::Counter::kIsRate);
  remove_database(path);
}
BENCHMARK(BM_SinkEndToEnd)->Iterations(10)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
