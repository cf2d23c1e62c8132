// Recording into the thread's session: events and messages (after the on_event / on_message
// hooks, straight into the session's journal, or as span events in mode otel), session metadata,
// and the events of closed scopes (record_scoped_event). Failures other than misuse lose only the
// record, counted (guarded_record).
#include "diagnostics.hpp"
#include "tracer/state.hpp"
#include "tracer/thread_session.hpp"

namespace synth::tracing {

namespace {
// Mode otel keeps no trace: what is recorded directly becomes a span event of the span current
// where it was recorded (session, timestep or scope).
bool as_span_events(const detail::TracerCore& core) noexcept { return !core.records_events && core.spans; }

// Stores one event of type E (an alternative of Event) recorded at span `span` and timestep `step`;
// false when the session has ended. The event is moved once, straight into the journal.
template <class E>
bool store_event(detail::TracerCore& core, detail::SessionState& session, std::uint64_t span, std::int64_t step,
                 E&& event) {
  if (as_span_events(core)) return detail::add_span_event(session, span, detail::span_event(Event(std::move(event))), false);
  std::lock_guard lock(session.mutex);
  if (session.ended.load(std::memory_order_relaxed)) return false;
  session.journal.add_event(std::move(event), step);
  return true;
}

// Appends one event of type E (an alternative of Event) to `session` at `where`, after the
// on_event hooks; false when the session has ended. `session` and `where` may be references into
// this thread's contexts, which hooks may move: only copies are used once they run.
template <class E>
bool append_event(detail::TracerCore& core, const std::shared_ptr<detail::SessionState>& session, const Context& where,
                  E&& event) {
  if (!session->recording) return true;
  const std::uint64_t span = where.span_id();
  const std::int64_t step = where.step_index();
  auto& tr = event.time_record;
  if (!tr) tr = TimeRecord{now(), where.turn()};
  if (!core.hooks->empty()) {
    const std::shared_ptr<detail::SessionState> held = session;
    Event as_event(std::move(event));
    core.hooks->for_each("on_event", held->id, [&](const TraceHooks& h) {
      if (!h.on_event) return;
      if (auto result = h.on_event(held->id, as_event)) event_metadata(as_event).push_back(std::move(*result));
    });
    return store_event(core, *held, span, step, std::move(as_event));
  }
  return store_event(core, *session, span, step, std::move(event));
}

template <class E>
void record_event_into(detail::TracerCore& core, E&& event) {
  const Context* c = detail::live_context(&core);
  if (c == nullptr) detail::no_session(core, "add_event()");
  if (!append_event(core, detail::ContextAccess::session(*c), *c, std::forward<E>(event))) {
    detail::no_session(core, "add_event()");
  }
}

// Misuse (TracingError) reaches the caller; any other failure inside the tracer (out of memory)
// loses only this record: it is counted and reported, and the agent goes on.
template <class F>
void guarded_record(detail::TracerCore& core, const char* call, F&& record) {
  try {
    record();
  } catch (const TracingError&) {
    throw;
  } catch (const detail::EndedFromOutside&) {
    detail::count_ended_from_outside(core, call);
  } catch (...) {
    detail::count_failed_record(
        core, [&] { return std::string(call) + " could not record: " + detail::current_exception_text(); });
  }
}
}  // namespace

void SessionTracer::record_event(CAISEvent&& event) {
  guarded_record(*core_, "add_event()", [&] { record_event_into(*core_, std::move(event)); });
}
void SessionTracer::record_event(EnvironmentEvent&& event) {
  guarded_record(*core_, "add_event()", [&] { record_event_into(*core_, std::move(event)); });
}
void SessionTracer::record_event(RuntimeEvent&& event) {
  guarded_record(*core_, "add_event()", [&] { record_event_into(*core_, std::move(event)); });
}
void SessionTracer::record_event(Event&& event) {
  guarded_record(*core_, "add_event()", [&] {
    std::visit([this](auto&& e) { record_event_into(*core_, std::move(e)); }, std::move(event));
  });
}

void SessionTracer::record_message(SessionEventMessage&& message) {
  guarded_record(*core_, "add_message()", [&] {
    const Context* c = detail::live_context(core_.get());
    if (c == nullptr) detail::no_session(*core_, "add_message()");
    const std::shared_ptr<detail::SessionState>& current = detail::ContextAccess::session(*c);
    if (!current->recording) return;
    const std::int64_t step = c->step_index();
    if (message.timestamp.time_since_epoch().count() == 0) message.timestamp = now();
    if (!message.time_record) message.time_record = TimeRecord{message.timestamp, c->turn()};
    const std::uint64_t span = c->span_id();
    const auto store = [&](detail::SessionState& session) {
      if (as_span_events(*core_)) {
        if (!detail::add_span_event(session, span, detail::span_event(message), true)) detail::no_session(*core_, "add_message()");
        return;
      }
      std::lock_guard lock(session.mutex);
      if (session.ended.load(std::memory_order_relaxed)) detail::no_session(*core_, "add_message()");
      session.journal.add_message(std::move(message), step);
    };
    if (core_->hooks->empty()) return store(*current);
    const std::shared_ptr<detail::SessionState> session = current;  // the hooks may move this thread's contexts
    core_->hooks->for_each("on_message", session->id, [&](const TraceHooks& h) {
      if (h.on_message) h.on_message(session->id, message);
    });
    store(*session);
  });
}

namespace detail {
Context* SessionTracerAccess::live_context(const SessionTracer& tracer) noexcept {
  return tracer.enabled_ ? detail::live_context(tracer.core_.get()) : nullptr;
}

bool record_scoped_event(const Context& where, Event&& event) {
  const auto& session = ContextAccess::session(where);
  if (!session) return false;
  return std::visit([&](auto&& e) { return append_event(*session->core, session, where, std::move(e)); },
                    std::move(event));
}
}  // namespace detail

bool SessionTracer::session_records(const char* call) const {
  const Context* c = detail::live_context(core_.get());
  if (c == nullptr) {
    try {
      detail::no_session(*core_, call);
    } catch (const detail::EndedFromOutside&) {
      detail::count_ended_from_outside(*core_, call);
      return false;
    }
  }
  return detail::ContextAccess::session(*c)->recording;
}

void SessionTracer::add_session_metadata(std::string metadata_type, Value data) {
  if (!enabled_) return;
  try {
    append_session_metadata(std::move(metadata_type), std::move(data));
  } catch (const detail::EndedFromOutside&) {
    detail::count_ended_from_outside(*core_, "add_session_metadata()");
  }
}

void SessionTracer::append_session_metadata(std::string metadata_type, Value data) {
  Context* c = detail::live_context(core_.get());
  if (c == nullptr) detail::no_session(*core_, "add_session_metadata()");
  detail::SessionState& session = *detail::ContextAccess::session(*c);
  if (!session.recording) return;
  SessionMetadataEntry entry{std::move(metadata_type), std::move(data), now()};
  std::lock_guard lock(session.mutex);
  if (session.ended.load(std::memory_order_relaxed)) detail::no_session(*core_, "add_session_metadata()");
  session.journal.add_metadata(std::move(entry));
}

}  // namespace synth::tracing
