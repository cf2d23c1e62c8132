// Internal: how routes read the store: through a connection of the request's own on the
// server's database (DuckDB MVCC: never blocked by the writer, never blocking it), with values
// always bound, and rows turned into JSON values.
#pragma once

#include <chrono>
#include <memory>
#include <string_view>
#include <vector>

#include "duckdb/connection.hpp"
#include "server/http.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::server {

/// How long a read waits for the aggregates the writer holds (HeldStats).
inline constexpr std::chrono::seconds kHeldStatsWait{1};

class Reader {
 public:
  /// A read sees, in session_stats too, every request answered before it began: it first waits
  /// (at most kHeldStatsWait) for the merged sessions' aggregates the writer holds to be stored.
  explicit Reader(ServerContext& ctx);
  /// Runs SQL with `params` bound to its placeholders.
  QueryResult query(std::string_view sql, const std::vector<Value>& params = {});
  /// The same, keeping DuckDB's chunks: for long answers written straight to JSON
  /// (Result::write_json_rows) without building a Value per cell.
  detail::duck::Result run(std::string_view sql, const std::vector<Value>& params = {});
  detail::duck::Connection& connection() noexcept { return *conn_; }

 private:
  std::unique_ptr<detail::duck::Connection> conn_;
};

/// Rows as an array of objects, JSON columns as the values they hold (not as text).
Value rows_value(const QueryResult& result);
/// One row as an object.
Value row_value(const QueryResult& result, std::size_t row);

/// The columns of a session in list answers, from session_stats (alias s).
inline constexpr const char* kSessionColumns =
    "s.session_id, s.seq, s.created_at, s.started_at, s.ended_at, "
    "(epoch_us(s.ended_at) - epoch_us(s.started_at)) / 1000.0 AS duration_ms, s.experiment_id, "
    "s.num_timesteps, s.num_events, s.num_messages, s.num_llm_calls, s.prompt_tokens, s.completion_tokens, "
    "s.total_tokens, s.cached_tokens, s.cost, s.reward, s.terminated, s.errors, "
    "CAST(to_json(s.models) AS JSON) AS models, CAST(to_json(s.providers) AS JSON) AS providers, "
    "CAST(to_json(s.systems) AS JSON) AS systems, s.first_message, s.last_message";

/// The session_stats row of a session (kSessionColumns, and the id ranges of its events and
/// messages: first_event_id, last_event_id, first_message_id, last_message_id): 404 naming it
/// when there is none.
Value session_row(Reader& reader, const std::string& session_id);

}  // namespace synth::tracing::server
