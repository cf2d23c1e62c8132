// Keeping session_stats (DuckDBTraceManager::Impl): new sessions' rows appended, merged sessions'
// additions combined into their rows at once or held for a later fold (the server's writer while
// busy), and the sessions whose rows lag (session_stats_behind) counted again after a rollback or
// a writer that stopped before folding.
#include "diagnostics.hpp"
#include "duckdb/manager_impl.hpp"

namespace synth::tracing {

void DuckDBTraceManager::Impl::store_stats(bool fold) {
  if (fold && recount_behind) recount_sessions_behind();
  if (!pending_stats.empty()) {
    if (!stats_rows) stats_rows.emplace(conn, "session_stats", detail::duck::SessionStats::columns());
    for (const auto& [session_id, stats] : pending_stats) {
      stats.append(*stats_rows, session_id, ++last_seq);
      if (const auto part = parts.find(session_id); part != parts.end()) part->second.lists = stats.lists();
    }
    stats_rows->flush();
  }
  if (fold) {
    // The held additions are older than the batch's: the batch's are added to them.
    for (auto& [session_id, older] : deferred_stats) {
      const auto batch_stats = merged_stats.find(session_id);
      if (batch_stats != merged_stats.end()) older.add(batch_stats->second);
      merged_stats.insert_or_assign(session_id, std::move(older));
    }
    deferred_stats.clear();
    // On what appending computed (no scan of the batch's rows): one statement for the sessions
    // whose lists stay as their rows have them (known from their part), one for the others.
    std::optional<Appender> counts, whole;
    const auto rows = [&](std::optional<Appender>& a, const char* upsert) -> Appender& {
      if (!a) a.emplace(conn, upsert, "delta", "session_stats", detail::duck::SessionStats::columns());
      return *a;
    };
    for (const auto& [session_id, stats] : merged_stats) {
      const auto part = parts.find(session_id);
      std::optional<detail::duck::SessionStats::Lists>* lists = part == parts.end() ? nullptr : &part->second.lists;
      if (lists && *lists && stats.lists_within(**lists)) {
        stats.append(rows(counts, detail::duck::kMergeSessionStatsCounts), session_id, ++last_seq);
      } else {
        stats.append(rows(whole, detail::duck::kMergeSessionStats), session_id, ++last_seq);
        if (lists && *lists) *lists = stats.lists_with(**lists);
      }
    }
    if (counts) counts->flush();
    if (whole) whole->flush();
    if (stats_behind_listed) {
      conn.exec("DELETE FROM session_stats_behind");
      folding_stats = true;
    }
  } else if (!merged_stats.empty()) {
    // Listed in the commit that stores their rows: a writer stopping before the fold leaves the
    // file saying which sessions to count again.
    Appender behind(conn, "session_stats_behind", {"session_id"});
    for (auto& [session_id, stats] : merged_stats) {
      const auto [kept, added] = deferred_stats.try_emplace(session_id, std::move(stats));
      if (added) {
        behind.text(std::string_view(session_id));
        behind.end_row();
      } else {
        kept->second.add(stats);
      }
    }
    behind.flush();
    stats_behind_listed = true;
  }
  forget_stats();
}

void DuckDBTraceManager::Impl::stats_committed() noexcept {
  if (folding_stats) stats_behind_listed = false;
  folding_stats = false;
}

void DuckDBTraceManager::Impl::stats_rolled_back() noexcept {
  folding_stats = false;
  if (!stats_behind_listed) return;
  // The rollback may have undone additions held since, or a fold that had taken them: what the
  // file lists is counted from its rows instead.
  deferred_stats.clear();
  recount_behind = true;
}

void DuckDBTraceManager::Impl::recount_sessions_behind() {
  Result listed = detail::duck::query(conn, "SELECT DISTINCT session_id FROM session_stats_behind");
  Value::Array ids;
  ids.reserve(listed.rows());
  for (std::size_t row = 0; row < listed.rows(); ++row) {
    std::string id = listed.text(0, row).value_or("");
    pending_stats.erase(id);  // their rows are counted here, the batch's among them
    merged_stats.erase(id);
    if (const auto part = parts.find(id); part != parts.end()) part->second.lists.reset();
    ids.emplace_back(std::move(id));
  }
  deferred_stats.clear();
  recount_behind = false;
  if (ids.empty()) return;
  const Value listed_ids(std::move(ids));
  Prepared drop(conn, "DELETE FROM session_stats WHERE session_id IN (SELECT unnest(CAST(? AS VARCHAR[])))");
  drop.bind(1, listed_ids).execute();
  Prepared count(conn, detail::duck::kRefreshSessionStats);
  count.bind(1, Value(last_seq)).bind(2, Value(0)).bind(3, Value(0)).bind(4, Value(0)).bind(5, listed_ids).execute();
  last_seq = detail::duck::query(conn, "SELECT COALESCE(MAX(seq), 0) FROM session_stats").integer(0, 0).value_or(0);
}

std::int64_t DuckDBTraceManager::Impl::sessions_listed_behind() {
  const bool present = detail::duck::query(conn, "SELECT COUNT(*) FROM duckdb_tables() WHERE database_name = current_database() "
                                                 "AND table_name = 'session_stats_behind'")
                           .integer(0, 0)
                           .value_or(0) > 0;
  if (!present) return 0;
  return detail::duck::query(conn, "SELECT COUNT(DISTINCT session_id) FROM session_stats_behind").integer(0, 0).value_or(0);
}

void DuckDBTraceManager::Impl::report_listed_read_only() {
  const std::int64_t listed = sessions_listed_behind();
  if (listed == 0) return;
  detail::report("trace database '" + conn.name() + "': the aggregates of " + std::to_string(listed) +
                 " sessions lag their rows (the server writing it stopped before storing them): session lists and "
                 "stats undercount them until the file is opened once for writing (`synth-trace serve`, "
                 "`synth-trace migrate`), which counts them again");
}

void DuckDBTraceManager::Impl::recount_listed_at_open() {
  const std::int64_t listed = sessions_listed_behind();
  if (listed == 0) return;
  stats_behind_listed = true;
  recount_behind = true;
  in_transaction([&] { store_stats(true); });
  stats_committed();
  detail::report("trace database '" + conn.name() + "': the aggregates of " + std::to_string(listed) +
                 " sessions lagged their rows (the server writing it stopped before storing them); counted again");
}

bool DuckDBTraceManager::Impl::fold_deferred() {
  std::lock_guard lock(mutex);
  if (batch || !stats_behind_listed) return false;
  begin_batch();
  commit_batch_locked(true);
  return true;
}

void DuckDBTraceManager::Impl::fold_deferred_at_close() noexcept {
  // A batch left open is not committed (its rows are lost with it): what is listed stays listed.
  if (options.read_only || batch || !stats_behind_listed) return;
  try {
    fold_deferred();
  } catch (...) {
    detail::report("trace database '" + conn.name() + "': the aggregates of merged sessions were not stored at close (" +
                   detail::current_exception_text() + "); they are counted again when it is next opened for writing");
  }
}

}  // namespace synth::tracing
