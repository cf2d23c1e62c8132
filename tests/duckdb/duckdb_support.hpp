// Helpers shared by the DuckDB store's tests.
#pragma once

#include <filesystem>
#include <system_error>

#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::testing {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

/// Under ThreadSanitizer, DuckDB runs its work on the calling thread only. libduckdb.so is not
/// instrumented, so TSan cannot see the synchronization between DuckDB's own worker threads and
/// reports hundreds of races between them (checkpoint tasks, task queues) that are not ours.
/// With one DuckDB thread, TSan still checks everything this project does: the sink thread, the
/// agents, and queries from other threads, all through the manager's mutex.
template <class Db>
Db& single_threaded_under_tsan(Db& db) {
  if (kThreadSanitizer) db.query("SET threads TO 1");
  return db;
}

/// What survives if the process died now: a copy of the database file and its write-ahead log
/// (committed transactions only) at `copy`, which is opened like any database.
inline void copy_durable_state(const std::filesystem::path& db, const std::filesystem::path& copy) {
  std::filesystem::copy_file(db, copy, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::path wal = db;
  wal += ".wal";
  std::filesystem::path copy_wal = copy;
  copy_wal += ".wal";
  std::error_code ec;
  std::filesystem::remove(copy_wal, ec);
  if (std::filesystem::exists(wal)) std::filesystem::copy_file(wal, copy_wal);
}

}  // namespace synth::tracing::testing
