// Internal: DuckDBTraceManager's state, shared by manager.cpp (opening the file, queries),
// batches.cpp (the transactions that write sessions), rows.cpp (deciding about stored ids and
// writing a session's rows) and stats_rows.cpp (keeping session_stats).
#pragma once

#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <unordered_set>

#include "duckdb/access.hpp"
#include "duckdb/connection.hpp"
#include "duckdb/migration.hpp"
#include "duckdb/placement.hpp"
#include "duckdb/schema.hpp"
#include "duckdb/session_stats.hpp"
#include "json/writer.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing {

using detail::duck::Appender;
using detail::duck::Connection;
using detail::duck::parse_json_column;
using detail::duck::Prepared;
using detail::duck::Refused;
using detail::duck::Result;
using detail::duck::Placement;

// The first row ids of a batch: its rows are those from here on.
struct BatchStart {
  std::int64_t timestep;
  std::int64_t event;
  std::int64_t message;
};
struct DuckDBTraceManager::Impl {
  Impl(std::filesystem::path p, DuckDBOptions o) : path(std::move(p)), options(o), conn(path, o.read_only) {
    // Both kept by reopen().
    if (options.threads > 0) conn.exec("SET threads TO " + std::to_string(options.threads));
    if (options.memory_limit_mb > 0) conn.exec("SET memory_limit = '" + std::to_string(options.memory_limit_mb) + "MiB'");
    if (options.read_only) {
      detail::duck::check_schema_readable(conn);
    } else {
      detail::duck::prepare_schema(conn, options.indexes);
    }
    next_timestep_id = max_id("session_timesteps") + 1;
    next_event_id = max_id("events") + 1;
    next_message_id = max_id("messages") + 1;
    if (options.read_only) {
      report_listed_read_only();
    } else {
      last_seq = detail::duck::query(conn, "SELECT COALESCE(MAX(seq), 0) FROM session_stats").integer(0, 0).value_or(0);
      recount_listed_at_open();
    }
  }
  // A clean close leaves no aggregate behind its rows.
  ~Impl() { fold_deferred_at_close(); }

  std::int64_t max_id(const char* table) {
    Result r = detail::duck::query(conn, std::string("SELECT COALESCE(MAX(id), 0) FROM ") + table);
    return r.integer(0, 0).value_or(0);
  }

  QueryResult run(std::string_view sql, const std::vector<Value>& params) {
    Prepared stmt(conn, sql);
    return run(stmt, sql, params);
  }
  QueryResult run(Prepared& stmt, std::string_view sql, const std::vector<Value>& params) {
    if (stmt.parameter_count() != params.size()) {
      throw StorageError("query on '" + conn.name() + "' has " + std::to_string(stmt.parameter_count()) +
                         " placeholders but " + std::to_string(params.size()) + " values were given:\n  " +
                         std::string(sql));
    }
    for (std::size_t i = 0; i < params.size(); ++i) stmt.bind(i + 1, params[i]);
    return stmt.execute().to_query_result();
  }

  bool exists(std::string_view session_id) {
    if (!exists_stmt) exists_stmt.emplace(conn, "SELECT 1 FROM session_traces WHERE session_id = ?");
    exists_stmt->bind(1, session_id);
    return exists_stmt->execute().rows() > 0;
  }

  // Which of `traces` are stored: one query for a batch instead of one per session.
  // `traces` holds SessionTraces, or shared pointers to them (DuckDBSink's batch).
  template <class Trace>
  std::unordered_set<std::string> stored_among(std::span<const Trace> traces) {
    Value::Array ids;
    ids.reserve(traces.size());
    for (const Trace& t : traces) ids.emplace_back(trace_of(t).session_id);
    return stored_ids(std::move(ids));
  }
  static const SessionTrace& trace_of(const SessionTrace& t) { return t; }
  static const SessionTrace& trace_of(const std::shared_ptr<const SessionTrace>& t) { return *t; }
  // Which of `ids` name stored sessions (one that is not valid UTF-8 cannot: such a session is
  // refused).
  std::unordered_set<std::string> stored_ids(Value::Array ids) {
    std::erase_if(ids, [](const Value& id) { return detail::first_invalid_utf8(id.as_string()) != id.as_string().size(); });
    Prepared& stmt = cached(stored_stmt,
                            "SELECT session_id FROM session_traces "
                            "WHERE session_id IN (SELECT unnest(CAST(? AS VARCHAR[])))");
    stmt.bind(1, Value(std::move(ids)));
    Result r = stmt.execute();
    std::unordered_set<std::string> stored;
    for (std::size_t row = 0; row < r.rows(); ++row) stored.insert(r.text(0, row).value_or(""));
    return stored;
  }

  void delete_session(std::string_view session_id) {
    parts.erase(std::string(session_id));  // parts_order keeps the id: erased again when it leaves
    static constexpr const char* kDeletes[] = {
        "DELETE FROM events WHERE session_id = ?", "DELETE FROM messages WHERE session_id = ?",
        "DELETE FROM session_timesteps WHERE session_id = ?", "DELETE FROM session_traces WHERE session_id = ?",
        "DELETE FROM session_stats WHERE session_id = ?"};
    for (std::size_t i = 0; i < std::size(kDeletes); ++i) cached(delete_stmts[i], kDeletes[i]).bind(1, session_id).execute();
    deferred_stats.erase(std::string(session_id));  // its row is gone: a new one counts all its rows
  }

  struct Appenders {
    explicit Appenders(Connection& c)
        : conn(c),
          sessions(c, "session_traces", detail::duck::schema_columns("session_traces")),
          steps(c, "session_timesteps", detail::duck::schema_columns("session_timesteps")),
          events(c, "events", detail::duck::schema_columns("events")),
          messages(c, "messages", detail::duck::schema_columns("messages")) {}
    void flush() {
      sessions.flush();
      steps.flush();
      events.flush();
      messages.flush();
      if (otlp_spans) otlp_spans->flush();
    }
    // The server's stored OTLP spans (StoreAccess::batch_add_spans): made at its first row.
    Appender& spans() {
      if (!otlp_spans) otlp_spans.emplace(conn, "otlp_spans", detail::duck::schema_columns("otlp_spans"));
      return *otlp_spans;
    }
    Connection& conn;
    Appender sessions, steps, events, messages;
    std::optional<Appender> otlp_spans;
  };

  // Throws Refused for a session the schema cannot hold, before anything is written: two
  // timesteps with one step_id (UNIQUE (session_id, step_id)), or text columns that are not
  // UTF-8 (DuckDB would fail the whole batch when it flushes), or `known` placing items that
  // its timesteps do not fit or that they hold copies of.
  void validate(const SessionTrace& t, const detail::duck::ItemSteps* known) const;

  // Decides about an existing id by `on_existing`, then appends the session's rows. Throws
  // Refused when the session is refused before any row was appended.
  // `stored`: the ids among the batch's that were stored when it began (else asked one by one).
  // `known`: where its items go, its timesteps holding no copies of them (ItemSteps); else the
  // copies are paired with the history (place_items). The same for the functions below.
  detail::duck::Appended append(Appenders& a, const SessionTrace& t, std::unordered_set<std::string>& seen,
                                InsertSummary& summary, OnExistingSession on_existing, bool report_skip = true,
                                const std::unordered_set<std::string>* stored = nullptr,
                                const detail::duck::ItemSteps* known = nullptr);

  // What a merge continues from: the stored session's counts, timesteps and metadata.
  struct StoredPart {
    std::int64_t events = 0;    // history length: the next history_index
    std::int64_t messages = 0;
    Value::Array metadata;
    struct Step {
      std::int64_t id;
      std::int64_t events;  // the next step_position
      std::int64_t messages;
      std::int64_t step_index;
      Timestamp timestamp;
      bool has_metadata;  // its step_metadata is more than {}
    };
    std::unordered_map<std::string, Step> steps;  // by step_id
    // Its session_stats row's lists, when known (stored or folded by this connection).
    std::optional<detail::duck::SessionStats::Lists> lists;
  };

  StoredPart stored_part(std::string_view session_id);

  // What merges continue from, for the sessions written last (their rows in memory as they are
  // stored): a session's spans keep arriving in later requests, and stored_part() scans
  // session_timesteps. Bounded; forgotten when a session is deleted and when a batch is rolled back.
  static constexpr std::size_t kRememberedParts = 10000;
  std::unordered_map<std::string, StoredPart> parts;
  std::deque<std::string> parts_order;
  void remember_part(const std::string& session_id, StoredPart part) {
    if (parts.insert_or_assign(session_id, std::move(part)).second) {
      parts_order.push_back(session_id);
      if (parts_order.size() > kRememberedParts) {
        parts.erase(parts_order.front());
        parts_order.pop_front();
      }
    }
  }
  // What append_to_stored() adds to stored timesteps (by row id) and sessions, written by
  // write_merge_updates() when the batch's rows are flushed: one UPDATE per table for them all
  // (an UPDATE per part, bound again at each call, took a fifth of the server writer's commits).
  // What a merge changes in a stored timestep row: its counts grow; its number, time and metadata
  // are replaced when set (numbered by time again; an earlier start came; metadata came for a
  // timestep stored without any, as a call's span can name its timestep before the timestep's).
  struct StepAdd {
    std::int64_t events = 0;
    std::int64_t messages = 0;
    std::optional<std::int64_t> step_index;
    Timestamp timestamp{};
    Value metadata;  // null: kept
  };
  struct SessionAdd {
    std::int64_t steps = 0;
    std::int64_t events = 0;
    std::int64_t messages = 0;
    Value::Array metadata;  // the merged session's whole metadata
    Timestamp created_at;   // the earliest of its parts' (unset: none)
  };
  std::unordered_map<std::int64_t, StepAdd> step_adds;
  std::unordered_map<std::string, SessionAdd> session_adds;
  // Runs and forgets them; after the appended rows are flushed (the UPDATEs see every row).
  void write_merge_updates();
  // The remembered part of a stored session, else stored_part().
  StoredPart take_part(const std::string& session_id) {
    const auto it = parts.find(session_id);
    if (it == parts.end()) return stored_part(session_id);
    return it->second;
  }

  // A session new in the open batch whose session_traces and session_timesteps rows wait in
  // memory until the batch's rows are flushed (flush_rows): a part of it arriving in the same
  // batch (merge) changes them there, instead of a flush, two queries and an UPDATE per timestep
  // (OTLP sends a session's spans in several requests).
  struct HeldSession {
    std::string session_id;
    Timestamp created_at;
    std::int64_t events = 0;  // history lengths: the next history_index
    std::int64_t messages = 0;
    Value::Array metadata;
    struct Step {
      std::int64_t id;
      std::string step_id;
      std::int64_t step_index;
      std::int64_t turn_number;
      Timestamp timestamp;
      std::int64_t events;  // the next step_position
      std::int64_t messages;
      Value metadata;
    };
    std::vector<Step> steps;
    std::unordered_map<std::string, std::size_t> step_of;  // step_id -> index in steps
  };

  // Each timestep's row id, and where a part's items start in it (after the items stored before).
  struct StepRow {
    std::int64_t id = 0;
    std::int64_t first_event = 0;
    std::int64_t first_message = 0;
  };

  // Appends a session that is not stored (any more), with its aggregates for session_stats; its
  // session and timestep rows are held (HeldSession).
  void append_new(Appenders& a, const SessionTrace& t, const detail::duck::ItemSteps* known);

  // Adds `t` (a new session, or a part of it) to the held session `h`: its timesteps, metadata
  // and counts in memory, its events and messages appended; to `stats` when given.
  void append_held(Appenders& a, const SessionTrace& t, HeldSession& h, detail::duck::SessionStats* stats,
                   const detail::duck::ItemSteps* known);

  // Appends `t` as a part of the stored session `into` (OnExistingSession::merge), in SQL; `into`
  // becomes the merged session's part. The rows it adds are added to `stats`.
  void append_to_stored(Appenders& a, const SessionTrace& t, StoredPart& into, detail::duck::SessionStats& stats,
                        const detail::duck::ItemSteps* known);

  // The events and messages rows of `t`, placed after `history_events` / `history_messages` and
  // after each timestep's first_event / first_message; added to `stats` when given.
  void append_items(Appenders& a, const SessionTrace& t, const std::vector<StepRow>& step_rows,
                    std::int64_t history_events, std::int64_t history_messages, detail::duck::SessionStats* stats,
                    const detail::duck::ItemSteps* known);

  // Hands the held sessions' rows and every appended row to DuckDB, then runs the merges'
  // UPDATEs (before anything reads or changes stored rows of the batch).
  void flush_rows(Appenders& a);

  // A statement prepared once per connection (reset with it): `slot` is a member below.
  Prepared& cached(std::optional<Prepared>& slot, const char* sql) {
    if (!slot) slot.emplace(conn, sql);
    return *slot;
  }
  void forget_parts() noexcept {
    parts.clear();
    parts_order.clear();
  }
  void reset_statements() noexcept {
    drop_appenders();
    exists_stmt.reset();
    stored_stmt.reset();
    part_stmt.reset();
    part_steps_stmt.reset();
    for (auto& stmt : delete_stmts) stmt.reset();
    batch_stmts.clear();
  }

  // Stores the aggregates of the sessions appended since the last store_stats, in the open
  // transaction: new sessions' rows, and what merged sessions' rows added combined into theirs;
  // with `fold` false, the latter are held (deferred_stats) and their sessions listed in
  // session_stats_behind instead: one statement per fold, not per commit (it cost the server's
  // writer ~10 ms a commit). Defined with the functions below in stats_rows.cpp.
  void store_stats(bool fold);
  // After the COMMIT of a transaction that stored them: what the fold emptied is empty.
  void stats_committed() noexcept;
  // After a rollback: deferred_stats may hold what was not committed, or lack what was.
  void stats_rolled_back() noexcept;
  // Counts the sessions session_stats_behind lists again from all their rows, in the open
  // transaction (kRefreshSessionStats); they leave deferred_stats and the batch's stats.
  void recount_sessions_behind();
  // Opening a file that lists sessions (its writer stopped before a fold): recounted now; read
  // only, the reader is told that their aggregates lag and what counts them again.
  void recount_listed_at_open();
  void report_listed_read_only();
  // How many sessions session_stats_behind lists (0 in a file without it: read only, older).
  std::int64_t sessions_listed_behind();
  // Commits the fold of deferred_stats in a transaction of its own; false when none was due or
  // a batch is open (its commit folds). Takes the mutex.
  bool fold_deferred();
  void fold_deferred_at_close() noexcept;

  void forget_stats() noexcept {
    pending_stats.clear();
    merged_stats.clear();
    held.clear();
    held_index.clear();
    step_adds.clear();
    session_adds.clear();
  }

  BatchStart batch_start() const { return BatchStart{next_timestep_id, next_event_id, next_message_id}; }

  // The open batch: begun by the first append, ended by commit_batch().
  void begin_batch() {
    if (batch) return;
    conn.exec("BEGIN TRANSACTION");
    try {
      batch = idle ? std::move(idle) : std::make_unique<Appenders>(conn);
    } catch (...) {
      roll_back_batch();
      throw;
    }
    batch_seen.clear();
    forget_stats();
  }

  // Appends `trace` to the open batch (StoreAccess::batch_append). This and the batch functions
  // below, and insert(), are defined in batches.cpp.
  detail::duck::Appended append_to_batch(const SessionTrace& trace, OnExistingSession on_existing, bool report_skip,
                                         const std::unordered_set<std::string>* stored = nullptr,
                                         const detail::duck::ItemSteps* known = nullptr);

  // Moves the stored session `from` (its rows of the open batch included) into `to`, merged as
  // OnExistingSession::merge merges; false when `from` is not stored. Any failure rolls the
  // whole batch back and throws. `stored`: as append()'s.
  bool move_in_batch(std::string_view from, const std::string& to, const std::unordered_set<std::string>* stored);

  // Rows of otlp_spans in the open batch (StoreAccess::batch_add_spans).
  void add_spans_to_batch(const std::vector<std::array<std::int64_t, 2>>& rows);

  // A statement of the server's writer in the open batch (StoreAccess::batch_run).
  QueryResult run_in_batch(std::string_view sql, const std::vector<Value>& params, bool flush);

  // DuckDBSink's batch, appended and committed in one transaction. Which of them are stored is
  // asked once for all (asked per session, DuckDB binds the statement again at every call inside
  // a transaction: ~0.1 ms each, a third of the sink's time). A session refused before any of its
  // rows was appended is left out and its refusal returned; any other failure rolls the whole
  // batch back and throws.
  std::vector<std::pair<std::string, std::string>> store_batch(
      std::span<const std::shared_ptr<const SessionTrace>> traces);

  void commit_batch(bool fold_stats) {
    std::lock_guard lock(mutex);
    commit_batch_locked(fold_stats);
  }

  // Flushes the open batch's rows, stores its aggregates (merged sessions' held without
  // `fold_stats`) and commits; a failure rolls the batch back and throws.
  void commit_batch_locked(bool fold_stats = true);

  // Appends an events row; returns its provider column.
  std::optional<std::string> append_event(Appender& a, const std::string& session_id, const Event& event,
                                          std::optional<std::int64_t> timestep_id, const Placement& place);

  // COMMIT. When it fails, DuckDB 1.4 has rolled back but keeps corrupt in-memory state (the
  // next commit stores wrong values): the database is opened again, with what was committed.
  void commit() {
    try {
      conn.exec("COMMIT");
    } catch (...) {
      reset_statements();  // prepared on the connection being closed
      try {
        conn.reopen();
      } catch (...) {
        // Every later call says the connection is closed; this failure is the one to report.
      }
      throw;
    }
  }

  // Runs `body` in one transaction; rolls back and rethrows on failure.
  template <class Body>
  void in_transaction(Body&& body) {
    detail::duck::in_transaction(conn, body, [this] { commit(); });
  }

  // insert_traces: `batch_size` sessions per transaction.
  InsertSummary insert(std::span<const SessionTrace> traces, std::size_t batch_size);

  void roll_back_batch() noexcept {
    forget_parts();
    batch.reset();
    drop_appenders();
    forget_stats();
    stats_rolled_back();
    detail::duck::roll_back(conn);
  }

  std::filesystem::path path;
  DuckDBOptions options;
  Connection conn;
  std::mutex mutex;
  std::int64_t next_timestep_id = 1;
  std::int64_t next_event_id = 1;
  std::int64_t next_message_id = 1;
  std::int64_t last_seq = 0;  // session_stats.seq of the latest change
  std::optional<Prepared> exists_stmt, stored_stmt;
  // What a merge into a stored session runs (stored_part, append_to_stored).
  std::optional<Prepared> part_stmt, part_steps_stmt;
  std::optional<Prepared> delete_stmts[5];  // delete_session's
  static constexpr std::size_t kMaxBatchStatements = 32;
  // run_in_batch's, looked up by the caller's string_view (no string built per call).
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const noexcept { return std::hash<std::string_view>{}(sql); }
  };
  std::unordered_map<std::string, std::unique_ptr<Prepared>, SqlHash, std::equal_to<>> batch_stmts;
  // The open transaction's held sessions, in the order they were appended, by id.
  std::vector<HeldSession> held;
  std::unordered_map<std::string, std::size_t> held_index;
  // The aggregates of the open transaction's new sessions (by id: their seq follow the ids, as
  // kRefreshSessionStats gives them), and of the rows it added to stored sessions.
  std::map<std::string, detail::duck::SessionStats> pending_stats;
  std::map<std::string, detail::duck::SessionStats> merged_stats;
  // What merged sessions' committed rows added that their session_stats rows do not hold yet
  // (store_stats without `fold`), by id; session_stats_behind lists these sessions.
  std::map<std::string, detail::duck::SessionStats> deferred_stats;
  // session_stats_behind may list sessions (committed); cleared by a fold's commit.
  bool stats_behind_listed = false;
  // The open transaction empties session_stats_behind (a fold).
  bool folding_stats = false;
  // deferred_stats is not to be trusted (a rollback): the listed sessions are recounted instead.
  bool recount_behind = false;
  // DuckDBSink and the server's writer: the open transaction of the current batch, if any.
  std::unique_ptr<Appenders> batch;
  // The appenders of the last batch, flushed, for the next one (insert() too), and session_stats's:
  // made once, not per batch (each a catalog lookup in DuckDB). Dropped with a batch that fails
  // (they may hold its rows: destroyed before the rollback, they flush into the aborted
  // transaction) and before the connection is opened again (they belong to it).
  std::unique_ptr<Appenders> idle;
  std::optional<Appender> stats_rows;
  void drop_appenders() noexcept {
    idle.reset();
    stats_rows.reset();
  }
  std::unordered_set<std::string> batch_seen;  // the sessions the batch appended
};

}  // namespace synth::tracing
