#include "server/writer.hpp"

#include <algorithm>

#include "diagnostics.hpp"
#include "server/otlp_map.hpp"
#include "server/pending.hpp"
#include "duckdb/access.hpp"

namespace synth::tracing::server {

namespace {

using Clock = std::chrono::steady_clock;
using detail::duck::Appended;
using detail::duck::StoreAccess;

// A batch also commits once its sessions take this much JSON: the copies kept for a retry stay
// bounded, as DuckDBSink's do.
constexpr std::size_t kMaxBatchBytes = std::size_t{64} << 20;
// Held aggregates are stored at least this often (bounding what a crash leaves to count again);
// for waiting readers at most this often while the writer is busy (a reader polling every 50 ms
// made every other commit a fold: they wait up to that long under load); and once the writer has
// been idle this long (handlers decode a client's next request for a few milliseconds).
constexpr auto kStatsFoldInterval = std::chrono::milliseconds(1000);
constexpr auto kReaderFoldGap = std::chrono::milliseconds(200);
constexpr auto kIdleFold = std::chrono::milliseconds(20);

Stored stored_of(Appended a) {
  switch (a) {
    case Appended::inserted:
      return Stored::inserted;
    case Appended::replaced:
      return Stored::replaced;
    case Appended::merged:
      return Stored::merged;
    case Appended::skipped:
      return Stored::skipped;
  }
  return Stored::skipped;
}

}  // namespace

StoreWriter::StoreWriter(DuckDBTraceManager& store, IngestQueue& queue, IngestCounters& counters,
                         const ServerOptions& options, std::function<void(const SessionTrace&)> on_stored,
                         std::shared_ptr<PendingIds> pending_ids, std::shared_ptr<HeldStats> held_stats)
    : store_(store),
      queue_(queue),
      counters_(counters),
      commit_sessions_(std::max<std::size_t>(options.commit_sessions, 1)),
      commit_interval_(options.commit_interval),
      pending_ids_(options.otlp_part_wait.count() > 0 ? std::move(pending_ids) : nullptr),
      part_wait_(options.otlp_part_wait),
      commit_group_(options.commit_group),
      held_stats_(std::move(held_stats)),
      last_stats_fold_(Clock::now()),
      on_stored_(std::move(on_stored)),
      thread_("serve-writer", [this] { run(); }) {}

StoreWriter::~StoreWriter() { stop(Clock::now() + std::chrono::seconds(30)); }

bool StoreWriter::stop(Clock::time_point deadline) {
  deadline_.store(deadline.time_since_epoch().count());
  queue_.close();
  return thread_.finish(deadline + detail::kShutdownGrace);
}

void StoreWriter::run() noexcept {
  try {
    serve_queue();
  } catch (...) {
    detail::report("synth-trace serve: the writer stopped storing sessions: " + detail::current_exception_text());
  }
  // Nothing will store what is still held (it stays listed in the file): reads stop waiting for it.
  if (held_stats_) held_stats_->set_held(false);
}

void StoreWriter::serve_queue() {
  std::vector<IngestItem> taken;
  for (;;) {
    const bool past_deadline = Clock::now().time_since_epoch().count() >= deadline_.load();
    if (past_deadline) break;
    // Parts held back from the last batch come first: they were queued before the rest.
    taken = std::move(held_back_);
    held_back_.clear();
    std::size_t carried = taken.size();
    std::optional<Clock::time_point> until;
    if (batch_open() || carried > 0) until = batch_due_;
    if (batch_open() && group_waits()) until = std::min(batch_due_, group_until_);  // the group's end
    if (!parked_.empty()) until = std::min(until.value_or(Clock::time_point::max()), next_part_due());
    if (stats_held_ && !batch_open() && carried == 0 && queue_.depth() == 0) {
      const Clock::time_point fold_at = last_commit_end_.value_or(Clock::time_point{}) + kIdleFold;
      if (Clock::now() >= fold_at) {
        fold_held_stats();
      } else {
        until = std::min(until.value_or(Clock::time_point::max()), fold_at);
      }
    }
    queue_.pop(taken, commit_sessions_ - batch_.size() + carried, until);
    // Parked parts that the take's items name go in ahead of them.
    carried += unpark_absorbed(taken, carried);
    // Nothing more will name the parked parts once the queue is closed: stored with the last batch.
    store_due_parts(queue_.closed_and_empty() ? Clock::time_point::max() : Clock::now());
    // Which of them are stored, in one query: asking for each session alone took three quarters
    // of the appending (DuckDB binds that statement again at every call inside the transaction).
    // Unnamed OTLP parts taken with the part that names their session go straight into it,
    // rather than under their trace id first, then moved (a load, a delete and a merge). The
    // first of them moves what earlier batches stored under the trace id, so that the session's
    // parts keep their order.
    for (IngestItem& naming : taken) {
      for (const std::string& from : naming.absorbs) {
        bool first = true;
        for (IngestItem& item : taken) {
          if (&item == &naming) break;
          if (!item.unnamed || item.trace.session_id != from) continue;
          item.trace.session_id = naming.trace.session_id;
          item.unnamed = false;
          if (first) item.absorbs.push_back(from);
          first = false;
        }
      }
    }
    if (!taken.empty()) {
      std::vector<std::string> ids;
      ids.reserve(taken.size());
      for (const IngestItem& item : taken) {
        ids.push_back(item.trace.session_id);
        // The trace ids its parts were stored under, if any (batch_move looks them up there).
        ids.insert(ids.end(), item.absorbs.begin(), item.absorbs.end());
      }
      try {
        stored_ = StoreAccess::stored_among(store_, ids);
      } catch (...) {
        stored_.reset();  // then each session is looked up alone, and a failure is its own
      }
    }
    append_taken(taken, carried);
    stored_.reset();  // valid until the next commit only
    if (batch_open() && (commit_due() || !held_back_.empty() || (queue_.depth() == 0 && !group_waits()))) commit();
    if (!batch_open() && held_back_.empty() && parked_.empty() && queue_.closed_and_empty()) {
      fold_held_stats();
      return;
    }
  }
  // The stop deadline passed: the open batch, and what was held back for the next or parked,
  // still get their commit; what waits is lost.
  for (IngestItem& item : held_back_) append(item);
  held_back_.clear();
  store_due_parts(Clock::time_point::max());
  if (batch_open()) commit();
  fold_held_stats();
  taken.clear();
  queue_.pop(taken, SIZE_MAX, Clock::now());
  if (!taken.empty()) {
    detail::report("synth-trace serve: " + std::to_string(taken.size()) +
                   " accepted sessions were not stored before the shutdown deadline (first: '" +
                   taken.front().trace.session_id + "')");
  }
  for (IngestItem& item : taken) finish(item, Stored::lost, "not stored before the shutdown deadline");
  release_finished();
}

bool StoreWriter::commit_due() const {
  return batch_.size() >= commit_sessions_ || batch_bytes_ >= kMaxBatchBytes || Clock::now() >= batch_due_;
}

void StoreWriter::open_batch() {
  const Clock::time_point now = Clock::now();
  batch_due_ = now + commit_interval_;
  // Busy: the last commit ended a moment ago, and more than one request was after it (items
  // came while it ran, or it answered several). Clients waiting for their commit send again
  // once answered: their requests then come within a few milliseconds of each other. A request
  // to an idle writer, or from one client sending one request at a time, is not kept waiting.
  const bool busy = commit_group_.count() > 0 && last_commit_end_ && now - *last_commit_end_ < commit_group_ &&
                    (waiting_after_commit_ || last_commit_requests_ > 1);
  group_until_ = busy ? now + commit_group_ : now;
  group_target_ = std::max<std::size_t>(last_commit_requests_, 2);
}

bool StoreWriter::group_waits() {
  return batch_receipts_.size() < group_target_ && Clock::now() < group_until_ && !queue_.closed_and_empty();
}

void StoreWriter::append_taken(std::vector<IngestItem>& taken, std::size_t carried) {
  // Unnamed parts (a trace's spans that ended before the span naming its session) are appended
  // last: when the batch is then committed while more items wait, they are held back for the
  // next batch, in which the part naming their session is likely to be. Stored under their trace
  // id in this batch, they would be moved into that session in the next (a flush, a load and
  // deletes: a quarter of the writer's time on GenAI agents' spans). Only the first `carried`
  // items were held back before: none is held back twice. A part whose trace was renamed goes
  // to its session in order with that session's other parts.
  std::vector<std::size_t> last;
  for (std::size_t i = 0; i < taken.size(); ++i) {
    IngestItem& item = taken[i];
    const bool waits_for_name = item.unnamed && renamed_.find(item.trace.session_id) == nullptr;
    if (waits_for_name && may_park(item)) {
      park(item);
    } else if (waits_for_name && i >= carried) {
      last.push_back(i);
    } else {
      append(item);
    }
  }
  if (last.empty()) return;
  const bool committed_next = !batch_.empty() && (batch_.size() + last.size() >= commit_sessions_ || commit_due());
  if (committed_next && queue_.depth() > 0) {
    for (const std::size_t i : last) held_back_.push_back(std::move(taken[i]));
    return;
  }
  for (const std::size_t i : last) append(taken[i]);
}

Appended StoreWriter::append_to_store(IngestItem& item, const std::unordered_set<std::string>* stored) {
  if (item.unnamed) {
    if (const std::string* named = renamed_.find(item.trace.session_id)) {
      item.trace.session_id = *named;
      stored = nullptr;  // asked for the trace id; the session's own id is looked up alone
    }
  }
  // Known not to be stored (nothing to look up for its spans); with `stored` unknown, it may be.
  const bool new_session = stored != nullptr && !stored->contains(item.trace.session_id);
  item.absorbed = 0;
  for (const std::string& from : item.absorbs) {
    if (StoreAccess::batch_move(store_, from, item.trace.session_id, stored)) {
      ++item.absorbed;
      stored_spans_.moved(from, item.trace.session_id, new_session);
    }
    renamed_.set(from, item.trace.session_id);
  }
  if (item.spans) {
    // Spans stored before (an SDK retrying an export) are left out; all of them: nothing to do.
    const std::vector<bool> again = stored_spans_.stored(store_, item.trace.session_id, *item.spans, new_session);
    const auto duplicates = static_cast<std::size_t>(std::count(again.begin(), again.end(), true));
    if (duplicates > 0) {
      item.duplicate_spans += duplicates;
      drop_spans(item.trace, *item.spans, again);
      if (item.spans->keys.empty()) {
        if (item.otlp) pending_rows_.add(item.otlp);  // a parked part's row goes
        return Appended::skipped;
      }
    }
  }
  const Appended appended = append_part(item, stored);
  if (item.spans) stored_spans_.note(item.trace.session_id, *item.spans);
  return appended;
}

Appended StoreWriter::append_part(IngestItem& item, const std::unordered_set<std::string>* stored) {
  // Spans mapped with their timesteps' copies left out: stored from the history, placed by their spans.
  const std::optional<detail::duck::ItemSteps> steps = item.spans ? item_steps(*item.spans) : std::nullopt;
  const detail::duck::ItemSteps* known = steps ? &*steps : nullptr;
  if (!item.otlp) return StoreAccess::batch_append(store_, item.trace, item.on_existing, stored, known);
  OtlpWork& work = *item.otlp;
  pending_rows_.add(item.otlp);
  if (work.no_session) return Appended::skipped;
  if (!work.attach_logs) return StoreAccess::batch_append(store_, item.trace, item.on_existing, stored, known);
  if (item.spans) fill_timesteps(item.trace, *item.spans);  // attach_late_logs reads the timesteps
  // On a copy: when the batch is rolled back, the retry attaches them again.
  SessionTrace part = item.trace;
  attach_late_logs(store_, part, work);
  // All of it joined stored calls: merged into what is stored, nothing more to append.
  if (part.message_history.empty() && part.event_history.empty() && part.session_time_steps.empty()) {
    return Appended::merged;
  }
  return StoreAccess::batch_append(store_, part, item.on_existing, stored);  // its copies made: paired
}

void StoreWriter::append(IngestItem& item) {
  if (!batch_open()) open_batch();
  if (item.receipt) batch_receipts_.insert(item.receipt.get());
  try {
    const Appended appended = append_to_store(item, stored_ ? &*stored_ : nullptr);
    batch_bytes_ += item.bytes;
    appended_.push_back(stored_of(appended));
    batch_.push_back(std::move(item));
  } catch (const detail::duck::Refused& e) {
    finish(item, Stored::refused, e.what());  // refused alone: the batch is unharmed
  } catch (...) {
    // The batch was rolled back: its sessions and this one are tried again one by one.
    const std::string failure = detail::current_exception_text();
    batch_bytes_ += item.bytes;
    appended_.push_back(Stored::lost);
    batch_.push_back(std::move(item));
    retry_alone(failure);
  }
}

void StoreWriter::commit() {
  stored_.reset();  // what it says is from before this commit (a commit in the middle of a take)
  try {
    pending_rows_.write(store_, deleted_early_);
    stored_spans_.write(store_);
    const Clock::time_point now = Clock::now();
    const auto since_fold = now - last_stats_fold_;
    const bool fold_stats = !held_stats_ || since_fold >= kStatsFoldInterval ||
                            (held_stats_->requested() && since_fold >= kReaderFoldGap);
    StoreAccess::batch_commit(store_, fold_stats);
    if (fold_stats) last_stats_fold_ = now;
  } catch (...) {
    counters_.commits_failed.fetch_add(1, std::memory_order_relaxed);
    retry_alone(detail::current_exception_text());
    return;
  }
  stats_fold_failed_ = false;
  note_stats_held();
  counters_.commits.fetch_add(1, std::memory_order_relaxed);
  const Clock::time_point committed = Clock::now();
  for (IngestItem& item : batch_) count_commit_wait(item.queued_at, committed);
  // Before any answer: a client answered here may send again at once, which is not "waiting".
  waiting_after_commit_ = queue_.depth() > 0;
  for (std::size_t i = 0; i < batch_.size(); ++i) finish(batch_[i], appended_[i]);
  // The requests of the parts parked in this batch are answered: their rows are committed.
  for (const std::string& trace : parked_in_batch_) {
    const auto found = parked_.find(trace);
    if (found == parked_.end()) continue;
    for (ParkedPart& part : found->second) {
      if (part.answered) continue;
      part.answered = true;
      count_commit_wait(part.item.queued_at, committed);
      if (part.item.receipt) part.item.receipt->record(part.item.index, Stored::inserted);
      part.item.receipt.reset();
    }
  }
  parked_in_batch_.clear();
  batch_.clear();
  appended_.clear();
  batch_bytes_ = 0;
  last_commit_end_ = Clock::now();
  last_commit_requests_ = batch_receipts_.size();
  batch_receipts_.clear();
  release_finished();
}

void StoreWriter::count_commit_wait(std::optional<Clock::time_point>& queued_at, Clock::time_point committed) {
  if (!queued_at) return;
  const auto waited =
      static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(committed - *queued_at).count());
  // Only this thread writes it.
  if (waited > counters_.longest_commit_wait_ms.load(std::memory_order_relaxed)) {
    counters_.longest_commit_wait_ms.store(waited, std::memory_order_relaxed);
  }
  queued_at.reset();
}

void StoreWriter::fold_held_stats() {
  if (!stats_held_ || stats_fold_failed_) return;
  try {
    StoreAccess::fold_stats(store_);
    last_stats_fold_ = Clock::now();
    note_stats_held();
  } catch (...) {
    stats_fold_failed_ = true;
    detail::report("synth-trace serve: the aggregates of merged sessions were not stored (" +
                   detail::current_exception_text() + "); tried again after the next commit");
    if (held_stats_) held_stats_->set_held(false);  // readers read them as they are meanwhile
  }
}

void StoreWriter::note_stats_held() {
  stats_held_ = StoreAccess::stats_held(store_);
  if (held_stats_) held_stats_->set_held(stats_held_);
}

void StoreWriter::retry_alone(const std::string& failure) {
  stored_.reset();  // the batch is gone, and sessions get committed here
  stored_spans_.forget();
  pending_rows_.forget();
  // Parts parked in the batch lost their rows with it: retried as the rest, under their trace id.
  for (const std::string& trace : parked_in_batch_) {
    const auto found = parked_.find(trace);
    if (found == parked_.end()) continue;
    std::vector<ParkedPart>& parts = found->second;
    for (ParkedPart& part : parts) {
      if (part.answered) continue;
      part.item.otlp = std::move(part.work);
      counters_.otlp_parts_waiting.fetch_sub(1, std::memory_order_relaxed);
      parked_bytes_ -= part.item.bytes;
      batch_.push_back(std::move(part.item));
      appended_.push_back(Stored::lost);
    }
    std::erase_if(parts, [](const ParkedPart& part) { return !part.answered; });
    if (parts.empty()) parked_.erase(found);
  }
  parked_in_batch_.clear();
  std::size_t lost = 0;
  std::size_t not_tried = 0;
  std::string first_error;
  // A session whose rows the database refuses or cannot take fails alone. Two sessions in a row
  // whose COMMIT itself failed (DuckDB's "Failed to commit": its log or its checkpoint could not
  // be written, a full disk) mean no session will commit; trying every session of the batch alone
  // then held the writer for minutes, each checkpoint failing again.
  int commits_failed_in_a_row = 0;
  std::string commit_error;
  for (IngestItem& item : batch_) {
    if (commits_failed_in_a_row >= 2) {
      ++lost;
      ++not_tried;
      finish(item, Stored::lost, "not tried alone after two commits in a row failed (" + commit_error + ")");
      continue;
    }
    try {
      const Appended appended = append_to_store(item, nullptr);
      pending_rows_.write(store_, deleted_early_);
      stored_spans_.write(store_);
      StoreAccess::batch_commit(store_);
      counters_.commits.fetch_add(1, std::memory_order_relaxed);
      count_commit_wait(item.queued_at, Clock::now());
      commits_failed_in_a_row = 0;
      finish(item, stored_of(appended));
    } catch (const detail::duck::Refused& e) {
      finish(item, Stored::refused, e.what());
    } catch (...) {
      std::string error = detail::current_exception_text();
      if (error.find("Failed to commit") != std::string::npos) {
        ++commits_failed_in_a_row;
        commit_error = error;
      } else {
        commits_failed_in_a_row = 0;
      }
      counters_.commits_failed.fetch_add(1, std::memory_order_relaxed);
      stored_spans_.forget();  // what it noted was rolled back
      pending_rows_.forget();
      ++lost;
      if (first_error.empty()) first_error = error;
      finish(item, Stored::lost, std::move(error));
    }
  }
  detail::report("synth-trace serve: a batch of " + std::to_string(batch_.size()) + " sessions failed (" + failure +
                 "); retried one by one, " + std::to_string(lost) + " could not be stored" +
                 (lost > 0 ? " (" + first_error + ")" : std::string()) +
                 (not_tried > 0 ? ", " + std::to_string(not_tried) + " of them not tried alone after two commits in a row failed"
                                : std::string()));
  batch_.clear();
  appended_.clear();
  batch_bytes_ = 0;
  last_commit_end_.reset();  // no group after a failure: the next request is committed at once
  batch_receipts_.clear();
  note_stats_held();
  release_finished();
}

void StoreWriter::finish(IngestItem& item, Stored what, std::string error) {
  const bool stored = what == Stored::inserted || what == Stored::replaced || what == Stored::merged;
  if (item.otlp && item.otlp->no_session) {  // no session of its own: nothing to count or forward
    if (item.receipt) item.receipt->record(item.index, what, std::move(error));
    return;
  }
  if (item.otlp && stored) {
    counters_.otlp_logs_attached.fetch_add(item.otlp->attached, std::memory_order_relaxed);
    counters_.otlp_logs_messages.fetch_add(item.otlp->messages, std::memory_order_relaxed);
  }
  counters_.count(what);
  if (what != Stored::lost) counters_.otlp_duplicate_spans.fetch_add(item.duplicate_spans, std::memory_order_relaxed);
  // The moves were committed with the item unless the item's batch was lost.
  if (what != Stored::lost) counters_.otlp_sessions_renamed.fetch_add(item.absorbed, std::memory_order_relaxed);
  if (item.receipt) item.receipt->record(item.index, what, std::move(error));
  if (on_stored_ && stored) {
    try {
      if (item.spans) fill_timesteps(item.trace, *item.spans);  // the forwarder exports the timesteps' items
      on_stored_(item.trace);
    } catch (...) {
      detail::report("synth-trace serve: after storing session '" + item.trace.session_id +
                     "': " + detail::current_exception_text());
    }
  }
  released_.push_back(std::move(item.trace));  // freed off this thread (release_finished)
}

void StoreWriter::release_finished() noexcept {
  releaser_.release(released_);
  released_.clear();  // what the releaser could not take (it is behind) is freed here
}

}  // namespace synth::tracing::server
