// Internal: OTLP data the server acknowledged but keeps in memory for a while (LLM call spans
// waiting for their log records in the SpanHold, records waiting for their spans in the LogHold),
// also kept in the database file, table otlp_pending: a row is written in the commit that the
// request which brought it waits for, and deleted in the commit that stores it (joined, or as a
// message), so a server killed outright finds what waited when it starts on the file again.
// The writer does both in its open batch (OtlpWork, carried by an IngestItem).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "synth/tracing/duckdb.hpp"
#include "server/recent_map.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::server {

struct HeldLog;
struct HeldSpan;
struct SpanOrigins;
struct ServerContext;

/// otlp_pending ids deleted before their write was seen, remembered at most (a race of two
/// requests leaves one at a time).
inline constexpr std::size_t kRememberedEarlyDeletes = 100000;
using DeletedEarly = RecentMap<std::int64_t, bool>;

/// One row of otlp_pending: a held span (kind "span"), log record (kind "log") or a session part
/// the writer parked until a span names its session (kind "part", server/writer.hpp).
struct PendingRow {
  std::int64_t id = 0;
  const char* kind = "log";
  std::int64_t received_unix_ms = 0;
  Value body;
};

/// What an ingest item does besides (or instead of) storing its session, in the same commit.
struct OtlpWork {
  /// The item carries no session, only the rows below (a request whose spans all wait).
  bool no_session = false;
  /// The session's messages are GenAI log records (map_otlp_logs): those whose LLM call is
  /// stored join that event instead, as fold_logs_into_span would have folded them.
  bool attach_logs = false;
  /// Rows to write (spans and records now held) and to delete (leaving the holds).
  std::vector<PendingRow> put;
  std::vector<std::int64_t> drop;
  /// The writer's: of the session's messages, how many joined their call and how many stayed
  /// messages (counted once committed).
  std::uint64_t attached = 0;
  std::uint64_t messages = 0;
};

/// Row ids, unique in the file: the next after the largest one stored. Thread-safe.
class PendingIds {
 public:
  /// Ids continue after `largest`.
  void start_after(std::int64_t largest) noexcept { next_.store(largest + 1); }
  /// A new id.
  std::int64_t next() noexcept { return next_.fetch_add(1); }

 private:
  std::atomic<std::int64_t> next_{1};
};

/// Now, as Unix milliseconds (the wall clock: it outlives the process, unlike steady_clock).
std::int64_t unix_ms_now();

/// The rows of a held span and record (their pending_id, time received and session).
PendingRow pending_row(const HeldSpan& span);
PendingRow pending_row(const HeldLog& log);

/// The row of a parked part: session `trace` (named after its trace id) and where its items came from.
PendingRow part_row(std::int64_t id, const SessionTrace& trace, const SpanOrigins& origins);

/// Reads otlp_pending back into the server's holds (spans into the SpanHold, records into the
/// LogHold, each due when its wait, counted from when it was received, ends: at once when that is
/// past), teaches the server the sessions their traces had, and starts the ids after the largest.
/// Parked parts are queued for the writer at once, under their trace's session when a span named
/// it, else under the trace id (noted unnamed, so that a later span naming it moves them), each
/// deleting its row in the commit that stores it. Called when the server starts, with the writer
/// running, before it serves. Returns how many spans and records (parts not counted).
std::pair<std::size_t, std::size_t> restore_pending(ServerContext& ctx);

/// The writer's side: the otlp_pending rows its open batch writes and deletes, kept until the
/// batch's commit, then written in one statement and deleted in another (a statement per item
/// took a tenth of the writer's time). Used on the writer's thread only.
class PendingBatch {
 public:
  /// `work`'s rows are written and deleted with the batch.
  void add(std::shared_ptr<const OtlpWork> work);
  /// Writes and deletes the rows added since the last write, in the open batch (before its
  /// commit). A row deleted and written in the batch is neither. A row deleted before its write
  /// was seen (two requests racing: a span took a record whose request was not stored yet) is
  /// remembered in `deleted_early`, and its write skipped. A failure rolls the batch back and throws.
  void write(DuckDBTraceManager& store, DeletedEarly& deleted_early);
  /// The open batch was rolled back: what was added is not written.
  void forget() noexcept { works_.clear(); }

 private:
  std::vector<std::shared_ptr<const OtlpWork>> works_;
};

/// The writer's side: the GenAI log records among `trace`'s messages whose LLM call event is
/// stored (committed, or in the open batch) are folded into that event, in place, and taken out of
/// `trace` (with the timesteps that held nothing else). Counts in `work`.
void attach_late_logs(DuckDBTraceManager& store, SessionTrace& trace, OtlpWork& work);

}  // namespace synth::tracing::server
