// DuckDB trace store: sessions, timesteps, events and messages in an embedded database file,
// queryable with SQL. Part of the synth::tracing_duckdb library target.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "synth/tracing/collector.hpp"
#include "synth/tracing/config.hpp"
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

/// The database file is locked by another process (DuckDB allows one process per file).
class DatabaseLocked : public StorageError {
 public:
  using StorageError::StorageError;
};

/// What inserting a session whose id is already stored does.
enum class OnExistingSession : std::uint8_t {
  skip,     ///< keep the stored session, report a warning (the default)
  replace,  ///< delete the stored session and insert the new one
  fail,     ///< throw StorageError
  /// Add the new one's timesteps, events, messages and metadata entries to the stored session
  /// (a session sent in parts): a timestep whose step_id is stored gets the new items after its
  /// own, the others are added; the histories continue; the earlier created_at stays.
  merge,
};

/// Options of a DuckDBTraceManager.
struct DuckDBOptions {
  OnExistingSession on_existing = OnExistingSession::skip;
  /// Open without writing: no schema creation or migration, inserts throw. The file must exist
  /// and have the current schema.
  bool read_only = false;
  /// Create the original's secondary indexes (`idx_*`) when they are missing. Without them
  /// inserts are about 1.6x as fast and files about a third of the size, and the built-in
  /// queries are as fast (DuckDB's zone maps serve them); indexes a file already has stay.
  bool indexes = false;
  /// DuckDBSink commits the sessions written since its last commit once there are this many,
  /// or once the first of them was written `commit_interval` ago, whichever comes first; also
  /// when the tracer's queue has run empty (at most every 100 ms), on flush(), and when the
  /// batch holds 100,000 events and messages (it keeps the sessions in memory until the
  /// commit). At least 1.
  std::size_t commit_sessions = 1000;
  std::chrono::milliseconds commit_interval{1000};
  /// DuckDB's worker threads for this file; 0: DuckDB's default (one per core), except in a
  /// DuckDBSink, which uses 1 then: its inserts run on the sink thread, and workers only
  /// compete with the agent's threads for the cores (on 2 busy cores they made inserts up to
  /// twice as slow; BENCHMARKS.md, DuckDB store).
  std::size_t threads = 0;
  /// The most memory DuckDB's buffer manager keeps for this file, in MiB (beyond it DuckDB
  /// evicts or spills to a temporary folder beside the file); 0: DuckDB's default (80 % of the
  /// machine's RAM), except in a DuckDBSink, which uses 256 then: a process that records for
  /// hours must not grow with its database (BENCHMARKS.md, Soak).
  std::size_t memory_limit_mb = 0;
};

/// The result of a query: column names and DuckDB type names, and rows of values (NULL is a
/// null Value; timestamps are ISO-8601 strings; JSON columns are strings).
struct QueryResult {
  std::vector<std::string> columns;
  std::vector<std::string> types;
  std::vector<std::vector<Value>> rows;

  /// Aligned text table with a header line, numbers right-aligned; cells cut at 60 columns
  /// and made terminal_safe.
  std::string to_table() const;
  /// RFC 4180 CSV with a header line.
  std::string to_csv() const;
  /// A JSON array of objects, one per row.
  std::string to_json() const;
};

/// `text` safe to print on a terminal: control characters (C0, DEL, C1) and bytes that are not
/// UTF-8 shown as visible escapes (`\n`, `\t`, `\x1b`, `\u009b`, `\xff`), so that stored
/// trace content cannot move the cursor, retitle the window or clear the screen.
/// QueryResult::to_table and `synth-trace show` print through it.
std::string terminal_safe(std::string_view text);

/// How an insert went.
struct InsertSummary {
  std::size_t inserted = 0;
  std::size_t skipped = 0;  ///< already stored (OnExistingSession::skip)
  std::size_t replaced = 0;
  std::size_t merged = 0;   ///< added to a stored session (OnExistingSession::merge)
};

namespace detail::duck {
struct StoreAccess;
}

/// Stores traces in a DuckDB file with the original synth-ai schema (tables session_traces,
/// session_timesteps, events, messages, systems, system_versions, experiments,
/// experimental_systems; views model_usage_stats, session_summary, experiment_overview), with
/// its bugs fixed: recorded times (not insert times), timestep ids linked, one provider
/// vocabulary, and columns for event_type, cached/reasoning tokens and turns. Table
/// session_stats keeps each session's aggregates (events, LLM calls, tokens, cost, reward,
/// terminated, errors, models, providers, systems, first and last message, start and end),
/// updated by every insert in the same transaction.
///
/// One process may write a database file at a time (DuckDB's lock). Thread-safe: calls are
/// serialized on the manager's one connection.
class DuckDBTraceManager {
 public:
  /// Opens, creating file and schema if needed. A file with an older schema (the Python
  /// original's, an earlier synth-tracing's) is migrated in place, in one transaction, and the
  /// change reported (diagnostics). Throws StorageError naming the file when it is locked by
  /// another process, not a DuckDB database, in a read-only folder, written by a newer version,
  /// or (read_only) missing or in need of migration.
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

  /// Runs SQL; `params` bind to `?` or `$1`.. placeholders (never spliced into the text). An
  /// array of texts or integers binds as a list where the placeholder is cast to one
  /// (`CAST(? AS VARCHAR[])`, `BIGINT[]`); other arrays, and objects, bind as JSON text.
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
  friend struct detail::duck::StoreAccess;
  // DuckDBSink's batch, stored in one transaction. Returns the sessions refused before any of
  // their rows was appended (id, why), which the others are stored without; any other failure
  // rolls the whole batch back and throws.
  std::vector<std::pair<std::string, std::string>> store_batch(
      std::span<const std::shared_ptr<const SessionTrace>> traces);

  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// A SessionSink storing finished sessions in a DuckDB file. It runs on the tracer's sink
/// thread, which alone uses its connection. Sessions are kept in memory and stored together, in
/// one transaction: every DuckDBOptions::commit_sessions sessions or commit_interval, whichever
/// comes first, also while sessions keep coming, and when the tracer's queue has run empty (at
/// most every 100 ms) or is flushed. A session the database refuses is lost alone (the write()
/// or flush() that stores its batch throws SessionsLost); when a commit fails, each session of
/// the batch is retried once in a transaction of its own, and those that still fail are
/// reported and counted (SessionsLost: TracerStats::sessions_lost).
///
/// While the file is locked by another process (when the sink starts, or when it must reopen
/// its connection), sessions are written as JSON trace files to `<file>.pending/` instead, and
/// the file is tried again every few seconds; `synth-trace --db <file> import <file>.pending`
/// stores them later. Both are reported (diagnostics).
///
/// When the file is owned by a running `synth-trace serve` (its lock file `<file>.serve.lock`
/// says so, and where it listens), the sink sends the sessions to that server instead, through a
/// CollectorSink (batched, retried; what the server cannot take by the shutdown deadline goes to
/// `<file>.pending/`), and reports it: the server stores them in the same file.
class DuckDBSink : public SessionSink {
 public:
  /// Opens (creating or migrating) the database; throws StorageError as DuckDBTraceManager does
  /// (but for a lock held by another process: see above), and for options a sink cannot use
  /// (read_only, commit_sessions 0).
  explicit DuckDBSink(std::filesystem::path path = "traces.duckdb", DuckDBOptions options = {});
  /// A sink on the configuration's db_path (TracingConfig::load() fills it when code did not:
  /// SYNTH_TRACING_DB, the configuration file, else traces.duckdb).
  static std::shared_ptr<DuckDBSink> from_config(const TracingConfig& config = {}, DuckDBOptions options = {});
  /// Commits what is still uncommitted; a failure is reported (diagnostics), not thrown.
  ~DuckDBSink() override;

  /// Keeps `trace` for the next commit: the tracer's own trace when the tracer calls, else a
  /// copy.
  void write(const SessionTrace& trace) override;
  void flush() override;
  /// Passed on to the collector sink, when sessions go to a server.
  void shutdown_by(std::chrono::steady_clock::time_point deadline) noexcept override;

  /// The URL of the `synth-trace serve` the sessions are sent to, when one owns the file;
  /// empty otherwise.
  std::string server_url() const;
  /// The manager behind the sink. Its calls are serialized with the sink's commits, on the same
  /// connection; the sessions written since the last commit are not in the database yet. Throws
  /// DatabaseLocked while the sink has not opened the file (locked by another process, or owned
  /// by a server).
  DuckDBTraceManager& manager();
  /// The folder of the sessions written while the file was locked (`<file>.pending`).
  std::filesystem::path pending_dir() const;
  /// Sessions written to pending_dir() so far.
  std::uint64_t sessions_pending_import() const noexcept { return pending_ ? pending_->files_written() : 0; }

 private:
  bool open_database();
  bool send_to_server();
  void commit();
  void retry_batch(const std::string& failure);

  std::filesystem::path path_;
  DuckDBOptions options_;
  mutable std::mutex open_mutex_;                // guards manager_ from readers off the sink thread
  std::unique_ptr<DuckDBTraceManager> manager_;  // null while the file is locked
  std::unique_ptr<JsonFileSink> pending_;        // made when the file is first found locked
  std::unique_ptr<CollectorSink> collector_;     // set (under open_mutex_) when a server owns the file
  std::chrono::steady_clock::time_point next_open_;
  std::size_t commit_sessions_;
  std::chrono::milliseconds commit_interval_;
  // The sessions written since the last commit, stored by the next one (and retried one by one
  // when it fails).
  std::vector<std::shared_ptr<const SessionTrace>> batch_;
  std::size_t batch_items_ = 0;  // their events and messages
  std::chrono::steady_clock::time_point batch_started_;
};

}  // namespace synth::tracing
