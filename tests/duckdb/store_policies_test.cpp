// DuckDB trace store: sessions already stored (skip, replace, fail), experiments, bad database
// files and the provider vocabulary. Real DuckDB files in a fresh temporary folder.
#include "duckdb/store_fixtures.hpp"

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

// The store keeps its appenders from one batch to the next: a batch that fails after some of
// its rows were appended (here past a data chunk of 2,048 rows, so that DuckDB holds some) leaves
// none of them to the next batch.
TEST(OnExistingSession, ABatchThatFailsMidwayLeavesNoRowsToTheNextBatch) {
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::fail});
  ASSERT_TRUE(db.insert_trace(version_of("dup", 1)));
  SessionTrace big = version_of("big", 1);
  const auto events = big.event_history;
  while (big.event_history.size() < 3000) big.event_history.insert(big.event_history.end(), events.begin(), events.end());
  const std::vector<SessionTrace> failing = {big, version_of("dup", 2)};
  EXPECT_THROW(db.insert_traces(failing), StorageError);
  ASSERT_TRUE(db.insert_trace(version_of("next", 1)));
  EXPECT_EQ(count_rows(db, "session_traces"), 2);
  EXPECT_EQ(count_rows(db, "session_stats"), 2);
  EXPECT_EQ(count_rows(db, "events"), 6);
  EXPECT_EQ(count_rows(db, "events", "big"), 0);
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

namespace {
// A part of session `id` with one timestep `step_id` starting at `at`, numbered `index` (-1: left
// to the store), holding one LLM call.
SessionTrace part_of(const std::string& id, const std::string& step_id, Timestamp at, std::int64_t index = -1) {
  SessionTrace t = empty_trace(id);
  add_step(t, step_id, at, {llm_call("gpt-4", 1, 1, 0.1, at)}, {}).step_index = index;
  return t;
}

// The session's timesteps as "step_id:step_index", in step_index order.
std::vector<std::string> numbered_steps(DuckDBTraceManager& db, const std::string& id) {
  std::vector<std::string> out;
  for (const auto& row : db.query("SELECT step_id, step_index FROM session_timesteps WHERE session_id = ? "
                                  "ORDER BY step_index, id", {Value(id)}).rows) {
    out.push_back(row[0].as_string() + ":" + std::to_string(row[1].as_int()));
  }
  return out;
}
}  // namespace

TEST(OnExistingSession, MergedTimestepsWithoutANumberAreNumberedByTheirStartWhicheverPartCameFirst) {
  // OTLP spans of a turn carry no step number: each part leaves it to the store (-1). The later
  // turn arriving first must not keep number 0, in one batch or over several commits, and a part
  // that moves a timestep's start earlier renumbers the session.
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  const Timestamp t0 = ts("2025-01-01T10:00:00");
  const auto at = [&](int seconds) { return t0 + std::chrono::seconds(seconds); };
  // In one batch: held in memory, then written.
  std::vector<SessionTrace> batch{part_of("held", "late", at(20)), part_of("held", "early", at(10)),
                                  part_of("held", "middle", at(15)), part_of("held", "late", at(21))};
  batch.back().session_time_steps[0].step_metadata = Value{{"phase", "exploit"}};
  db.insert_traces(batch);
  EXPECT_EQ(numbered_steps(db, "held"), (std::vector<std::string>{"early:0", "middle:1", "late:2"}));
  EXPECT_EQ(db.query("SELECT step_metadata FROM session_timesteps WHERE step_id = 'late' AND session_id = 'held'").rows,
            (std::vector<std::vector<Value>>{{Value(R"({"phase":"exploit"})")}}));
  // Over commits: the stored rows are renumbered.
  ASSERT_TRUE(db.insert_trace(part_of("stored", "late", at(20))));
  db.insert_trace(part_of("stored", "early", at(10)));
  EXPECT_EQ(numbered_steps(db, "stored"), (std::vector<std::string>{"early:0", "late:1"}));
  // A later span of the turn "late" that began before "early": "late" starts then, and comes first;
  // the metadata it brings goes to the timestep stored without any.
  SessionTrace with_metadata = part_of("stored", "late", at(5));
  with_metadata.session_time_steps[0].step_metadata = Value{{"phase", "explore"}};
  db.insert_trace(with_metadata);
  EXPECT_EQ(numbered_steps(db, "stored"), (std::vector<std::string>{"late:0", "early:1"}));
  const auto loaded = db.load_trace("stored");
  ASSERT_TRUE(loaded);
  ASSERT_EQ(loaded->session_time_steps.size(), 2u);
  EXPECT_EQ(loaded->session_time_steps[0].step_id, "late") << "listed as they came";
  EXPECT_EQ(loaded->session_time_steps[0].timestamp, at(5));
  EXPECT_EQ(loaded->session_time_steps[0].events.size(), 2u);
  EXPECT_EQ(loaded->session_time_steps[0].step_metadata, (Value{{"phase", "explore"}}));
  // Numbers a producer gave are kept, whatever the order of the parts.
  ASSERT_TRUE(db.insert_trace(part_of("numbered", "b", at(10), 7)));
  db.insert_trace(part_of("numbered", "a", at(20), 3));
  EXPECT_EQ(numbered_steps(db, "numbered"), (std::vector<std::string>{"a:3", "b:7"}));
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
