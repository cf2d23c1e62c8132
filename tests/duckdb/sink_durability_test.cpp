// DuckDBSink durability: it commits every N sessions or T milliseconds also while sessions keep
// coming, a failed commit is retried and loses only the sessions that cannot be stored, and the
// sessions lost are counted in TracerStats. Failures are real: a file size limit (a full disk),
// a constraint the database enforces, a transaction another statement aborted.
#include <signal.h>
#include <sys/resource.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <ostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "duckdb/duckdb_support.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using namespace std::chrono_literals;
using st::CAISEvent;
using st::DuckDBOptions;
using st::DuckDBSink;
using st::DuckDBTraceManager;
using st::SessionTrace;
using st::SessionTracer;
using st::TracingConfig;
using st::Value;
using st::testing::CapturedDiagnostics;
using st::testing::GateSink;
using st::testing::TempDir;
using st::testing::copy_durable_state;
using st::testing::single_threaded_under_tsan;

namespace {

SessionTrace session(const std::string& id, std::string payload = "small") {
  SessionTrace t;
  t.session_id = id;
  t.created_at = st::now();
  t.event_history.push_back(CAISEvent{.system_instance_id = "agent", .model_name = "gpt-4o-mini", .prompt_tokens = 3});
  t.message_history.push_back(st::make_message("env", {{"obs", std::move(payload)}}, "observation", 0));
  return t;
}

// The sessions a copy of the database's durable state holds: what a crash now would keep.
std::size_t durable_sessions(const TempDir& dir) {
  const fs::path copy = dir.file("crash_copy.duckdb");
  copy_durable_state(dir.db(), copy);
  DuckDBTraceManager db(copy, DuckDBOptions{.read_only = true});
  return single_threaded_under_tsan(db).session_ids().size();
}

std::uintmax_t wal_size(const fs::path& db) {
  fs::path wal = db;
  wal += ".wal";
  std::error_code ec;
  const auto size = fs::file_size(wal, ec);
  return ec ? 0 : size;
}

}  // namespace

TEST(DuckDBSinkDurability, DefaultsCommitAtLeastEverySecond) {
  const DuckDBOptions defaults;
  EXPECT_GE(defaults.commit_sessions, 1u);
  EXPECT_LE(defaults.commit_interval, 1000ms);
  TempDir dir;
  try {
    DuckDBSink sink(dir.db(), DuckDBOptions{.commit_sessions = 0});
    FAIL() << "accepted commit_sessions = 0";
  } catch (const st::StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("commit_sessions"), std::string::npos) << e.what();
  }
}

TEST(DuckDBSinkDurability, CommitsEveryNSessionsWhileSessionsKeepComing) {
  TempDir dir;
  DuckDBSink sink(dir.db(), DuckDBOptions{.commit_sessions = 10, .commit_interval = std::chrono::hours(1)});
  single_threaded_under_tsan(sink.manager());
  // write() without flush(): a sink thread whose queue never runs empty.
  for (int i = 0; i < 9; ++i) sink.write(session("s" + std::to_string(i)));
  EXPECT_EQ(durable_sessions(dir), 0u);
  sink.write(session("s9"));
  EXPECT_EQ(durable_sessions(dir), 10u);
  for (int i = 10; i < 25; ++i) sink.write(session("s" + std::to_string(i)));
  EXPECT_EQ(durable_sessions(dir), 20u);
  sink.flush();
  EXPECT_EQ(durable_sessions(dir), 25u);
}

TEST(DuckDBSinkDurability, CommitsWhenTheIntervalHasPassedWhileSessionsKeepComing) {
  TempDir dir;
  {
    // An interval of zero has always passed: every session is committed as it is written.
    DuckDBSink sink(dir.db(), DuckDBOptions{.commit_sessions = 1000, .commit_interval = 0ms});
    single_threaded_under_tsan(sink.manager());
    for (int i = 0; i < 5; ++i) {
      sink.write(session("now" + std::to_string(i)));
      EXPECT_EQ(durable_sessions(dir), static_cast<std::size_t>(i + 1));
    }
  }
  // An interval that has not passed (nor N sessions): nothing is committed before flush().
  DuckDBSink sink(dir.db(), DuckDBOptions{.commit_sessions = 1000, .commit_interval = std::chrono::hours(1)});
  single_threaded_under_tsan(sink.manager());
  for (int i = 0; i < 5; ++i) sink.write(session("later" + std::to_string(i)));
  EXPECT_EQ(durable_sessions(dir), 5u);
  sink.flush();
  EXPECT_EQ(durable_sessions(dir), 10u);
}

namespace {
// Counts, for each session the tracer gives it, how many holders of the tracer's own trace the
// DuckDBSink's write() added (1: it keeps that trace; 0: it keeps a copy).
class SharingProbeSink : public DuckDBSink {
 public:
  using DuckDBSink::DuckDBSink;
  void write(const SessionTrace& trace) override {
    const long before = tracer->get_session_trace(trace.session_id).use_count();
    DuckDBSink::write(trace);
    holders_added.push_back(tracer->get_session_trace(trace.session_id).use_count() - before);
  }
  SessionTracer* tracer = nullptr;
  std::vector<long> holders_added;
};
}  // namespace

// Until its batch commits, the sink holds the tracer's own trace of each session instead of a
// copy (the copy was ~9 % of the sink thread); a subclass overriding write() still sees them all.
TEST(DuckDBSinkDurability, KeepsTheTracersOwnTraceUntilItsBatchCommits) {
  TempDir dir;
  auto sink = std::make_shared<SharingProbeSink>(dir.db());
  single_threaded_under_tsan(sink->manager());
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 10});
  sink->tracer = &tracer;
  tracer.add_sink(sink);
  for (int i = 0; i < 3; ++i) {
    auto s = tracer.start_session("kept" + std::to_string(i));
    tracer.add_event(CAISEvent{.system_instance_id = "agent", .prompt_tokens = i});
  }
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(sink->holders_added, (std::vector<long>{1, 1, 1}));
  EXPECT_EQ(durable_sessions(dir), 3u);
  // A write() from elsewhere keeps a copy: the caller may change or free its trace.
  SessionTrace mine = session("mine");
  sink->DuckDBSink::write(mine);
  mine.session_id = "changed";
  sink->flush();
  EXPECT_EQ(durable_sessions(dir), 4u);
  const auto ids = single_threaded_under_tsan(sink->manager()).session_ids();
  EXPECT_NE(std::find(ids.begin(), ids.end(), "mine"), ids.end()) << ::testing::PrintToString(ids);
}

TEST(DuckDBSinkDurability, AStatementThatAbortedTheOpenTransactionLosesNothing) {
  TempDir dir;
  DuckDBSink sink(dir.db());
  single_threaded_under_tsan(sink.manager());
  sink.write(session("stored"));
  sink.flush();
  const SessionTrace a = session("a");
  const SessionTrace b = session("b");
  sink.write(a);
  sink.write(b);
  // Another caller's statement on the sink's connection fails while the batch is open: DuckDB
  // aborts the transaction, and the batch's rows go with it.
  EXPECT_THROW(sink.manager().query("INSERT INTO session_traces (session_id) VALUES ('stored')"), st::StorageError);
  EXPECT_NO_THROW(sink.flush());
  DuckDBTraceManager& db = sink.manager();
  EXPECT_EQ(db.load_trace("a"), a);
  EXPECT_EQ(db.load_trace("b"), b);
  EXPECT_EQ(durable_sessions(dir), 3u);
}

TEST(DuckDBSinkDurability, ASessionViolatingAConstraintLosesOnlyItself) {
  TempDir dir;
  auto gate = std::make_shared<GateSink>();
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  DuckDBTraceManager& db = single_threaded_under_tsan(sink->manager());
  // A rule of the user's that validation cannot know: one stored LLM call per span id.
  db.query("CREATE UNIQUE INDEX one_row_per_span ON events(span_id)");
  SessionTrace first = session("first");
  std::get<CAISEvent>(first.event_history[0]).span_id = "span-1";
  ASSERT_TRUE(db.insert_trace(first));

  CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  { auto s = tracer.start_session("gate"); }
  ASSERT_TRUE(gate->wait_entered());
  for (const char* id : {"a", "b", "clash", "c"}) {
    auto s = tracer.start_session(id);
    tracer.add_event(CAISEvent{.span_id = std::string(id) == "clash" ? "span-1" : std::string("span-") + id,
                               .model_name = "gpt-4o-mini"});
  }
  gate->open();  // the four reach the DuckDB sink in one batch
  ASSERT_TRUE(tracer.flush(60s));

  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_lost, 1u);
  EXPECT_EQ(stats.sink_errors, 1u);
  for (const char* id : {"gate", "a", "b", "c"}) {
    const auto loaded = db.load_trace(id);
    ASSERT_TRUE(loaded) << id;
    EXPECT_EQ(*loaded, *tracer.get_session_trace(id)) << id;
  }
  EXPECT_FALSE(db.load_trace("clash"));
  bool named = false;
  for (const auto& m : diagnostics.all()) named = named || m.find("'clash'") != std::string::npos;
  EXPECT_TRUE(named) << "the lost session is named in a diagnostic";
}

TEST(DuckDBSinkDurability, AFailedCommitIsRetriedAndLosesOnlyWhatCannotBeStored) {
  TempDir dir;
  auto gate = std::make_shared<GateSink>();
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  single_threaded_under_tsan(sink->manager());
  CapturedDiagnostics diagnostics;
  // No truncation or masking: the big session stays big.
  SessionTracer tracer(TracingConfig{.truncate_payloads = false, .mask_pii = false});
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  { auto s = tracer.start_session("gate"); }
  ASSERT_TRUE(gate->wait_entered());
  const auto record = [&](const std::string& id, std::size_t payload_bytes) {
    auto s = tracer.start_session(id);
    tracer.add_message(st::make_message("env", {{"obs", std::string(payload_bytes, 'x')}}, "observation", 0));
  };
  for (const char* id : {"a", "b"}) record(id, 100);
  record("too-big", 4 << 20);  // more than the disk has room for
  for (const char* id : {"c", "d"}) record(id, 100);
  {
    // The write-ahead log may grow by 1 MiB: the batch's commit fails, each session alone is
    // retried once, and only the one that cannot fit is lost.
    st::testing::FileSizeLimit disk_full(static_cast<rlim_t>(wal_size(dir.db()) + (1 << 20)));
    gate->open();
    ASSERT_TRUE(tracer.flush(60s));
  }
  st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_lost, 1u);
  EXPECT_GE(stats.sink_errors, 1u);
  DuckDBTraceManager& db = sink->manager();
  for (const char* id : {"gate", "a", "b", "c", "d"}) {
    const auto loaded = db.load_trace(id);
    ASSERT_TRUE(loaded) << id;
    EXPECT_EQ(*loaded, *tracer.get_session_trace(id)) << id;
  }
  EXPECT_FALSE(db.load_trace("too-big"));
  // What a new process reads from the files is the same.
  copy_durable_state(dir.db(), dir.file("crash_copy.duckdb"));
  DuckDBTraceManager reread(dir.file("crash_copy.duckdb"), DuckDBOptions{.read_only = true});
  single_threaded_under_tsan(reread);
  for (const char* id : {"gate", "a", "b", "c", "d"}) EXPECT_EQ(reread.load_trace(id), db.load_trace(id)) << id;
  bool named = false;
  for (const auto& m : diagnostics.all()) named = named || m.find("'too-big'") != std::string::npos;
  EXPECT_TRUE(named) << "the lost session is named in a diagnostic";

  // With room on the disk again the sink goes on.
  record("after", 100);
  ASSERT_TRUE(tracer.flush(60s));
  EXPECT_TRUE(db.load_trace("after"));
  EXPECT_EQ(tracer.stats().sessions_lost, 1u);
}

TEST(DuckDBSinkDurability, EverySessionOfABatchThatCannotBeStoredIsCounted) {
  TempDir dir;
  auto gate = std::make_shared<GateSink>();
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  single_threaded_under_tsan(sink->manager());
  CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  { auto s = tracer.start_session("gate"); }
  ASSERT_TRUE(gate->wait_entered());
  for (int i = 0; i < 6; ++i) auto s = tracer.start_session("s" + std::to_string(i));
  {
    st::testing::FileSizeLimit disk_full(static_cast<rlim_t>(wal_size(dir.db())));  // the log cannot grow at all
    gate->open();
    ASSERT_TRUE(tracer.flush(60s));
  }
  EXPECT_EQ(tracer.stats().sessions_lost, 7u);  // "gate" and s0..s5: none is stored, all counted
  EXPECT_TRUE(sink->manager().session_ids().empty());
}

// Issue 10, fault injection: the database is locked by another process when the sink starts.
// Nothing is lost: sessions go to JSON files in '<file>.pending' (reported, with the command
// that stores them later), and once the other process lets go the sink stores new sessions in
// the database again.
TEST(DuckDBSinkDurability, ALockedDatabaseSendsSessionsToJsonFilesUntilItIsFree) {
  TempDir dir;
  CapturedDiagnostics diagnostics;
  st::testing::DatabaseHolder holder(dir.db());
  auto sink = std::make_shared<DuckDBSink>(dir.db());  // does not throw
  EXPECT_THROW(sink->manager(), st::DatabaseLocked);
  SessionTracer tracer;
  tracer.add_sink(sink);
  for (int i = 0; i < 3; ++i) auto s = tracer.start_session("while-locked-" + std::to_string(i));
  ASSERT_TRUE(tracer.flush(60s));
  EXPECT_EQ(sink->sessions_pending_import(), 3u);
  EXPECT_EQ(tracer.stats().sessions_lost, 0u);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(sink->pending_dir())) {
    const SessionTrace stored = SessionTrace::read_file(entry.path());
    const auto recorded = tracer.get_session_trace(stored.session_id);
    ASSERT_TRUE(recorded) << stored.session_id;
    EXPECT_EQ(stored, *recorded);
    ++files;
  }
  EXPECT_EQ(files, 3u);
  bool told = false;
  for (const auto& m : diagnostics.all()) {
    told = told || (m.find("locked by another process") != std::string::npos &&
                    m.find("import " + sink->pending_dir().string()) != std::string::npos);
  }
  EXPECT_TRUE(told) << "the report names the lock, the folder and the import command";

  // The other process lets go: the sink opens the database at its next attempt (every few
  // seconds) and stores the sessions that follow there.
  ASSERT_EQ(holder.release(), 0);
  int n = 0;
  ASSERT_TRUE(st::testing::wait_until(
      [&] {
        { auto s = tracer.start_session("after-" + std::to_string(n++)); }
        if (!tracer.flush(60s)) return false;
        try {
          return !sink->manager().session_ids().empty();
        } catch (const st::DatabaseLocked&) {
          return false;  // not yet opened again
        }
      },
      30s));
  single_threaded_under_tsan(sink->manager());
  const std::uint64_t in_files = sink->sessions_pending_import();
  const std::uint64_t in_db = sink->manager().session_ids().size();
  EXPECT_EQ(in_files + in_db, 3u + static_cast<std::uint64_t>(n)) << "every session in the database or a file";
  EXPECT_TRUE(sink->manager().load_trace("after-" + std::to_string(n - 1)));
  EXPECT_EQ(tracer.stats().sessions_lost, 0u);
}

// Issue 10, fault injection: the database's folder made read-only while the agent runs (DuckDB
// cannot create its write-ahead log there, nor the sink its pending folder). Every session is
// accounted for: in the database, in a pending file, or counted lost with a message naming the
// folder; the sessions after the folder is writable again are stored.
TEST(DuckDBSinkDurability, AFolderMadeReadOnlyMidRunAccountsForEverySessionAndStoresAgainWhenWritable) {
  TempDir dir;
  st::testing::Unprivileged user(dir.path);
  CapturedDiagnostics diagnostics;
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  SessionTracer tracer(st::TracingConfig{.checkpoint = false});
  tracer.add_sink(sink);
  { auto s = tracer.start_session("before"); }
  ASSERT_TRUE(tracer.flush(60s));
  // Checkpointed: the next commit needs a new write-ahead log file in the folder.
  single_threaded_under_tsan(sink->manager()).query("CHECKPOINT");
  fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec);
  for (int i = 0; i < 3; ++i) auto s = tracer.start_session("during-" + std::to_string(i));
  ASSERT_TRUE(tracer.flush(60s));
  fs::permissions(dir.path, fs::perms::owner_all);
  { auto s = tracer.start_session("after"); }
  ASSERT_TRUE(tracer.flush(60s));

  single_threaded_under_tsan(sink->manager());
  const auto stored = sink->manager().session_ids();
  const auto has = [&](const std::string& id) { return std::find(stored.begin(), stored.end(), id) != stored.end(); };
  EXPECT_TRUE(has("before"));
  EXPECT_TRUE(has("after")) << "the sink goes on once the folder is writable";
  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stored.size() + sink->sessions_pending_import() + stats.sessions_lost, 5u)
      << "every session stored, in a pending file, or counted lost";
  EXPECT_EQ(stats.sessions_lost, 3u) << "DuckDB could not create its log: the three sessions are counted lost";
  bool named = false;
  std::string reports;
  for (const auto& m : diagnostics.all()) {
    reports += m + "\n";
    named = named || (m.find(dir.db().string() + ".wal") != std::string::npos && m.find("Permission denied") != std::string::npos &&
                      m.find("'during-") != std::string::npos);
  }
  // (A loaded machine may commit the three in more than one batch; reports of the later ones
  // are rate-limited, counted in sessions_lost above.)
  EXPECT_TRUE(named) << "the report names the sessions, the file and the cause:\n" << reports;
}
