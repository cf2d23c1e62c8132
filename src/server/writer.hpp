// Internal: the server's single writer. One thread owns the store's write connection: it takes
// sessions from the ingest queue, appends them in one open transaction and commits every
// commit_sessions sessions, every commit_interval, and whenever the queue runs empty. OTLP items
// also carry work for the same commit (server/pending.hpp): otlp_pending rows, late log records.
// With HeldStats, what a commit adds to sessions stored before is held and combined into their
// session_stats rows later (a fold): at a commit after a reader asks, when the writer is idle,
// and at least every kStatsFoldInterval. The upsert cost ~10 ms a commit, two fifths of the
// writer's time with clients waiting for their commits.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "duckdb/access.hpp"
#include "server/held_stats.hpp"
#include "server/ingest_queue.hpp"
#include "server/options.hpp"
#include "server/otlp_map.hpp"
#include "server/pending.hpp"
#include "server/recent_map.hpp"
#include "server/stored_spans.hpp"
#include "server/writer_release.hpp"
#include "worker_thread.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::server {

class StoreWriter {
 public:
  /// `on_stored`, when given, sees every session once it is committed (inserted, replaced or
  /// merged), on the writer's thread (serve --forward-otlp). With `pending_ids` (the server's
  /// otlp_pending row ids), OTLP parts named after their trace id whose request waits for its
  /// commit are parked until their session is named (see parked_); without, they are stored at once.
  /// With `held_stats`, merged sessions' aggregates are folded as writer.hpp says; without, every
  /// commit stores them.
  StoreWriter(DuckDBTraceManager& store, IngestQueue& queue, IngestCounters& counters, const ServerOptions& options,
              std::function<void(const SessionTrace&)> on_stored = {},
              std::shared_ptr<PendingIds> pending_ids = nullptr, std::shared_ptr<HeldStats> held_stats = nullptr);
  /// stop() with the options' shutdown_timeout.
  ~StoreWriter();
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  /// Closes the queue and waits until everything in it is stored, until `deadline`: what is
  /// left then is counted lost (and reported). False when the writer is still busy in the
  /// database past the deadline: it is then left running, and the store must not be destroyed
  /// (the process should exit).
  bool stop(std::chrono::steady_clock::time_point deadline);

 private:
  void run() noexcept;
  void serve_queue();
  // Appends a take from the queue, whose first `carried` items were held back from the last batch.
  void append_taken(std::vector<IngestItem>& taken, std::size_t carried);
  void append(IngestItem& item);
  // True when `item` (unnamed, not renamed) is parked rather than appended.
  bool may_park(const IngestItem& item) const;
  // Writes the item's otlp_pending row (kind "part") in the open batch and keeps the item.
  void park(IngestItem& item);
  // The parked parts of the traces `taken`'s items absorb go into `taken` before the first of
  // that trace's parts in it (renamed into the naming session); returns how many went in before
  // index `carried`.
  std::size_t unpark_absorbed(std::vector<IngestItem>& taken, std::size_t carried);
  // Appends the parked parts due at `now` (all of them with time_point::max()), under their trace id.
  void store_due_parts(std::chrono::steady_clock::time_point now);
  // True past kMaxParkedParts parts or kMaxParkedBytes bytes parked.
  bool parked_full() const;
  // When the first parked part is due (time_point::max() when none is parked).
  std::chrono::steady_clock::time_point next_part_due() const;
  // True when the open batch holds something to commit (appended sessions or parked parts).
  bool batch_open() const { return !batch_.empty() || !parked_in_batch_.empty(); }
  // True when the open batch is to be committed whether or not more items wait.
  bool commit_due() const;
  // Starts the open batch's clock (batch_due_) and decides whether it is a commit group.
  void open_batch();
  // True while the open batch, a commit group, waits for more requests although the queue is empty.
  bool group_waits();
  // The store side of append(): the sessions the item absorbs moved into it, then the item.
  // `stored`: the ids of the items taken with it that were stored (nullptr: asked alone).
  detail::duck::Appended append_to_store(IngestItem& item, const std::unordered_set<std::string>* stored);
  // The item's own part of append_to_store (its spans already told apart): with its OTLP work
  // (held rows, late log records) when it has some.
  detail::duck::Appended append_part(IngestItem& item, const std::unordered_set<std::string>* stored);
  void commit();
  // Counts, once, how long an item queued at `queued_at` waited for the commit that ended at
  // `committed` (longest_commit_wait_ms).
  void count_commit_wait(std::optional<std::chrono::steady_clock::time_point>& queued_at,
                         std::chrono::steady_clock::time_point committed);
  // Stores the aggregates that commits held (StoreAccess::fold_stats); a failure is reported,
  // and not tried again before the next commit.
  void fold_held_stats();
  // Whether the store holds aggregates, for the idle writer and the readers (held_stats_).
  void note_stats_held();
  // Each session of a rolled-back batch, once more in a transaction of its own, until two commits
  // in a row fail (the rest are then lost without being tried: the database cannot write).
  void retry_alone(const std::string& failure);
  void finish(IngestItem& item, Stored what, std::string error = {});
  // Hands the finished sessions to releaser_.
  void release_finished() noexcept;

  DuckDBTraceManager& store_;
  IngestQueue& queue_;
  IngestCounters& counters_;
  const std::size_t commit_sessions_;
  const std::chrono::milliseconds commit_interval_;
  // The open batch: appended, not committed yet, with what appending did.
  std::vector<IngestItem> batch_;
  std::vector<Stored> appended_;
  std::size_t batch_bytes_ = 0;
  // Unnamed OTLP parts left out of the batch just committed, for the next (append_taken).
  std::vector<IngestItem> held_back_;
  // Unnamed OTLP parts whose request waits for its commit (commit-ack mode). Stored under their
  // trace id, they would be moved into their session when its naming span comes (a flush, a
  // load and deletes scanning the tables: most of the writer's time on GenAI agents' spans),
  // since their client sends that span only after this answer. Instead each is kept durably as
  // an otlp_pending row (kind "part", pending.hpp) written in the commit that answers it, and
  // here; the part naming the session takes it (its row deleted in that commit), else it is
  // stored under its trace id once options.otlp_part_wait passed, when too many are parked
  // (parked_full: the oldest first), at shutdown, or (from its row) when a killed server starts again.
  struct ParkedPart {
    IngestItem item;
    std::shared_ptr<OtlpWork> work;  // the item's own, applied when parked: put back on a rollback
    std::chrono::steady_clock::time_point due;
    bool answered = false;  // its park was committed and its request answered
  };
  std::shared_ptr<PendingIds> pending_ids_;
  const std::chrono::milliseconds part_wait_;
  std::unordered_map<std::string, std::vector<ParkedPart>> parked_;  // by trace id
  std::deque<std::string> parked_order_;  // trace ids as parked (stale entries skipped)
  std::size_t parked_bytes_ = 0;  // their IngestItem::bytes
  std::vector<std::string> parked_in_batch_;  // traces parked in the open batch
  std::chrono::steady_clock::time_point batch_due_;
  // The commit group (ServerOptions::commit_group): the open batch waits for more requests until
  // group_until_ (not past batch_due_), or until it answers group_target_ of them.
  const std::chrono::milliseconds commit_group_;
  std::chrono::steady_clock::time_point group_until_;
  std::size_t group_target_ = 0;
  std::unordered_set<const Receipt*> batch_receipts_;  // the requests the open batch answers
  // The last commit: when it ended, whether items came while it ran, how many requests it answered.
  std::optional<std::chrono::steady_clock::time_point> last_commit_end_;
  // Aggregates held (fold_held_stats): when they were last stored, whether some are held now.
  std::shared_ptr<HeldStats> held_stats_;
  std::chrono::steady_clock::time_point last_stats_fold_;
  bool stats_held_ = false;
  bool stats_fold_failed_ = false;
  bool waiting_after_commit_ = false;
  std::size_t last_commit_requests_ = 0;
  // Which ids of the sessions being appended were stored before (StoreAccess::stored_among).
  std::optional<std::unordered_set<std::string>> stored_;
  std::function<void(const SessionTrace&)> on_stored_;
  // OTLP sessions stored under a trace id and moved into the session a later span named: later
  // spans of the trace mapped under the trace id (before the name was known) go there too.
  // Bounded as the server's memory of traces (TraceSessions).
  RecentMap<std::string, std::string> renamed_{kRememberedTraces};
  // The open batch's otlp_pending rows, and those deleted before their write was seen.
  PendingBatch pending_rows_;
  DeletedEarly deleted_early_{kRememberedEarlyDeletes};
  // The OTLP spans stored: a span sent again is left out.
  StoredSpans stored_spans_;
  // Sessions finished since the last hand-over to releaser_ (at the end of a commit).
  std::vector<SessionTrace> released_;
  SessionReleaser releaser_;
  std::atomic<std::int64_t> deadline_{INT64_MAX};  // stop()'s, in steady_clock ticks
  detail::WorkerThread thread_;
};

}  // namespace synth::tracing::server
