// Internal: the shared state behind SessionTracer, its sessions and the per-thread contexts.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "diagnostics.hpp"
#include "otel/spans.hpp"
#include "tracer/journal.hpp"
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
  std::mutex mutex;
  SessionJournal journal;                    // guarded by mutex
  std::unordered_set<std::string> step_ids;  // guarded by mutex
  std::atomic<bool> ended{false};            // written under mutex; read anywhere
};

/// Hands finished sessions to the sinks on one background thread, through a bounded queue.
class SinkDispatcher {
 public:
  explicit SinkDispatcher(std::size_t capacity) : capacity_(capacity) {}
  /// Delivers what is queued, then stops the thread.
  ~SinkDispatcher();
  SinkDispatcher(const SinkDispatcher&) = delete;
  SinkDispatcher& operator=(const SinkDispatcher&) = delete;

  void add_sink(std::shared_ptr<SessionSink> sink);
  /// Queues a session for every sink; never blocks. Counts and reports a drop when full.
  void submit(std::shared_ptr<FinishedSession> session) noexcept;
  /// Waits until everything submitted so far is written and the sinks flushed.
  bool flush(std::chrono::milliseconds timeout);

  std::uint64_t dropped() const noexcept { return dropped_.load(std::memory_order_relaxed); }
  std::uint64_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }
  /// Sessions sinks failed to store (SessionSink: a throwing write(), SessionsLost).
  std::uint64_t lost() const noexcept { return lost_.load(std::memory_order_relaxed); }
  std::uint64_t pending() const;

 private:
  void run();
  void deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks, const std::shared_ptr<FinishedSession>& session);
  void flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& sinks);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::condition_variable work_ready_;
  std::condition_variable flushed_;
  std::deque<std::shared_ptr<FinishedSession>> queue_;
  std::vector<std::shared_ptr<SessionSink>> sinks_;
  std::uint64_t submitted_ = 0;
  std::uint64_t completed_ = 0;
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_done_ = 0;
  bool stopping_ = false;
  std::thread worker_;
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> errors_{0};
  std::atomic<std::uint64_t> lost_{0};
};

/// Everything a SessionTracer shares with its sessions.
struct TracerCore {
  explicit TracerCore(TracingConfig cfg);

  /// Ends `session` once: finalizes it, runs on_session_end hooks, keeps it for
  /// get_session_trace and submits it to the sinks.
  void end_session(const std::shared_ptr<SessionState>& session) noexcept;

  std::shared_ptr<const std::vector<TraceHooks>> hooks() const;
  /// Calls `call(hook)` for every hook, isolating exceptions.
  template <class Call>
  void for_each_hook(const char* hook_name, std::string_view session_id, Call&& call) noexcept;

  const TracingConfig config;
  /// Masking, truncation and costs for everything leaving the process.
  const std::shared_ptr<const OutgoingPolicy> outgoing;
  /// Null unless spans are exported (mode dual or otel, with an endpoint).
  const std::unique_ptr<SpanPipeline> spans;
  /// Whether scopes record events (false in mode otel: spans only).
  const bool records_events;
  SinkDispatcher dispatcher;

  std::atomic<bool> has_hooks{false};
  mutable std::mutex hooks_mutex;
  std::shared_ptr<const std::vector<TraceHooks>> hook_list;  // guarded by hooks_mutex; copy-on-write

  mutable std::mutex registry_mutex;
  std::unordered_map<std::string, std::weak_ptr<SessionState>> active;  // guarded by registry_mutex
  std::deque<std::shared_ptr<FinishedSession>> finished;               // guarded by registry_mutex

  std::atomic<std::uint64_t> sessions_started{0};
  std::atomic<std::uint64_t> sessions_ended{0};
  std::atomic<std::uint64_t> events_in_ended{0};
  std::atomic<std::uint64_t> messages_in_ended{0};
  std::atomic<std::uint64_t> hook_errors{0};
  std::atomic<std::uint64_t> records_failed{0};
  std::atomic<std::uint64_t> sessions_sampled_out{0};
};

/// Instrumentation's view of a SessionTracer.
struct SessionTracerAccess {
  /// This thread's live context of `tracer` (nullptr when disabled or without a session).
  static Context* live_context(const SessionTracer& tracer) noexcept;
};

/// A random, non-zero 64-bit id (span and trace ids), from a per-thread generator.
std::uint64_t random_id() noexcept;

/// The span of a session (`name` "session") or a timestep ("timestep") of `session`, ending now,
/// with `attributes` plus the conversation id and kind.
SpanData structure_span(const SessionState& session, std::uint64_t span_id, std::uint64_t parent, std::string name,
                        Timestamp start, Value attributes);

/// Records an event made by an instrumentation scope into the session and timestep captured when
/// the scope opened (hooks included). Returns false, without throwing, when that session has
/// ended in the meantime.
bool record_scoped_event(const Context& where, Event&& event);

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
void TracerCore::for_each_hook(const char* hook_name, std::string_view session_id, Call&& call) noexcept {
  const auto list = hooks();
  for (const TraceHooks& hook : *list) {
    try {
      call(hook);
    } catch (...) {
      const std::uint64_t n = hook_errors.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string(hook_name) + " hook threw in session '" + std::string(session_id) +
               "': " + current_exception_text() + " (" + std::to_string(n) +
               " hook errors so far; recording continues)");
      }
    }
  }
}

}  // namespace synth::tracing::detail
