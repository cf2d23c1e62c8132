// Carrying the current session and timestep from one thread to another.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>

namespace synth::tracing {

namespace detail {
struct SessionState;
struct TracerCore;
struct ContextAccess;
}  // namespace detail

/// Where a thread is recording: a session of one tracer, its current timestep and turn.
/// Capture it with SessionTracer::current_context() and restore it on another thread with
/// ContextScope. Cheap to copy (one reference count); an empty Context means "no session".
class Context {
 public:
  Context() noexcept = default;

  bool empty() const noexcept { return session_ == nullptr; }
  explicit operator bool() const noexcept { return !empty(); }
  /// Id of the session, or "" when empty.
  std::string_view session_id() const noexcept;
  /// Index of the current timestep in the session, or -1 outside a timestep.
  std::int64_t step_index() const noexcept { return step_; }
  /// The logical turn events recorded here receive.
  std::int64_t turn() const noexcept { return turn_; }
  /// The innermost open instrumentation scope (ai_call, trace_span, ...) here: the parent of the
  /// next one; 0 when none.
  std::uint64_t span_id() const noexcept { return span_; }

 private:
  friend struct detail::ContextAccess;

  std::shared_ptr<detail::SessionState> session_;
  const detail::TracerCore* core_ = nullptr;
  std::int64_t step_ = -1;
  std::int64_t turn_ = 0;
  std::uint64_t span_ = 0;
};

/// Makes `context` current on this thread until the scope ends, then restores what was current:
///
///     auto ctx = tracer.current_context();
///     pool.submit([ctx] { synth::tracing::ContextScope attach(ctx); tracer.add_event(...); });
class ContextScope {
 public:
  explicit ContextScope(const Context& context);
  ~ContextScope();
  ContextScope(const ContextScope&) = delete;
  ContextScope& operator=(const ContextScope&) = delete;

 private:
  const detail::TracerCore* core_ = nullptr;
  std::optional<Context> previous_;
};

}  // namespace synth::tracing
