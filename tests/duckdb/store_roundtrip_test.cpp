// DuckDB trace store: the schema of new and reopened files, and lossless insert -> load round
// trips (recorded, the original's fixtures, random traces, edges of every column). Real DuckDB
// files in a fresh temporary folder.
#include <limits>

#include "duckdb/store_fixtures.hpp"

// The randomized trace generator of the JSON tests, compiled into this test (tests/ is on the
// include path).
#include "json/trace_random.cpp"

namespace {

// A random trace with microsecond timestamps and a session id unique by `index`.
SessionTrace random_micro_trace(std::uint64_t seed, std::size_t index) {
  synth_test::Rng rng(seed);
  SessionTrace t = synth_test::random_trace(rng, 5);
  t.session_id += "#" + std::to_string(index);
  micros_in_place(t);
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
  EXPECT_EQ(base, (std::vector<std::string>{"events", "experimental_systems", "experiments", "messages", "otlp_pending",
                                            "otlp_spans", "session_stats", "session_stats_behind", "session_timesteps",
                                            "session_traces", "synth_tracing_schema", "system_versions", "systems"}));
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
  // step_index is the original's INTEGER column; the model's int64 can hold more
  for (const std::int64_t index : {std::int64_t{1} << 40, std::int64_t{std::numeric_limits<std::int32_t>::min()} - 1}) {
    SessionTrace t = empty_trace("big-step" + std::to_string(index));
    add_step(t, "s", at, {llm_call("gpt-4", 1, 1, 0.1, at)}, {});
    t.session_time_steps[0].step_index = index;
    refused.emplace_back(t, "timestep 's' has step_index " + std::to_string(index) +
                                ", beyond the database's INTEGER column (-2147483648 to 2147483647)");
  }
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
