// SessionTracer::submit_finished_session: a session recorded elsewhere (the Python package) joins
// the tracer's outgoing path. It is rebuilt as a session of this tracer, with each item stored
// once with its timestep (the journal), and ended like any other, so that masking, pricing, the
// spill, the hooks, the sinks, the spans and the counters all apply unchanged.
#include <type_traits>
#include <vector>

#include "diagnostics.hpp"
#include "span/spans.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

namespace detail {
namespace {

// Pairs each history item with the timestep holding its equal copy (the first copy not yet
// matched; -1: none) and appends it to `out`. Items are mostly in history order step by step, so
// the step of the previous item is tried first. Items only in a timestep are appended at the end.
template <class T>
void place_items(std::vector<T>& history, std::vector<std::vector<T>>& in_steps, ChunkedList<Recorded<T>>& out) {
  std::vector<std::size_t> next(in_steps.size(), 0);
  std::size_t hint = 0;
  for (T& item : history) {
    std::int64_t step = -1;
    for (std::size_t k = 0; k < in_steps.size(); ++k) {
      const std::size_t s = (hint + k) % in_steps.size();
      if (next[s] < in_steps[s].size() && in_steps[s][next[s]] == item) {
        ++next[s];
        step = static_cast<std::int64_t>(s);
        hint = s;
        break;
      }
    }
    out.emplace_back(std::move(item), step);
  }
  for (std::size_t s = 0; s < in_steps.size(); ++s) {
    for (std::size_t i = next[s]; i < in_steps[s].size(); ++i) {
      out.emplace_back(std::move(in_steps[s][i]), static_cast<std::int64_t>(s));
    }
  }
}

// Mode otel: every item becomes a span event of its timestep's span (the session's span for
// history-only ones), as items recorded there directly do.
template <class T>
void to_span_events(SessionState& session, ChunkedList<Recorded<T>>& items, const std::vector<std::uint64_t>& step_spans,
                    bool messages) {
  items.for_each_mutable([&](Recorded<T>& r) {
    const std::uint64_t span = r.step >= 0 ? step_spans[static_cast<std::size_t>(r.step)] : session.root_span;
    if constexpr (std::is_same_v<T, Event>) {
      add_span_event(session, span, span_event(r.event()), messages);
    } else {
      add_span_event(session, span, span_event(r.item), messages);
    }
  });
}

}  // namespace
}  // namespace detail

void SessionTracer::submit_finished_session(SessionTrace trace) noexcept {
  if (!enabled_) return;
  const std::string name = trace.session_id;
  try {
    if (trace.session_id.empty()) trace.session_id = detail::uuid4();
    auto state = std::make_shared<detail::SessionState>(core_, trace.session_id, true);
    detail::SessionJournal& journal = state->journal;
    journal.session_id = trace.session_id;
    journal.created_at = trace.created_at == Timestamp{} ? now() : trace.created_at;
    for (SessionMetadataEntry& entry : trace.session_metadata) journal.add_metadata(std::move(entry));

    const std::size_t n_steps = trace.session_time_steps.size();
    std::vector<std::vector<Event>> step_events(n_steps);
    std::vector<std::vector<SessionEventMessage>> step_messages(n_steps);
    std::vector<Timestamp> step_starts(n_steps);
    for (std::size_t i = 0; i < n_steps; ++i) {
      SessionTimeStep& step = trace.session_time_steps[i];
      step_events[i] = std::move(step.events);
      step_messages[i] = std::move(step.step_messages);
      step.events.clear();
      step.step_messages.clear();
      step.step_index = static_cast<std::int64_t>(i);
      step_starts[i] = step.timestamp == Timestamp{} ? journal.created_at : step.timestamp;
      journal.add_step(std::move(step));
    }
    detail::ChunkedList<detail::Recorded<Event>> events;
    detail::ChunkedList<detail::Recorded<SessionEventMessage>> messages;
    detail::place_items(trace.event_history, step_events, events);
    detail::place_items(trace.message_history, step_messages, messages);

    std::vector<std::uint64_t> step_spans;
    if (core_->spans) {
      step_spans.reserve(n_steps);
      for (std::size_t i = 0; i < n_steps; ++i) step_spans.push_back(detail::random_id());
    }
    if (!core_->records_events && core_->spans) {
      detail::to_span_events(*state, events, step_spans, false);
      detail::to_span_events(*state, messages, step_spans, true);
    } else {
      events.for_each_mutable([&](detail::Recorded<Event>& r) { journal.add_event(std::move(r.event()), r.step); });
      messages.for_each_mutable(
          [&](detail::Recorded<SessionEventMessage>& r) { journal.add_message(std::move(r.item), r.step); });
    }

    if (core_->spans) {
      // A timestep lasted until the next one started (the last one until now).
      std::int64_t index = 0;
      journal.steps.for_each([&](const SessionTimeStep& step) {
        const auto i = static_cast<std::size_t>(index);
        SpanData span = detail::structure_span(*state, step_spans[i], state->root_span, "timestep", step_starts[i],
                                               detail::timestep_span_attributes(step, index));
        if (i + 1 < n_steps && step_starts[i + 1] >= step_starts[i]) span.end = step_starts[i + 1];
        detail::take_span_events(*state, step_spans[i], span.events);
        core_->spans->end(std::move(span));
        ++index;
      });
    }
    core_->sessions_started.fetch_add(1, std::memory_order_relaxed);
    // Not registered as active: no thread records into it. Ending it keeps it for
    // get_session_trace and hands it to the spill, the hooks and the sinks.
    core_->end_session(state);
  } catch (...) {
    detail::count_failed_record(*core_, [&] {
      return "submit_finished_session(\"" + name + "\"): the session could not be handed over: " +
             detail::current_exception_text();
    });
  }
}

}  // namespace synth::tracing
