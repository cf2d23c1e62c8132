// DuckDB trace store: sessions, timesteps, events and messages in an embedded database file,
// queryable with SQL. Part of the synth::tracing_duckdb library target.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/sinks.hpp"

namespace synth::tracing {

/// A database file that cannot be opened, is locked, corrupt or read-only, or a failing
/// statement. `what()` names the file (and the statement) and says what to do.
class StorageError : public Error {
 public:
  using Error::Error;
};

/// What inserting a session whose id is already stored does.
enum class OnExistingSession : std::uint8_t {
  skip,     ///< keep the stored session, report a warning (the default)
  replace,  ///< delete the stored session and insert the new one
  fail,     ///< throw StorageError
};

/// Options of a DuckDBTraceManager.
struct DuckDBOptions {
  OnExistingSession on_existing = OnExistingSession::skip;
  /// Open without writing: no schema creation, inserts throw.
  bool read_only = false;
  /// Create the original's secondary indexes (`idx_*`) when they are missing. Without them
  /// inserts are about 1.6x as fast and files about a third of the size, and the built-in
  /// queries are as fast (DuckDB's zone maps serve them); indexes a file already has stay.
  bool indexes = true;
};

/// The result of a query: column names and DuckDB type names, and rows of values (NULL is a
/// null Value; timestamps are ISO-8601 strings; JSON columns are strings).
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::string> types;
  std::vector<std::vector<Value>> rows;

  /// Aligned text table with a header line, numbers right-aligned.
  std::string to_table() const;
  /// RFC 4180 CSV with a header line.
  std::string to_csv() const;
  /// A JSON array of objects, one per row.
  std::string to_json() const;
};

/// How an insert went.
struct InsertSummary {
  std::size_t inserted = 0;
  std::size_t skipped = 0;  ///< already stored (OnExistingSession::skip)
  std::size_t replaced = 0;
};

/// Stores traces in a DuckDB file with the original synth-ai schema (tables session_traces,
/// session_timesteps, events, messages, systems, system_versions, experiments,
/// experimental_systems; views model_usage_stats, session_summary, experiment_overview), with
/// its bugs fixed: recorded times (not insert times), timestep ids linked, one provider
/// vocabulary, and columns for event_type, cached/reasoning tokens and turns.
///
/// One process may write a database file at a time (DuckDB's lock). Thread-safe: calls are
/// serialized on the manager's one connection.
class DuckDBTraceManager {
 public:
  /// Opens (creating file and schema if needed). Throws StorageError naming the file when it
  /// is locked by another process, not a DuckDB database, or in a read-only folder.
  explicit DuckDBTraceManager(std::filesystem::path path = "traces.duckdb", DuckDBOptions options = {});
  ~DuckDBTraceManager();
  DuckDBTraceManager(DuckDBTraceManager&&) noexcept;
  DuckDBTraceManager& operator=(DuckDBTraceManager&&) noexcept;

  const std::filesystem::path& path() const noexcept;

  /// Inserts one session in one transaction; false when skipped (OnExistingSession::skip).
  bool insert_trace(const SessionTrace& trace);
  /// Inserts many sessions, one transaction per `batch_size` sessions, through DuckDB's
  /// appender. A failing batch is rolled back and throws StorageError; earlier batches stay.
  InsertSummary insert_traces(std::span<const SessionTrace> traces, std::size_t batch_size = 1000);
  /// Rebuilds a stored session, equal to what was inserted (timestamps at microsecond
  /// precision); nullopt when unknown.
  std::optional<SessionTrace> load_trace(std::string_view session_id);
  /// Ids of the stored sessions, newest first.
  std::vector<std::string> session_ids();

  /// Runs SQL; `params` bind to `?` or `$1`.. placeholders (never spliced into the text).
  QueryResult query(std::string_view sql, const std::vector<Value>& params = {});

  /// Messages of the given sessions (all when empty) and types (all when empty), in order.
  QueryResult query_messages(const std::vector<std::string>& session_ids = {},
                             const std::vector<std::string>& message_types = {});
  /// Events filtered by sessions, event types ("cais", "environment", "runtime") and system ids.
  QueryResult query_events(const std::vector<std::string>& session_ids = {},
                           const std::vector<std::string>& event_types = {},
                           const std::vector<std::string>& system_ids = {});
  /// Usage per model and provider: calls, tokens, latency, cost, first and last call; only
  /// models whose calls fall within [start, end] when given.
  QueryResult get_model_usage(std::optional<Timestamp> start = std::nullopt, std::optional<Timestamp> end = std::nullopt);
  /// LLM calls costing more than `threshold` USD, most expensive first.
  QueryResult get_expensive_calls(double threshold);
  /// The session_summary view, for one session or all.
  QueryResult get_session_summary(std::optional<std::string_view> session_id = std::nullopt);
  /// Writes session_traces, session_timesteps, events and messages as `<table>.parquet` (zstd)
  /// into `dir`, creating it.
  void export_to_parquet(const std::filesystem::path& dir);

  /// Experiments: which system versions ran which sessions.
  void create_system(std::string_view system_id, std::string_view name, std::string_view description = {});
  void create_system_version(std::string_view version_id, std::string_view system_id, std::string_view branch = {},
                             std::string_view commit = {}, std::string_view description = {});
  /// `systems` pairs (system_id, system_version_id) taking part in the experiment.
  void create_experiment(std::string_view experiment_id, std::string_view name, std::string_view description = {},
                         const std::vector<std::pair<std::string, std::string>>& systems = {});
  void link_session_to_experiment(std::string_view session_id, std::string_view experiment_id);
  /// Sessions of an experiment with their totals (events, messages, cost, tokens), each counted
  /// once.
  QueryResult get_experiment_sessions(std::string_view experiment_id);
  QueryResult get_experiments_by_system_version(std::string_view system_version_id);

 private:
  friend class DuckDBSink;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A SessionSink storing finished sessions in a DuckDB file. It runs on the tracer's sink
/// thread, which alone uses its connection; sessions written between two flushes share one
/// transaction (committed when the queue runs empty and on flush()).
class DuckDBSink : public SessionSink {
 public:
  explicit DuckDBSink(std::filesystem::path path = "traces.duckdb", DuckDBOptions options = {});
  ~DuckDBSink() override;

  void write(const SessionTrace& trace) override;
  void flush() override;

  /// The manager behind the sink (queries are serialized with the sink's writes and see what
  /// was committed).
  DuckDBTraceManager& manager() noexcept { return manager_; }

 private:
  DuckDBTraceManager manager_;
};

}  // namespace synth::tracing
