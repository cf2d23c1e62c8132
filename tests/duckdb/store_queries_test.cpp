// DuckDB trace store: the original synth-ai project's duckdb_integration numbers and query
// helpers, and query() with bound parameters, its errors and output formats. Real DuckDB files
// in a fresh temporary folder.
#include "duckdb/store_fixtures.hpp"

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
  // Arrays bind as lists where the statement takes one: texts exactly as they are (not read as
  // JSON or as DuckDB's list literal), integers of 64 bits.
  const Value::Array odd{Value("a\"b"), Value("x, y"), Value("[z]"), Value("\u00e9'"), Value("")};
  const QueryResult listed = db.query("SELECT unnest(CAST(? AS VARCHAR[])) AS id", {Value(odd)});
  ASSERT_EQ(listed.rows.size(), odd.size());
  for (std::size_t i = 0; i < odd.size(); ++i) EXPECT_EQ(listed.rows[i][0], odd[i]) << i;
  EXPECT_EQ(db.query("SELECT list_sum(CAST(? AS BIGINT[])) + 0 AS s", {Value(Value::Array{Value(-9007199254740993), Value(1)})})
                .rows[0][0],
            Value(-9007199254740992));
  EXPECT_EQ(scalar_int(db, "SELECT COUNT(*) FROM events WHERE session_id IN (SELECT unnest(CAST(? AS VARCHAR[])))",
                       {Value(Value::Array{Value(nasty), Value("other")})}),
            9);
  EXPECT_EQ(scalar_int(db, "SELECT len(CAST(? AS VARCHAR[]))", {Value(Value::Array{})}), 0);
  // Other arrays as before: JSON text, which DuckDB casts to the list.
  EXPECT_EQ(db.query("SELECT CAST(? AS DOUBLE[])[2] AS d", {Value(Value::Array{Value(1.5), Value(2.5)})}).rows[0][0], Value(2.5));
  EXPECT_EQ(db.query("SELECT CAST(? AS VARCHAR[])[1] AS t", {Value(Value::Array{Value(7), Value("x")})}).rows[0][0], Value("7"));
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
  // Other scalars as their text, not as SQL literals ('2025-03-01'::DATE).
  const QueryResult text = db.query(
      "SELECT DATE '2025-03-01', TIME '10:11:12', INTERVAL 3 SECOND, '\\x00A'::BLOB, "
      "'0e5f8b9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b'::UUID");
  EXPECT_EQ(text.rows[0], (std::vector<Value>{"2025-03-01", "10:11:12", "00:00:03", "\\x00A",
                                              "0e5f8b9a-1c2d-4e3f-8a9b-0c1d2e3f4a5b"}));
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
