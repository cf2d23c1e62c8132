// The schema version and in-place migration: a database the Python original created (built by
// DuckDB itself from the original's DDL, tests/data/python_duckdb/original_schema.sql) is
// migrated when opened for writing and then answers the same queries as one this library wrote;
// columns the schema gains reach existing files; newer files and failed migrations are refused
// with the file left as it was.
#include <duckdb.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::CAISEvent;
using st::DuckDBOptions;
using st::DuckDBTraceManager;
using st::EnvironmentEvent;
using st::QueryResult;
using st::RuntimeEvent;
using st::SessionEventMessage;
using st::SessionTimeStep;
using st::SessionTrace;
using st::StorageError;
using st::TimeRecord;
using st::Timestamp;
using st::Value;
using st::testing::CapturedDiagnostics;
using st::testing::TempDir;

namespace {

// Runs SQL with DuckDB alone (no synth-tracing code in between), as another program would;
// returns the first value of the last statement's result (0 when there is none).
std::int64_t run_with_duckdb(const fs::path& db, const std::string& sql) {
  duckdb_database database = nullptr;
  duckdb_connection connection = nullptr;
  if (duckdb_open(db.c_str(), &database) != DuckDBSuccess) throw std::runtime_error("cannot open " + db.string());
  duckdb_connect(database, &connection);
  duckdb_result result;
  const bool ok = duckdb_query(connection, sql.c_str(), &result) == DuckDBSuccess;
  const std::string error = ok ? "" : duckdb_result_error(&result);
  const std::int64_t first = ok ? duckdb_value_int64(&result, 0, 0) : 0;
  duckdb_destroy_result(&result);
  duckdb_disconnect(&connection);
  duckdb_close(&database);
  if (!ok) throw std::runtime_error("DuckDB: " + error);
  return first;
}

void create_python_original_database(const fs::path& db) {
  run_with_duckdb(db, st::testing::file_contents(fs::path(SYNTH_TEST_DATA_DIR) / "python_duckdb" / "original_schema.sql"));
}

Timestamp at(std::string_view iso) { return *st::parse_timestamp(iso); }

// The sessions of the fixture as the original stored them: events and messages once, in the
// histories only, at the times it wrote.
std::vector<SessionTrace> original_sessions() {
  SessionTrace one;
  one.session_id = "episode-1";
  one.created_at = at("2025-01-01T10:05:00");
  one.session_metadata.push_back({"SessionMetadum", Value{{"seed", 1}}, Timestamp{}});
  SessionTimeStep step0;
  step0.step_id = "step_0";
  step0.step_index = 0;
  step0.timestamp = at("2025-01-01T10:00:00");
  step0.step_metadata = Value{{"phase", "explore"}};
  SessionTimeStep step1;
  step1.step_id = "step_1";
  step1.step_index = 1;
  step1.timestamp = at("2025-01-01T10:01:00");
  step1.step_metadata = Value();
  one.session_time_steps = {step0, step1};
  const auto call = [](std::string_view time, std::int64_t turn, std::string system, std::string model,
                       std::int64_t prompt, std::int64_t completion, double cost, double latency, Value before,
                       Value after, Value metadata) {
    CAISEvent e;
    e.time_record = TimeRecord{at(time), turn};
    e.system_instance_id = std::move(system);
    e.system_state_before = std::move(before);
    e.system_state_after = std::move(after);
    e.model_name = std::move(model);
    e.prompt_tokens = prompt;
    e.completion_tokens = completion;
    e.total_tokens = prompt + completion;
    e.cost = cost;
    e.latency_ms = latency;
    e.metadata = std::move(metadata);
    return e;
  };
  const auto env = [](std::string_view time, std::int64_t turn, double reward, bool terminated, Value before,
                      Value after) {
    EnvironmentEvent e;
    e.time_record = TimeRecord{at(time), turn};
    e.system_instance_id = "environment";
    e.system_state_before = std::move(before);
    e.system_state_after = std::move(after);
    e.reward = reward;
    e.terminated = terminated;
    return e;
  };
  RuntimeEvent tool;
  tool.time_record = TimeRecord{at("2025-01-01T10:05:00.000400"), 1};
  tool.system_instance_id = "runtime";
  tool.system_state_before = Value{{"tool", "look"}};
  tool.event_metadata = {Value{{"hook_name", "tool_check"}}};
  one.event_history = {
      call("2025-01-01T10:05:00.000100", 0, "agent", "gpt-4", 12, 3, 0.00054, 420.0, Value{{"gen_ai.request.model", "gpt-4"}},
           Value{{"content", "north"}}, Value{{"provider", "openai"}}),
      env("2025-01-01T10:05:00.000200", 0, 0.5, false, Value{{"position", Value::array({0, 0})}},
          Value{{"position", Value::array({0, 1})}}),
      call("2025-01-01T10:05:00.000300", 1, "agent", "gpt-4", 20, 5, 0.0009, 380.0, Value{{"gen_ai.request.model", "gpt-4"}},
           Value{{"content", "east"}}, Value{{"provider", "openai"}}),
      tool,
      env("2025-01-01T10:05:00.000500", 1, 1.0, true, Value{{"position", Value::array({0, 1})}},
          Value{{"position", Value::array({1, 1})}}),
  };
  const auto observation = [](std::string_view stored, std::string_view time, std::int64_t turn, std::string obs) {
    SessionEventMessage m;
    m.content = Value{{"origin_system_id", "env"}, {"payload", Value{{"obs", std::move(obs)}}}};
    m.message_type = "observation";
    m.timestamp = at(stored);
    m.time_record = TimeRecord{at(time), turn};
    return m;
  };
  one.message_history = {observation("2025-01-01T10:05:00.000600", "2025-01-01T10:00:00", 0, "a door"),
                         observation("2025-01-01T10:05:00.000700", "2025-01-01T10:01:00", 1, "treasure")};

  SessionTrace two;
  two.session_id = "episode-2";
  two.created_at = at("2025-01-02T09:00:00");
  two.event_history = {call("2025-01-02T09:00:00.000100", 0, "planner", "claude-3-opus", 1000, 500, 0.0525, 900.0,
                            Value{{"llm.model_name", "claude-3-opus"}}, Value{{"content", "plan"}}, Value::object())};
  return {one, two};
}

// The same sessions and experiment written by this library into a new file.
void create_library_database(const fs::path& db) {
  DuckDBTraceManager store(db);
  const auto sessions = original_sessions();
  ASSERT_EQ(store.insert_traces(sessions).inserted, 2u);
  store.create_system("sys-1", "grid agent");
  store.create_system_version("sys-1-v1", "sys-1", "main", "abc123");
  store.create_experiment("exp-1", "baseline", {}, {{"sys-1", "sys-1-v1"}});
  store.link_session_to_experiment("episode-1", "exp-1");
}

// The answer without the columns named (times of insertion differ between the two files).
QueryResult without(QueryResult r, const std::vector<std::string>& dropped) {
  for (const auto& name : dropped) {
    const auto it = std::find(r.columns.begin(), r.columns.end(), name);
    if (it == r.columns.end()) throw std::runtime_error("no column " + name);
    const auto c = static_cast<std::size_t>(it - r.columns.begin());
    r.columns.erase(r.columns.begin() + static_cast<std::ptrdiff_t>(c));
    r.types.erase(r.types.begin() + static_cast<std::ptrdiff_t>(c));
    for (auto& row : r.rows) row.erase(row.begin() + static_cast<std::ptrdiff_t>(c));
  }
  return r;
}

std::vector<std::string> columns_of(DuckDBTraceManager& db) {
  std::vector<std::string> out;
  for (const auto& row : db.query("SELECT table_name || '.' || column_name || ' ' || data_type || "
                                  "CASE WHEN is_nullable = 'NO' THEN ' NOT NULL' ELSE '' END "
                                  "FROM information_schema.columns WHERE table_schema = 'main' "
                                  "AND table_name IN (SELECT table_name FROM information_schema.tables "
                                  "WHERE table_type = 'BASE TABLE') ORDER BY 1")
                             .rows) {
    out.push_back(row[0].as_string());
  }
  return out;
}

bool reported(CapturedDiagnostics& diagnostics, std::string_view text) {
  for (const auto& m : diagnostics.all()) {
    if (m.find(text) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST(Migration, NewFileCarriesTheSchemaVersion) {
  TempDir dir;
  CapturedDiagnostics diagnostics;
  DuckDBTraceManager db(dir.db());
  EXPECT_EQ(db.query("SELECT version FROM synth_tracing_schema").rows, (std::vector<std::vector<Value>>{{2}}));
  EXPECT_TRUE(diagnostics.all().empty());  // creating is not migrating
}

TEST(Migration, PythonOriginalDatabaseIsMigratedInPlaceAndAnswersTheSameQueries) {
  TempDir dir;
  const fs::path original = dir.file("original.duckdb");
  const fs::path ours = dir.file("ours.duckdb");
  create_python_original_database(original);
  create_library_database(ours);

  // Read-only, it is not changed: the error says how to migrate it.
  const auto bytes = fs::file_size(original);
  try {
    DuckDBTraceManager reader(original, DuckDBOptions{.read_only = true});
    FAIL() << "read an unmigrated database";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("'" + original.string() + "'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("synth-trace migrate"), std::string::npos) << e.what();
  }
  EXPECT_EQ(fs::file_size(original), bytes);

  CapturedDiagnostics diagnostics;
  DuckDBTraceManager migrated(original);
  EXPECT_TRUE(reported(diagnostics, "migrated in place to schema version 2")) << "the migration is reported";
  EXPECT_TRUE(reported(diagnostics, "events.history_index added"));
  DuckDBTraceManager reference(ours);
  EXPECT_EQ(migrated.query("SELECT version FROM synth_tracing_schema").rows, (std::vector<std::vector<Value>>{{2}}));

  // Every column of the current schema, nullable where it is; key columns keep their type.
  std::vector<std::string> expected = columns_of(reference);
  for (auto& c : expected) {
    for (const char* key : {"events.id BIGINT", "messages.id BIGINT", "session_timesteps.id BIGINT"}) {
      if (c.starts_with(key)) c.replace(c.find("BIGINT"), 6, "INTEGER");
    }
  }
  EXPECT_EQ(columns_of(migrated), expected);

  // The same answers. (first_call / last_call: the original wrote insert times.)
  EXPECT_EQ(migrated.session_ids(), reference.session_ids());
  for (const SessionTrace& t : original_sessions()) {
    EXPECT_EQ(migrated.load_trace(t.session_id), t) << t.session_id;
    EXPECT_EQ(migrated.load_trace(t.session_id), reference.load_trace(t.session_id)) << t.session_id;
  }
  EXPECT_EQ(migrated.get_model_usage().to_json(), reference.get_model_usage().to_json());
  EXPECT_EQ(migrated.get_session_summary().to_json(), reference.get_session_summary().to_json());
  EXPECT_EQ(migrated.get_expensive_calls(0.0005).to_json(), reference.get_expensive_calls(0.0005).to_json());
  EXPECT_EQ(migrated.query_events().to_json(), reference.query_events().to_json());
  EXPECT_EQ(migrated.query_messages().to_json(), reference.query_messages().to_json());
  // (metadata: the original wrote no timestamp key in its entries.)
  EXPECT_EQ(without(migrated.get_experiment_sessions("exp-1"), {"metadata"}).to_json(),
            without(reference.get_experiment_sessions("exp-1"), {"metadata"}).to_json());
  EXPECT_EQ(migrated.get_experiments_by_system_version("sys-1-v1").rows.size(), 1u);
  EXPECT_EQ(migrated.query("SELECT * FROM model_usage_stats ORDER BY model_name").to_json(),
            reference.query("SELECT * FROM model_usage_stats ORDER BY model_name").to_json());

  // It takes new sessions, with ids after the original's rows.
  SessionTrace more = original_sessions()[0];
  more.session_id = "episode-3";
  more.session_time_steps[1].step_metadata = Value{{"phase", "exploit"}};
  ASSERT_TRUE(migrated.insert_trace(more));
  EXPECT_EQ(migrated.load_trace("episode-3"), more);
  EXPECT_EQ(migrated.query("SELECT COUNT(DISTINCT id) = COUNT(*) FROM events").rows[0][0], Value(true));
}

TEST(Migration, AMigratedFileOpensReadOnlyAndIsNotMigratedAgain) {
  TempDir dir;
  create_python_original_database(dir.db());
  { DuckDBTraceManager once(dir.db()); }
  CapturedDiagnostics diagnostics;
  { DuckDBTraceManager again(dir.db()); }
  DuckDBTraceManager reader(dir.db(), DuckDBOptions{.read_only = true});
  EXPECT_EQ(reader.session_ids().size(), 2u);
  EXPECT_TRUE(diagnostics.all().empty());
}

TEST(Migration, ColumnsTheSchemaGainsAreAddedToExistingFiles) {
  for (const bool versioned : {false, true}) {
    SCOPED_TRACE(versioned ? "written at this version by an older schema.hpp" : "written before versions");
    TempDir dir;
    {
      DuckDBTraceManager db(dir.db(), DuckDBOptions{.indexes = false});
      ASSERT_TRUE(db.insert_trace(original_sessions()[1]));
      db.query("ALTER TABLE events DROP COLUMN reasoning_tokens");
      db.query("ALTER TABLE session_timesteps DROP COLUMN turn_number");
      if (versioned) {
        db.query("UPDATE synth_tracing_schema SET definition = 'the schema without those columns'");
      } else {
        db.query("DROP TABLE synth_tracing_schema");
      }
    }
    CapturedDiagnostics diagnostics;
    DuckDBTraceManager db(dir.db());
    EXPECT_TRUE(reported(diagnostics, "events.reasoning_tokens added"));
    EXPECT_TRUE(reported(diagnostics, "session_timesteps.turn_number added"));
    EXPECT_EQ(db.query("SELECT version FROM synth_tracing_schema").rows, (std::vector<std::vector<Value>>{{2}}));
    EXPECT_EQ(db.load_trace("episode-2"), original_sessions()[1]);
    EXPECT_EQ(db.query("SELECT COUNT(reasoning_tokens) FROM events").rows[0][0], Value(0));
  }
}

// A file written before the trace server kept its waiting OTLP data (otlp_pending) gets the
// table when opened for writing, and keeps its sessions.
TEST(Migration, TablesTheSchemaGainsAreAddedToExistingFiles) {
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.indexes = false});
    ASSERT_TRUE(db.insert_trace(original_sessions()[1]));
    db.query("DROP TABLE otlp_pending");
    db.query("UPDATE synth_tracing_schema SET definition = 'the schema without otlp_pending'");
  }
  EXPECT_EQ(run_with_duckdb(dir.db(), "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'otlp_pending'"), 0);
  DuckDBTraceManager db(dir.db());
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM otlp_pending").rows[0][0], Value(0));
  EXPECT_EQ(db.load_trace("episode-2"), original_sessions()[1]);
}

// Files written before the row ids of events, messages and session_timesteps lost their keys
// (and the timesteps their UNIQUE (session_id, step_id)) keep them: DuckDB cannot drop a key
// without rebuilding the table. They take new sessions, merges and replacements as before.
TEST(Migration, AFileWhoseRowIdsHaveKeysKeepsThemAndTakesNewSessions) {
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db());
    ASSERT_TRUE(db.insert_trace(original_sessions()[0]));
  }
  run_with_duckdb(dir.db(),
                  "ALTER TABLE events ADD PRIMARY KEY (id); ALTER TABLE messages ADD PRIMARY KEY (id); "
                  "ALTER TABLE session_timesteps ADD PRIMARY KEY (id); "
                  "CREATE UNIQUE INDEX timesteps_step ON session_timesteps (session_id, step_id); "
                  "UPDATE synth_tracing_schema SET definition = 'the schema with keys on the row ids'");
  const auto keys = [](DuckDBTraceManager& db) {
    return db.query("SELECT COUNT(*) FROM duckdb_constraints() WHERE constraint_type = 'PRIMARY KEY' "
                    "AND table_name IN ('events', 'messages', 'session_timesteps')")
        .rows.at(0)
        .at(0)
        .as_int();
  };
  for (const auto policy : {st::OnExistingSession::replace, st::OnExistingSession::merge}) {
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = policy});
    EXPECT_EQ(keys(db), 3);
    EXPECT_EQ(db.query("SELECT definition FROM synth_tracing_schema").rows.at(0).at(0).as_string().find("keys on the row"),
              std::string::npos)
        << "the current definition is recorded";
    SessionTrace more = original_sessions()[1];
    more.session_id = policy == st::OnExistingSession::replace ? "replaced" : "merged";
    ASSERT_EQ(db.insert_traces(std::vector<SessionTrace>{more, more}).inserted, 1u);
    EXPECT_EQ(db.load_trace(more.session_id)->session_time_steps.size(), more.session_time_steps.size());
    EXPECT_EQ(db.load_trace(original_sessions()[0].session_id), original_sessions()[0]);
    EXPECT_EQ(db.query("SELECT COUNT(DISTINCT id) = COUNT(*) FROM events").rows[0][0], Value(true));
  }
  // A new file has none.
  TempDir fresh;
  DuckDBTraceManager db(fresh.db());
  EXPECT_EQ(keys(db), 0);
}

TEST(Migration, AFileFromANewerVersionIsRefused) {
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db());
    db.query("UPDATE synth_tracing_schema SET version = 99");
  }
  for (const bool read_only : {false, true}) {
    SCOPED_TRACE(read_only ? "read-only" : "writable");
    try {
      DuckDBTraceManager db(dir.db(), DuckDBOptions{.read_only = read_only});
      FAIL() << "opened a file of schema version 99";
    } catch (const StorageError& e) {
      EXPECT_NE(std::string(e.what()).find("schema version 99"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("newer"), std::string::npos) << e.what();
    }
  }
}

TEST(Migration, AMigrationThatFailsLeavesTheFileAsItWas) {
  TempDir dir;
  create_python_original_database(dir.db());
  // A value the current column type cannot hold: the change of type fails half-way.
  run_with_duckdb(dir.db(),
                  "DROP INDEX idx_events_session_time; DROP INDEX idx_events_system; DROP INDEX idx_events_model; "
                  "ALTER TABLE events ALTER COLUMN prompt_tokens SET DATA TYPE VARCHAR; "
                  "UPDATE events SET prompt_tokens = 'many' WHERE model_name = 'claude-3-opus'");
  try {
    DuckDBTraceManager db(dir.db());
    FAIL() << "migrated a column holding 'many' to BIGINT";
  } catch (const StorageError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot migrate"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("left as it was"), std::string::npos) << e.what();
  }
  // Nothing changed: no column added, no version recorded, the rows intact.
  EXPECT_EQ(run_with_duckdb(dir.db(), "SELECT COUNT(*) FROM duckdb_tables() WHERE table_name = 'synth_tracing_schema'"), 0);
  EXPECT_EQ(run_with_duckdb(dir.db(), "SELECT COUNT(*) FROM duckdb_columns() WHERE column_name = 'history_index'"), 0);
  EXPECT_EQ(run_with_duckdb(dir.db(), "SELECT COUNT(*) FROM events WHERE prompt_tokens = 'many'"), 1);
  EXPECT_EQ(run_with_duckdb(dir.db(), "SELECT COUNT(*) FROM events"), 6);
}
