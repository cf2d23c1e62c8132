// DuckDB trace store. Targets (this 2-core machine):
//   (a) insert_traces into a FILE database, sustained: >= 300 k events/s, with realistic sessions
//       (100 timesteps x 3 events + 2 messages, batches of 100 sessions), and >= 70 % of the
//       limit (a'): the same rows appended with DuckDB's data-chunk API alone; (a'') whether an
//       insert costs more in a large file;
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

#include "scratch_database.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::Value;

namespace {

using synth_bench::remove_database;

constexpr int kStepsPerSession = 100;
constexpr int kSessionsPerBatch = 100;

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

// (a') The limit for (a): the rows one batch of (a) stores (read back from a database that
// insert_traces filled: every column of session_traces, session_timesteps, events, messages and
// session_stats), prepared in advance, appended to the same schema with DuckDB's data-chunk API
// (duckdb_append_data_chunk) and nothing else: one transaction per batch, 20 batches into a
// growing file, the last batch paying for the final checkpoint. Only the keys change per batch
// (session ids, row ids), so that the keys accept the rows. Compare items_per_second (events)
// with BM_InsertTracesFile/indexes:0; store_settings:1 opens the file with the store's settings
// (checkpoint_threshold), store_settings:0 with DuckDB's defaults.
struct LimitColumn {
  std::string name;
  duckdb_type type = DUCKDB_TYPE_INVALID;
  std::vector<bool> valid;
  std::vector<std::int64_t> ints;  // BIGINT, INTEGER, TIMESTAMP, BOOLEAN
  std::vector<double> doubles;
  std::vector<std::string> texts;                // VARCHAR (JSON too)
  std::vector<std::vector<std::string>> lists;  // VARCHAR[]
};

struct LimitTable {
  std::string name;
  std::vector<LimitColumn> columns;
  std::size_t rows = 0;
};

[[noreturn]] void limit_fail(const std::string& what) { throw std::runtime_error("limit benchmark: " + what); }

void limit_exec(duckdb_connection c, const std::string& sql) {
  duckdb_result r;
  if (duckdb_query(c, sql.c_str(), &r) != DuckDBSuccess) {
    const std::string e = duckdb_result_error(&r);
    duckdb_destroy_result(&r);
    limit_fail(sql + ": " + e);
  }
  duckdb_destroy_result(&r);
}

std::string limit_string(duckdb_string_t* data, idx_t row) {
  duckdb_string_t& s = data[row];
  const std::uint32_t n = duckdb_string_t_length(s);
  return std::string(duckdb_string_t_data(&s), n);
}

LimitTable read_limit_table(duckdb_connection c, const std::string& table) {
  LimitTable t;
  t.name = table;
  duckdb_result r;
  const std::string sql = "SELECT * FROM " + table;
  if (duckdb_query(c, sql.c_str(), &r) != DuckDBSuccess) limit_fail(duckdb_result_error(&r));
  const idx_t ncols = duckdb_column_count(&r);
  for (idx_t col = 0; col < ncols; ++col) {
    LimitColumn lc;
    lc.name = duckdb_column_name(&r, col);
    lc.type = duckdb_column_type(&r, col);
    t.columns.push_back(std::move(lc));
  }
  for (;;) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(r);
    if (!chunk) break;
    const idx_t n = duckdb_data_chunk_get_size(chunk);
    for (idx_t col = 0; col < ncols; ++col) {
      LimitColumn& lc = t.columns[col];
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, col);
      std::uint64_t* validity = duckdb_vector_get_validity(v);
      void* data = duckdb_vector_get_data(v);
      for (idx_t row = 0; row < n; ++row) {
        const bool ok = duckdb_validity_row_is_valid(validity, row);
        lc.valid.push_back(ok);
        switch (lc.type) {
          case DUCKDB_TYPE_BIGINT:
          case DUCKDB_TYPE_TIMESTAMP:
            lc.ints.push_back(ok ? static_cast<std::int64_t*>(data)[row] : 0);
            break;
          case DUCKDB_TYPE_INTEGER:
            lc.ints.push_back(ok ? static_cast<std::int32_t*>(data)[row] : 0);
            break;
          case DUCKDB_TYPE_BOOLEAN:
            lc.ints.push_back(ok ? static_cast<bool*>(data)[row] : 0);
            break;
          case DUCKDB_TYPE_DOUBLE:
            lc.doubles.push_back(ok ? static_cast<double*>(data)[row] : 0.0);
            break;
          case DUCKDB_TYPE_VARCHAR:
            lc.texts.push_back(ok ? limit_string(static_cast<duckdb_string_t*>(data), row) : std::string());
            break;
          case DUCKDB_TYPE_LIST: {
            std::vector<std::string> items;
            if (ok) {
              const auto entry = static_cast<duckdb_list_entry*>(data)[row];
              auto* child = static_cast<duckdb_string_t*>(duckdb_vector_get_data(duckdb_list_vector_get_child(v)));
              for (idx_t i = 0; i < entry.length; ++i) items.push_back(limit_string(child, entry.offset + i));
            }
            lc.lists.push_back(std::move(items));
            break;
          }
          default:
            limit_fail("column " + lc.name + " of " + table + " has a type the limit benchmark does not copy");
        }
      }
    }
    t.rows += n;
    duckdb_destroy_data_chunk(&chunk);
  }
  duckdb_destroy_result(&r);
  return t;
}

// Appends `t` with data chunks; session ids become "<prefix><the stored one>", and the id
// columns of the keyed tables are shifted by `id_offset`.
void append_limit_table(duckdb_connection c, const LimitTable& t, const std::vector<std::string>& session_ids,
                        std::int64_t id_offset) {
  duckdb_appender app;
  if (duckdb_appender_create(c, nullptr, t.name.c_str(), &app) != DuckDBSuccess) limit_fail(duckdb_appender_error(app));
  const idx_t ncols = t.columns.size();
  std::vector<duckdb_logical_type> types;
  for (idx_t col = 0; col < ncols; ++col) types.push_back(duckdb_appender_column_type(app, col));
  duckdb_data_chunk chunk = duckdb_create_data_chunk(types.data(), ncols);
  const idx_t capacity = duckdb_vector_size();
  const bool keyed_ids = t.name != "session_traces" && t.name != "session_stats";
  for (std::size_t start = 0; start < t.rows; start += capacity) {
    const std::size_t n = std::min<std::size_t>(capacity, t.rows - start);
    duckdb_data_chunk_reset(chunk);
    for (idx_t col = 0; col < ncols; ++col) {
      const LimitColumn& lc = t.columns[col];
      duckdb_vector v = duckdb_data_chunk_get_vector(chunk, col);
      duckdb_vector_ensure_validity_writable(v);
      std::uint64_t* validity = duckdb_vector_get_validity(v);
      void* data = duckdb_vector_get_data(v);
      const bool is_session = lc.name == "session_id";
      const bool shift = keyed_ids && (lc.name == "id" || lc.name == "timestep_id");
      idx_t list_size = 0;
      for (std::size_t i = 0; i < n; ++i) {
        const std::size_t row = start + i;
        duckdb_validity_set_row_validity(validity, i, lc.valid[row]);
        if (!lc.valid[row]) continue;
        switch (lc.type) {
          case DUCKDB_TYPE_BIGINT:
          case DUCKDB_TYPE_TIMESTAMP:
            static_cast<std::int64_t*>(data)[i] = lc.ints[row] + (shift ? id_offset : 0);
            break;
          case DUCKDB_TYPE_INTEGER:
            static_cast<std::int32_t*>(data)[i] = static_cast<std::int32_t>(lc.ints[row]);
            break;
          case DUCKDB_TYPE_BOOLEAN:
            static_cast<bool*>(data)[i] = lc.ints[row] != 0;
            break;
          case DUCKDB_TYPE_DOUBLE:
            static_cast<double*>(data)[i] = lc.doubles[row];
            break;
          case DUCKDB_TYPE_VARCHAR: {
            const std::string& s = is_session ? session_ids[row] : lc.texts[row];
            duckdb_vector_assign_string_element_len(v, i, s.data(), s.size());
            break;
          }
          case DUCKDB_TYPE_LIST: {
            const auto& items = lc.lists[row];
            duckdb_list_vector_reserve(v, list_size + items.size());
            duckdb_vector child = duckdb_list_vector_get_child(v);
            for (std::size_t k = 0; k < items.size(); ++k) {
              duckdb_vector_assign_string_element_len(child, list_size + k, items[k].data(), items[k].size());
            }
            static_cast<duckdb_list_entry*>(data)[i] = duckdb_list_entry{list_size, items.size()};
            list_size += items.size();
            duckdb_list_vector_set_size(v, list_size);
            break;
          }
          default:
            break;
        }
      }
    }
    duckdb_data_chunk_set_size(chunk, n);
    if (duckdb_append_data_chunk(app, chunk) != DuckDBSuccess) limit_fail(duckdb_appender_error(app));
  }
  if (duckdb_appender_flush(app) != DuckDBSuccess) limit_fail(duckdb_appender_error(app));
  duckdb_destroy_data_chunk(&chunk);
  for (auto& type : types) duckdb_destroy_logical_type(&type);
  duckdb_appender_destroy(&app);
}

void BM_InsertLimitDataChunk(benchmark::State& state) {
  const fs::path scratch = synth_bench::scratch_database("duckdb_limit_rows.duckdb");
  const fs::path path = synth_bench::scratch_database("duckdb_limit.duckdb");
  remove_database(scratch);
  remove_database(path);
  std::vector<st::SessionTrace> batch;
  for (int i = 0; i < kSessionsPerBatch; ++i) batch.push_back(realistic_session("run-0-" + std::to_string(i), i));
  {
    st::DuckDBTraceManager rows(scratch, {.indexes = state.range(0) != 0});
    rows.insert_traces(batch, kSessionsPerBatch);
  }
  { st::DuckDBTraceManager empty(path, {.indexes = state.range(0) != 0}); }  // the schema, as insert_traces makes it
  const char* kTables[] = {"session_traces", "session_timesteps", "events", "messages", "session_stats"};
  std::vector<LimitTable> tables;
  std::int64_t batch_rows = 0;
  std::int64_t batch_events = 0;
  std::int64_t max_id = 0;
  {
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(scratch.c_str(), &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess) {
      limit_fail("cannot open " + scratch.string());
    }
    for (const char* name : kTables) {
      tables.push_back(read_limit_table(c, name));
      if (std::string(name) != "session_stats") batch_rows += static_cast<std::int64_t>(tables.back().rows);
      if (std::string(name) == "events") batch_events = static_cast<std::int64_t>(tables.back().rows);
      for (const auto& col : tables.back().columns) {
        if (col.name == "id") {
          for (std::int64_t v : col.ints) max_id = std::max(max_id, v);
        }
      }
    }
    duckdb_disconnect(&c);
    duckdb_close(&db);
  }
  remove_database(scratch);
  // Per batch and table, the session id of every row (prepared in advance, like the values).
  constexpr int kBatches = 20;
  std::vector<std::vector<std::vector<std::string>>> ids(kBatches);
  for (int b = 0; b < kBatches; ++b) {
    for (const LimitTable& t : tables) {
      std::vector<std::string> column;
      for (const auto& col : t.columns) {
        if (col.name != "session_id") continue;
        for (const auto& s : col.texts) column.push_back("b" + std::to_string(b) + "-" + s);
      }
      ids[static_cast<std::size_t>(b)].push_back(std::move(column));
    }
  }
  std::int64_t events = 0;
  std::int64_t rows = 0;
  {
    duckdb_database db;
    duckdb_connection c;
    if (duckdb_open(path.c_str(), &db) != DuckDBSuccess || duckdb_connect(db, &c) != DuckDBSuccess) {
      limit_fail("cannot open " + path.string());
    }
    // store_settings:1 opens as the store does (src/duckdb/connection.hpp, kCheckpointThreshold).
    if (state.range(1) != 0) limit_exec(c, "SET checkpoint_threshold = '256MB'");
    int b = 0;
    for (auto _ : state) {
      if (b == kBatches) {
        state.SkipWithError("more iterations than prepared batches");
        break;
      }
      limit_exec(c, "BEGIN TRANSACTION");
      for (std::size_t i = 0; i < tables.size(); ++i) {
        append_limit_table(c, tables[i], ids[static_cast<std::size_t>(b)][i], static_cast<std::int64_t>(b) * max_id);
      }
      limit_exec(c, "COMMIT");
      ++b;
      if (b == static_cast<int>(state.max_iterations)) limit_exec(c, "CHECKPOINT");  // as BM_InsertTracesFile
      events += batch_events;
      rows += batch_rows;
    }
    duckdb_disconnect(&c);
    duckdb_close(&db);
  }
  state.SetItemsProcessed(events);  // items = events, as in BM_InsertTracesFile
  state.counters["rows_per_second"] = benchmark::Counter(static_cast<double>(rows), benchmark::Counter::kIsRate);
  state.counters["file_MB"] = static_cast<double>(fs::file_size(path)) / 1e6;
  remove_database(path);
}
BENCHMARK(BM_InsertLimitDataChunk)
    ->ArgNames({"indexes", "store_settings"})
    ->Args({0, 1})
    ->Args({0, 0})
    ->Args({1, 1})
    ->Iterations(20)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

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
