// DuckDB trace store: schema, lossless round trips, the original synth-ai test numbers,
// duplicate handling, experiments, bound-parameter queries and their output formats, bad
// database files, and the provider vocabulary. Every test uses real DuckDB files in a fresh
// temporary folder.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "duckdb/duckdb_support.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

// The randomized trace generator of the JSON tests, compiled into this test (tests/ is on the
// include path; the test's CMake target lists only this file).
#include "json/trace_random.cpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::testing::CapturedDiagnostics;
using st::testing::DatabaseHolder;
using st::testing::TempDir;
using st::CAISEvent;
using st::DuckDBOptions;
using st::DuckDBTraceManager;
using st::EnvironmentEvent;
using st::OnExistingSession;
using st::QueryResult;
using st::RuntimeEvent;
using st::SessionEventMessage;
using st::SessionTimeStep;
using st::SessionTrace;
using st::StorageError;
using st::TimeRecord;
using st::Timestamp;
using st::Value;

// Readable failure output for values and traces.
namespace synth::tracing {
void PrintTo(const Value& v, std::ostream* os) { *os << v.dump(); }
void PrintTo(const SessionTrace& t, std::ostream* os) {
  const std::string json = t.to_json();
  *os << json.substr(0, 1500) << (json.size() > 1500 ? "..." : "");
}
}  // namespace synth::tracing

namespace {

Timestamp ts(std::string_view iso) {
  const auto t = st::parse_timestamp(iso);
  if (!t) throw std::runtime_error("bad test timestamp " + std::string(iso));
  return *t;
}

Timestamp from_ns(std::int64_t ns) { return Timestamp(std::chrono::nanoseconds(ns)); }

// What DuckDB's microsecond TIMESTAMP keeps of a nanosecond time: the time rounded down to a
// whole microsecond (the digits after the sixth are dropped), kept within what a nanosecond
// Timestamp can represent.
Timestamp to_micros(Timestamp t) {
  const std::int64_t ns = t.time_since_epoch().count();
  std::int64_t us = ns / 1000;
  if (ns % 1000 < 0) --us;                                                     // round down
  us = std::max(us, std::numeric_limits<std::int64_t>::min() / 1000);  // representable in ns
  return from_ns(us * 1000);
}

void micros_in_place(std::optional<TimeRecord>& tr) {
  if (tr) tr->event_time = to_micros(tr->event_time);
}
void micros_in_place(SessionEventMessage& m) {
  m.timestamp = to_micros(m.timestamp);
  micros_in_place(m.time_record);
}
void micros_in_place(st::Event& e) { micros_in_place(st::time_record(e)); }

// Timestamps in table columns become microseconds. (Session metadata timestamps are JSON text
// and keep their nanoseconds: they are left as generated.)
void micros_in_place(SessionTrace& t) {
  t.created_at = to_micros(t.created_at);
  for (auto& step : t.session_time_steps) {
    step.timestamp = to_micros(step.timestamp);
    for (auto& e : step.events) micros_in_place(e);
    for (auto& m : step.step_messages) micros_in_place(m);
  }
  for (auto& e : t.event_history) micros_in_place(e);
  for (auto& m : t.message_history) micros_in_place(m);
}

// A random trace with microsecond timestamps and a session id unique by `index`.
SessionTrace random_micro_trace(std::uint64_t seed, std::size_t index) {
  synth_test::Rng rng(seed);
  SessionTrace t = synth_test::random_trace(rng, 5);
  t.session_id += "#" + std::to_string(index);
  micros_in_place(t);
  return t;
}

// Where two JSON texts first differ, with some context, for readable failures.
std::string first_difference(const std::string& a, const std::string& b) {
  if (a == b) return "\n(identical JSON text)";
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const std::size_t from = i > 120 ? i - 120 : 0;
  return "\nJSON texts differ at byte " + std::to_string(i) + ":\n  loaded:   ..." + a.substr(from, 240) +
         "\n  inserted: ..." + b.substr(from, 240);
}

std::size_t column_of(const QueryResult& r, std::string_view name) {
  const auto it = std::find(r.columns.begin(), r.columns.end(), name);
  if (it == r.columns.end()) throw std::runtime_error("no column " + std::string(name));
  return static_cast<std::size_t>(it - r.columns.begin());
}

// One cell by row and column name.
Value cell(const QueryResult& r, std::size_t row, std::string_view column) {
  if (row >= r.rows.size()) throw std::runtime_error("no row " + std::to_string(row));
  return r.rows[row][column_of(r, column)];
}

// A whole column.
std::vector<Value> column(const QueryResult& r, std::string_view name) {
  const std::size_t c = column_of(r, name);
  std::vector<Value> out;
  for (const auto& row : r.rows) out.push_back(row[c]);
  return out;
}

std::int64_t scalar_int(DuckDBTraceManager& db, std::string_view sql, const std::vector<Value>& params = {}) {
  const QueryResult r = db.query(sql, params);
  if (r.rows.size() != 1 || r.rows[0].size() != 1) throw std::runtime_error("not a scalar: " + std::string(sql));
  return r.rows[0][0].as_int();
}

std::int64_t count_rows(DuckDBTraceManager& db, std::string_view table, std::string_view session_id = {}) {
  if (session_id.empty()) return scalar_int(db, "SELECT COUNT(*) FROM " + std::string(table));
  return scalar_int(db, "SELECT COUNT(*) FROM " + std::string(table) + " WHERE session_id = ?", {Value(session_id)});
}

CAISEvent llm_call(std::string model, std::int64_t prompt, std::int64_t completion, std::optional<double> cost,
                   Timestamp at, std::int64_t turn = 0) {
  CAISEvent e;
  e.time_record = TimeRecord{at, turn};
  e.system_instance_id = "agent";
  e.model_name = std::move(model);
  e.prompt_tokens = prompt;
  e.completion_tokens = completion;
  e.total_tokens = prompt + completion;
  e.cost = cost;
  e.latency_ms = 100.0;
  return e;
}

SessionEventMessage message(std::string type, Value payload, Timestamp at, std::int64_t turn) {
  SessionEventMessage m;
  m.content = Value{{"origin_system_id", "env"}, {"payload", std::move(payload)}};
  m.message_type = std::move(type);
  m.timestamp = at;
  m.time_record = TimeRecord{at, turn};
  return m;
}

// Adds a timestep whose items also go to the histories, as the tracer records them.
SessionTimeStep& add_step(SessionTrace& t, std::string step_id, Timestamp at, std::vector<st::Event> events,
                          std::vector<SessionEventMessage> messages) {
  SessionTimeStep step;
  step.step_id = std::move(step_id);
  step.step_index = static_cast<std::int64_t>(t.session_time_steps.size());
  step.turn_number = step.step_index;
  step.timestamp = at;
  for (auto& e : events) t.event_history.push_back(e);
  for (auto& m : messages) t.message_history.push_back(m);
  step.events = std::move(events);
  step.step_messages = std::move(messages);
  t.session_time_steps.push_back(std::move(step));
  return t.session_time_steps.back();
}

SessionTrace empty_trace(std::string id, Timestamp created = ts("2025-01-01T09:00:00")) {
  SessionTrace t;
  t.session_id = std::move(id);
  t.created_at = created;
  return t;
}

// A session: timesteps x (cais + environment + runtime event, and an observation message).
SessionTrace complex_trace(std::string id, int steps = 3) {
  SessionTrace t = empty_trace(std::move(id));
  t.session_metadata.push_back({"run", Value{{"seed", 7}}, ts("2025-01-01T09:00:00")});
  for (int s = 0; s < steps; ++s) {
    const Timestamp at = ts("2025-01-01T10:00:00") + std::chrono::seconds(s);
    EnvironmentEvent env;
    env.time_record = TimeRecord{at + std::chrono::milliseconds(1), s};
    env.reward = 1.0;
    env.terminated = s + 1 == steps;
    RuntimeEvent rt;
    rt.time_record = TimeRecord{at + std::chrono::milliseconds(2), s};
    rt.actions = Value::array({"move_north"});
    add_step(t, "step_" + std::to_string(s), at, {llm_call("gpt-4", 100, 50, 0.01, at, s), env, rt},
             {message("observation", Value{{"pos", s}}, at, s)});
  }
  return t;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// 1. Schema

TEST(Schema, NewFileHasTheTablesViewsAndIndexes) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  EXPECT_TRUE(fs::exists(dir.db()));
  EXPECT_EQ(db.path(), dir.db());

  const QueryResult tables = db.query(
      "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main' "
      "ORDER BY table_type, table_name");
  std::vector<std::string> base, views;
  for (const auto& row : tables.rows) {
    (row[1].as_string() == "VIEW" ? views : base).push_back(row[0].as_string());
  }
  EXPECT_EQ(base, (std::vector<std::string>{"events", "experimental_systems", "experiments", "messages",
                                            "session_stats", "session_timesteps", "session_traces",
                                            "synth_tracing_schema", "system_versions", "systems"}));
  EXPECT_EQ(views, (std::vector<std::string>{"experiment_overview", "model_usage_stats", "session_summary"}));

  // No secondary indexes by default (zone maps serve the queries, and indexes on the big tables
  // make every insert and checkpoint slower as the file grows); the original's with indexes = true.
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM duckdb_indexes()").rows.at(0).at(0).as_int(), 0);
  TempDir indexed_dir;
  DuckDBTraceManager indexed(indexed_dir.db(), {.indexes = true});
  const QueryResult indexes = indexed.query("SELECT index_name, table_name FROM duckdb_indexes() ORDER BY index_name");
  std::vector<std::string> names;
  for (const auto& row : indexes.rows) names.push_back(row[0].as_string() + " ON " + row[1].as_string());
  EXPECT_EQ(names, (std::vector<std::string>{
                       "idx_events_model_provider ON events",
                       "idx_events_session_time ON events",
                       "idx_events_system_type ON events",
                       "idx_experimental_systems_experiment ON experimental_systems",
                       "idx_messages_session_time ON messages",
                       "idx_messages_type ON messages",
                       "idx_session_traces_experiment ON session_traces",
                       "idx_system_versions_system ON system_versions",
                       "idx_timesteps_session ON session_timesteps",
                   }));

  // The original's key columns and types.
  const QueryResult cols = db.query(
      "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
      "WHERE table_name IN ('session_traces', 'events', 'messages') AND column_name IN "
      "('session_id', 'created_at', 'metadata', 'event_type', 'cost', 'terminated', 'content', 'timestamp', "
      "'prompt_tokens') ORDER BY 1");
  std::vector<std::string> typed;
  for (const auto& row : cols.rows) typed.push_back(row[0].as_string() + " " + row[1].as_string());
  EXPECT_EQ(typed, (std::vector<std::string>{
                       "events.cost DOUBLE", "events.event_type VARCHAR", "events.metadata JSON",
                       "events.prompt_tokens BIGINT", "events.session_id VARCHAR", "events.terminated BOOLEAN",
                       "messages.content JSON", "messages.session_id VARCHAR", "messages.timestamp TIMESTAMP",
                       "session_traces.created_at TIMESTAMP", "session_traces.metadata JSON",
                       "session_traces.session_id VARCHAR"}));

  // Primary keys as in the original (and session_stats, ours), except on the row ids of events,
  // messages and session_timesteps: the writer assigns those itself, and maintaining their index
  // made inserts slower as the file grew (files that have these keys keep them).
  const QueryResult pks = db.query(
      "SELECT table_name, constraint_column_names::VARCHAR FROM duckdb_constraints() "
      "WHERE constraint_type = 'PRIMARY KEY' ORDER BY table_name");
  std::vector<std::string> keys;
  for (const auto& row : pks.rows) keys.push_back(row[0].as_string() + row[1].as_string());
  EXPECT_EQ(keys, (std::vector<std::string>{"experimental_systems[experiment_id, system_id]", "experiments[id]",
                                            "session_stats[session_id]", "session_traces[session_id]",
                                            "system_versions[id]", "systems[id]"}));
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM duckdb_constraints() WHERE constraint_type = 'UNIQUE'").rows.at(0).at(0).as_int(),
            0);
  for (const char* table : {"session_traces", "session_timesteps", "events", "messages", "systems",
                            "system_versions", "experiments", "experimental_systems"}) {
    EXPECT_EQ(count_rows(db, table), 0) << table;
  }
}

TEST(Schema, WithoutIndexesTheSameQueriesGiveTheSameAnswers) {
  std::vector<SessionTrace> traces;
  for (std::size_t i = 0; i < 40; ++i) traces.push_back(random_micro_trace(0x1DE + i, i));
  traces.push_back(complex_trace("complex", 5));
  TempDir dir;
  const fs::path indexed_path = dir.path / "indexed.duckdb";
  const fs::path plain_path = dir.path / "plain.duckdb";
  DuckDBTraceManager indexed(indexed_path, {.indexes = true});
  DuckDBTraceManager plain(plain_path);
  EXPECT_EQ(plain.query("SELECT COUNT(*) AS n FROM duckdb_indexes()").rows.at(0).at(0).as_int(), 0);
  EXPECT_EQ(indexed.insert_traces(traces).inserted, traces.size());
  EXPECT_EQ(plain.insert_traces(traces).inserted, traces.size());

  for (const SessionTrace& t : traces) {
    const auto loaded = plain.load_trace(t.session_id);
    ASSERT_TRUE(loaded) << t.session_id;
    EXPECT_EQ(*loaded, t) << t.session_id;
  }
  const std::vector<std::string> some = {traces[3].session_id, "complex"};
  EXPECT_EQ(plain.query_messages(some).to_json(), indexed.query_messages(some).to_json());
  EXPECT_EQ(plain.query_events(some).to_json(), indexed.query_events(some).to_json());
  EXPECT_EQ(plain.get_session_summary().to_json(), indexed.get_session_summary().to_json());
  EXPECT_EQ(plain.get_model_usage().to_json(), indexed.get_model_usage().to_json());
}

TEST(Schema, ReopeningKeepsDataAndContinuesIds) {
  TempDir dir;
  const SessionTrace first = complex_trace("first");
  const SessionTrace second = complex_trace("second", 2);
  {
    DuckDBTraceManager db(dir.db());
    ASSERT_TRUE(db.insert_trace(first));
  }
  {
    DuckDBTraceManager db(dir.db());  // existing file: schema statements are no-ops
    EXPECT_EQ(db.load_trace("first"), first);
    // Ids continue after the stored ones (a clash would violate the primary keys).
    ASSERT_TRUE(db.insert_trace(second));
    EXPECT_EQ(db.load_trace("second"), second);
    EXPECT_EQ(scalar_int(db, "SELECT COUNT(DISTINCT id) FROM events"), 9 + 6);
    EXPECT_EQ(scalar_int(db, "SELECT MIN(id) FROM events WHERE session_id = 'second'"),
              scalar_int(db, "SELECT MAX(id) FROM events WHERE session_id = 'first'") + 1);
  }
  DuckDBTraceManager db(dir.db());
  EXPECT_EQ(db.session_ids().size(), 2u);
  EXPECT_EQ(db.load_trace("first"), first);
  EXPECT_EQ(db.load_trace("second"), second);
  EXPECT_EQ(count_rows(db, "session_timesteps"), 5);
  EXPECT_EQ(count_rows(db, "messages"), 5);
}

// ---------------------------------------------------------------------------------------------
// 2. insert -> load round trips

TEST(RoundTrip, TraceRecordedBySessionTracer) {
  st::SessionTracer tracer(st::TracingConfig{});
  {
    auto session = tracer.start_session("tracer-session", {{"experiment", "baseline"}, {"seed", 3}});
    tracer.add_session_metadata("env", {{"name", "gridworld"}, {"size", Value::array({5, 5})}});
    // History-only items: recorded outside any timestep.
    tracer.add_event(RuntimeEvent{.system_instance_id = "setup", .actions = Value::array({"reset"})});
    tracer.add_message(st::make_message("env", {{"obs", "start"}}, "observation", 0));
    for (int turn = 0; turn < 3; ++turn) {
      auto step = tracer.timestep(turn, {}, {{"phase", turn == 2 ? "end" : "play"}});
      tracer.add_message(st::make_message("env", {{"obs", turn}}, "observation", turn));
      tracer.add_event(CAISEvent{.system_instance_id = "agent",
                                 .system_state_before = {{"gen_ai.request.model", "gpt-4o-mini"}},
                                 .model_name = "gpt-4o-mini",
                                 .prompt_tokens = 12 + turn,
                                 .completion_tokens = 3,
                                 .total_tokens = 15 + turn,
                                 .cost = 0.00054,
                                 .latency_ms = 420.5});
      tracer.add_message(st::make_message("agent", {{"action", "move"}}, "action", turn));
      tracer.add_event(EnvironmentEvent{.reward = 0.5 * turn, .terminated = turn == 2, .truncated = false});
    }
    tracer.add_event(CAISEvent{.system_instance_id = "judge", .model_name = "claude-3-5-sonnet-20241022"});
  }
  const auto trace = tracer.get_session_trace("tracer-session");
  ASSERT_TRUE(trace);
  ASSERT_EQ(trace->session_time_steps.size(), 3u);
  ASSERT_EQ(trace->event_history.size(), 8u);

  TempDir dir;
  DuckDBTraceManager db(dir.db());
  ASSERT_TRUE(db.insert_trace(*trace));
  const auto loaded = db.load_trace("tracer-session");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, *trace);
  EXPECT_EQ(loaded->to_json(), trace->to_json());
  // Each item stored once, linked to its timestep.
  EXPECT_EQ(count_rows(db, "events"), 8);
  EXPECT_EQ(count_rows(db, "messages"), 7);
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE timestep_id IS NULL"), 2);
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM messages WHERE timestep_id IS NULL"), 1);
  // Recorded times, not insert times.
  ASSERT_TRUE(st::time_record(trace->event_history[0]));
  EXPECT_EQ(db.query("SELECT MIN(event_time) FROM events").rows[0][0],
            Value(st::format_timestamp(st::time_record(trace->event_history[0])->event_time)));
}

TEST(RoundTrip, PythonFixtures) {
  const fs::path folder = fs::path(SYNTH_TEST_DATA_DIR) / "python";
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(folder)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  ASSERT_GE(files.size(), 4u);
  for (const auto& file : files) {
    SCOPED_TRACE(file.string());
    const SessionTrace trace = SessionTrace::read_file(file);
    TempDir dir;
    DuckDBTraceManager db(dir.db());
    ASSERT_TRUE(db.insert_trace(trace));
    const auto loaded = db.load_trace(trace.session_id);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(*loaded, trace);
    EXPECT_EQ(loaded->to_json(), trace.to_json());
    EXPECT_EQ(count_rows(db, "events"), static_cast<std::int64_t>(trace.event_history.size()));
  }
}

TEST(RoundTrip, RandomTraces) {
  constexpr std::size_t kTraces = 400;
  std::vector<SessionTrace> traces;
  for (std::size_t i = 0; i < kTraces; ++i) traces.push_back(random_micro_trace(0xD0C + i, i));
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db());
    // Half one by one, half in batches of 7 (batch boundaries inside the list).
    for (std::size_t i = 0; i < kTraces / 2; ++i) ASSERT_TRUE(db.insert_trace(traces[i])) << "seed index " << i;
    const auto summary = db.insert_traces(std::span(traces).subspan(kTraces / 2), 7);
    EXPECT_EQ(summary.inserted, kTraces / 2);
    EXPECT_EQ(summary.skipped, 0u);
  }
  DuckDBTraceManager db(dir.db());
  EXPECT_EQ(count_rows(db, "session_traces"), static_cast<std::int64_t>(kTraces));
  for (std::size_t i = 0; i < kTraces; ++i) {
    const auto loaded = db.load_trace(traces[i].session_id);
    ASSERT_TRUE(loaded) << "seed index " << i;
    EXPECT_EQ(*loaded, traces[i]) << "seed index " << i << first_difference(loaded->to_json(), traces[i].to_json());
  }
}

// Rows reach DuckDB in data chunks of 2,048 rows: a batch whose tables cross chunk boundaries
// many times (session_stats' lists too) comes back exactly, and its aggregates are right.
TEST(RoundTrip, BatchesLargerThanADataChunk) {
  std::vector<SessionTrace> traces;
  for (std::size_t i = 0; i < 400; ++i) traces.push_back(random_micro_trace(0xD0C + i, i));  // as RandomTraces
  for (int i = 0; i < 2100; ++i) traces.push_back(complex_trace("small-" + std::to_string(i), 1));
  SessionTrace big = complex_trace("big", 1500);
  traces.push_back(big);
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db());
    EXPECT_EQ(db.insert_traces(traces, traces.size()).inserted, traces.size());
  }
  DuckDBTraceManager db(dir.db(), {.read_only = true});
  EXPECT_EQ(count_rows(db, "session_traces"), static_cast<std::int64_t>(traces.size()));
  EXPECT_EQ(count_rows(db, "session_stats"), static_cast<std::int64_t>(traces.size()));
  EXPECT_EQ(db.load_trace("big"), big);
  for (std::size_t i = 0; i < traces.size(); i += 97) {
    EXPECT_EQ(db.load_trace(traces[i].session_id), traces[i]) << "index " << i;
  }
  // The aggregates kept while appending equal those SQL computes from the stored rows.
  const QueryResult wrong = db.query(
      "SELECT s.session_id FROM session_stats s JOIN (SELECT session_id, COUNT(*) AS n, "
      "list_sort(list_distinct(list(system_instance_id))) AS systems FROM events GROUP BY session_id) e "
      "USING (session_id) WHERE s.num_events <> e.n OR s.systems <> e.systems");
  EXPECT_TRUE(wrong.rows.empty()) << wrong.to_table();
}

TEST(RoundTrip, CacheWriteTokensHaveTheirColumn) {
  SessionTrace t = empty_trace("cache-write");
  CAISEvent call;
  call.time_record = TimeRecord{ts("2025-01-01T10:00:00"), 0};
  call.model_name = "claude-sonnet-4-20250514";
  call.prompt_tokens = 1200;
  call.completion_tokens = 40;
  call.cached_tokens = 300;
  call.cache_write_tokens = 800;
  CAISEvent without = call;
  without.cache_write_tokens.reset();
  add_step(t, "step_0", ts("2025-01-01T10:00:00"), {call, without}, {});
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  ASSERT_TRUE(db.insert_trace(t));
  EXPECT_EQ(db.query("SELECT cache_write_tokens FROM events ORDER BY id").rows,
            (std::vector<std::vector<Value>>{{800}, {Value()}}));
  const auto loaded = db.load_trace("cache-write");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(*loaded, t);
}

TEST(RoundTrip, NanosecondDigitsAreDroppedNotGarbled) {
  SessionTrace t = empty_trace("ns", ts("2025-01-01T09:00:00.999999999"));
  EnvironmentEvent late;
  late.time_record = TimeRecord{ts("2025-01-01T10:00:01.123456789"), 1};
  EnvironmentEvent early;  // before 1970: rounds down too
  early.time_record = TimeRecord{from_ns(-1), 2};
  SessionEventMessage m = message("observation", 1, ts("2025-01-01T10:00:02.000000999"), 1);
  m.time_record->event_time = ts("1969-07-20T20:17:40.000000500");
  add_step(t, "step_0", ts("2025-01-01T10:00:00.000001999"), {late, early}, {m});
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  ASSERT_TRUE(db.insert_trace(t));
  const auto loaded = db.load_trace("ns");
  ASSERT_TRUE(loaded);
  EXPECT_EQ(st::format_timestamp(loaded->created_at), "2025-01-01T09:00:00.999999Z");
  EXPECT_EQ(st::format_timestamp(loaded->session_time_steps[0].timestamp), "2025-01-01T10:00:00.000001Z");
  EXPECT_EQ(st::format_timestamp(st::time_record(loaded->event_history[0])->event_time), "2025-01-01T10:00:01.123456Z");
  EXPECT_EQ(st::format_timestamp(st::time_record(loaded->event_history[1])->event_time), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(st::format_timestamp(loaded->message_history[0].timestamp), "2025-01-01T10:00:02.000000Z");
  EXPECT_EQ(st::format_timestamp(loaded->message_history[0].time_record->event_time), "1969-07-20T20:17:40.000000Z");
  // The same in SQL.
  EXPECT_EQ(db.query("SELECT CAST(event_time AS VARCHAR) FROM events ORDER BY id").rows,
            (std::vector<std::vector<Value>>{{"2025-01-01 10:00:01.123456"}, {"1969-12-31 23:59:59.999999"}}));
  // Everything else is as inserted once the times are rounded down.
  SessionTrace expected = t;
  micros_in_place(expected);
  EXPECT_EQ(*loaded, expected);
}

TEST(RoundTrip, TimestampRangeEdges) {
  constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
  constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();
  SessionTrace t = empty_trace("edges", from_ns(kMax));
  std::vector<st::Event> events;
  for (std::int64_t ns : {kMin, kMin + 1, kMin + 999, kMax, std::int64_t{-1000}, std::int64_t{1}}) {
    RuntimeEvent e;
    e.time_record = TimeRecord{from_ns(ns), 0};
    events.emplace_back(e);
  }
  add_step(t, "step_0", from_ns(kMin), events, {});
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  ASSERT_TRUE(db.insert_trace(t));
  const auto loaded = db.load_trace("edges");
  ASSERT_TRUE(loaded);
  SessionTrace expected = t;
  micros_in_place(expected);
  // 1677-09-21T00:12:43.145224192 (the earliest time) keeps its year; 2262 stays in 2262.
  EXPECT_EQ(st::format_timestamp(loaded->session_time_steps[0].timestamp), "1677-09-21T00:12:43.145225Z");
  EXPECT_EQ(st::format_timestamp(loaded->created_at), "2262-04-11T23:47:16.854775Z");
  EXPECT_EQ(*loaded, expected);
}

TEST(RoundTrip, InconsistentTracesRoundTripExactly) {
  const Timestamp at = ts("2025-01-01T10:00:00");
  const CAISEvent a = llm_call("gpt-4", 1, 1, 0.1, at);
  const CAISEvent b = llm_call("gpt-4", 2, 2, 0.2, at + std::chrono::seconds(1));
  EnvironmentEvent env;
  env.time_record = TimeRecord{at, 0};
  env.reward = 1;
  const SessionEventMessage m1 = message("observation", "m1", at, 0);
  const SessionEventMessage m2 = message("action", "m2", at, 0);

  std::vector<SessionTrace> cases;
  {  // an event and a message only in a timestep, not in the histories
    SessionTrace t = empty_trace("step-only");
    SessionTimeStep step;
    step.step_id = "s0";
    step.events = {a, env};
    step.step_messages = {m1};
    t.session_time_steps.push_back(step);
    t.event_history = {env};
    cases.push_back(t);
  }
  {  // duplicate equal events and messages, in the step and in the history
    SessionTrace t = empty_trace("duplicates");
    SessionTimeStep step;
    step.step_id = "s0";
    step.events = {a, a, b};
    step.step_messages = {m1, m1};
    t.session_time_steps.push_back(step);
    t.event_history = {a, a, b, a};
    t.message_history = {m1, m1, m1};
    cases.push_back(t);
  }
  {  // history order differs from step order; the same event in two timesteps
    SessionTrace t = empty_trace("reordered");
    SessionTimeStep s0;
    s0.step_id = "s0";
    s0.events = {b, a};
    s0.step_messages = {m2, m1};
    SessionTimeStep s1;
    s1.step_id = "s1";
    s1.step_index = 1;
    s1.events = {a};
    t.session_time_steps = {s0, s1};
    t.event_history = {a, b};
    t.message_history = {m1, m2};
    cases.push_back(t);
  }
  {  // history-only items, and an empty timestep
    SessionTrace t = empty_trace("history-only");
    t.event_history = {b, env};
    t.message_history = {m2};
    SessionTimeStep s0;
    s0.step_id = "empty";
    t.session_time_steps.push_back(s0);
    cases.push_back(t);
  }
  {  // step_index values other than the positions, and an empty step id
    SessionTrace t = empty_trace("odd-step-index");
    SessionTimeStep s0;
    s0.step_id = "late";
    s0.step_index = 9;
    s0.events = {a};
    SessionTimeStep s1;
    s1.step_id = "";
    s1.step_index = 2;
    s1.turn_number = -4;
    s1.events = {b};
    t.session_time_steps = {s0, s1};
    t.event_history = {a, b};
    cases.push_back(t);
  }
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  for (const auto& t : cases) {
    SCOPED_TRACE(t.session_id);
    ASSERT_TRUE(db.insert_trace(t));
    const auto loaded = db.load_trace(t.session_id);
    ASSERT_TRUE(loaded);
    EXPECT_EQ(*loaded, t);
    EXPECT_EQ(loaded->to_json(), t.to_json());
  }
  // An item in a timestep and in the history is one row; the rest have one place each.
  EXPECT_EQ(count_rows(db, "events", "step-only"), 2);
  EXPECT_EQ(count_rows(db, "events", "duplicates"), 4);
  EXPECT_EQ(count_rows(db, "messages", "duplicates"), 3);
  EXPECT_EQ(count_rows(db, "events", "reordered"), 3);
}

TEST(RoundTrip, UnknownSessionAndSessionIds) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  EXPECT_FALSE(db.load_trace("nope"));
  EXPECT_TRUE(db.session_ids().empty());
  ASSERT_TRUE(db.insert_trace(empty_trace("old", ts("2024-01-01T00:00:00"))));
  ASSERT_TRUE(db.insert_trace(empty_trace("new", ts("2025-01-01T00:00:00"))));
  ASSERT_TRUE(db.insert_trace(empty_trace("middle", ts("2024-06-01T00:00:00"))));
  EXPECT_EQ(db.session_ids(), (std::vector<std::string>{"new", "middle", "old"}));
  EXPECT_EQ(db.load_trace("middle"), empty_trace("middle", ts("2024-06-01T00:00:00")));
  EXPECT_FALSE(db.load_trace("nope"));
}

TEST(RoundTrip, SessionsTheSchemaCannotHoldAreRefusedWhole) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const Timestamp at = ts("2025-01-01T10:00:00");
  std::vector<std::pair<SessionTrace, std::string>> refused;
  {  // UNIQUE (session_id, step_id), as in the original schema
    SessionTrace t = empty_trace("dup-steps");
    add_step(t, "same", at, {llm_call("gpt-4", 1, 1, 0.1, at)}, {});
    add_step(t, "same", at, {llm_call("gpt-4", 2, 2, 0.1, at)}, {});
    refused.emplace_back(t, "step_id 'same'");
  }
  {  // text columns must be UTF-8 (JSON columns replace bad bytes, as JSON files do)
    SessionTrace t = empty_trace("bad-model");
    add_step(t, "s", at, {llm_call("gpt\xC3", 1, 1, 0.1, at)}, {});
    refused.emplace_back(t, "model_name is not valid UTF-8");
  }
  {
    SessionTrace t = empty_trace("bad-step");
    add_step(t, "st\xE2\x82", at, {}, {message("observation", 1, at, 0)});
    refused.emplace_back(t, "step_id is not valid UTF-8");
  }
  {
    SessionTrace t = empty_trace("bad-type");
    t.message_history.push_back(message("obs\xFF", 1, at, 0));
    refused.emplace_back(t, "message_type is not valid UTF-8");
  }
  refused.emplace_back(empty_trace("bad\xFF-id"), "session id is not valid UTF-8");
  for (const auto& [trace, reason] : refused) {
    SCOPED_TRACE(trace.session_id);
    try {
      db.insert_trace(trace);
      ADD_FAILURE() << "stored";
    } catch (const StorageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(reason), std::string::npos) << what;
      EXPECT_NE(what.find(dir.db().string()), std::string::npos) << what;
    }
  }
  EXPECT_EQ(count_rows(db, "session_traces"), 0);
  EXPECT_EQ(count_rows(db, "events"), 0);
  EXPECT_EQ(count_rows(db, "session_timesteps"), 0);
  // Valid UTF-8 of every length and NUL characters are fine in text columns.
  SessionTrace fine = empty_trace(std::string("ok \xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80 \0 end", 19));
  add_step(fine, std::string("st\0ep", 5), at, {llm_call(std::string("m\0del", 5), 1, 1, 0.1, at)}, {});
  ASSERT_TRUE(db.insert_trace(fine));
  EXPECT_EQ(db.load_trace(fine.session_id), fine);
  EXPECT_EQ(db.query("SELECT session_id FROM session_traces").rows[0][0], Value(fine.session_id));
}

// ---------------------------------------------------------------------------------------------
// 3. The original project's duckdb_integration numbers, and the query helpers

TEST(OriginalTests, ModelUsageGroupsNineGpt4CallsUnderOpenAI) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  ASSERT_TRUE(db.insert_trace(complex_trace("usage-1")));  // 3 calls
  SessionTrace more = empty_trace("usage-2");
  for (int s = 0; s < 3; ++s) {
    const Timestamp at = ts("2025-01-02T10:00:00") + std::chrono::minutes(s);
    add_step(more, "step_" + std::to_string(s), at,
             {llm_call("gpt-4", 100, 50, 0.01, at, s), llm_call("gpt-4", 100, 50, 0.01, at, s)}, {});
  }
  ASSERT_TRUE(db.insert_trace(more));  // 6 calls
  const QueryResult usage = db.get_model_usage();
  ASSERT_EQ(usage.rows.size(), 1u) << usage.to_table();
  EXPECT_EQ(cell(usage, 0, "model_name"), Value("gpt-4"));
  EXPECT_EQ(cell(usage, 0, "provider"), Value("openai"));
  EXPECT_EQ(cell(usage, 0, "call_count"), Value(9));
  EXPECT_EQ(cell(usage, 0, "total_prompt_tokens"), Value(900));
  EXPECT_EQ(cell(usage, 0, "total_completion_tokens"), Value(450));
  EXPECT_EQ(cell(usage, 0, "total_tokens"), Value(1350));
  EXPECT_NEAR(cell(usage, 0, "total_cost").as_double(), 0.09, 1e-12);
  EXPECT_EQ(cell(usage, 0, "avg_latency_ms"), Value(100.0));
  EXPECT_EQ(cell(usage, 0, "first_call"), Value("2025-01-01T10:00:00.000000Z"));
  EXPECT_EQ(cell(usage, 0, "last_call"), Value("2025-01-02T10:02:00.000000Z"));
  // The view agrees.
  const QueryResult view = db.query("SELECT model_name, provider, call_count FROM model_usage_stats");
  EXPECT_EQ(view.rows, (std::vector<std::vector<Value>>{{"gpt-4", "openai", 9}}));
}

TEST(OriginalTests, ExpensiveCallsAboveThresholdMostExpensiveFirst) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  SessionTrace t = empty_trace("costs");
  const Timestamp at = ts("2025-01-01T10:00:00");
  EnvironmentEvent env;
  env.reward = 100;  // not a call: never listed
  add_step(t, "step_0", at,
           {llm_call("gpt-4", 1000, 10, 0.1, at), llm_call("claude-3-opus", 5000, 500, 0.5, at),
            llm_call("gpt-4", 300, 3, 0.05, at), llm_call("gpt-3.5-turbo", 10, 1, 0.01, at),
            llm_call("gpt-4", 10, 1, std::nullopt, at), env},
           {});
  ASSERT_TRUE(db.insert_trace(t));
  const QueryResult r = db.get_expensive_calls(0.05);
  EXPECT_EQ(r.columns, (std::vector<std::string>{"session_id", "model_name", "prompt_tokens", "completion_tokens",
                                                 "cost", "latency_ms"}));
  EXPECT_EQ(r.rows, (std::vector<std::vector<Value>>{{"costs", "claude-3-opus", 5000, 500, 0.5, 100.0},
                                                     {"costs", "gpt-4", 1000, 10, 0.1, 100.0}}));
  EXPECT_EQ(db.get_expensive_calls(0.5).rows.size(), 0u);
  EXPECT_EQ(db.get_expensive_calls(0.0).rows.size(), 4u);
}

TEST(OriginalTests, ComplexTraceWithGroupByQuery) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const SessionTrace t = complex_trace("complex");
  ASSERT_TRUE(db.insert_trace(t));
  const QueryResult by_type =
      db.query("SELECT event_type, COUNT(*) AS n, COUNT(timestep_id) AS in_steps FROM events "
               "WHERE session_id = ? GROUP BY event_type ORDER BY event_type",
               {Value("complex")});
  EXPECT_EQ(by_type.rows, (std::vector<std::vector<Value>>{
                              {"cais", 3, 3}, {"environment", 3, 3}, {"runtime", 3, 3}}));
  const QueryResult session = db.query(
      "SELECT num_timesteps, num_events, num_messages, metadata FROM session_traces WHERE session_id = 'complex'");
  ASSERT_EQ(session.rows.size(), 1u);
  EXPECT_EQ(session.rows[0][0], Value(3));
  EXPECT_EQ(session.rows[0][1], Value(9));
  EXPECT_EQ(session.rows[0][2], Value(3));
  EXPECT_EQ(Value::parse(session.rows[0][3].as_string()),
            Value::parse(R"([{"metadata_type":"run","data":{"seed":7},"timestamp":"2025-01-01T09:00:00.000000Z"}])"));
  const QueryResult steps = db.query(
      "SELECT t.step_id, t.step_index, t.num_events, t.num_messages, COUNT(e.id) AS linked FROM session_timesteps t "
      "LEFT JOIN events e ON e.timestep_id = t.id GROUP BY ALL ORDER BY t.step_index");
  EXPECT_EQ(steps.rows, (std::vector<std::vector<Value>>{
                            {"step_0", 0, 3, 1, 3}, {"step_1", 1, 3, 1, 3}, {"step_2", 2, 3, 1, 3}}));
  // Per-system GROUP BY over JSON and typed columns.
  const QueryResult rewards = db.query(
      "SELECT system_instance_id, SUM(reward) AS total_reward, COUNT(*) FILTER (WHERE terminated) AS ends, "
      "MAX(json_extract_string(actions, '$[0]')) AS action FROM events GROUP BY system_instance_id "
      "ORDER BY system_instance_id");
  EXPECT_EQ(rewards.rows, (std::vector<std::vector<Value>>{{"agent", Value(), 0, Value()},
                                                           {"environment", 3.0, 1, Value()},
                                                           {"runtime", Value(), 0, "move_north"}}));
}

TEST(OriginalTests, BatchInsertOfTenSessions) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  std::vector<SessionTrace> traces;
  for (int i = 0; i < 10; ++i) traces.push_back(complex_trace("batch-" + std::to_string(i), 1 + i % 3));
  const st::InsertSummary summary = db.insert_traces(traces, 4);
  EXPECT_EQ(summary.inserted, 10u);
  EXPECT_EQ(summary.skipped, 0u);
  EXPECT_EQ(summary.replaced, 0u);
  EXPECT_EQ(count_rows(db, "session_traces"), 10);
  EXPECT_EQ(count_rows(db, "session_timesteps"), 1 + 2 + 3 + 1 + 2 + 3 + 1 + 2 + 3 + 1);
  EXPECT_EQ(count_rows(db, "events"), 3 * 19);
  for (const auto& t : traces) EXPECT_EQ(db.load_trace(t.session_id), t);
  // Empty input is fine.
  EXPECT_EQ(db.insert_traces({}).inserted, 0u);
}

TEST(OriginalTests, ExportToParquetWritesFourFilesWithTheSameRows) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(db.insert_trace(complex_trace("pq-" + std::to_string(i), i + 1)));
  const fs::path out = dir.path / "it's exported" / "nested";  // a quote in the path, and missing folders
  db.export_to_parquet(out);
  for (const char* table : {"session_traces", "session_timesteps", "events", "messages"}) {
    SCOPED_TRACE(table);
    const fs::path file = out / (std::string(table) + ".parquet");
    ASSERT_TRUE(fs::exists(file));
    const QueryResult back = db.query("SELECT COUNT(*) FROM read_parquet(?)", {Value(file.string())});
    EXPECT_EQ(back.rows[0][0].as_int(), count_rows(db, table));
    // Same rows, not just the same count.
    EXPECT_EQ(scalar_int(db,
                         "SELECT COUNT(*) FROM (SELECT * FROM read_parquet(?) EXCEPT ALL SELECT * FROM " +
                             std::string(table) + ")",
                         {Value(file.string())}),
              0);
  }
  EXPECT_EQ(count_rows(db, "events"), 18);
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(out)) ++files;
  EXPECT_EQ(files, 4u);
  // A folder that cannot be created.
  std::ofstream(dir.path / "plain-file") << "x";
  EXPECT_THROW(db.export_to_parquet(dir.path / "plain-file" / "sub"), StorageError);
}

TEST(OriginalTests, SessionSummaryTotalsByHand) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  SessionTrace t = empty_trace("summary", ts("2025-01-01T09:00:00"));
  const Timestamp at = ts("2025-01-01T10:00:00");
  CAISEvent claude = llm_call("claude-3-5-sonnet-20241022", 10, 5, 0.25, at);
  claude.total_tokens.reset();  // counted as prompt + completion = 15
  EnvironmentEvent r1, r2;
  r1.reward = 1.0;
  r2.reward = 0.5;
  add_step(t, "step_0", at, {llm_call("gpt-4", 100, 20, 0.5, at), claude, r1}, {message("obs", 1, at, 0)});
  add_step(t, "step_1", at, {r2}, {message("obs", 2, at, 1)});
  ASSERT_TRUE(db.insert_trace(t));
  ASSERT_TRUE(db.insert_trace(empty_trace("no-events", ts("2025-01-02T09:00:00"))));

  const QueryResult one = db.get_session_summary("summary");
  ASSERT_EQ(one.rows.size(), 1u);
  EXPECT_EQ(cell(one, 0, "session_id"), Value("summary"));
  EXPECT_EQ(cell(one, 0, "created_at"), Value("2025-01-01T09:00:00.000000Z"));
  EXPECT_EQ(cell(one, 0, "num_timesteps"), Value(2));
  EXPECT_EQ(cell(one, 0, "num_events"), Value(4));
  EXPECT_EQ(cell(one, 0, "num_messages"), Value(2));
  EXPECT_EQ(cell(one, 0, "total_tokens_used"), Value(120 + 15));
  EXPECT_EQ(cell(one, 0, "total_cost"), Value(0.75));
  EXPECT_EQ(cell(one, 0, "total_reward"), Value(1.5));
  EXPECT_EQ(Value::parse(cell(one, 0, "models_used").as_string()),
            Value::array({"claude-3-5-sonnet-20241022", "gpt-4"}));
  EXPECT_EQ(Value::parse(cell(one, 0, "providers_used").as_string()), Value::array({"anthropic", "openai"}));

  const QueryResult all = db.get_session_summary();
  EXPECT_EQ(column(all, "session_id"), (std::vector<Value>{"no-events", "summary"}));  // newest first
  EXPECT_EQ(cell(all, 0, "total_cost"), Value());
  EXPECT_EQ(cell(all, 0, "num_events"), Value(0));
  EXPECT_EQ(db.get_session_summary("nope").rows.size(), 0u);
}

namespace {
// Two sessions for the filter tests: s1 has messages of two types (one history-only) and events
// of three systems; s2 has one of each kind.
void insert_filter_fixture(DuckDBTraceManager& db) {
  const Timestamp at = ts("2025-01-01T10:00:00");
  SessionTrace s1 = empty_trace("s1");
  s1.message_history.push_back(message("system", "hello", at, 0));  // history-only
  EnvironmentEvent env;
  env.time_record = TimeRecord{at, 0};
  env.reward = 1;
  RuntimeEvent tool;
  tool.time_record = TimeRecord{at, 1};
  tool.system_instance_id = "tool";
  add_step(s1, "step_0", at, {llm_call("gpt-4", 1, 1, 0.1, at, 0), env},
           {message("observation", "o0", at, 0), message("action", "a0", at + std::chrono::seconds(1), 0)});
  add_step(s1, "step_1", at, {tool}, {message("observation", "o1", at + std::chrono::seconds(2), 1)});
  SessionTrace s2 = empty_trace("s2");
  add_step(s2, "only", at, {llm_call("claude-3-haiku", 2, 2, 0.2, at, 5)}, {message("observation", "x", at, 5)});
  ASSERT_TRUE(db.insert_trace(s1));
  ASSERT_TRUE(db.insert_trace(s2));
}
}  // namespace

TEST(OriginalTests, QueryMessagesFilters) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  insert_filter_fixture(db);
  const QueryResult all = db.query_messages();
  EXPECT_EQ(all.columns, (std::vector<std::string>{"session_id", "step_id", "message_type", "content", "timestamp",
                                                   "message_time"}));
  ASSERT_EQ(all.rows.size(), 5u);
  EXPECT_EQ(all.rows[0], (std::vector<Value>{"s1", Value(), "system", R"({"origin_system_id":"env","payload":"hello"})",
                                             "2025-01-01T10:00:00.000000Z", 0}));
  EXPECT_EQ(all.rows[2], (std::vector<Value>{"s1", "step_0", "action", R"({"origin_system_id":"env","payload":"a0"})",
                                             "2025-01-01T10:00:01.000000Z", 0}));
  const auto summary = [](const QueryResult& r) {
    std::vector<std::string> out;
    for (const auto& row : r.rows) {
      out.push_back(row[0].as_string() + "/" + (row[1].is_null() ? "-" : row[1].as_string()) + "/" +
                    row[2].as_string() + "/" + Value::parse(row[3].as_string())["payload"].as_string());
    }
    return out;
  };
  EXPECT_EQ(summary(all), (std::vector<std::string>{"s1/-/system/hello", "s1/step_0/observation/o0",
                                                    "s1/step_0/action/a0", "s1/step_1/observation/o1",
                                                    "s2/only/observation/x"}));
  EXPECT_EQ(summary(db.query_messages({"s1"})),
            (std::vector<std::string>{"s1/-/system/hello", "s1/step_0/observation/o0", "s1/step_0/action/a0",
                                      "s1/step_1/observation/o1"}));
  EXPECT_EQ(summary(db.query_messages({}, {"observation"})),
            (std::vector<std::string>{"s1/step_0/observation/o0", "s1/step_1/observation/o1",
                                      "s2/only/observation/x"}));
  EXPECT_EQ(summary(db.query_messages({"s1", "s2"}, {"action", "system"})),
            (std::vector<std::string>{"s1/-/system/hello", "s1/step_0/action/a0"}));
  EXPECT_EQ(summary(db.query_messages({"s2"}, {"action"})), std::vector<std::string>{});
  EXPECT_EQ(db.query_messages({"O'Reilly"}).rows.size(), 0u);
}

TEST(OriginalTests, QueryEventsFilters) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  insert_filter_fixture(db);
  const auto summary = [](const QueryResult& r) {
    std::vector<std::string> out;
    for (const auto& row : r.rows) {
      out.push_back(row[0].as_string() + "/" + (row[1].is_null() ? "-" : row[1].as_string()) + "/" +
                    row[2].as_string() + "/" + row[3].as_string());
    }
    return out;
  };
  const QueryResult all = db.query_events();
  EXPECT_EQ(summary(all), (std::vector<std::string>{"s1/step_0/cais/agent", "s1/step_0/environment/environment",
                                                    "s1/step_1/runtime/tool", "s2/only/cais/agent"}));
  EXPECT_EQ(cell(all, 0, "model_name"), Value("gpt-4"));
  EXPECT_EQ(cell(all, 0, "provider"), Value("openai"));
  EXPECT_EQ(cell(all, 3, "provider"), Value("anthropic"));
  EXPECT_EQ(cell(all, 3, "message_time"), Value(5));
  EXPECT_EQ(cell(all, 1, "reward"), Value(1.0));
  EXPECT_EQ(cell(all, 0, "cost"), Value(0.1));
  EXPECT_EQ(summary(db.query_events({"s2"})), (std::vector<std::string>{"s2/only/cais/agent"}));
  EXPECT_EQ(summary(db.query_events({}, {"cais"})),
            (std::vector<std::string>{"s1/step_0/cais/agent", "s2/only/cais/agent"}));
  EXPECT_EQ(summary(db.query_events({"s1"}, {"cais", "runtime"})),
            (std::vector<std::string>{"s1/step_0/cais/agent", "s1/step_1/runtime/tool"}));
  EXPECT_EQ(summary(db.query_events({}, {}, {"tool", "environment"})),
            (std::vector<std::string>{"s1/step_0/environment/environment", "s1/step_1/runtime/tool"}));
  EXPECT_EQ(summary(db.query_events({"s2"}, {"cais"}, {"agent"})), (std::vector<std::string>{"s2/only/cais/agent"}));
  EXPECT_EQ(summary(db.query_events({"s2"}, {"environment"})), std::vector<std::string>{});
}

TEST(OriginalTests, ModelUsageWithTimeWindows) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  SessionTrace t = empty_trace("windows");
  add_step(t, "step_0", ts("2025-01-01T10:00:00"),
           {llm_call("gpt-4", 10, 1, 0.01, ts("2025-01-01T10:00:00")),
            llm_call("gpt-4", 20, 2, 0.02, ts("2025-01-01T11:00:00")),
            llm_call("gpt-4", 40, 4, 0.04, ts("2025-01-01T12:00:00")),
            llm_call("claude-3-haiku", 80, 8, 0.08, ts("2025-01-01T13:00:00"))},
           {});
  ASSERT_TRUE(db.insert_trace(t));
  const auto usage = [&](std::optional<Timestamp> start, std::optional<Timestamp> end) {
    std::vector<std::string> out;
    const QueryResult r = db.get_model_usage(start, end);
    for (std::size_t i = 0; i < r.rows.size(); ++i) {
      out.push_back(cell(r, i, "model_name").as_string() + ":" + std::to_string(cell(r, i, "call_count").as_int()) +
                    ":" + std::to_string(cell(r, i, "total_prompt_tokens").as_int()));
    }
    return out;
  };
  EXPECT_EQ(usage(std::nullopt, std::nullopt), (std::vector<std::string>{"claude-3-haiku:1:80", "gpt-4:3:70"}));
  EXPECT_EQ(usage(ts("2025-01-01T10:30:00"), std::nullopt),
            (std::vector<std::string>{"claude-3-haiku:1:80", "gpt-4:2:60"}));
  EXPECT_EQ(usage(std::nullopt, ts("2025-01-01T11:30:00")), (std::vector<std::string>{"gpt-4:2:30"}));
  EXPECT_EQ(usage(ts("2025-01-01T10:30:00"), ts("2025-01-01T11:30:00")), (std::vector<std::string>{"gpt-4:1:20"}));
  // Bounds are inclusive.
  EXPECT_EQ(usage(ts("2025-01-01T11:00:00"), ts("2025-01-01T12:00:00")), (std::vector<std::string>{"gpt-4:2:60"}));
  EXPECT_EQ(usage(ts("2025-01-02T00:00:00"), std::nullopt), std::vector<std::string>{});
  // Sub-microsecond bounds: 11:00:00.000000001 excludes the 11:00 call.
  EXPECT_EQ(usage(ts("2025-01-01T11:00:00.000000001"), ts("2025-01-01T12:00:00")),
            (std::vector<std::string>{"gpt-4:1:40"}));
}

// ---------------------------------------------------------------------------------------------
// 4. Sessions already stored

namespace {
SessionTrace version_of(std::string id, int version) {
  SessionTrace t = complex_trace(std::move(id), version);
  t.session_metadata[0].data = Value{{"version", version}};
  return t;
}
}  // namespace

TEST(OnExistingSession, SkipKeepsTheStoredSessionAndWarns) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());  // skip is the default
  const SessionTrace v1 = version_of("dup", 1);
  ASSERT_TRUE(db.insert_trace(v1));
  CapturedDiagnostics diagnostics;
  EXPECT_FALSE(db.insert_trace(version_of("dup", 3)));
  const auto messages = diagnostics.all();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("'dup'"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("skipped"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find(dir.db().string()), std::string::npos) << messages[0];
  EXPECT_EQ(db.load_trace("dup"), v1);
  EXPECT_EQ(count_rows(db, "events"), 3);
}

TEST(OnExistingSession, ReplaceStoresTheNewSession) {
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::replace});
  ASSERT_TRUE(db.insert_trace(version_of("dup", 3)));
  ASSERT_TRUE(db.insert_trace(version_of("other", 1)));
  const SessionTrace v2 = version_of("dup", 2);
  EXPECT_TRUE(db.insert_trace(v2));
  EXPECT_EQ(db.load_trace("dup"), v2);
  EXPECT_EQ(db.load_trace("other"), version_of("other", 1));
  // No rows of the old version are left.
  EXPECT_EQ(count_rows(db, "session_traces"), 2);
  EXPECT_EQ(count_rows(db, "events", "dup"), 6);
  EXPECT_EQ(count_rows(db, "messages", "dup"), 2);
  EXPECT_EQ(count_rows(db, "session_timesteps", "dup"), 2);
  // Replace again, with the same step ids as before.
  const SessionTrace v2b = version_of("dup", 2);
  EXPECT_TRUE(db.insert_trace(v2b));
  EXPECT_EQ(db.load_trace("dup"), v2b);
}

TEST(OnExistingSession, FailThrowsAndKeepsTheStoredSession) {
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::fail});
  const SessionTrace v1 = version_of("dup", 1);
  ASSERT_TRUE(db.insert_trace(v1));
  try {
    db.insert_trace(version_of("dup", 2));
    ADD_FAILURE() << "no exception";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("'dup'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(dir.db().string()), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.load_trace("dup"), v1);
  EXPECT_EQ(count_rows(db, "events"), 3);
  // The manager is still usable.
  EXPECT_TRUE(db.insert_trace(version_of("next", 1)));
  EXPECT_EQ(db.load_trace("next"), version_of("next", 1));
}

// insert_traces asks which of a batch's ids are stored in one query (the ids travel as a JSON
// array): ids JSON escapes, non-ASCII and NUL characters are found as stored all the same.
TEST(OnExistingSession, StoredIdsOfABatchAreFoundWhateverTheirCharacters) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const std::vector<std::string> odd{"quote\"d", "back\\slash", "new\nline", "caf\xC3\xA9 \xF0\x9F\x98\x80",
                                     std::string("nul\0inside", 10), "[\"array\"]", "plain"};
  std::vector<SessionTrace> first;
  for (const auto& id : odd) first.push_back(version_of(id, 1));
  ASSERT_EQ(db.insert_traces(first).inserted, odd.size());
  std::vector<SessionTrace> again;
  for (const auto& id : odd) again.push_back(version_of(id, 2));
  again.push_back(version_of("new", 1));
  CapturedDiagnostics diagnostics;
  const auto summary = db.insert_traces(again);
  EXPECT_EQ(summary.inserted, 1u);
  EXPECT_EQ(summary.skipped, odd.size());
  for (const auto& id : odd) EXPECT_EQ(db.load_trace(id), version_of(id, 1)) << id;
  EXPECT_EQ(count_rows(db, "session_traces"), static_cast<std::int64_t>(odd.size() + 1));
}

TEST(OnExistingSession, SameIdTwiceInOneBatch) {
  {
    TempDir dir;
    DuckDBTraceManager db(dir.db());
    CapturedDiagnostics diagnostics;
    const std::vector<SessionTrace> batch{version_of("a", 1), version_of("dup", 1), version_of("dup", 2),
                                          version_of("b", 1)};
    const auto summary = db.insert_traces(batch);
    EXPECT_EQ(summary.inserted, 3u);
    EXPECT_EQ(summary.skipped, 1u);
    EXPECT_EQ(db.load_trace("dup"), version_of("dup", 1));
    EXPECT_EQ(count_rows(db, "session_traces"), 3);
    EXPECT_EQ(diagnostics.all().size(), 1u);
  }
  {
    TempDir dir;
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::replace});
    const std::vector<SessionTrace> batch{version_of("dup", 1), version_of("a", 1), version_of("dup", 2)};
    const auto summary = db.insert_traces(batch);
    EXPECT_EQ(summary.inserted, 2u);
    EXPECT_EQ(summary.replaced, 1u);
    EXPECT_EQ(db.load_trace("dup"), version_of("dup", 2));
    EXPECT_EQ(db.load_trace("a"), version_of("a", 1));
    EXPECT_EQ(count_rows(db, "events", "dup"), 6);
  }
  {
    TempDir dir;
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::fail});
    // Batches of 2: [a, b] is committed, [c, c] fails and is rolled back, [d] never runs.
    const std::vector<SessionTrace> batch{version_of("a", 1), version_of("b", 1), version_of("c", 1),
                                          version_of("c", 2), version_of("d", 1)};
    EXPECT_THROW(db.insert_traces(batch, 2), StorageError);
    EXPECT_EQ(db.session_ids().size(), 2u);
    EXPECT_EQ(db.load_trace("a"), version_of("a", 1));
    EXPECT_EQ(db.load_trace("b"), version_of("b", 1));
    EXPECT_FALSE(db.load_trace("c"));
    EXPECT_FALSE(db.load_trace("d"));
    EXPECT_EQ(count_rows(db, "events"), 6);
    // Ids of the rolled-back batch are reused without clashes.
    EXPECT_EQ(db.insert_traces(std::span(batch).subspan(2, 1)).inserted, 1u);
    EXPECT_EQ(db.load_trace("c"), version_of("c", 1));
  }
}

// ---------------------------------------------------------------------------------------------
// 5. Experiments

namespace {
// A session with 3 events (costs 0.25, 0.5 and none; tokens 15, 30) and 4 messages.
SessionTrace experiment_session(std::string id, Timestamp created) {
  SessionTrace t = empty_trace(std::move(id), created);
  const Timestamp at = created + std::chrono::seconds(1);
  EnvironmentEvent env;
  env.reward = 2;
  add_step(t, "step_0", at, {llm_call("gpt-4", 10, 5, 0.25, at), llm_call("gpt-4", 20, 10, 0.5, at), env},
           {message("observation", 1, at, 0), message("action", 2, at, 0), message("observation", 3, at, 0)});
  t.message_history.push_back(message("summary", 4, at, 0));
  return t;
}
}  // namespace

TEST(Experiments, SystemsVersionsExperimentsAndTotalsCountedOnce) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  db.create_system("sys-agent", "Crafter agent", "ReAct loop");
  db.create_system("sys-judge", "Judge");
  db.create_system_version("v1", "sys-agent", "main", "abc123", "first");
  db.create_system_version("v2", "sys-agent");
  db.create_system_version("j1", "sys-judge", "dev");
  db.create_experiment("exp-1", "baseline", "first try", {{"sys-agent", "v1"}, {"sys-judge", "j1"}});
  db.create_experiment("exp-2", "ablation", {}, {{"sys-agent", "v1"}});
  db.create_experiment("exp-3", "empty");

  ASSERT_TRUE(db.insert_trace(experiment_session("run-1", ts("2025-01-01T10:00:00"))));
  ASSERT_TRUE(db.insert_trace(experiment_session("run-2", ts("2025-01-01T11:00:00"))));
  ASSERT_TRUE(db.insert_trace(experiment_session("run-3", ts("2025-01-01T12:00:00"))));
  db.link_session_to_experiment("run-1", "exp-1");
  db.link_session_to_experiment("run-2", "exp-1");
  db.link_session_to_experiment("run-3", "exp-2");
  db.link_session_to_experiment("run-3", "exp-1");  // moved: UPDATE of an indexed column

  const QueryResult sessions = db.get_experiment_sessions("exp-1");
  EXPECT_EQ(column(sessions, "session_id"), (std::vector<Value>{"run-1", "run-2", "run-3"}));
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(cell(sessions, i, "experiment_id"), Value("exp-1"));
    EXPECT_EQ(cell(sessions, i, "total_events"), Value(3));
    EXPECT_EQ(cell(sessions, i, "total_messages"), Value(4));
    EXPECT_EQ(cell(sessions, i, "total_cost"), Value(0.75));
    EXPECT_EQ(cell(sessions, i, "total_tokens"), Value(45));
    EXPECT_EQ(cell(sessions, i, "num_events"), Value(3));
  }
  EXPECT_EQ(db.get_experiment_sessions("exp-2").rows.size(), 0u);

  const QueryResult overview = db.query(
      "SELECT experiment_id, experiment_name, session_count, system_count, first_session, last_session "
      "FROM experiment_overview ORDER BY experiment_id");
  EXPECT_EQ(overview.rows, (std::vector<std::vector<Value>>{
                               {"exp-1", "baseline", 3, 2, "2025-01-01T10:00:00.000000Z", "2025-01-01T12:00:00.000000Z"},
                               {"exp-2", "ablation", 0, 1, Value(), Value()},
                               {"exp-3", "empty", 0, 0, Value(), Value()}}));

  const QueryResult by_v1 = db.get_experiments_by_system_version("v1");
  EXPECT_EQ(column(by_v1, "id"), (std::vector<Value>{"exp-1", "exp-2"}));
  EXPECT_EQ(column(by_v1, "name"), (std::vector<Value>{"baseline", "ablation"}));
  EXPECT_EQ(column(db.get_experiments_by_system_version("j1"), "id"), (std::vector<Value>{"exp-1"}));
  EXPECT_EQ(db.get_experiments_by_system_version("v2").rows.size(), 0u);

  const QueryResult versions = db.query("SELECT id, system_id, branch, \"commit\", description FROM system_versions ORDER BY id");
  EXPECT_EQ(versions.rows, (std::vector<std::vector<Value>>{{"j1", "sys-judge", "dev", Value(), Value()},
                                                            {"v1", "sys-agent", "main", "abc123", "first"},
                                                            {"v2", "sys-agent", Value(), Value(), Value()}}));
  // Linking changed nothing else of the sessions.
  EXPECT_EQ(db.load_trace("run-3"), experiment_session("run-3", ts("2025-01-01T12:00:00")));
}

TEST(Experiments, BadReferencesThrow) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  db.create_system("sys", "agent");
  db.create_experiment("exp", "x");
  ASSERT_TRUE(db.insert_trace(experiment_session("known", ts("2025-01-01T10:00:00"))));
  try {
    db.link_session_to_experiment("unknown", "exp");
    ADD_FAILURE() << "no exception";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("'unknown'"), std::string::npos) << e.what();
  }
  EXPECT_THROW(db.create_system("sys", "again"), StorageError);                  // duplicate id
  EXPECT_THROW(db.create_system_version("v", "no-such-system"), StorageError);    // foreign key
  EXPECT_THROW(db.create_experiment("exp", "again"), StorageError);              // duplicate id
  // A failing system list rolls the whole experiment back.
  EXPECT_THROW(db.create_experiment("exp-bad", "bad", {}, {{"no-such-system", ""}}), StorageError);
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM experiments WHERE id = 'exp-bad'"), 0);
  // Still usable afterwards.
  db.link_session_to_experiment("known", "exp");
  EXPECT_EQ(column(db.get_experiment_sessions("exp"), "session_id"), (std::vector<Value>{"known"}));
}

// ---------------------------------------------------------------------------------------------
// 6. query(): parameters, errors and output formats

TEST(Query, BoundParametersAreNeverSpliced) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const std::string nasty = "O'Reilly; DROP TABLE events; --";
  ASSERT_TRUE(db.insert_trace(complex_trace(nasty)));
  const QueryResult r = db.query("SELECT ? AS s, ? AS i, ? AS d, ? AS n, ? AS b, ? AS big",
                                 {Value(nasty), Value(42), Value(2.5), Value(), Value(true), Value(-9007199254740993)});
  ASSERT_EQ(r.rows.size(), 1u);
  EXPECT_EQ(r.rows[0], (std::vector<Value>{nasty, 42, 2.5, Value(), true, Value(-9007199254740993)}));
  EXPECT_EQ(r.columns, (std::vector<std::string>{"s", "i", "d", "n", "b", "big"}));
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE session_id = ?", {Value(nasty)}), 9);
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE session_id = $1 AND $2 < prompt_tokens",
                       {Value(nasty), Value(99)}),
            3);
  // $n placeholders may repeat.
  EXPECT_EQ(db.query("SELECT $1 || '-' || $1 AS twice", {Value("x'y")}).rows[0][0], Value("x'y-x'y"));
  // Null compares as unknown.
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE model_name = ?", {Value()}), 0);
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE ? IS NULL", {Value()}), 9);
  // Arrays and objects bind as JSON text.
  EXPECT_EQ(db.query("SELECT json_extract_string(CAST(? AS JSON), '$.a[1]')", {Value{{"a", {1, "two"}}}}).rows[0][0],
            Value("two"));
  EXPECT_EQ(count_rows(db, "events"), 9);  // the table is still there
}

TEST(Query, PlaceholderCountMismatchThrows) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  try {
    db.query("SELECT ? + ?", {Value(1)});
    ADD_FAILURE() << "no exception";
  } catch (const StorageError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 placeholders"), std::string::npos) << what;
    EXPECT_NE(what.find("1 value"), std::string::npos) << what;
    EXPECT_NE(what.find("SELECT ? + ?"), std::string::npos) << what;
  }
  EXPECT_THROW(db.query("SELECT 1", {Value(1)}), StorageError);
  EXPECT_THROW(db.query("SELECT ?"), StorageError);
  EXPECT_EQ(db.query("SELECT ? + ?", {Value(1), Value(2)}).rows[0][0], Value(3));
}

TEST(Query, SqlErrorNamesTheFileAndTheStatement) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  for (const std::string sql : {"SELEC 1", "SELECT no_such_column FROM events", "SELECT * FROM no_such_table"}) {
    try {
      db.query(sql);
      ADD_FAILURE() << "no exception for " << sql;
    } catch (const StorageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(dir.db().string()), std::string::npos) << what;
      EXPECT_NE(what.find(sql), std::string::npos) << what;
    }
  }
  // A runtime error (not a prepare error) too.
  try {
    db.query("SELECT CAST(? AS INTEGER)", {Value("not a number")});
    ADD_FAILURE() << "no exception";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.db().string()), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CAST(? AS INTEGER)"), std::string::npos) << e.what();
  }
  EXPECT_EQ(db.query("SELECT 1 AS one").rows[0][0], Value(1));
}

namespace {
QueryResult small_result(DuckDBTraceManager& db) {
  return db.query(
      "SELECT * FROM (VALUES "
      "(1, 'plain', CAST(2.5 AS DOUBLE), CAST(NULL AS BOOLEAN), CAST('{\"a\":[1,2],\"b\":\"x\"}' AS JSON)), "
      "(22, 'comma, \"quote\"' || chr(10) || 'line2', CAST(-0.125 AS DOUBLE), true, CAST(NULL AS JSON))"
      ") AS t(id, label, score, flag, payload) ORDER BY id");
}
}  // namespace

TEST(Query, ResultTypesAndValues) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const QueryResult r = small_result(db);
  EXPECT_EQ(r.columns, (std::vector<std::string>{"id", "label", "score", "flag", "payload"}));
  EXPECT_EQ(r.types, (std::vector<std::string>{"INTEGER", "VARCHAR", "DOUBLE", "BOOLEAN", "JSON"}));
  EXPECT_EQ(r.rows, (std::vector<std::vector<Value>>{
                        {1, "plain", 2.5, Value(), R"({"a":[1,2],"b":"x"})"},
                        {22, "comma, \"quote\"\nline2", -0.125, true, Value()}}));
  const QueryResult typed = db.query(
      "SELECT CAST('2025-01-01 10:00:01.5' AS TIMESTAMP) AS t, SUM(x) AS s, CAST(18446744073709551615 AS UBIGINT) AS u "
      "FROM (VALUES (1::BIGINT), (2::BIGINT)) v(x)");
  EXPECT_EQ(typed.types, (std::vector<std::string>{"TIMESTAMP", "HUGEINT", "UBIGINT"}));
  EXPECT_EQ(typed.rows[0], (std::vector<Value>{"2025-01-01T10:00:01.500000Z", 3, std::uint64_t{18446744073709551615u}}));
}

TEST(Query, ToTableGolden) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const std::string expected =
      "id  label                   score  flag  payload\n"
      "--  ---------------------  ------  ----  -------------------\n"
      " 1  plain                     2.5  NULL  {\"a\":[1,2],\"b\":\"x\"}\n"
      "22  comma, \"quote\"\\nline2  -0.125  true  NULL\n"
      "(2 rows)\n";
  EXPECT_EQ(small_result(db).to_table(), expected);
  EXPECT_EQ(db.query("SELECT 1 AS n WHERE false").to_table(), "n\n-\n(0 rows)\n");
  EXPECT_EQ(db.query("SELECT 'x' AS only").to_table(), "only\n----\nx\n(1 row)\n");
}

TEST(Query, TerminalSafeTextShowsControlCharactersAsEscapes) {
  EXPECT_EQ(st::terminal_safe("plain é ✓ 𝄞"), "plain é ✓ 𝄞");
  EXPECT_EQ(st::terminal_safe("\x1b]0;pwned\x07\x1b[2J"), "\\x1b]0;pwned\\x07\\x1b[2J");
  EXPECT_EQ(st::terminal_safe("a\nb\rc\td\x7f"), "a\\nb\\rc\\td\\x7f");
  EXPECT_EQ(st::terminal_safe(std::string("nul\0!", 5)), "nul\\x00!");
  EXPECT_EQ(st::terminal_safe("\xc2\x9b" "31m \xc2\x85"), "\\u009b31m \\u0085");  // C1 controls
  EXPECT_EQ(st::terminal_safe("\x9b" "31m \xff \xe2\x82"), "\\x9b31m \\xff \\xe2\\x82");  // not UTF-8
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  EXPECT_EQ(db.query("SELECT chr(27) || '[2J' AS \"x\x1b\", 'a' || chr(10) || 'b' AS y").to_table(),
            "x\\x1b    y\n-------  ----\n\\x1b[2J  a\\nb\n(1 row)\n");
}

TEST(Query, ToCsvGolden) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const std::string expected =
      "id,label,score,flag,payload\r\n"
      "1,plain,2.5,,\"{\"\"a\"\":[1,2],\"\"b\"\":\"\"x\"\"}\"\r\n"
      "22,\"comma, \"\"quote\"\"\nline2\",-0.125,true,\r\n";
  EXPECT_EQ(small_result(db).to_csv(), expected);
  EXPECT_EQ(db.query("SELECT 'a,b' AS \"x,y\", '' AS e").to_csv(), "\"x,y\",e\r\n\"a,b\",\r\n");
}

TEST(Query, ToJsonGoldenNestsJsonColumns) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  const std::string expected = R"([
  {
    "id": 1,
    "label": "plain",
    "score": 2.5,
    "flag": null,
    "payload": {
      "a": [
        1,
        2
      ],
      "b": "x"
    }
  },
  {
    "id": 22,
    "label": "comma, \"quote\"\nline2",
    "score": -0.125,
    "flag": true,
    "payload": null
  }
])";
  EXPECT_EQ(small_result(db).to_json(), expected);
  // A VARCHAR column holding JSON-looking text stays a string.
  EXPECT_EQ(Value::parse(db.query("SELECT '[1]' AS s").to_json()), Value::parse(R"([{"s":"[1]"}])"));
  EXPECT_EQ(db.query("SELECT 1 AS n WHERE false").to_json(), "[]");
}

// ---------------------------------------------------------------------------------------------
// 7. Bad databases

namespace {
std::string storage_error_text(const fs::path& path, DuckDBOptions options = {}) {
  try {
    DuckDBTraceManager db(path, options);
  } catch (const StorageError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST(BadDatabase, NotADuckDBFile) {
  TempDir dir;
  const fs::path garbage = dir.file("garbage.duckdb");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 64 * 1024; ++i) out.put(static_cast<char>((i * 7919) % 251));
  }
  const fs::path json = dir.file("trace.json");
  fs::copy_file(fs::path(SYNTH_TEST_DATA_DIR) / "python" / "section_1e_example.json", json);
  const fs::path tiny = dir.file("tiny.duckdb");
  std::ofstream(tiny) << "hello";
  for (const fs::path& file : {garbage, json, tiny}) {
    SCOPED_TRACE(file.string());
    const auto size_before = fs::file_size(file);
    const std::string what = storage_error_text(file);
    ASSERT_FALSE(what.empty()) << "opened without error";
    EXPECT_NE(what.find("'" + file.string() + "'"), std::string::npos) << what;
    EXPECT_NE(what.find("not a"), std::string::npos) << what;
    EXPECT_NE(what.find("DuckDB database"), std::string::npos) << what;
    EXPECT_EQ(fs::file_size(file), size_before);  // left alone
    EXPECT_FALSE(storage_error_text(file, DuckDBOptions{.read_only = true}).empty());
  }
}

TEST(BadDatabase, AnEmptyFileIsANewDatabase) {
  // What tempfile.NamedTemporaryFile (or `touch`) leaves: a 0-byte file.
  TempDir dir;
  const fs::path empty = dir.file("empty.duckdb");
  std::ofstream(empty).close();
  ASSERT_EQ(fs::file_size(empty), 0u);
  const std::string what = storage_error_text(empty, DuckDBOptions{.read_only = true});
  EXPECT_NE(what.find("empty file"), std::string::npos) << what;
  EXPECT_EQ(fs::file_size(empty), 0u);  // read-only creates nothing
  {
    DuckDBTraceManager db(empty);
    ASSERT_TRUE(db.insert_trace(complex_trace("in-empty")));
  }
  DuckDBTraceManager db(empty);
  EXPECT_EQ(db.load_trace("in-empty"), complex_trace("in-empty"));
}

TEST(BadDatabase, LockedByAnotherProcess) {
  TempDir dir;
  const fs::path path = dir.db();
  {
    DuckDBTraceManager db(path);
    ASSERT_TRUE(db.insert_trace(complex_trace("before")));
  }
  DatabaseHolder holder(path);
  for (const bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "read-only" : "read-write");
    const std::string what = storage_error_text(path, DuckDBOptions{.read_only = read_only});
    ASSERT_FALSE(what.empty()) << "opened a database locked by another process";
    EXPECT_NE(what.find("locked"), std::string::npos) << what;
    EXPECT_NE(what.find("'" + path.string() + "'"), std::string::npos) << what;
  }

  EXPECT_EQ(holder.release(), 0);
  // The lock goes with the process; the data is intact.
  DuckDBTraceManager db(path);
  EXPECT_EQ(db.load_trace("before"), complex_trace("before"));
}

TEST(BadDatabase, FolderThatCannotHoldTheFile) {
  TempDir dir;
  std::ofstream(dir.file("regular")) << "not a folder";
  for (const fs::path& path : {dir.file("regular") / "traces.duckdb", fs::path("/proc/self/traces.duckdb"),
                               dir.file("missing") / "sub" / "traces.duckdb"}) {
    SCOPED_TRACE(path.string());
    const std::string what = storage_error_text(path);
    ASSERT_FALSE(what.empty()) << "opened " << path;
    EXPECT_NE(what.find("'" + path.string() + "'"), std::string::npos) << what;
  }
}

TEST(BadDatabase, ReadOnlyFolder) {
  TempDir dir;
  const fs::path folder = dir.file("ro");
  fs::create_directories(folder);
  st::testing::Unprivileged user(folder);  // root would write into a 0555 folder
  fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                              fs::perms::group_exec | fs::perms::others_read | fs::perms::others_exec);
  const std::string what = storage_error_text(folder / "traces.duckdb");
  ASSERT_FALSE(what.empty());
  EXPECT_NE(what.find("'" + (folder / "traces.duckdb").string() + "'"), std::string::npos) << what;
  EXPECT_NE(what.find("writable"), std::string::npos) << what;
}

TEST(BadDatabase, ReadOnlyOptionQueriesButNeverWrites) {
  TempDir dir;
  const SessionTrace stored = complex_trace("stored");
  {
    DuckDBTraceManager db(dir.db());
    ASSERT_TRUE(db.insert_trace(stored));
    db.create_system("sys", "agent");
  }
  const auto bytes_before = fs::file_size(dir.db());
  {
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.read_only = true});
    EXPECT_EQ(db.load_trace("stored"), stored);
    EXPECT_EQ(db.session_ids(), std::vector<std::string>{"stored"});
    EXPECT_EQ(db.get_model_usage().rows.size(), 1u);
    EXPECT_EQ(db.query_events({"stored"}).rows.size(), 9u);
    EXPECT_THROW(db.insert_trace(complex_trace("new")), StorageError);
    EXPECT_THROW(db.insert_traces(std::vector<SessionTrace>{complex_trace("new")}), StorageError);
    EXPECT_THROW(db.create_system("sys2", "x"), StorageError);
    EXPECT_THROW(db.query("DELETE FROM events"), StorageError);
    EXPECT_THROW(db.link_session_to_experiment("stored", "exp"), StorageError);
    EXPECT_EQ(count_rows(db, "events"), 9);
    EXPECT_FALSE(db.load_trace("new"));
  }
  EXPECT_EQ(fs::file_size(dir.db()), bytes_before);
  // A file that does not exist cannot be opened read-only (nothing is created).
  EXPECT_FALSE(storage_error_text(dir.file("absent.duckdb"), DuckDBOptions{.read_only = true}).empty());
  EXPECT_FALSE(fs::exists(dir.file("absent.duckdb")));
}

// ---------------------------------------------------------------------------------------------
// 8. Provider vocabulary

TEST(Provider, StoredProviderIsNormalizedAndTheRecordedOneKept) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  SessionTrace t = empty_trace("providers");
  const Timestamp at = ts("2025-01-01T10:00:00");
  CAISEvent recorded = llm_call("my-deployment", 1, 1, 0.1, at);
  recorded.provider = "Azure_OpenAI";
  CAISEvent detected = llm_call("claude-3-haiku", 1, 1, 0.1, at);
  CAISEvent unknown = llm_call("llama-2-70b", 1, 1, 0.1, at);
  add_step(t, "step_0", at, {recorded, detected, unknown}, {});
  ASSERT_TRUE(db.insert_trace(t));
  EXPECT_EQ(db.query("SELECT model_name, provider, event_provider FROM events ORDER BY id").rows,
            (std::vector<std::vector<Value>>{{"my-deployment", "azure_openai", "Azure_OpenAI"},
                                             {"claude-3-haiku", "anthropic", Value()},
                                             {"llama-2-70b", "unknown", Value()}}));
  EXPECT_EQ(db.load_trace("providers"), t);  // the recorded spelling comes back
}
