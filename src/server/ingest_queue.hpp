// Internal: the bounded queue between the HTTP handlers that accept sessions and the one writer
// that stores them. Every way in (native JSON now, OTLP later) hands the writer IngestItems.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "synth/tracing/duckdb.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::server {

struct OtlpWork;
struct SpanOrigins;

/// What became of one session handed to the writer.
enum class Stored : std::uint8_t {
  inserted,
  replaced,
  merged,
  skipped,  ///< already stored (OnExistingSession::skip)
  refused,  ///< the database refused it (an id stored with on_existing fail, text that is not UTF-8, ...)
  lost,     ///< accepted, then not stored: a commit failed twice (or, alone, was not tried after two
            ///< commits in a row failed), or the shutdown deadline passed
};

/// The name of an outcome in API answers ("inserted", ...).
const char* stored_name(Stored what) noexcept;

/// A request waiting until its sessions are stored (POST /api/v1/sessions?wait=commit).
class Receipt {
 public:
  explicit Receipt(std::size_t sessions) : outcomes_(sessions) {}
  /// A receipt nobody waits for: `when_recorded` is called once every session has its outcome (on
  /// the writer's thread; it must not throw), with true when one of them was lost.
  Receipt(std::size_t sessions, std::function<void(bool lost)> when_recorded)
      : outcomes_(sessions), when_recorded_(std::move(when_recorded)) {}
  /// The outcome of session `index` of the request (the writer's thread).
  void record(std::size_t index, Stored what, std::string error = {});
  /// Waits until every session has its outcome; false when `deadline` passed first.
  bool wait(std::chrono::steady_clock::time_point deadline);

  struct Outcome {
    Stored what = Stored::lost;
    std::string error;
  };
  /// The outcomes, once wait() returned true.
  const std::vector<Outcome>& outcomes() const noexcept { return outcomes_; }

 private:
  std::mutex mutex_;
  std::condition_variable done_;
  std::vector<Outcome> outcomes_;
  std::size_t recorded_ = 0;
  bool lost_ = false;
  std::function<void(bool lost)> when_recorded_;
};

/// One session for the writer.
struct IngestItem {
  /// The whole session, or (on_existing merge) a part of it to add to what is stored.
  SessionTrace trace;
  OnExistingSession on_existing = OnExistingSession::skip;
  /// What it counts against the queue's byte bound (its JSON size).
  std::size_t bytes = 0;
  /// Set when the request waits for the outcome; `index` is the session's place in it.
  std::shared_ptr<Receipt> receipt;
  std::size_t index = 0;
  /// OTLP: named after its trace id for want of a session id. When a later span of the trace
  /// has named the session, the writer stores it there instead.
  bool unnamed = false;
  /// OTLP: holds a root span of its trace. A root span ends after the spans under it, so no
  /// later span is expected to name an unnamed session that has it (the writer does not wait).
  bool has_root_span = false;
  /// OTLP: sessions stored under a trace id (unnamed) that this session's spans now name; the
  /// writer moves them into this session before appending it.
  std::vector<std::string> absorbs;
  /// The writer's: how many of `absorbs` it moved (counted once the batch is committed).
  std::size_t absorbed = 0;
  /// OTLP: what the writer does besides, in the same commit (server/pending.hpp): held spans and
  /// records kept in the file, log records joining their stored LLM call.
  std::shared_ptr<OtlpWork> otlp;
  /// OTLP spans: which span each of the session's items came from. The writer leaves out those
  /// of spans already stored (a retried export), counting them in `duplicate_spans`.
  std::shared_ptr<SpanOrigins> spans;
  std::uint64_t duplicate_spans = 0;
  /// When push() queued it, until the commit that answers its request is counted in
  /// IngestCounters::longest_commit_wait_ms (a part the writer parks is answered once its row is
  /// committed; its later storing, when a span names its session, is not counted again).
  std::optional<std::chrono::steady_clock::time_point> queued_at;
};

/// Exact counts of everything that came in, for /api/v1/health.
struct IngestCounters {
  std::atomic<std::uint64_t> accepted{0};        ///< sessions queued for the writer
  std::atomic<std::uint64_t> decode_rejected{0};  ///< sessions of a request that could not be read
  std::atomic<std::uint64_t> throttled{0};        ///< requests answered 503: the queue was full
  std::atomic<std::uint64_t> inserted{0};
  std::atomic<std::uint64_t> replaced{0};
  std::atomic<std::uint64_t> merged{0};
  std::atomic<std::uint64_t> skipped{0};
  std::atomic<std::uint64_t> refused{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::uint64_t> commits{0};
  /// Commits that failed (a batch, or a session retried alone): the database could not write.
  std::atomic<std::uint64_t> commits_failed{0};
  /// The longest a queued session waited for its commit, from its queueing to the commit's end
  /// (milliseconds, since start, requests replayed from the ingest journal included): the
  /// acknowledged-to-committed delay of a request answered once queued or journaled. A parked part
  /// counts until its row is committed, not its wait for the span naming its session.
  std::atomic<std::uint64_t> longest_commit_wait_ms{0};
  std::atomic<std::uint64_t> otlp_spans{0};           ///< OTLP spans mapped into queued sessions
  std::atomic<std::uint64_t> otlp_rejected_spans{0};  ///< OTLP spans that could not be mapped
  /// OTLP spans left out because they were stored already (or came twice in one request): an
  /// SDK sent them again (a retried export). Those the writer finds stored are among otlp_spans
  /// (they were mapped), those twice in one request are not.
  std::atomic<std::uint64_t> otlp_duplicate_spans{0};
  /// Sessions first stored under their trace id and moved into the session a later span named.
  std::atomic<std::uint64_t> otlp_sessions_renamed{0};
  /// OTLP session parts waiting now, acknowledged, for the span naming their session (the
  /// writer's parked parts).
  std::atomic<std::uint64_t> otlp_parts_waiting{0};
  std::atomic<std::uint64_t> otlp_log_records{0};     ///< GenAI log records received
  /// GenAI log records left out because the same record came before (a retried export).
  std::atomic<std::uint64_t> otlp_duplicate_log_records{0};
  std::atomic<std::uint64_t> otlp_logs_attached{0};   ///< ...queued folded into their span's event
  std::atomic<std::uint64_t> otlp_logs_messages{0};   ///< ...queued as messages of their session
  /// Of those stored as messages, the ones that waited for their span in vain (timeout, a full
  /// hold, shutdown).
  std::atomic<std::uint64_t> otlp_logs_unmatched{0};
  /// Held GenAI log records that could not be stored (the shutdown deadline passed first).
  std::atomic<std::uint64_t> otlp_logs_lost{0};
  /// LLM call spans that waited for their log records and could not be stored (ditto).
  std::atomic<std::uint64_t> otlp_spans_lost{0};

  void count(Stored what) noexcept;
};

/// Bounded in sessions, in bytes, and, for requests acknowledged once queued, in time: with
/// `max_delay`, it refuses (as full) what the writer would not store within that long at its
/// recent pace, after what is queued ahead and what it took last and is still storing, so that
/// they are committed soon after their answer. (A request answered after its commit
/// waits anyway; held spans and records released into the queue stay held when refused.) Pushes
/// are all or nothing, so a request is queued whole or refused whole (and can be sent again).
class IngestQueue {
 public:
  using Clock = std::chrono::steady_clock;
  /// `max_delay` 0: no bound in time. `now`: the clock the writer's pace is measured with.
  IngestQueue(std::size_t max_sessions, std::size_t max_bytes, std::chrono::milliseconds max_delay = {},
              Clock::time_point (*now)() = &Clock::now)
      : max_sessions_(max_sessions), max_bytes_(max_bytes), max_delay_(max_delay), now_(now) {}

  enum class Push : std::uint8_t {
    queued,
    full,       ///< not now: try again later (503)
    too_large,  ///< never fits: more sessions or bytes than the queue holds (413)
    closed,     ///< the server is stopping
  };
  /// The room in time of a request to be acknowledged once queued, taken before it is decoded
  /// (admit()), so that the decision in time is made once, before the work: requests decoded
  /// side by side would otherwise all pass a check and then be refused after their decoding.
  /// Gives its room back when destroyed unless push() took the request with it.
  class Admission {
   public:
    Admission(Admission&& other) noexcept : queue_(other.queue_), bytes_(std::exchange(other.bytes_, 0)) {}
    Admission& operator=(Admission&&) = delete;
    Admission(const Admission&) = delete;
    Admission& operator=(const Admission&) = delete;
    ~Admission();

   private:
    friend class IngestQueue;
    Admission(IngestQueue& queue, std::size_t bytes) noexcept : queue_(&queue), bytes_(bytes) {}
    IngestQueue* queue_;
    std::size_t bytes_;  // 0 once given back or taken by push()
  };
  /// Room for a request of about `bytes` (its body) when the queue, with the requests admitted
  /// and not yet pushed and what the writer's last pop took, holds less than the writer stores in
  /// max_delay at its pace (a request with nothing queued or admitted ahead of it is admitted
  /// whatever its size); nullopt when it should be refused now. A closed queue admits: push()
  /// then says it is closed.
  std::optional<Admission> admit(std::size_t bytes);
  /// Moves `items` in when they all fit: in sessions and bytes, and in time when
  /// `acknowledged_once_queued`, unless `admitted` (taken with the items) decided that already.
  Push push(std::vector<IngestItem>& items, bool acknowledged_once_queued = false, Admission* admitted = nullptr);
  /// Moves up to `max` items into `out`, waiting until there is one, or `until` passes, or the
  /// queue is closed.
  void pop(std::vector<IngestItem>& out, std::size_t max, std::optional<std::chrono::steady_clock::time_point> until);
  /// Refuses later pushes; pop() stops waiting once the queue is empty.
  void close();
  bool closed_and_empty();
  std::size_t depth();
  std::size_t bytes();
  /// The writer's recent pace: bytes of items it takes per second of work (the time between
  /// its pops; waiting inside pop() for work is not work). 0 until measured.
  double drain_pace();

 private:
  void measure_pace(Clock::time_point called);  // mutex_ held
  bool over_time(std::size_t bytes) const;      // mutex_ held; `bytes` behind what is queued and admitted

  const std::size_t max_sessions_;
  const std::size_t max_bytes_;
  const std::chrono::milliseconds max_delay_;
  Clock::time_point (*const now_)();
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<IngestItem> items_;
  std::size_t bytes_ = 0;
  std::size_t admitted_ = 0;  // bytes of the Admissions alive
  bool closed_ = false;
  // The pace: bytes taken and time worked since the last sample, taken once 50 ms are worked.
  std::optional<Clock::time_point> last_return_;  // of pop()
  std::size_t last_taken_ = 0;                    // bytes the last pop() took, until the next is called
  std::size_t window_bytes_ = 0;
  Clock::duration window_work_{};
  double pace_ = 0;
};

}  // namespace synth::tracing::server
