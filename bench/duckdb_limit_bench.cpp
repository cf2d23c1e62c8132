// (a') of duckdb_bench.cpp: DuckDB's own limit for insert_traces, in the same executable so that
// one run measures both (duckdb_bench --benchmark_filter='BM_InsertTracesFile/indexes:0|BM_InsertLimitDataChunk').
#include <benchmark/benchmark.h>
#include <duckdb.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <synth/tracing.hpp>
#include <synth/tracing/duckdb.hpp>

#include "realistic_session.hpp"
#include "scratch_database.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;

namespace {

using synth_bench::kSessionsPerBatch;
using synth_bench::realistic_session;
using synth_bench::remove_database;

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

// A file opened with DuckDB's C API alone, closed when it goes.
struct LimitDatabase {
  explicit LimitDatabase(const fs::path& path) {
    if (duckdb_open(path.c_str(), &db) != DuckDBSuccess) limit_fail("cannot open " + path.string());
    if (duckdb_connect(db, &c) != DuckDBSuccess) {
      duckdb_close(&db);
      limit_fail("cannot connect to " + path.string());
    }
  }
  ~LimitDatabase() {
    duckdb_disconnect(&c);
    duckdb_close(&db);
  }
  LimitDatabase(const LimitDatabase&) = delete;
  LimitDatabase& operator=(const LimitDatabase&) = delete;

  duckdb_database db = nullptr;
  duckdb_connection c = nullptr;
};

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
    const LimitDatabase scratch_db(scratch);
    duckdb_connection c = scratch_db.c;
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
    const LimitDatabase target_db(path);
    duckdb_connection c = target_db.c;
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

}  // namespace
