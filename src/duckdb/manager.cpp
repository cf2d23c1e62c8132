// DuckDBTraceManager: opening the file (schema, migration, settings), the public queries,
// experiments and Parquet export, and the batches and transactions that rows.cpp writes into.
#include "diagnostics.hpp"
#include "duckdb/manager_impl.hpp"
#include "json/reader.hpp"
#include "json/writer.hpp"

namespace synth::tracing {

namespace {

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// A WHERE clause built from lists of allowed values; values stay bound parameters.
struct Filter {
  std::string sql;
  std::vector<Value> params;
  void in(std::string_view column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += sql.empty() ? " WHERE " : " AND ";
    sql += std::string(column) + " IN (" + placeholders(values.size()) + ")";
    for (const auto& v : values) params.emplace_back(v);
  }
};

}  // namespace


DuckDBTraceManager::DuckDBTraceManager(std::filesystem::path path, DuckDBOptions options)
    : impl_(std::make_unique<Impl>(std::move(path), options)) {}
DuckDBTraceManager::~DuckDBTraceManager() = default;
DuckDBTraceManager::DuckDBTraceManager(DuckDBTraceManager&&) noexcept = default;
DuckDBTraceManager& DuckDBTraceManager::operator=(DuckDBTraceManager&&) noexcept = default;

const std::filesystem::path& DuckDBTraceManager::path() const noexcept { return impl_->path; }

bool DuckDBTraceManager::insert_trace(const SessionTrace& trace) {
  std::lock_guard lock(impl_->mutex);
  return impl_->insert(std::span<const SessionTrace>(&trace, 1), 1).skipped == 0;
}

InsertSummary DuckDBTraceManager::insert_traces(std::span<const SessionTrace> traces, std::size_t batch_size) {
  std::lock_guard lock(impl_->mutex);
  return impl_->insert(traces, batch_size);
}

std::optional<SessionTrace> DuckDBTraceManager::load_trace(std::string_view session_id) {
  std::lock_guard lock(impl_->mutex);
  return detail::duck::load_trace(impl_->conn, session_id);
}

std::vector<std::string> DuckDBTraceManager::session_ids() {
  std::lock_guard lock(impl_->mutex);
  Result r = detail::duck::query(impl_->conn, "SELECT session_id FROM session_traces ORDER BY created_at DESC, session_id");
  std::vector<std::string> ids;
  for (std::size_t row = 0; row < r.rows(); ++row) ids.push_back(r.text(0, row).value_or(""));
  return ids;
}

QueryResult DuckDBTraceManager::query(std::string_view sql, const std::vector<Value>& params) {
  std::lock_guard lock(impl_->mutex);
  impl_->forget_parts();  // the SQL may change what they remember of stored rows
  return impl_->run(sql, params);
}

QueryResult DuckDBTraceManager::query_messages(const std::vector<std::string>& session_ids,
                                               const std::vector<std::string>& message_types) {
  Filter f;
  f.in("m.session_id", session_ids);
  f.in("m.message_type", message_types);
  return query(
      "SELECT m.session_id, t.step_id, m.message_type, m.content, m.timestamp, m.message_time FROM messages m "
      "LEFT JOIN session_timesteps t ON t.id = m.timestep_id" +
          f.sql + " ORDER BY m.session_id, m.history_index NULLS LAST, m.id",
      f.params);
}

QueryResult DuckDBTraceManager::query_events(const std::vector<std::string>& session_ids,
                                             const std::vector<std::string>& event_types,
                                             const std::vector<std::string>& system_ids) {
  Filter f;
  f.in("e.session_id", session_ids);
  f.in("e.event_type", event_types);
  f.in("e.system_instance_id", system_ids);
  return query(
      "SELECT e.session_id, t.step_id, e.event_type, e.system_instance_id, e.event_time, e.message_time, "
      "e.model_name, e.provider, e.prompt_tokens, e.completion_tokens, e.total_tokens, e.cached_tokens, "
      "e.reasoning_tokens, e.cost, e.latency_ms, e.reward, e.terminated, e.truncated, e.metadata FROM events e "
      "LEFT JOIN session_timesteps t ON t.id = e.timestep_id" +
          f.sql + " ORDER BY e.session_id, e.history_index NULLS LAST, e.id",
      f.params);
}

QueryResult DuckDBTraceManager::get_model_usage(std::optional<Timestamp> start, std::optional<Timestamp> end) {
  std::vector<Value> params;
  std::string where = "event_type = 'cais' AND model_name IS NOT NULL";
  // Stored times are whole microseconds: round the bounds inwards, as DuckDB's cast of a
  // nine-digit fraction would not (a call at 11:00:00 is not at or after 11:00:00.000000001).
  if (start) {
    where += " AND event_time >= CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(std::chrono::ceil<std::chrono::microseconds>(*start)));
  }
  if (end) {
    where += " AND event_time <= CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(std::chrono::floor<std::chrono::microseconds>(*end)));
  }
  return query(
      "SELECT model_name, provider, COUNT(*) AS call_count, SUM(prompt_tokens) AS total_prompt_tokens, "
      "SUM(completion_tokens) AS total_completion_tokens, "
      "SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS total_tokens, "
      "SUM(cached_tokens) AS total_cached_tokens, SUM(reasoning_tokens) AS total_reasoning_tokens, "
      "AVG(latency_ms) AS avg_latency_ms, SUM(cost) AS total_cost, MIN(event_time) AS first_call, "
      "MAX(event_time) AS last_call FROM events WHERE " +
          where + " GROUP BY model_name, provider ORDER BY total_cost DESC NULLS LAST, call_count DESC, model_name",
      params);
}

QueryResult DuckDBTraceManager::get_expensive_calls(double threshold) {
  return query(
      "SELECT session_id, model_name, prompt_tokens, completion_tokens, cost, latency_ms FROM events "
      "WHERE event_type = 'cais' AND cost > ? ORDER BY cost DESC",
      {Value(threshold)});
}

QueryResult DuckDBTraceManager::get_session_summary(std::optional<std::string_view> session_id) {
  if (session_id) {
    return query("SELECT * FROM session_summary WHERE session_id = ?", {Value(*session_id)});
  }
  return query("SELECT * FROM session_summary ORDER BY created_at DESC, session_id");
}

void DuckDBTraceManager::export_to_parquet(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create Parquet folder '" + dir.string() + "': " + ec.message());
  std::lock_guard lock(impl_->mutex);
  for (const char* table : {"session_traces", "session_timesteps", "events", "messages"}) {
    impl_->conn.exec(detail::duck::parquet_export_sql(table, dir / (std::string(table) + ".parquet")));
  }
}

void DuckDBTraceManager::create_system(std::string_view system_id, std::string_view name,
                                       std::string_view description) {
  query("INSERT INTO systems (id, name, description) VALUES (?, ?, ?)",
        {Value(system_id), Value(name), description.empty() ? Value() : Value(description)});
}

void DuckDBTraceManager::create_system_version(std::string_view version_id, std::string_view system_id,
                                               std::string_view branch, std::string_view commit,
                                               std::string_view description) {
  const auto opt = [](std::string_view s) { return s.empty() ? Value() : Value(s); };
  query(
      "INSERT INTO system_versions (id, system_id, branch, \"commit\", created_at, description) "
      "VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP), ?)",
      {Value(version_id), Value(system_id), opt(branch), opt(commit), Value(format_timestamp(now())), opt(description)});
}

void DuckDBTraceManager::create_experiment(std::string_view experiment_id, std::string_view name,
                                           std::string_view description,
                                           const std::vector<std::pair<std::string, std::string>>& systems) {
  std::lock_guard lock(impl_->mutex);
  impl_->in_transaction([&] {
    const Value created(format_timestamp(now()));
    impl_->run(
        "INSERT INTO experiments (id, name, description, created_at, updated_at) "
        "VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))",
        {Value(experiment_id), Value(name), description.empty() ? Value() : Value(description), created, created});
    for (const auto& [system_id, version_id] : systems) {
      impl_->run("INSERT INTO experimental_systems (experiment_id, system_id, system_version_id) VALUES (?, ?, ?)",
                 {Value(experiment_id), Value(system_id), version_id.empty() ? Value() : Value(version_id)});
    }
  });
}

void DuckDBTraceManager::link_session_to_experiment(std::string_view session_id, std::string_view experiment_id) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->exists(session_id)) {
    throw StorageError("cannot link session '" + std::string(session_id) + "': it is not in '" + impl_->conn.name() + "'");
  }
  impl_->run("UPDATE session_traces SET experiment_id = ? WHERE session_id = ?", {Value(experiment_id), Value(session_id)});
  impl_->run("UPDATE session_stats SET experiment_id = ?, seq = ? WHERE session_id = ?",
             {Value(experiment_id), Value(++impl_->last_seq), Value(session_id)});
  impl_->run("UPDATE experiments SET updated_at = CAST(? AS TIMESTAMP) WHERE id = ?",
             {Value(format_timestamp(now())), Value(experiment_id)});
}

QueryResult DuckDBTraceManager::get_experiment_sessions(std::string_view experiment_id) {
  // Totals by subquery per session: joining events and messages would multiply them.
  return query(
      "SELECT s.*, "
      "(SELECT COUNT(*) FROM events e WHERE e.session_id = s.session_id) AS total_events, "
      "(SELECT COUNT(*) FROM messages m WHERE m.session_id = s.session_id) AS total_messages, "
      "(SELECT SUM(e.cost) FROM events e WHERE e.session_id = s.session_id) AS total_cost, "
      "(SELECT SUM(COALESCE(e.total_tokens, e.prompt_tokens + e.completion_tokens)) FROM events e "
      " WHERE e.session_id = s.session_id) AS total_tokens "
      "FROM session_traces s WHERE s.experiment_id = ? ORDER BY s.created_at, s.session_id",
      {Value(experiment_id)});
}

QueryResult DuckDBTraceManager::get_experiments_by_system_version(std::string_view system_version_id) {
  return query(
      "SELECT x.* FROM experiments x WHERE x.id IN "
      "(SELECT experiment_id FROM experimental_systems WHERE system_version_id = ?) ORDER BY x.created_at, x.id",
      {Value(system_version_id)});
}

// ---- the open transaction of DuckDBSink and of the server's writer ----

std::vector<std::pair<std::string, std::string>> DuckDBTraceManager::store_batch(
    std::span<const std::shared_ptr<const SessionTrace>> traces) {
  return impl_->store_batch(traces);
}

namespace detail::duck {

Appended StoreAccess::batch_append(DuckDBTraceManager& store, const SessionTrace& trace, OnExistingSession on_existing,
                                   const std::unordered_set<std::string>* stored, const ItemSteps* known) {
  return store.impl_->append_to_batch(trace, on_existing, false, stored, known);
}

std::unordered_set<std::string> StoreAccess::stored_among(DuckDBTraceManager& store, const std::vector<std::string>& session_ids) {
  std::lock_guard lock(store.impl_->mutex);
  Value::Array ids(session_ids.begin(), session_ids.end());
  return store.impl_->stored_ids(std::move(ids));
}

bool StoreAccess::batch_move(DuckDBTraceManager& store, std::string_view from, const std::string& to,
                             const std::unordered_set<std::string>* stored) {
  return store.impl_->move_in_batch(from, to, stored);
}

void StoreAccess::batch_add_spans(DuckDBTraceManager& store, const std::vector<std::array<std::int64_t, 2>>& rows) {
  store.impl_->add_spans_to_batch(rows);
}

QueryResult StoreAccess::batch_run(DuckDBTraceManager& store, std::string_view sql, const std::vector<Value>& params,
                                   bool flush) {
  return store.impl_->run_in_batch(sql, params, flush);
}

void StoreAccess::batch_commit(DuckDBTraceManager& store, bool fold_stats) { store.impl_->commit_batch(fold_stats); }

bool StoreAccess::fold_stats(DuckDBTraceManager& store) { return store.impl_->fold_deferred(); }

bool StoreAccess::stats_held(DuckDBTraceManager& store) {
  std::lock_guard lock(store.impl_->mutex);
  return store.impl_->stats_behind_listed;
}

void StoreAccess::configure(DuckDBTraceManager& store, std::vector<std::string> settings) {
  std::lock_guard lock(store.impl_->mutex);
  store.impl_->conn.configure(std::move(settings));
}

std::unique_ptr<Connection> StoreAccess::reader(DuckDBTraceManager& store) {
  return std::make_unique<Connection>(store.impl_->conn);
}

}  // namespace detail::duck

}  // namespace synth::tracing

