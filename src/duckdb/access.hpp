// Internal: what the trace server (src/server) needs of the store beyond its public API: a
// writer appending sessions one by one, each with its own policy for an id already stored, in a
// transaction it commits when it chooses; and readers with connections of their own on the same
// database.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "duckdb/connection.hpp"
#include "duckdb/placement.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::detail::duck {

/// What appending one session did.
enum class Appended : std::uint8_t { inserted, skipped, replaced, merged };

struct StoreAccess {
  /// Appends `trace` to the open batch (beginning one if needed), deciding about a stored id by
  /// `on_existing` (skips are not reported: the caller counts them). Throws Refused for a
  /// session refused before any of its rows was appended (the batch is unharmed); any other
  /// failure rolls the whole batch back and throws.
  /// `stored`, when given, holds the ids among which this session's is looked up instead of
  /// asking the database for it alone (a statement DuckDB binds again at every call inside the
  /// batch's transaction): stored_among()'s answer, asked after the batch's last commit, with no failed append since.
  /// `known`, when given, places the items of `trace`, whose timesteps then hold no copies of them
  /// (ItemSteps; a placement that does not fit is refused); else the timesteps' copies are paired
  /// with the history.
  static Appended batch_append(DuckDBTraceManager& store, const SessionTrace& trace, OnExistingSession on_existing,
                               const std::unordered_set<std::string>* stored = nullptr, const ItemSteps* known = nullptr);
  /// Which of `session_ids` are stored (committed, or appended to the open batch and flushed):
  /// one query for many sessions.
  static std::unordered_set<std::string> stored_among(DuckDBTraceManager& store, const std::vector<std::string>& session_ids);
  /// Moves the stored session `from` (its rows in the open batch included) into `to` in the open
  /// batch, merged as OnExistingSession::merge merges (`to` is created when not stored): the
  /// server's OTLP sessions first stored under a trace id. False when `from` is not stored. Any
  /// failure rolls the whole batch back and throws.
  /// `stored`, when given, is as batch_append's: `from` is looked up there (with the batch's own
  /// sessions) instead of in the database (most of the trace ids named are stored nowhere).
  static bool batch_move(DuckDBTraceManager& store, std::string_view from, const std::string& to,
                         const std::unordered_set<std::string>* stored = nullptr);
  /// Appends rows {trace_key, span_key} to table otlp_spans in the open batch (beginning one if
  /// needed): the spans the server stored (server/stored_spans.hpp). Visible to batch_run with
  /// `flush`. Any failure rolls the whole batch back and throws.
  static void batch_add_spans(DuckDBTraceManager& store, const std::vector<std::array<std::int64_t, 2>>& rows);
  /// Runs `sql` with bound `params` in the open batch (beginning one if needed): the server's
  /// own reads and changes beside appending (table otlp_pending; LLM call events completed by late
  /// log records). With `flush`, the rows the batch appended so far are written first, so that
  /// `sql` sees them. Any failure rolls the whole batch back and throws.
  static QueryResult batch_run(DuckDBTraceManager& store, std::string_view sql, const std::vector<Value>& params,
                               bool flush);
  /// Commits the open batch (its sessions' aggregates included); on failure the batch is rolled
  /// back and StorageError thrown. With `fold_stats` false, what the batch's rows add to sessions
  /// stored before is held in memory, its sessions listed in session_stats_behind, until a commit
  /// that folds them (or fold_stats()): one upsert of session_stats per fold instead of per commit.
  /// New sessions' aggregates are always stored with their rows.
  static void batch_commit(DuckDBTraceManager& store, bool fold_stats = true);
  /// Commits, in a transaction of its own, the aggregates that commits without `fold_stats` held;
  /// false when none are held or a batch is open (its commit folds them). Throws StorageError,
  /// keeping them listed (a later fold, or the next opening of the file, counts them again).
  static bool fold_stats(DuckDBTraceManager& store);
  /// True while commits without `fold_stats` hold aggregates (or a rollback left some to count again).
  static bool stats_held(DuckDBTraceManager& store);
  /// Runs database-wide settings now and after every reopen (see Connection::configure).
  static void configure(DuckDBTraceManager& store, std::vector<std::string> settings);
  /// A connection of its own on the store's database, for one short piece of reading (see
  /// Connection's sharing constructor). Safe to call from any thread.
  static std::unique_ptr<Connection> reader(DuckDBTraceManager& store);
};

/// The JSON value of a JSON column (SQL NULL: null); a value that is not JSON throws, naming `db`.
Value parse_json_column(Result& r, std::size_t col, std::size_t row, const std::string& db);

/// Rebuilds a stored session through `conn` (as DuckDBTraceManager::load_trace does).
std::optional<SessionTrace> load_trace(Connection& conn, std::string_view session_id);

/// The statement writing `table` to `file` as Parquet (zstd), rows in a stable order (as
/// DuckDBTraceManager::export_to_parquet writes each table).
std::string parquet_export_sql(std::string_view table, const std::filesystem::path& file);

}  // namespace synth::tracing::detail::duck
