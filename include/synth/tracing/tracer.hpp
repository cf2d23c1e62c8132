// SessionTracer: records sessions, timesteps, events and messages, and hands finished sessions
// to sinks in the background.
#pragma once

#include <chrono>
#include <concepts>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "synth/tracing/config.hpp"
#include "synth/tracing/context.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/sinks.hpp"

namespace synth::tracing {

namespace detail {
struct SessionTracerAccess;
}  // namespace detail

struct RemoteParent;
struct BatchStats;

/// Callbacks run by the tracer: on_session_end on the tracer's background thread, the others on
/// the recording thread (without any tracer-wide lock). Set only the ones you need:
///
///     tracer.add_hook({.on_event = [](std::string_view session, const Event& e) -> std::optional<Value> {
///       return Value{{"hook", "seen"}};
///     }});
///
/// A hook that throws is isolated: the exception is counted (TracerStats::hook_errors) and
/// reported, and recording goes on. Hooks may not record into the same tracer (on_session_end
/// may call its get_session_trace); they may use other tracers.
struct TraceHooks {
  /// Before the session is registered; may edit the session's start metadata.
  std::function<void(std::string_view session_id, Value& metadata)> on_session_start;
  /// Before the timestep is added; may edit it (its step_metadata, say).
  std::function<void(std::string_view session_id, SessionTimeStep& step)> on_timestep_start;
  /// Before an event is stored; a returned value is appended to the event's event_metadata.
  std::function<std::optional<Value>(std::string_view session_id, const Event& event)> on_event;
  /// Before a message is stored.
  std::function<void(std::string_view session_id, const SessionEventMessage& message)> on_message;
  /// After the session ended, on the background thread, before the sinks write it (also without
  /// sinks); the thread ending the session only hands it over. SessionTracer::flush() waits for
  /// it. A session dropped because the sink queue was full (TracerStats::sessions_dropped) is
  /// not seen.
  std::function<void(const SessionTrace& trace)> on_session_end;
};

/// Counters of a tracer since it was created.
struct TracerStats {
  /// Sessions recorded (sampled in).
  std::uint64_t sessions_started = 0;
  /// Sessions not recorded because of TracingConfig::sampling_rate.
  std::uint64_t sessions_sampled_out = 0;
  std::uint64_t sessions_ended = 0;
  /// Events and messages recorded, in ended and active sessions (in mode otel: those recorded
  /// directly, which become span events of the span current where they were recorded).
  std::uint64_t events_recorded = 0;
  std::uint64_t messages_recorded = 0;
  /// Exceptions thrown by hooks.
  std::uint64_t hook_errors = 0;
  /// Arguments or results of wrapped calls (traced_ai_call, ...) that could not be captured: a
  /// to_json that threw, out of memory. The call itself is unaffected; its event says what failed
  /// in metadata.capture_error.
  std::uint64_t capture_errors = 0;
  /// Events and messages lost, or recorded incomplete, to a failure inside the tracer (out of
  /// memory) or because their session ended first (a scope or LM call still open); never thrown.
  std::uint64_t records_failed = 0;
  /// Finished sessions not given to the sinks: their queue was full, or the tracer was shut
  /// down (still queued at the shutdown deadline, or ended afterwards).
  std::uint64_t sessions_dropped = 0;
  /// Exceptions thrown by sinks' write() or flush().
  std::uint64_t sink_errors = 0;
  /// Finished sessions a sink failed to store (each sink counts its own): its write() threw,
  /// or it lost sessions it had accepted (SessionsLost).
  std::uint64_t sessions_lost = 0;
  /// Finished sessions queued for the sinks (in memory or in the spill) or being written by them.
  std::uint64_t sessions_pending = 0;
  /// Finished sessions that went through the spill on disk because the sink queue was full
  /// (TracingConfig::overflow = spill); they reach the sinks as these catch up.
  std::uint64_t sessions_overflowed = 0;
  /// Sessions left in the spill by tracers that were gone (a crash, a kill), handed to this
  /// tracer's sinks (TracingConfig::recover_spill).
  std::uint64_t sessions_recovered = 0;
  /// Items (events, messages, timesteps, metadata entries) not checkpointed to the spill: it
  /// reached spill_max_bytes, or a write failed (disk full). Their sessions still reach the
  /// sinks; only a crash would lose these items.
  std::uint64_t records_not_checkpointed = 0;
  /// Bytes in this tracer's spill files now.
  std::uint64_t spill_bytes = 0;
  /// Spans handed to the OpenTelemetry export (0 when spans are not exported). Every one is
  /// exported, dropped (the queue was full, or shut down: see BatchStats), failed (refused by
  /// the receiver, also in a partial success; retries or the export timeout exhausted;
  /// abandoned at the shutdown deadline), or still queued.
  std::uint64_t spans_ended = 0;
  std::uint64_t spans_exported = 0;
  std::uint64_t spans_dropped = 0;
  std::uint64_t spans_failed = 0;
  std::uint64_t spans_queued = 0;
  /// The collector sinks' counts (TracingConfig::collector, or CollectorSinks added with
  /// add_sink; see CollectorStats): sessions the server acknowledged, sessions left as JSON files
  /// in the fallback folder for `synth-trace import`, retried requests, and answers 503/429.
  /// Sessions the server refused count in sessions_lost.
  std::uint64_t collector_sessions_sent = 0;
  std::uint64_t collector_sessions_in_fallback = 0;
  std::uint64_t collector_retries = 0;
  std::uint64_t collector_throttled = 0;
};

/// RAII handle of a session: ends it when destroyed (or on end()). Movable.
class SessionScope {
 public:
  SessionScope() noexcept = default;
  SessionScope(SessionScope&& other) noexcept = default;
  SessionScope& operator=(SessionScope&& other) noexcept;
  ~SessionScope();

  /// Ends the session now (finalizes it, hands it to the on_session_end hooks and the sinks).
  /// Does nothing when already ended.
  void end() noexcept;
  /// The session's id ("" for the inert scope of a disabled tracer).
  std::string_view session_id() const noexcept;

 private:
  friend class SessionTracer;
  std::shared_ptr<detail::SessionState> session_;
};

/// RAII handle of a timestep: while it lives, events and messages recorded on this thread go
/// into it. Ending it makes the enclosing timestep (if any) current again. Movable.
class TimestepScope {
 public:
  TimestepScope() noexcept = default;
  /// The moved-from scope no longer ends anything.
  TimestepScope(TimestepScope&& other) noexcept = default;
  TimestepScope& operator=(TimestepScope&& other) noexcept;
  ~TimestepScope();

  void end() noexcept;
  const std::string& step_id() const noexcept { return step_id_; }
  /// Position of the timestep in the session (-1 for the inert scope of a disabled tracer).
  std::int64_t step_index() const noexcept { return step_; }

 private:
  friend class SessionTracer;
  std::shared_ptr<detail::SessionState> session_;
  std::string step_id_;
  std::int64_t step_ = -1;
  std::int64_t previous_step_ = -1;
  std::int64_t previous_turn_ = 0;
  // Its span, when spans are exported (0 otherwise), and the span current before it.
  std::uint64_t span_ = 0;
  std::uint64_t previous_span_ = 0;
  std::int64_t turn_ = 0;
  Timestamp started_{};
};

/// Records what agents do, organised into sessions and timesteps.
///
///     SessionTracer tracer;
///     auto session = tracer.start_session("episode-17", {{"experiment", "baseline"}});
///     auto step = tracer.timestep(0);
///     tracer.add_event(CAISEvent{.system_instance_id = "agent", .model_name = "gpt-4o-mini"});
///
/// One tracer serves many sessions at once: the current session and timestep belong to the
/// calling thread. Use current_context() with ContextScope, or wrap(), to record into a
/// session from other threads. Thread-safe.
class SessionTracer {
 public:
  /// Configured by the environment, a config file and the defaults (TracingConfig::load).
  SessionTracer();
  /// `config`'s fields set in code, the rest from the environment, file and defaults.
  /// Throws Error when the configuration is invalid.
  explicit SessionTracer(TracingConfig config);
  /// Waits for the sinks and the span export to finish, for up to
  /// TracingConfig::shutdown_timeout_ms in all; what is left then is dropped, counted and
  /// reported. Sessions and spans ending afterwards (on threads still holding a context) are
  /// dropped and counted.
  ~SessionTracer();
  SessionTracer(const SessionTracer&) = delete;
  SessionTracer& operator=(const SessionTracer&) = delete;

  const TracingConfig& config() const noexcept;
  bool enabled() const noexcept { return enabled_; }

  /// Starts a session on this thread; an empty id means a new UUIDv4. Throws TracingError when
  /// this thread already has a session of this tracer, or a session with this id is active.
  /// A session sampled out (TracingConfig::sampling_rate, decided from a hash of its id) behaves
  /// the same to the caller but records nothing.
  [[nodiscard]] SessionScope start_session(std::string session_id = {}, Value metadata = Value::object());
  /// Starts a session that continues a trace of another process (parse_traceparent() of an
  /// incoming `traceparent` header): its spans share the remote trace id and its root span is
  /// the remote span's child. A remote parent that was not sampled makes the session sampled out.
  [[nodiscard]] SessionScope start_session(std::string session_id, Value metadata, const RemoteParent& parent);
  /// Ends this thread's session (no-op without one).
  void end_session() noexcept;
  /// Ends every active session of this tracer, on every thread, each with a session metadata
  /// entry kSessionStatusMetadata {"status": "aborted", "reason": `reason`}, then waits up to
  /// `timeout` for the sinks (as flush()). Returns how many sessions it ended. Threads still
  /// recording into them afterwards lose those records, counted in TracerStats::records_failed
  /// and never thrown at them.
  std::size_t end_all_sessions(std::string reason = "end_all_sessions",
                               std::chrono::milliseconds timeout = std::chrono::seconds(5));

  /// Starts a timestep of this thread's session for logical turn `turn`; `step_id` defaults to
  /// "step_<turn>" ("step_<turn>_<n>" when that id is already taken in the session).
  /// Throws TracingError without a session.
  [[nodiscard]] TimestepScope timestep(std::int64_t turn, std::string step_id = {},
                                       Value step_metadata = Value::object());

  /// Appends an event to the current timestep and to the session's event history (to the
  /// history only outside a timestep). A missing time_record becomes (now, current turn).
  /// Throws TracingError when this thread has no session.
  template <class E>
    requires std::constructible_from<Event, E&&>
  void add_event(E&& event) {
    if (!enabled_) return;
    using T = std::remove_cvref_t<E>;
    if constexpr (std::is_same_v<T, CAISEvent> || std::is_same_v<T, EnvironmentEvent> ||
                  std::is_same_v<T, RuntimeEvent> || std::is_same_v<T, Event>) {
      // Rvalues go straight into the session's storage; lvalues are copied once, and only when
      // the session records (not for one sampled out).
      if constexpr (std::is_lvalue_reference_v<E>) {
        if (session_records("add_event()")) record_event(T(event));
      } else {
        record_event(std::move(event));
      }
    } else {
      record_event(Event(std::forward<E>(event)));
    }
  }

  /// Appends a message to the current timestep and to the message history, as add_event.
  template <class M>
    requires std::constructible_from<SessionEventMessage, M&&>
  void add_message(M&& message) {
    if (!enabled_) return;
    if constexpr (std::is_same_v<std::remove_cvref_t<M>, SessionEventMessage> && !std::is_lvalue_reference_v<M>) {
      record_message(std::move(message));
    } else if (session_records("add_message()")) {
      record_message(SessionEventMessage(std::forward<M>(message)));
    }
  }

  /// Hands over a session recorded elsewhere (the Python package records in Python objects and
  /// submits each session as it ends), to leave the process as if recorded here and just ended:
  /// masking, truncation and pricing (TracingConfig), the on_session_end hooks, the sinks, the
  /// session and timestep spans when spans are exported (in mode otel its events and messages
  /// become their span events), the counts of stats(), and get_session_trace(). Only queues it:
  /// the background thread does the rest; a full queue is handled by TracingConfig::overflow.
  ///
  ///     SessionTrace trace = build_it_elsewhere();
  ///     tracer.submit_finished_session(std::move(trace));
  ///     tracer.flush();  // when it must be stored now
  ///
  /// Each item of a timestep is matched to its equal copy in the history (the first one not yet
  /// matched); one found only in a timestep joins the history at the end. An empty session_id
  /// becomes a new UUID and an unset created_at the current time. The on_session_start,
  /// on_timestep_start, on_event and on_message hooks and sampling_rate do not apply (the
  /// caller recorded it). Does nothing on a disabled tracer; never throws: a failure (out of
  /// memory) is reported and counted in TracerStats::records_failed.
  void submit_finished_session(SessionTrace trace) noexcept;

  /// Appends a typed metadata entry to this thread's session. Throws TracingError without one.
  void add_session_metadata(std::string metadata_type, Value data);

  /// True when this thread has an active session of this tracer.
  bool in_session() const noexcept;
  /// Id of this thread's session, or "".
  std::string current_session_id() const;
  /// The turn events recorded now on this thread receive (0 outside a timestep).
  std::int64_t current_turn() const noexcept;

  /// A snapshot of an active session, or a finished one still kept in memory: the most recent
  /// within TracingConfig::max_finished_sessions and max_finished_bytes, and the one this thread
  /// ended last (found right after it ends, whatever other threads end). nullptr when unknown.
  /// For an active session with crash recovery on, the items a spill checkpoint has written show
  /// as written (masked, truncated, priced: the policy is applied in place, once); the others as
  /// recorded. It may wait for a checkpoint being written.
  std::shared_ptr<const SessionTrace> get_session_trace(std::string_view session_id) const;

  /// Adds hooks; they apply to everything recorded afterwards.
  void add_hook(TraceHooks hooks);
  /// Adds a sink for sessions finished from now on.
  void add_sink(std::shared_ptr<SessionSink> sink);
  /// Waits until every finished session has been written and the sinks flushed, and every span
  /// ended so far exported; false on timeout. (Destruction and normal process exit wait the same
  /// way, within TracingConfig::shutdown_timeout_ms.)
  bool flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));

  /// This thread's position (session, timestep, turn) in this tracer; empty without a session.
  Context current_context() const noexcept;

  /// Wraps a callable so that it runs in this thread's current context, wherever it is called:
  ///
  ///     std::thread worker(tracer.wrap([&] { tracer.add_event(EnvironmentEvent{.reward = 1}); }));
  template <class F>
  auto wrap(F&& fn) const {
    return [context = current_context(), fn = std::forward<F>(fn)](auto&&... args) mutable -> decltype(auto) {
      ContextScope attach(context);
      return std::invoke(fn, std::forward<decltype(args)>(args)...);
    };
  }

  TracerStats stats() const;

 private:
  friend struct detail::SessionTracerAccess;

  /// Whether this thread's session records (false when sampled out); throws TracingError naming
  /// `call` without a session.
  bool session_records(const char* call) const;
  TimestepScope start_timestep(std::int64_t turn, std::string step_id, Value step_metadata);
  void append_session_metadata(std::string metadata_type, Value data);
  SessionScope begin_session(std::string session_id, Value metadata, const RemoteParent* parent);
  void record_event(CAISEvent&& event);
  void record_event(EnvironmentEvent&& event);
  void record_event(RuntimeEvent&& event);
  void record_event(Event&& event);
  void record_message(SessionEventMessage&& message);

  bool enabled_ = false;
  std::shared_ptr<detail::TracerCore> core_;
};

/// Installs, once per process, a handler for SIGTERM and SIGINT that ends every active session of
/// every live tracer (as aborted, reason "signal SIGTERM" or "signal SIGINT"), delivers them
/// within each tracer's shutdown_timeout_ms, then restores the handler that was there before and
/// raises the signal again, so that it proceeds as it would have (the default ends the process).
/// A second signal while this runs proceeds at once. The work runs on a thread of its own, not in
/// the signal handler. TracingConfig::handle_signals = true calls it when a tracer is created.
void handle_termination_signals();

}  // namespace synth::tracing
