// The transactions that write sessions (DuckDBTraceManager::Impl): the open batch of DuckDBSink
// and the server's writer (appends, moves, their own statements, the commit), and insert()'s
// batches of one transaction each.
#include "duckdb/manager_impl.hpp"

namespace synth::tracing {

detail::duck::Appended DuckDBTraceManager::Impl::append_to_batch(const SessionTrace& trace, OnExistingSession on_existing, bool report_skip,
                                       const std::unordered_set<std::string>* stored,
                                       const detail::duck::ItemSteps* known) {
  std::lock_guard lock(mutex);
  begin_batch();
  InsertSummary ignored;
  try {
    return append(*batch, trace, batch_seen, ignored, on_existing, report_skip, stored, known);
  } catch (const Refused&) {
    throw;  // nothing of this session was appended: the batch's other sessions stay
  } catch (...) {
    roll_back_batch();  // the batch may hold part of this session
    throw;
  }
}

bool DuckDBTraceManager::Impl::move_in_batch(std::string_view from, const std::string& to, const std::unordered_set<std::string>* stored) {
  std::lock_guard lock(mutex);
  begin_batch();
  try {
    const std::string from_id(from);
    // Mostly nothing was stored under `from`: known without the flush and the load (and, with
    // `stored`, without a query: bound again at each call inside the batch, it took a tenth of
    // the server writer's instructions on GenAI agents' spans).
    if (!batch_seen.contains(from_id) && !(stored ? stored->contains(from_id) : exists(from))) return false;
    flush_rows(*batch);  // rows of `from` appended in this batch must be visible to the load
    std::optional<SessionTrace> moved = detail::duck::load_trace(conn, from);
    if (!moved) return false;
    delete_session(from);
    pending_stats.erase(from_id);
    merged_stats.erase(from_id);
    batch_seen.erase(from_id);
    moved->session_id = to;
    InsertSummary ignored;
    append(*batch, *moved, batch_seen, ignored, OnExistingSession::merge, false);
    return true;
  } catch (...) {
    roll_back_batch();
    throw;
  }
}

void DuckDBTraceManager::Impl::add_spans_to_batch(const std::vector<std::array<std::int64_t, 2>>& rows) {
  std::lock_guard lock(mutex);
  begin_batch();
  try {
    Appender& spans = batch->spans();
    for (const auto& [trace, span] : rows) {
      spans.integer(trace).integer(span);
      spans.end_row();
    }
  } catch (...) {
    roll_back_batch();
    throw;
  }
}

QueryResult DuckDBTraceManager::Impl::run_in_batch(std::string_view sql, const std::vector<Value>& params, bool flush) {
  std::lock_guard lock(mutex);
  begin_batch();
  try {
    if (flush) batch->flush();
    // The writer's few fixed statements, prepared once per connection (parsing and planning
    // each again took a tenth of the writer's time); bounded should a caller vary its SQL.
    if (batch_stmts.size() >= kMaxBatchStatements) batch_stmts.clear();
    auto found = batch_stmts.find(sql);
    if (found == batch_stmts.end()) found = batch_stmts.emplace(std::string(sql), std::make_unique<Prepared>(conn, sql)).first;
    return run(*found->second, sql, params);
  } catch (...) {
    roll_back_batch();
    throw;
  }
}

std::vector<std::pair<std::string, std::string>> DuckDBTraceManager::Impl::store_batch(
    std::span<const std::shared_ptr<const SessionTrace>> traces) {
  std::lock_guard lock(mutex);
  begin_batch();
  std::vector<std::pair<std::string, std::string>> refusals;
  try {
    const std::unordered_set<std::string> stored = stored_among(traces);
    InsertSummary ignored;
    for (const auto& t : traces) {
      try {
        append(*batch, *t, batch_seen, ignored, options.on_existing, true, &stored);
      } catch (const Refused& refused) {
        refusals.emplace_back(t->session_id, refused.what());
      }
    }
  } catch (...) {
    roll_back_batch();
    throw;
  }
  commit_batch_locked();
  return refusals;
}

void DuckDBTraceManager::Impl::commit_batch_locked(bool fold_stats) {
  if (!batch) return;
  try {
    flush_rows(*batch);
    idle = std::move(batch);  // flushed: empty until the next batch
    // DuckDB accepts COMMIT of a transaction that a failed statement (of any caller of this
    // connection) aborted, and keeps nothing; any statement before it fails in that case.
    conn.exec("SELECT 1");
    store_stats(fold_stats);
    commit();
  } catch (...) {
    roll_back_batch();
    throw;
  }
  stats_committed();
}

InsertSummary DuckDBTraceManager::Impl::insert(std::span<const SessionTrace> traces, std::size_t batch_size) {
  if (options.read_only) throw StorageError("'" + conn.name() + "' is open read-only; cannot insert");
  if (batch_size == 0) batch_size = 1;
  InsertSummary summary;
  for (std::size_t start = 0; start < traces.size(); start += batch_size) {
    const auto chunk = traces.subspan(start, std::min(batch_size, traces.size() - start));
    const BatchStart from = batch_start();
    const std::int64_t saved_seq = last_seq;
    InsertSummary batch_summary;
    try {
      in_transaction([&] {
        try {
          if (!idle) idle = std::make_unique<Appenders>(conn);
          Appenders& a = *idle;
          std::unordered_set<std::string> seen;
          forget_stats();
          const std::unordered_set<std::string> stored = stored_among(chunk);
          for (const SessionTrace& t : chunk) append(a, t, seen, batch_summary, options.on_existing, true, &stored);
          flush_rows(a);
          store_stats(true);
        } catch (...) {
          drop_appenders();  // before the rollback: they may hold this batch's rows
          throw;
        }
      });
    } catch (...) {
      forget_parts();
      stats_rolled_back();
      next_timestep_id = from.timestep;
      next_event_id = from.event;
      next_message_id = from.message;
      last_seq = saved_seq;
      throw;
    }
    stats_committed();
    summary.inserted += batch_summary.inserted;
    summary.skipped += batch_summary.skipped;
    summary.replaced += batch_summary.replaced;
    summary.merged += batch_summary.merged;
  }
  return summary;
}

}  // namespace synth::tracing
