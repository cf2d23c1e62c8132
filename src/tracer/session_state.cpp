// The tracer's shared state: ids, sessions and the core every SessionTracer and scope points to.
#include <algorithm>
#include <cstdio>
#include <random>

#include "diagnostics.hpp"
#include "tracer/state.hpp"

namespace synth::tracing::detail {
namespace {

// SplitMix64 (Steele, Lea and Flood, 2014) from a random seed per thread: ids must be unique and
// unguessable enough for tracing, not secret, and every scope opens with one. It takes a few
// instructions where std::mt19937_64 took about 60 (from a seed of the same 64 bits), and never
// repeats within a thread (a bijection of a counter).
struct IdGenerator {
  std::uint64_t state;
  std::uint64_t operator()() noexcept {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
};

IdGenerator& id_generator() {
  thread_local IdGenerator generator{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  return generator;
}

}  // namespace

std::string uuid4() {
  auto& rng = id_generator();
  std::uint64_t hi = rng();
  std::uint64_t lo = rng();
  hi = (hi & 0xFFFFFFFFFFFF0FFFULL) | 0x0000000000004000ULL;  // version 4
  lo = (lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;  // RFC 4122 variant
  char buf[37];
  std::snprintf(buf, sizeof buf, "%08x-%04x-%04x-%04x-%012llx", static_cast<unsigned>(hi >> 32),
                static_cast<unsigned>((hi >> 16) & 0xFFFF), static_cast<unsigned>(hi & 0xFFFF),
                static_cast<unsigned>(lo >> 48), static_cast<unsigned long long>(lo & 0xFFFFFFFFFFFFULL));
  return buf;
}

SpanData structure_span(const SessionState& session, std::uint64_t span_id, std::uint64_t parent, std::string name,
                        Timestamp start, Value attributes) {
  SpanData span;
  span.trace_id_high = session.trace_id_high;
  span.trace_id_low = session.trace_id_low;
  span.span_id = span_id;
  span.parent_span_id = parent;
  span.name = name;
  span.start = start;
  span.end = now();
  span.attributes = std::move(attributes);
  span.attributes.set("gen_ai.conversation.id", session.id);
  span.attributes.set("synth.kind", std::move(name));
  return span;
}

bool add_span_event(SessionState& session, std::uint64_t span, SpanEvent&& event, bool is_message) {
  {
    std::lock_guard lock(session.mutex);
    if (session.ended.load(std::memory_order_relaxed)) return false;
    session.span_events.emplace_back(span, std::move(event));
    session.has_span_events.store(true, std::memory_order_relaxed);
  }
  (is_message ? session.core->span_messages_recorded : session.core->span_events_recorded)
      .fetch_add(1, std::memory_order_relaxed);
  return true;
}

void take_span_events(SessionState& session, std::uint64_t span, std::vector<SpanEvent>& into) {
  if (!session.has_span_events.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(session.mutex);
  const bool all = span == session.root_span;  // including those of spans that never ended
  auto kept = session.span_events.begin();
  for (auto& [id, event] : session.span_events) {
    if (all || id == span) {
      into.push_back(std::move(event));
    } else {
      *kept++ = {id, std::move(event)};
    }
  }
  session.span_events.erase(kept, session.span_events.end());
  session.has_span_events.store(!session.span_events.empty(), std::memory_order_relaxed);
}

std::uint64_t random_id() noexcept {
  std::uint64_t id = 0;
  while (id == 0) id = id_generator()();
  return id;
}

SessionState::SessionState(std::shared_ptr<TracerCore> owner, std::string session_id, bool sampled_in,
                           const RemoteParent* parent)
    : core(std::move(owner)),
      id(std::move(session_id)),
      recording(sampled_in),
      trace_id_high(parent ? parent->trace_id_high : random_id()),
      trace_id_low(parent ? parent->trace_id_low : random_id()),
      root_span(random_id()),
      remote_parent_span(parent ? parent->span_id : 0),
      trace_state(parent ? parent->trace_state : std::string()),
      spill(sampled_in && core->spill ? std::make_shared<SpillCursor>() : nullptr),
      journal(core->config.max_finished_sessions > 0) {}

namespace {
// The span export of synth::tracing_otel, when it is linked and spans are wanted. Without it the
// tracer goes on without spans and says so: an OTEL_EXPORTER_OTLP_ENDPOINT meant for other
// programs must not stop this one.
std::unique_ptr<SpanProcessor> span_export(const TracingConfig& config, std::shared_ptr<const OutgoingPolicy> policy) {
  if (const OtelLayer* otel = otel_layer()) return otel->make_span_processor(config, std::move(policy));
  const bool wants_spans = *config.mode == TracingMode::dual || *config.mode == TracingMode::otel;
  static std::atomic<bool> reported{false};
  if (config.enabled && wants_spans && !config.otel_endpoint->empty() && !reported.exchange(true)) {
    report("otel_endpoint '" + *config.otel_endpoint + "' is set, but synth::tracing_otel (span export) is not "
           "linked: no spans are exported; link synth::tracing_otel (or synth::tracing)");
  }
  return nullptr;
}
}  // namespace

TracerCore::TracerCore(TracingConfig cfg)
    : config(std::move(cfg)),
      outgoing(std::make_shared<const OutgoingPolicy>(config)),
      spans(span_export(config, outgoing)),
      records_events(config.mode != TracingMode::otel),
      spill(config.checkpoint && records_events ? std::make_shared<SpillWriter>(config, outgoing) : nullptr),
      hooks(std::make_shared<HookList>()),
      dispatcher(config, hooks, records_events, spill) {}

void TracerCore::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  if (spans) spans->export_soon();  // both drain at once; the waits below share the deadline
  dispatcher.shutdown(deadline);
  // After the sinks: it deletes the files of what they stored, and keeps what they did not.
  if (spill) spill->shutdown(std::max(deadline, std::chrono::steady_clock::now()) + kShutdownGrace);
  if (spans) spans->shutdown(deadline);
}

std::size_t TracerCore::end_all_sessions(const std::string& reason) noexcept {
  std::vector<std::shared_ptr<SessionState>> sessions;
  try {
    std::lock_guard lock(registry_mutex);
    for (const auto& [id, weak] : active) {
      if (auto session = weak.lock()) sessions.push_back(std::move(session));
    }
  } catch (...) {
    report("end_all_sessions: out of memory listing the active sessions");
    return 0;
  }
  std::size_t ended = 0;
  for (const auto& session : sessions) {
    try {
      std::lock_guard lock(session->mutex);
      if (session->ended.load(std::memory_order_relaxed)) continue;
      session->ended_from_outside.store(true, std::memory_order_relaxed);
      session->journal.add_metadata(aborted_status(reason));
    } catch (...) {
      // Ended without its status entry rather than not at all.
    }
    end_session(session);
    ++ended;
  }
  return ended;
}

void TracerCore::end_session(const std::shared_ptr<SessionState>& session) noexcept {
  if (!session->recording) {
    session->ended.store(true, std::memory_order_release);
    if (Context* c = ContextAccess::find(this); c != nullptr && ContextAccess::session(*c) == session) {
      ContextAccess::remove(this);
    }
    return;
  }
  std::shared_ptr<FinishedSession> finished_session;
  try {
    std::lock_guard lock(session->mutex);
    if (session->ended.load(std::memory_order_relaxed)) return;
    session->ended.store(true, std::memory_order_release);
    finished_session = std::make_shared<FinishedSession>(std::move(session->journal), outgoing, session->spill);
    session->finished = finished_session;
  } catch (...) {
    report("could not end session '" + session->id + "': " + current_exception_text());
    return;
  }
  // This thread no longer records into the session.
  if (Context* c = ContextAccess::find(this); c != nullptr && ContextAccess::session(*c) == session) {
    ContextAccess::remove(this);
  }
  sessions_ended.fetch_add(1, std::memory_order_relaxed);
  if (spans) {
    SpanData root = structure_span(*session, session->root_span, session->remote_parent_span, "session",
                                   finished_session->created_at(),
                                   {{"synth.events", static_cast<std::int64_t>(finished_session->event_count())},
                                    {"synth.messages", static_cast<std::int64_t>(finished_session->message_count())}});
    root.trace_state = session->trace_state;  // received with the remote parent
    take_span_events(*session, session->root_span, root.events);
    spans->end(std::move(root));
    if (config.otel_flush_on_session_end) spans->export_soon();
  }
  events_in_ended.fetch_add(finished_session->event_count(), std::memory_order_relaxed);
  messages_in_ended.fetch_add(finished_session->message_count(), std::memory_order_relaxed);
  // Leaves the active sessions and joins the finished ones at once: get_session_trace finds it in
  // one or the other (or through the session in between). When a bound is passed the oldest go
  // (freed by the background thread); the newest always stays.
  const bool keep = config.max_finished_sessions > 0;
  std::vector<std::shared_ptr<FinishedSession>> evicted;
  try {
    std::lock_guard lock(registry_mutex);
    const auto it = active.find(session->id);
    if (it != active.end() && it->second.lock() == session) active.erase(it);
    if (keep) {
      finished.push_back(finished_session);
      finished_bytes += finished_session->footprint();
      while (finished.size() > 1 &&
             (finished.size() > config.max_finished_sessions || finished_bytes > config.max_finished_bytes)) {
        evicted.push_back(finished.front());  // first: nothing changes if this throws
        finished_bytes -= finished.front()->footprint();
        finished.pop_front();
      }
    }
  } catch (...) {
    report("could not keep finished session '" + session->id + "' in memory: " + current_exception_text());
  }
  if (keep) {
    try {
      evicted.push_back(EndedOnThisThread::remember(session->core, finished_session));
    } catch (...) {
      // Out of memory: the one remembered before is freed here instead.
    }
  }
  dispatcher.release(evicted);  // before submit(): the thread it wakes frees them
  dispatcher.submit(std::move(finished_session));
}


}  // namespace synth::tracing::detail
