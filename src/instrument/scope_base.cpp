// What every scope shares outside its opening and closing: its state's life (release, the span
// and event built off the agent's thread), the error and metadata setters, capture errors, and
// the context a new scope records into.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <iterator>
#include <memory>
#include <span>

#include "instrument/scope_state.hpp"

namespace synth::tracing::detail {

Timestamp wall_time_at(std::chrono::steady_clock::time_point t) noexcept {
  using std::chrono::steady_clock;
  constexpr auto kRefresh = std::chrono::milliseconds(100);
  thread_local steady_clock::time_point offset_read_at{};
  thread_local std::chrono::nanoseconds offset{0};  // system clock minus steady clock
  if (t - offset_read_at >= kRefresh) {
    // The steady clock read on both sides of the system clock; the offset taken from the first
    // reading errs late by at most the gap (tens of ns), never early: a scope's time is never
    // before a wall-clock time read before it opened. A thread preempted in between (a gap above
    // 20 us) reads again, twice at most.
    for (int attempt = 0;; ++attempt) {
      const auto before = steady_clock::now();
      const auto wall = std::chrono::system_clock::now();
      const auto after = steady_clock::now();
      if (after - before > std::chrono::microseconds(20) && attempt < 2) continue;
      offset = std::chrono::duration_cast<std::chrono::nanoseconds>(wall.time_since_epoch()) -
               std::chrono::duration_cast<std::chrono::nanoseconds>(before.time_since_epoch());
      offset_read_at = t;
      break;
    }
  }
  const auto wall = std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()) + offset;
  return Timestamp(std::chrono::duration_cast<std::chrono::microseconds>(wall));  // as now(): microseconds
}

std::size_t scope_event_bytes(const ScopeState& state) noexcept {
  constexpr std::size_t kIdsAndMetadata = 256;  // hex ids, the scope's own metadata members
  return sizeof(Event) + kIdsAndMetadata + state.value_bytes();
}

// Moves out of the state only when the journal is its last holder (the export thread may be
// reading it otherwise).
Event take_scope_event(ScopeState& state) {
  return *state.make_event(state, state.refs.load(std::memory_order_acquire) == 1);
}
Event copy_scope_event(const ScopeState& state) { return *state.make_event(const_cast<ScopeState&>(state), false); }

std::string exception_type_name(const std::exception& e) { return detail::type_name(typeid(e)); }

Context* recording_context(SessionTracer* tracer) noexcept {
  Context* c = tracer != nullptr ? SessionTracerAccess::live_context(*tracer) : ContextAccess::innermost();
  if (c == nullptr) return nullptr;
  const auto& session = ContextAccess::session(*c);
  if (!session->recording || session->ended.load(std::memory_order_acquire)) return nullptr;
  return c;
}

void ScopeStateDeleter::operator()(ScopeState* state) const noexcept { state->release(); }

void ScopeState::release() noexcept {
  // The last holder frees it; a sole holder need not write the count.
  if (refs.load(std::memory_order_acquire) == 1 || refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

SpanData ScopeState::build() {
  const std::optional<Event> event = make_event(*this, false);
  SpanData out = span_of(*this, event ? &*event : nullptr);
  for (SpanEvent& e : span_events) out.events.push_back(std::move(e));
  return out;
}

void record_capture_error(ScopeBase& scope, std::string_view part) noexcept {
  if (!scope.state_) return;
  ScopeState& s = *scope.state_;
  const std::uint64_t n =
      ContextAccess::session(s.where)->core->capture_errors.fetch_add(1, std::memory_order_relaxed) + 1;
  try {
    std::string what;
    try {
      throw;
    } catch (const std::exception& e) {
      what = exception_type_name(e) + ": " + e.what();
    } catch (...) {
      what = "a non-standard exception";
    }
    if (is_report_worthy(n)) {
      report("scope '" + s.name + "' could not capture its " + std::string(part) + ": " + what + " (" +
             std::to_string(n) + " capture errors so far; the traced calls are unaffected)");
    }
    s.metadata["capture_error"][part] = std::move(what);
  } catch (...) {
    // Out of memory again: the counter says what happened.
  }
}

void keep_call_arguments(ScopeBase& scope, std::span<Value> arguments) {
  if (!scope.state_) return;
  CapturedCall& call = scope.state_->call;
  if (arguments.size() > CapturedCall::kInlineArguments) {
    call.argument_array = Value(Value::Array(std::make_move_iterator(arguments.begin()),
                                             std::make_move_iterator(arguments.end())));
  } else {
    for (std::size_t i = 0; i < arguments.size(); ++i) call.arguments[i] = std::move(arguments[i]);
  }
  call.argument_count = static_cast<int>(arguments.size());
}

void keep_call_result(ScopeBase& scope, Value result) noexcept {
  if (scope.state_) scope.state_->call.result = std::move(result);
}

SpanIdentity ScopeBase::identity() const {
  if (!state_) return {};
  const auto& session = ContextAccess::session(state_->where);
  return identity_of(session->trace_id_high, session->trace_id_low, *state_);
}

void ScopeBase::set_error(std::string_view type, std::string_view message) noexcept {
  change_state<ScopeState>(state_, [&](ScopeState& s) { s.error = Value{{"type", type}, {"message", message}}; });
}

void ScopeBase::set_error(const std::exception& e) noexcept {
  change_state<ScopeState>(state_, [&](ScopeState& s) {
    s.error = Value{{"type", exception_type_name(e)}, {"message", e.what()}};
  });
}

void ScopeBase::set_metadata(std::string_view key, Value value) noexcept {
  change_state<ScopeState>(state_, [&](ScopeState& s) { s.metadata.set(key, std::move(value)); });
}

}  // namespace synth::tracing::detail
