// Internal: the shared state behind SessionTracer, its sessions and the per-thread contexts.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "diagnostics.hpp"
#include "span/spans.hpp"
#include "tracer/journal.hpp"
#include "tracer/layers.hpp"
#include "tracer/spill_writer.hpp"
#include "worker_thread.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/context.hpp"
#include "synth/tracing/sinks.hpp"
#include "synth/tracing/tracer.hpp"

namespace synth::tracing::detail {

/// One session being recorded. Contexts on any thread may point at it.
struct SessionState {
  /// `parent`: a span of another process the session continues (its trace id is kept).
  SessionState(std::shared_ptr<TracerCore> owner, std::string session_id, bool sampled_in,
               const RemoteParent* parent = nullptr);

  /// Keeps the tracer's hooks, sinks and registry alive while contexts reference the session.
  const std::shared_ptr<TracerCore> core;
  const std::string id;
  /// False for a session sampled out: it nests and ends like any other, but records nothing.
  const bool recording;
  /// The session's 128-bit trace id: every instrumentation scope in it shares it.
  const std::uint64_t trace_id_high;
  const std::uint64_t trace_id_low;
  /// The session's own span (the root of its spans, or the child of a remote parent).
  const std::uint64_t root_span;
  /// The remote parent's span id (0 for none) and W3C tracestate.
  const std::uint64_t remote_parent_span;
  const std::string trace_state;
  /// The session's place in the spill (null when the tracer does not checkpoint).
  const std::shared_ptr<SpillCursor> spill;
  std::mutex mutex;
  SessionJournal journal;                    // guarded by mutex
  /// The step ids so far, for their uniqueness. Deferred (left empty, filled from the journal
  /// when needed) while every step has had a default id ("step_<turn>") of a turn above the one
  /// before, the usual run of a rollout, where no id can repeat: that spares each step a hash
  /// and a node. The three are guarded by mutex.
  std::unordered_set<std::string> step_ids;
  bool step_ids_deferred = true;
  std::int64_t last_default_turn = INT64_MIN;  // while deferred
  /// Mode otel: events and messages recorded directly, as span events waiting for their span
  /// (by id) to end.
  std::vector<std::pair<std::uint64_t, SpanEvent>> span_events;  // guarded by mutex
  std::atomic<bool> has_span_events{false};  // written under mutex; spares ending spans the lock
  std::atomic<bool> ended{false};            // written under mutex; read anywhere
  /// Ended by end_all_sessions (a signal), not by its own threads: they are not at fault for
  /// recording into it afterwards. Written before `ended`, read after it.
  std::atomic<bool> ended_from_outside{false};
  /// What the session became when it ended (guarded by mutex): get_session_trace finds it here
  /// until it is among the tracer's finished sessions. Weak: only those are kept.
  std::weak_ptr<FinishedSession> finished;
};

/// The tracer's hooks, in the order they were added. Added under a lock; read without any (the
/// recording path): the list only grows, and its nodes live as long as the list.
class HookList {
 public:
  HookList() = default;
  ~HookList();
  HookList(const HookList&) = delete;
  HookList& operator=(const HookList&) = delete;

  void add(TraceHooks hooks);
  bool empty() const noexcept { return first_.load(std::memory_order_acquire) == nullptr; }
  /// Whether a hook has on_session_end.
  bool ends_sessions() const noexcept { return ends_sessions_.load(std::memory_order_acquire); }
  /// Calls `call(hook)` for every hook, isolating exceptions: each is counted and reported.
  template <class Call>
  void for_each(const char* hook_name, std::string_view session_id, Call&& call) const noexcept;
  /// Exceptions thrown by hooks so far.
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  struct Node {
    explicit Node(TraceHooks h) : hooks(std::move(h)) {}
    const TraceHooks hooks;
    std::atomic<Node*> next{nullptr};
  };
  std::mutex add_mutex_;
  std::atomic<Node*> first_{nullptr};
  Node* last_ = nullptr;  // guarded by add_mutex_
  std::atomic<bool> ends_sessions_{false};
  mutable std::atomic<std::uint64_t> errors_{0};
};

/// Mode otel: keeps `event` for span `span` of `session` (counted as recorded); false when the
/// session has ended.
bool add_span_event(SessionState& session, std::uint64_t span, SpanEvent&& event, bool is_message);
/// Moves the span events kept for `span` into `into` as the span ends; the session's own span
/// takes every one left.
void take_span_events(SessionState& session, std::uint64_t span, std::vector<SpanEvent>& into);

/// Hands finished sessions to the sinks on one background thread, through a bounded queue; that
/// thread also runs the on_session_end hooks, before the sinks write a session. Safe to destroy
/// from any thread, the sink thread included.
class SinkDispatcher {
 public:
  /// `to_sinks`: whether sessions go to the sinks (or only to the on_session_end `hooks`).
  /// `spill` (may be null) takes sessions when the queue is full (OverflowPolicy::spill), keeps
  /// queued ones crash-safe, and deletes the files of stored ones.
  SinkDispatcher(const TracingConfig& config, std::shared_ptr<const HookList> hooks, bool to_sinks,
                 std::shared_ptr<SpillWriter> spill);
  /// shutdown() within the shutdown timeout.
  ~SinkDispatcher();
  SinkDispatcher(const SinkDispatcher&) = delete;
  SinkDispatcher& operator=(const SinkDispatcher&) = delete;

  void add_sink(std::shared_ptr<SessionSink> sink);
  /// Starts the background thread if it is not running (for on_session_end hooks without sinks).
  void start();
  /// Queues a session for the on_session_end hooks and every sink. When the queue is full, the
  /// overflow policy decides (the spill, waiting for room, or a drop); a drop is counted and
  /// reported.
  void submit(std::shared_ptr<FinishedSession> session) noexcept;
  /// Lets go of finished sessions no longer kept for get_session_trace: when the background
  /// thread runs, it frees them at its next wake-up (the next submit()), since a session whose
  /// trace the sinks built is thousands of blocks to free; otherwise (or beyond the queue's
  /// capacity in waiting releases) they are freed here. Leaves `sessions` empty.
  void release(std::vector<std::shared_ptr<FinishedSession>>& sessions) noexcept;
  /// Starts the spill writer, which hands back sessions kept whole on disk (overflowed,
  /// recovered) for the sinks.
  void start_spill(std::weak_ptr<TracerCore> core);
  /// Waits until everything submitted so far is written and the sinks flushed.
  bool flush(std::chrono::milliseconds timeout);
  /// Stops taking sessions and delivers what is queued until `deadline`; then drops (counted,
  /// reported) what is left. A sink still writing then gets kShutdownGrace, after which it is
  /// left to finish in the background. True when everything was delivered. Only the first call
  /// does anything; on the sink thread it only stops taking sessions.
  bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  std::uint64_t dropped() const noexcept;
  std::uint64_t errors() const noexcept;
  /// Sessions sinks failed to store (SessionSink: a throwing write(), SessionsLost).
  std::uint64_t lost() const noexcept;
  std::uint64_t pending() const;

 private:
  struct State;
  // Shared with the sink thread, which may outlive this object (see shutdown()).
  std::shared_ptr<State> state_;
  const std::shared_ptr<SpillWriter> spill_;
  const std::chrono::milliseconds shutdown_timeout_;
};

/// Everything a SessionTracer shares with its sessions.
struct TracerCore {
  explicit TracerCore(TracingConfig cfg);

  /// Ends `session` once: finalizes it, keeps it for get_session_trace and hands it to the
  /// background thread (on_session_end hooks, sinks).
  void end_session(const std::shared_ptr<SessionState>& session) noexcept;
  /// Delivers what waits for the sinks and the span export until `deadline` (one deadline for
  /// both), then drops and counts the rest; what ends afterwards is dropped and counted too.
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;
  /// Ends every active session, each marked aborted with `reason`; returns how many.
  std::size_t end_all_sessions(const std::string& reason) noexcept;

  const TracingConfig config;
  /// Masking, truncation and costs for everything leaving the process.
  const std::shared_ptr<const OutgoingPolicy> outgoing;
  /// Null unless spans are exported (mode dual or otel, with an endpoint).
  const std::unique_ptr<SpanProcessor> spans;
  /// Whether scopes record events (false in mode otel: spans only).
  const bool records_events;
  /// Null unless sessions are checkpointed (TracingConfig::checkpoint, events recorded). Before
  /// the dispatcher, which uses it.
  const std::shared_ptr<SpillWriter> spill;
  /// Shared with the dispatcher's thread, which runs on_session_end and may outlive the tracer
  /// (a sink stuck past the shutdown deadline).
  const std::shared_ptr<HookList> hooks;  // before the dispatcher
  SinkDispatcher dispatcher;

  mutable std::mutex registry_mutex;
  std::unordered_map<std::string, std::weak_ptr<SessionState>> active;  // guarded by registry_mutex
  /// Kept for get_session_trace, oldest first, within max_finished_sessions and
  /// max_finished_bytes (their footprints add up to finished_bytes).
  std::deque<std::shared_ptr<FinishedSession>> finished;  // guarded by registry_mutex
  std::size_t finished_bytes = 0;                         // guarded by registry_mutex

  std::atomic<std::uint64_t> sessions_started{0};
  std::atomic<std::uint64_t> sessions_ended{0};
  std::atomic<std::uint64_t> events_in_ended{0};
  std::atomic<std::uint64_t> messages_in_ended{0};
  std::atomic<std::uint64_t> capture_errors{0};
  /// Mode otel: events and messages that became span events.
  std::atomic<std::uint64_t> span_events_recorded{0};
  std::atomic<std::uint64_t> span_messages_recorded{0};
  std::atomic<std::uint64_t> records_failed{0};
  std::atomic<std::uint64_t> sessions_sampled_out{0};
  /// The collector sinks among the sinks (OtelLayer::add_collector_stats), for TracerStats.
  std::vector<std::shared_ptr<const SessionSink>> collectors;  // guarded by registry_mutex
};

/// Counts one record lost, or recorded incomplete, to a failure inside the tracer (out of memory,
/// a session that ended under a scope) and reports it at the 1st, 10th, 100th, ... time with
/// `describe()` (called only then, inside a catch block when it names the exception). Never throws.
template <class Describe>
void count_failed_record(TracerCore& core, Describe&& describe) noexcept {
  const std::uint64_t n = core.records_failed.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!is_report_worthy(n)) return;
  try {
    report(describe() + " (" + std::to_string(n) + " records lost so far)");
  } catch (...) {
    // Out of memory even for the message: the counter still tells.
  }
}

/// Every live tracer of the process: shut down together at normal process exit (within one
/// deadline), and reached by the termination signal handler.
struct LiveTracers {
  static void track(const std::shared_ptr<TracerCore>& core);
  static std::vector<std::shared_ptr<TracerCore>> all();
};

/// Instrumentation's view of a SessionTracer.
struct SessionTracerAccess {
  /// This thread's live context of `tracer` (nullptr when disabled or without a session).
  static Context* live_context(const SessionTracer& tracer) noexcept;
};

/// A random, non-zero 64-bit id (span and trace ids), from a per-thread generator.
std::uint64_t random_id() noexcept;
/// A new session id: a random UUID version 4 (RFC 4122), from the same generator.
std::string uuid4();

/// The span of a session (`name` "session") or a timestep ("timestep") of `session`, ending now,
/// with `attributes` plus the conversation id and kind.
SpanData structure_span(const SessionState& session, std::uint64_t span_id, std::uint64_t parent, std::string name,
                        Timestamp start, Value attributes);

/// Records an event made by an instrumentation scope into the session and timestep captured when
/// the scope opened (hooks included). Returns false, without throwing, when that session has
/// ended in the meantime.
bool record_scoped_event(const Context& where, Event&& event);

/// The session each tracer saw end last on this thread, so that this thread finds it right after
/// ending it, however many sessions other threads end meanwhile (the finished sessions a tracer
/// keeps are bounded: the oldest go).
struct EndedOnThisThread {
  /// Returns the session of `core` remembered before, for the caller to let go of.
  static std::shared_ptr<FinishedSession> remember(const std::shared_ptr<TracerCore>& core,
                                                   std::shared_ptr<FinishedSession> session) noexcept;
  /// The one `core` saw end last on this thread, when its id is `session_id`; else nullptr.
  static std::shared_ptr<FinishedSession> find(const TracerCore* core, std::string_view session_id) noexcept;
};

/// The per-thread table of contexts, one per tracer with something current on this thread.
struct ContextAccess {
  static Context* find(const TracerCore* core) noexcept;
  /// Makes `context` current for its tracer on this thread.
  static void install(const Context& context);
  /// Forgets this thread's context of `core`.
  static void remove(const TracerCore* core) noexcept;
  /// The context made current most recently on this thread (of any tracer), or nullptr.
  static Context* innermost() noexcept;

  /// A context at the top of `session`: spans opened there are children of the session's span
  /// when spans are exported.
  static Context make(std::shared_ptr<SessionState> session, std::int64_t step, std::int64_t turn) {
    Context c;
    c.core_ = session->core.get();
    if (session->core->spans) c.span_ = session->root_span;
    c.session_ = std::move(session);
    c.step_ = step;
    c.turn_ = turn;
    return c;
  }
  static const std::shared_ptr<SessionState>& session(const Context& c) noexcept { return c.session_; }
  static const TracerCore* core(const Context& c) noexcept { return c.core_; }
  static void set_step(Context& c, std::int64_t step, std::int64_t turn) noexcept {
    c.step_ = step;
    c.turn_ = turn;
  }
  static void set_span(Context& c, std::uint64_t span) noexcept { c.span_ = span; }
};

template <class Call>
void HookList::for_each(const char* hook_name, std::string_view session_id, Call&& call) const noexcept {
  for (const Node* node = first_.load(std::memory_order_acquire); node != nullptr;
       node = node->next.load(std::memory_order_acquire)) {
    try {
      call(node->hooks);
    } catch (...) {
      const std::uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string(hook_name) + " hook threw in session '" + std::string(session_id) +
               "': " + current_exception_text() + " (" + std::to_string(n) +
               " hook errors so far; recording continues)");
      }
    }
  }
}

}  // namespace synth::tracing::detail
