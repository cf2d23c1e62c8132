// How a scope opens and closes: ScopeBase::open() and close(), and the event and span a closed
// scope's state becomes (at once for on_event hooks, else later off the agent's thread).
// Internal: included by the scope kinds (scope_kinds.cpp), which instantiate these templates.
#pragma once

#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>

#include "instrument/scope_state.hpp"

namespace synth::tracing::detail {

template <class MakeState>
void ScopeBase::open(Context& where, std::string_view name, MakeState&& make_state) noexcept {
  try {
    auto state = make_state();
    state->exceptions_at_open = std::uncaught_exceptions();
    state->span = random_id();
    state->parent = where.span_id();
    ContextAccess::set_span(where, state->span);  // scopes opened inside this one become its children
    state->where = where;
    state->started = std::chrono::steady_clock::now();
    state->started_at = wall_time_at(state->started);
    state_.reset(state.release());
  } catch (...) {
    count_failed_record(*ContextAccess::session(where)->core, [&] {
      return "scope '" + std::string(name) + "' could not start: " + current_exception_text();
    });
  }
}

// How a scope's event is built from its state: by moving (the journal's copy, once) or copying
// (a snapshot of an active session, the spill).
struct MoveOut {
  template <class T>
  T&& operator()(T& x) const noexcept {
    return std::move(x);
  }
};
struct CopyOut {
  template <class T>
  const T& operator()(const T& x) const noexcept {
    return x;
  }
};

// The event of a closed scope: the metadata every scope has, then `Make` (the scope type's part).
template <class State, class Make, class S, class Take>
std::optional<Event> build_event(S& s, Take take) {
  SpanIdentity id = identity_of(s.trace_id_high, s.trace_id_low, s);  // its strings move into the event
  // One allocation for the common members (set() would regrow the object member by member).
  const bool has_user_keys = s.metadata.is_object() && s.metadata.size() > 0;
  Value::Object members;
  members.reserve((has_user_keys ? s.metadata.size() : 0) + 8);
  if (has_user_keys) {
    for (auto& m : s.metadata.as_object()) members.push_back(take(m));
  }
  ScopeMetadata md{Value(std::move(members)), has_user_keys};
  md.put("duration_ms", s.duration_ms);
  if (!id.parent_span_id.empty()) md.put("parent_span_id", std::move(id.parent_span_id));
  if (!s.error.is_null()) md.put("error", s.error);
  return Make{}(s, take, std::move(md), id);
}

template <class State, class Make>
std::optional<Event> build_scope_event(ScopeState& state, bool consume) {
  auto& s = static_cast<State&>(state);
  if (consume) return build_event<State, Make>(s, MoveOut{});
  return build_event<State, Make>(static_cast<const State&>(s), CopyOut{});
}

template <class State>
inline constexpr std::string_view kind_of = std::is_same_v<State, AiCallState>            ? "ai_call"
                                     : std::is_same_v<State, EnvironmentStepState>  ? "environment_step"
                                     : std::is_same_v<State, RuntimeOperationState> ? "runtime_operation"
                                                                                    : "trace_span";

// A closed scope's span from its state and its event: the same code whether the span is built at
// once (on_event hooks) or on the export thread (ScopeState::build).
template <class State>
SpanData scope_span_of(const ScopeState& state, const Event* event) {
  const auto& s = static_cast<const State&>(state);
  ScopeSpanInput in{.kind = kind_of<State>,
                    .name = s.name,
                    .session_id = s.ids.first(),
                    .trace_id_high = s.trace_id_high,
                    .trace_id_low = s.trace_id_low,
                    .span_id = s.span,
                    .parent_span_id = s.parent,
                    .start = s.started_at,
                    .end = s.started_at + std::chrono::duration_cast<Timestamp::duration>(
                                              std::chrono::duration<double, std::nano>(s.duration_ms * 1e6)),
                    .turn = s.turn,
                    .step_index = s.step_index,
                    .step_id = s.ids.second(),
                    .event = event,
                    .attributes = nullptr,
                    .error = s.error.is_null() ? nullptr : &s.error};
  if constexpr (std::is_same_v<State, SpanState>) {
    const Value* recorded = event ? metadata(*event).find("attributes") : nullptr;
    in.attributes = recorded != nullptr ? recorded : &s.attributes;
  }
  return scope_span(in);
}

// Records a closed scope whose event is built later: the journal takes `state`. False, with
// `state` left to the caller, when the session has ended.
inline bool record_scoped_state(std::unique_ptr<ScopeState, ScopeStateDeleter>& state, const Context& where) {
  SessionState& session = *ContextAccess::session(where);
  if (!session.recording) return true;  // sampled out: nothing is kept
  const std::int64_t step = where.step_index();
  std::lock_guard lock(session.mutex);
  if (session.ended.load(std::memory_order_relaxed)) return false;
  session.journal.add_scope(std::move(state), step);
  return true;
}

template <class State, class Make>
void ScopeBase::close(Make&&) noexcept {
  if (!state_) return;
  auto owned = std::move(state_);  // a second close() does nothing
  auto& s = static_cast<State&>(*owned);
  s.duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - s.started).count();
  // The state keeps no reference to its session from here on (the journal is inside the session,
  // the export queue inside the tracer); this one is released last, after any lock: it may be
  // the session's last reference.
  const Context where = std::move(s.where);
  // The enclosing scope is current again on this thread (unless something else took over).
  if (Context* c = ContextAccess::find(ContextAccess::core(where));
      c != nullptr && c->span_id() == s.span && ContextAccess::session(*c) == ContextAccess::session(where)) {
    ContextAccess::set_span(*c, s.parent);
  }
  const auto& session = ContextAccess::session(where);
  TracerCore& core = *session->core;
  const auto dropped = [&] {
    count_failed_record(core, [&] {
      return "instrumentation scope '" + s.name + "' ended after its session: its event was dropped";
    });
  };
  try {
    if (s.error.is_null() && std::uncaught_exceptions() > s.exceptions_at_open) {
      // Unwinding: the exception itself is out of reach here; wrappers and error(e) give its type.
      s.error = Value{{"type", "exception"}, {"message", "the scope was left by an exception"}};
    }
    s.turn = where.turn();
    s.trace_id_high = session->trace_id_high;
    s.trace_id_low = session->trace_id_low;
    s.make_event = &build_scope_event<State, std::decay_t<Make>>;
    bool records = core.records_events;
    if constexpr (std::is_same_v<State, SpanState>) records = records && s.record_event;
    const auto& spans = core.spans;
    if (spans) {
      s.step_index = where.step_index();
      if (s.step_index >= 0) {
        std::lock_guard lock(session->mutex);
        const auto& steps = session->journal.steps;
        const auto step = static_cast<std::size_t>(s.step_index);
        s.ids.assign(session->id, step < steps.size() ? std::string_view(steps.at(step).step_id) : std::string_view());
      } else {
        s.ids.assign(session->id, {});
      }
      s.span_of = &scope_span_of<State>;
    }
    if (!core.hooks->empty()) {
      // on_event hooks need the event now: it is built here, and so is the span.
      std::optional<Event> event = s.make_event(s, true);
      if (spans) {
        SpanData span = s.span_of(s, event ? &*event : nullptr);
        take_span_events(*session, s.span, span.events);  // recorded directly inside the scope (mode otel)
        spans->end(std::move(span));
      }
      if (event && records && !record_scoped_event(where, std::move(*event))) dropped();
      return;
    }
    // The common case: the journal keeps the state and the export queue shares it; the event
    // and the span are built off this thread.
    if (spans) {
      take_span_events(*session, s.span, s.span_events);
      if (records) {
        // The queue's release store publishes the count with the state.
        s.refs.store(2, std::memory_order_relaxed);
        spans->end(PendingSpanPtr(&s));
      } else {
        spans->end(PendingSpanPtr(owned.release()));
        return;
      }
    }
    if (records && !record_scoped_state(owned, where)) dropped();
  } catch (...) {
    count_failed_record(core, [&] {
      return "instrumentation scope '" + s.name + "' could not be recorded: " + current_exception_text();
    });
  }
}

}  // namespace synth::tracing::detail
