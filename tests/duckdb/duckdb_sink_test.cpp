// DuckDBSink behind a SessionTracer: many recording threads, nothing lost at shutdown, agents
// never waiting for the database, failing writes isolated. Also runs under ThreadSanitizer.
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "duckdb/duckdb_support.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::testing::CapturedDiagnostics;
using st::testing::GateSink;
using st::testing::TempDir;
using st::testing::kThreadSanitizer;
using st::testing::single_threaded_under_tsan;
using st::CAISEvent;
using st::DuckDBOptions;
using st::DuckDBSink;
using st::DuckDBTraceManager;
using st::EnvironmentEvent;
using st::OnExistingSession;
using st::RuntimeEvent;
using st::SessionTrace;
using st::SessionTracer;
using st::TracingConfig;
using st::Value;

namespace {

TracingConfig config_keeping(std::size_t sessions) {
  TracingConfig config;
  config.max_finished_sessions = sessions;
  config.sink_queue_capacity = sessions + 16;
  return config;
}

std::int64_t count(DuckDBTraceManager& db, const std::string& sql) { return db.query(sql).rows.at(0).at(0).as_int(); }

// One session as an agent loop records it: start metadata, a history-only setup event, and
// `steps` timesteps with an LLM call, an environment step and an observation each.
// 1 + 2 * steps events, `steps` messages.
void record_session(SessionTracer& tracer, const std::string& id, int steps) {
  auto session = tracer.start_session(id, {{"worker", id.substr(0, id.find('-'))}});
  tracer.add_event(RuntimeEvent{.system_instance_id = "setup", .actions = Value::array({"reset"})});
  for (int turn = 0; turn < steps; ++turn) {
    auto step = tracer.timestep(turn);
    tracer.add_event(CAISEvent{.system_instance_id = "agent",
                               .model_name = "gpt-4o-mini",
                               .prompt_tokens = 100 + turn,
                               .completion_tokens = 10,
                               .total_tokens = 110 + turn,
                               .cost = 0.25,
                               .latency_ms = 12.5});
    tracer.add_event(EnvironmentEvent{.reward = 1.0, .terminated = turn + 1 == steps});
    tracer.add_message(st::make_message("env", {{"obs", turn}, {"session", id}}, "observation", turn));
  }
}

// A DuckDB sink on a slow disk: every write takes `delay` longer.
class SlowDuckDBSink : public DuckDBSink {
 public:
  SlowDuckDBSink(fs::path path, std::chrono::milliseconds delay) : DuckDBSink(std::move(path)), delay_(delay) {}
  void write(const SessionTrace& trace) override {
    std::this_thread::sleep_for(delay_);
    DuckDBSink::write(trace);
    writes_.fetch_add(1);
  }
  int writes() const { return writes_.load(); }

 private:
  std::chrono::milliseconds delay_;
  std::atomic<int> writes_{0};
};

}  // namespace

TEST(DuckDBSink, ManyThreadsManySessionsAllStoredExactly) {
  const int kThreads = 4;
  const int kSessionsPerThread = kThreadSanitizer ? 30 : 150;
  const int kSteps = 3;
  const std::size_t total = static_cast<std::size_t>(kThreads * kSessionsPerThread);
  TempDir dir;
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  single_threaded_under_tsan(sink->manager());
  SessionTracer tracer(config_keeping(total));
  tracer.add_sink(sink);

  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 0; s < kSessionsPerThread; ++s) record_session(tracer, "w" + std::to_string(t) + "-" + std::to_string(s), kSteps);
    });
  }
  // Queries from another thread while the sink writes: serialized with the sink's writes.
  std::atomic<bool> done{false};
  std::int64_t seen_max = 0;
  std::thread reader([&] {
    while (!done.load()) {
      const std::int64_t n = count(sink->manager(), "SELECT COUNT(*) FROM session_traces");
      EXPECT_GE(n, seen_max);  // sessions only ever appear
      seen_max = std::max(seen_max, n);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(120)));
  done = true;
  reader.join();

  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_ended, total);
  EXPECT_EQ(stats.sessions_dropped, 0u);
  EXPECT_EQ(stats.sink_errors, 0u);
  EXPECT_EQ(stats.sessions_lost, 0u);
  EXPECT_EQ(stats.sessions_pending, 0u);

  DuckDBTraceManager& db = sink->manager();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_traces"), static_cast<std::int64_t>(total));
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM events"), static_cast<std::int64_t>(total * (1 + 2 * kSteps)));
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM messages"), static_cast<std::int64_t>(total * kSteps));
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_timesteps"), static_cast<std::int64_t>(total * kSteps));
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM events WHERE timestep_id IS NULL"), static_cast<std::int64_t>(total));
  // Per-session counts are right for every session.
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_traces WHERE num_events <> 7 OR num_messages <> 3 OR "
                      "num_timesteps <> 3"),
            0);
  const auto model_usage = db.get_model_usage();
  ASSERT_EQ(model_usage.rows.size(), 1u);
  EXPECT_EQ(model_usage.rows[0][2], Value(static_cast<std::int64_t>(total * kSteps)));
  for (int t = 0; t < kThreads; ++t) {
    for (int s = 0; s < kSessionsPerThread; ++s) {
      const std::string id = "w" + std::to_string(t) + "-" + std::to_string(s);
      const auto recorded = tracer.get_session_trace(id);
      ASSERT_TRUE(recorded) << id;
      const auto stored = db.load_trace(id);
      ASSERT_TRUE(stored) << id;
      EXPECT_EQ(*stored, *recorded) << id;
    }
  }
}

TEST(DuckDBSink, NothingLostWhenTheTracerIsDestroyedWithoutFlush) {
  const int kSessions = kThreadSanitizer ? 40 : 300;
  TempDir dir;
  std::vector<SessionTrace> expected;
  {
    SessionTracer tracer(config_keeping(static_cast<std::size_t>(kSessions)));
    auto sink = std::make_shared<DuckDBSink>(dir.db());
    single_threaded_under_tsan(sink->manager());
    tracer.add_sink(std::move(sink));  // the tracer holds the only reference
    std::thread other([&] {
      for (int s = 0; s < kSessions / 2; ++s) record_session(tracer, "b-" + std::to_string(s), 2);
    });
    for (int s = 0; s < kSessions / 2; ++s) record_session(tracer, "a-" + std::to_string(s), 2);
    other.join();
    for (const char* prefix : {"a-", "b-"}) {
      for (int s = 0; s < kSessions / 2; ++s) expected.push_back(*tracer.get_session_trace(prefix + std::to_string(s)));
    }
    // No flush(): the destructor waits for the sink thread, and the sink commits its batch.
  }
  DuckDBTraceManager db(dir.db());  // a new connection sees only committed data
  single_threaded_under_tsan(db);
  EXPECT_EQ(db.session_ids().size(), static_cast<std::size_t>(kSessions));
  for (const auto& trace : expected) EXPECT_EQ(db.load_trace(trace.session_id), trace) << trace.session_id;
}

// DuckDB's worker threads: one in a sink (they would only compete with the agent's threads),
// DuckDB's default or what DuckDBOptions::threads says elsewhere.
TEST(DuckDBSink, UsesOneDuckDBThreadUnlessTold) {
  TempDir dir;
  const auto threads = [](DuckDBTraceManager& db) {
    return db.query("SELECT current_setting('threads')").rows.at(0).at(0).as_int();
  };
  {
    DuckDBSink sink(dir.db());
    EXPECT_EQ(threads(sink.manager()), 1);
  }
  {
    DuckDBSink sink(dir.db(), {.threads = 2});
    EXPECT_EQ(threads(sink.manager()), 2);
  }
  DuckDBTraceManager db(dir.db(), {.threads = 3});
  EXPECT_EQ(threads(db), 3);
}

// A process recording for hours keeps DuckDB's buffer manager at 256 MiB instead of DuckDB's
// default share of the machine's RAM (the 30-minute soak grew by 211 MiB without it).
TEST(DuckDBSink, KeepsDuckDBsMemoryWithinALimitUnlessTold) {
  TempDir dir;
  const auto limit = [](DuckDBTraceManager& db) {
    return db.query("SELECT current_setting('memory_limit')").rows.at(0).at(0).as_string();
  };
  {
    DuckDBSink sink(dir.db());
    EXPECT_EQ(limit(sink.manager()), "256.0 MiB");
  }
  {
    DuckDBSink sink(dir.db(), {.memory_limit_mb = 1024});
    EXPECT_EQ(limit(sink.manager()), "1.0 GiB");
  }
  DuckDBTraceManager db(dir.db(), {.memory_limit_mb = 128});
  EXPECT_EQ(limit(db), "128.0 MiB");
}

TEST(DuckDBSink, DestroyedSinkCommitsWhatWasWritten) {
  TempDir dir;
  std::vector<SessionTrace> traces;
  {
    SessionTracer tracer(config_keeping(10));
    for (int i = 0; i < 3; ++i) record_session(tracer, "direct-" + std::to_string(i), 2);
    for (int i = 0; i < 3; ++i) traces.push_back(*tracer.get_session_trace("direct-" + std::to_string(i)));
  }
  {
    DuckDBSink sink(dir.db());
    single_threaded_under_tsan(sink.manager());
    for (const auto& t : traces) sink.write(t);  // one open transaction, never flushed by hand
  }
  DuckDBTraceManager db(dir.db());
  single_threaded_under_tsan(db);
  for (const auto& t : traces) EXPECT_EQ(db.load_trace(t.session_id), t);
}

TEST(DuckDBSink, AgentsNeverWaitForTheDatabase) {
  const int kSessions = 40;
  const auto kDelay = std::chrono::milliseconds(25);  // 1 s of sink time in all
  TempDir dir;
  auto sink = std::make_shared<SlowDuckDBSink>(dir.db(), kDelay);
  single_threaded_under_tsan(sink->manager());
  SessionTracer tracer(config_keeping(kSessions));
  tracer.add_sink(sink);
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < kSessions; ++s) record_session(tracer, "fast-" + std::to_string(s), 3);
  const auto recording = std::chrono::steady_clock::now() - start;
  const auto pending = tracer.stats().sessions_pending;
  const auto sink_time = kSessions * kDelay;
  // Recording went on while the sink was still busy with the first sessions.
  EXPECT_LT(recording, sink_time / 4) << std::chrono::duration_cast<std::chrono::milliseconds>(recording).count()
                                      << " ms to record";
  EXPECT_GT(pending, static_cast<std::uint64_t>(kSessions / 2));
  EXPECT_LT(sink->writes(), kSessions / 2);
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));
  EXPECT_EQ(sink->writes(), kSessions);
  EXPECT_EQ(count(sink->manager(), "SELECT COUNT(*) FROM session_traces"), kSessions);
}

TEST(DuckDBSink, FailingWriteIsCountedAndTheOtherSessionsAreStored) {
  TempDir dir;
  auto gate = std::make_shared<GateSink>();
  auto sink = std::make_shared<DuckDBSink>(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::fail});
  single_threaded_under_tsan(sink->manager());
  // "dup" is stored already; the tracer's "dup" must fail alone.
  SessionTrace stored;
  stored.session_id = "dup";
  stored.created_at = st::now();
  ASSERT_TRUE(sink->manager().insert_trace(stored));

  CapturedDiagnostics diagnostics;
  SessionTracer tracer(config_keeping(20));
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  record_session(tracer, "gate", 1);
  ASSERT_TRUE(gate->wait_entered());
  // These queue up behind "gate" and reach the DuckDB sink in one batch.
  for (const char* id : {"a", "b", "dup", "c", "d"}) record_session(tracer, id, 2);
  gate->open();
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));

  EXPECT_EQ(tracer.stats().sink_errors, 1u);
  EXPECT_EQ(tracer.stats().sessions_lost, 1u);  // "dup" alone
  DuckDBTraceManager& db = sink->manager();
  for (const char* id : {"gate", "a", "b", "c", "d"}) {
    const auto loaded = db.load_trace(id);
    ASSERT_TRUE(loaded) << id;
    EXPECT_EQ(*loaded, *tracer.get_session_trace(id)) << id;
  }
  EXPECT_EQ(db.load_trace("dup"), stored);  // unchanged
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_traces"), 6);
  bool reported = false;
  for (const auto& m : diagnostics.all()) reported = reported || m.find("'dup'") != std::string::npos;
  EXPECT_TRUE(reported);

  // The sink goes on working afterwards.
  record_session(tracer, "after", 1);
  ASSERT_TRUE(tracer.flush());
  EXPECT_TRUE(db.load_trace("after"));
  EXPECT_EQ(tracer.stats().sink_errors, 1u);
}

TEST(DuckDBSink, SessionsTheSchemaCannotHoldFailAlone) {
  TempDir dir;
  auto gate = std::make_shared<GateSink>();
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  single_threaded_under_tsan(sink->manager());
  CapturedDiagnostics diagnostics;
  SessionTracer tracer(config_keeping(20));
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  record_session(tracer, "gate", 1);
  ASSERT_TRUE(gate->wait_entered());
  record_session(tracer, "before", 1);
  {
    auto session = tracer.start_session("bad");
    tracer.add_event(CAISEvent{.model_name = "gpt\xC3"});  // not UTF-8: DuckDB would fail the batch
  }
  record_session(tracer, "after", 1);
  gate->open();
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));
  EXPECT_EQ(tracer.stats().sink_errors, 1u);
  EXPECT_EQ(tracer.stats().sessions_lost, 1u);
  EXPECT_TRUE(sink->manager().load_trace("before"));
  EXPECT_TRUE(sink->manager().load_trace("after"));
  EXPECT_FALSE(sink->manager().load_trace("bad"));
}

TEST(DuckDBSink, SameIdEndedTwiceIsSkippedOrReplaced) {
  for (const auto mode : {OnExistingSession::skip, OnExistingSession::replace}) {
    SCOPED_TRACE(mode == OnExistingSession::skip ? "skip" : "replace");
    TempDir dir;
    auto sink = std::make_shared<DuckDBSink>(dir.db(), DuckDBOptions{.on_existing = mode});
    single_threaded_under_tsan(sink->manager());
    CapturedDiagnostics diagnostics;
    SessionTracer tracer(config_keeping(20));
    tracer.add_sink(sink);
    record_session(tracer, "again", 1);
    const SessionTrace first = *tracer.get_session_trace("again");
    record_session(tracer, "again", 2);  // sequential sessions may reuse an id
    const SessionTrace second = *tracer.get_session_trace("again");
    ASSERT_NE(first, second);
    ASSERT_TRUE(tracer.flush());
    EXPECT_EQ(tracer.stats().sink_errors, 0u);
    EXPECT_EQ(sink->manager().load_trace("again"), mode == OnExistingSession::skip ? first : second);
    EXPECT_EQ(count(sink->manager(), "SELECT COUNT(*) FROM session_timesteps"),
              mode == OnExistingSession::skip ? 1 : 2);
  }
}

// Which sessions of a batch are stored is asked once for the batch: asked per session, DuckDB
// binds the statement again at each call inside the transaction (~0.1 ms, a third of the sink's
// time). DuckDB's query log counts the statements.
TEST(DuckDBSink, AsksOncePerBatchWhichOfItsSessionsAreStored) {
  TempDir dir;
  DuckDBSink sink(dir.db());
  DuckDBTraceManager& db = single_threaded_under_tsan(sink.manager());
  db.query("CALL enable_logging('QueryLog')");
  SessionTracer tracer(config_keeping(20));
  for (int i = 0; i < 10; ++i) record_session(tracer, "s" + std::to_string(i), 2);
  for (int i = 0; i < 10; ++i) sink.write(*tracer.get_session_trace("s" + std::to_string(i)));
  sink.flush();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_traces"), 10);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM duckdb_logs WHERE message LIKE '%FROM session_traces%WHERE session_id%'"), 1);
}

// The sessions of a batch are decided about in order, each seeing those before it in the batch.
TEST(DuckDBSink, SameIdTwiceInOneBatchFollowsThePolicy) {
  for (const auto mode : {OnExistingSession::skip, OnExistingSession::replace, OnExistingSession::merge}) {
    SCOPED_TRACE(static_cast<int>(mode));
    TempDir dir;
    DuckDBSink sink(dir.db(), DuckDBOptions{.on_existing = mode});
    DuckDBTraceManager& db = single_threaded_under_tsan(sink.manager());
    CapturedDiagnostics diagnostics;
    SessionTracer tracer(config_keeping(20));
    record_session(tracer, "stored", 1);
    sink.write(*tracer.get_session_trace("stored"));
    sink.flush();
    record_session(tracer, "stored", 2);  // its second part, in the next batch with "again" twice
    const SessionTrace stored_again = *tracer.get_session_trace("stored");
    record_session(tracer, "again", 1);
    const SessionTrace first = *tracer.get_session_trace("again");
    record_session(tracer, "again", 2);
    const SessionTrace second = *tracer.get_session_trace("again");
    for (const SessionTrace* t : {&stored_again, &first, &second}) sink.write(*t);
    sink.flush();
    const std::int64_t steps = count(db, "SELECT COUNT(*) FROM session_timesteps WHERE session_id = 'again'");
    const std::int64_t stored_steps = count(db, "SELECT COUNT(*) FROM session_timesteps WHERE session_id = 'stored'");
    switch (mode) {
      case OnExistingSession::skip:
        EXPECT_EQ(db.load_trace("again"), first);
        EXPECT_EQ(steps, 1);
        EXPECT_EQ(stored_steps, 1);
        break;
      case OnExistingSession::replace:
        EXPECT_EQ(db.load_trace("again"), second);
        EXPECT_EQ(steps, 2);
        EXPECT_EQ(db.load_trace("stored"), stored_again);
        break;
      case OnExistingSession::merge:
        EXPECT_EQ(steps, 2);  // step 0 of both, step 1 of the second
        EXPECT_EQ(count(db, "SELECT num_events FROM session_traces WHERE session_id = 'again'"), 3 + 5);
        EXPECT_EQ(stored_steps, 2);
        break;
      case OnExistingSession::fail:
        break;
    }
    EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_stats WHERE session_id = 'again'"), 1);
    // Decided right in the batch, not repaired by retrying its sessions one by one.
    for (const auto& m : diagnostics.all()) EXPECT_EQ(m.find("retry"), std::string::npos) << m;
  }
}

TEST(DuckDBManager, ConcurrentCallsAreSerialized) {
  const int kThreads = 4;
  const int kPerThread = kThreadSanitizer ? 10 : 40;
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  single_threaded_under_tsan(db);
  std::vector<SessionTrace> traces;
  {
    SessionTracer tracer(config_keeping(static_cast<std::size_t>(kThreads * kPerThread)));
    for (int i = 0; i < kThreads * kPerThread; ++i) record_session(tracer, "m-" + std::to_string(i), 2);
    for (int i = 0; i < kThreads * kPerThread; ++i) traces.push_back(*tracer.get_session_trace("m-" + std::to_string(i)));
  }
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = t * kPerThread; i < (t + 1) * kPerThread; ++i) {
        if (i % 2 == 0) {
          if (!db.insert_trace(traces[static_cast<std::size_t>(i)])) mismatches.fetch_add(1);
        } else {
          db.insert_traces(std::span(&traces[static_cast<std::size_t>(i)], 1));
        }
        if (db.load_trace(traces[static_cast<std::size_t>(i)].session_id) != traces[static_cast<std::size_t>(i)]) {
          mismatches.fetch_add(1);
        }
        (void)db.query_events({traces[static_cast<std::size_t>(i)].session_id});
        (void)db.get_model_usage();
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches.load(), 0);
  EXPECT_EQ(db.session_ids().size(), static_cast<std::size_t>(kThreads * kPerThread));
}

TEST(DuckDBSink, FromConfigOpensTheConfiguredDatabase) {
  TempDir dir;
  const auto in_code = DuckDBSink::from_config(TracingConfig{.db_path = dir.file("in_code.duckdb")});
  EXPECT_EQ(in_code->manager().path(), dir.file("in_code.duckdb"));
  // Not given in code: from the environment (or the configuration file).
  ::setenv("SYNTH_TRACING_DB", dir.file("from_env.duckdb").c_str(), 1);
  const auto from_env = DuckDBSink::from_config();
  ::unsetenv("SYNTH_TRACING_DB");
  EXPECT_EQ(from_env->manager().path(), dir.file("from_env.duckdb"));
  EXPECT_TRUE(fs::exists(dir.file("from_env.duckdb")));
}
