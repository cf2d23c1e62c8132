#include <algorithm>
#include <charconv>

#include "diagnostics.hpp"
#include "span/spans.hpp"
#include "tracer/state.hpp"
#include "tracer/thread_session.hpp"

namespace synth::tracing {

namespace detail {
namespace {

// Head sampling: a stable hash of the session id decides, so every process agrees on it.
bool sampled_in(std::string_view session_id, double rate) noexcept {
  if (rate >= 1.0) return true;
  if (rate <= 0.0) return false;
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a splitmix finalizer to spread it
  for (unsigned char c : session_id) h = (h ^ c) * 0x100000001b3ULL;
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * 0x1.0p-53 < rate;
}

}  // namespace
}  // namespace detail

// ---- scopes ----

SessionScope& SessionScope::operator=(SessionScope&& other) noexcept {
  if (this != &other) {
    end();
    session_ = std::move(other.session_);
  }
  return *this;
}

SessionScope::~SessionScope() { end(); }

void SessionScope::end() noexcept {
  if (!session_) return;
  const auto session = std::move(session_);
  session->core->end_session(session);
}

std::string_view SessionScope::session_id() const noexcept { return session_ ? std::string_view(session_->id) : ""; }

TimestepScope& TimestepScope::operator=(TimestepScope&& other) noexcept {
  if (this != &other) {
    // End this timestep (the destructor), then take over the other one (the move constructor).
    std::destroy_at(this);
    std::construct_at(this, std::move(other));
  }
  return *this;
}

TimestepScope::~TimestepScope() { end(); }

void TimestepScope::end() noexcept {
  if (!session_) return;
  const auto session = std::move(session_);
  // Restore the enclosing timestep, unless this thread has moved on to something else.
  Context* c = detail::ContextAccess::find(session->core.get());
  if (c != nullptr && detail::ContextAccess::session(*c) == session && c->step_index() == step_) {
    detail::ContextAccess::set_step(*c, previous_step_, previous_turn_);
    if (span_ != 0 && c->span_id() == span_) detail::ContextAccess::set_span(*c, previous_span_);
  }
  if (session->spill) session->core->spill->wake();
  if (span_ == 0) return;
  try {
    SessionTimeStep step{.step_id = step_id_, .step_index = step_, .turn_number = turn_};
    {
      // Its metadata as the journal holds it (on_timestep_start hooks may have set it); a session
      // ended from outside may have given its journal away.
      std::lock_guard lock(session->mutex);
      const auto& steps = session->journal.steps;
      if (static_cast<std::size_t>(step_) < steps.size()) step.step_metadata = steps.at(static_cast<std::size_t>(step_)).step_metadata;
    }
    SpanData span = detail::structure_span(*session, span_, previous_span_, "timestep", started_,
                                           detail::timestep_span_attributes(step, step_));
    detail::take_span_events(*session, span_, span.events);
    session->core->spans->end(std::move(span));
  } catch (...) {
    detail::report("the span of timestep '" + step_id_ + "' could not be made: " + detail::current_exception_text());
  }
}

// ---- SessionTracer ----

SessionTracer::SessionTracer() : SessionTracer(TracingConfig{}) {}

SessionTracer::SessionTracer(TracingConfig config) {
  config = config.load();
  enabled_ = config.enabled && config.mode != TracingMode::disabled;
  const std::filesystem::path save_dir = config.save_dir;
  core_ = std::make_shared<detail::TracerCore>(std::move(config));
  if (!enabled_) return;
  if (!core_->records_events && !core_->spans) {
    detail::report("mode otel without span export (no otel_endpoint, or OTEL_SDK_DISABLED / OTEL_TRACES_EXPORTER=none): "
                   "nothing recorded leaves the process");
  }
  if (!save_dir.empty()) add_sink(std::make_shared<JsonFileSink>(save_dir));
  if (!core_->config.collector->empty()) {
    const detail::OtelLayer* otel = detail::otel_layer();
    if (otel == nullptr) {
      throw Error("TracingConfig: collector '" + *core_->config.collector +
                  "' needs synth::tracing_otel (the collector sink), which this program does not link: link "
                  "synth::tracing_otel (or synth::tracing)");
    }
    add_sink(otel->make_collector_sink(core_->config));
  }
  detail::LiveTracers::track(core_);
  if (core_->config.handle_signals) handle_termination_signals();
}

SessionTracer::~SessionTracer() {
  core_->shutdown(std::chrono::steady_clock::now() + std::chrono::milliseconds(*core_->config.shutdown_timeout_ms));
}

const TracingConfig& SessionTracer::config() const noexcept { return core_->config; }

SessionScope SessionTracer::start_session(std::string session_id, Value metadata) {
  return begin_session(std::move(session_id), std::move(metadata), nullptr);
}

SessionScope SessionTracer::start_session(std::string session_id, Value metadata, const RemoteParent& parent) {
  return begin_session(std::move(session_id), std::move(metadata), &parent);
}

SessionScope SessionTracer::begin_session(std::string session_id, Value metadata, const RemoteParent* parent) {
  if (!enabled_) return {};
  if (const Context* c = detail::live_context(core_.get())) {
    throw TracingError("start_session(\"" + session_id + "\"): this thread already has session '" +
                       std::string(c->session_id()) + "' of this tracer; end it first (sessions do not nest)");
  }
  if (session_id.empty()) session_id = detail::uuid4();
  if ((parent != nullptr && !parent->sampled) || !detail::sampled_in(session_id, core_->config.sampling_rate)) {
    // Still a session for nesting and ending, but nothing is recorded or kept.
    core_->sessions_sampled_out.fetch_add(1, std::memory_order_relaxed);
    auto state = std::make_shared<detail::SessionState>(core_, std::move(session_id), false);
    detail::ContextAccess::install(detail::ContextAccess::make(state, -1, 0));
    SessionScope scope;
    scope.session_ = std::move(state);
    return scope;
  }
  if (!core_->hooks->empty()) {
    core_->hooks->for_each("on_session_start", session_id, [&](const TraceHooks& h) {
      if (h.on_session_start) h.on_session_start(session_id, metadata);
    });
  }
  auto state = std::make_shared<detail::SessionState>(core_, session_id, true, parent);
  detail::SessionJournal& journal = state->journal;
  journal.session_id = session_id;
  journal.created_at = now();
  if (!metadata.is_null() && !(metadata.is_object() && metadata.empty())) {
    journal.add_metadata(SessionMetadataEntry{std::string(kSessionStartMetadata), std::move(metadata), journal.created_at});
  }
  {
    std::lock_guard lock(core_->registry_mutex);
    auto& slot = core_->active[session_id];
    if (auto other = slot.lock(); other && !other->ended.load(std::memory_order_acquire)) {
      throw TracingError("start_session(\"" + session_id + "\"): a session with this id is already active");
    }
    slot = state;
  }
  core_->sessions_started.fetch_add(1, std::memory_order_relaxed);
  detail::ContextAccess::install(detail::ContextAccess::make(state, -1, 0));
  SessionScope scope;
  scope.session_ = std::move(state);
  return scope;
}

void SessionTracer::end_session() noexcept {
  if (!enabled_) return;
  if (Context* c = detail::live_context(core_.get())) {
    const auto session = detail::ContextAccess::session(*c);
    core_->end_session(session);
  }
}

TimestepScope SessionTracer::timestep(std::int64_t turn, std::string step_id, Value step_metadata) {
  if (!enabled_) return {};
  try {
    return start_timestep(turn, std::move(step_id), std::move(step_metadata));
  } catch (const detail::EndedFromOutside&) {
    detail::count_ended_from_outside(*core_, "timestep()");
    return {};
  }
}

namespace {
// "step_<turn>", written in place: "step_" + std::to_string(turn) makes two strings for one.
std::string default_step_id(std::int64_t turn) {
  char text[32] = "step_";
  const char* end = std::to_chars(text + 5, text + sizeof text, turn).ptr;
  return std::string(text, static_cast<std::size_t>(end - text));
}
}  // namespace

TimestepScope SessionTracer::start_timestep(std::int64_t turn, std::string step_id, Value step_metadata) {
  Context* c = detail::live_context(core_.get());
  if (c == nullptr) detail::no_session(*core_, "timestep()");
  const auto session = detail::ContextAccess::session(*c);
  if (!session->recording) return {};
  TimestepScope scope;
  try {
    const bool default_id = step_id.empty();
    SessionTimeStep step{.step_id = default_id ? default_step_id(turn) : std::move(step_id),
                         .turn_number = turn,
                         .timestamp = now(),
                         .step_metadata = std::move(step_metadata)};
    if (!core_->hooks->empty()) {
      core_->hooks->for_each("on_timestep_start", session->id, [&](const TraceHooks& h) {
        if (h.on_timestep_start) h.on_timestep_start(session->id, step);
      });
    }
    {
      std::lock_guard lock(session->mutex);
      if (session->ended.load(std::memory_order_relaxed)) detail::no_session(*core_, "timestep()");
      const bool rising_default = default_id && turn > session->last_default_turn;
      if (session->step_ids_deferred && rising_default) {
        session->last_default_turn = turn;  // every id so far is "step_<t>" with t < turn
      } else if (session->step_ids_deferred) {
        session->journal.steps.for_each([&](const SessionTimeStep& s) { session->step_ids.insert(s.step_id); });
        session->step_ids_deferred = false;
      }
      // One lookup when the id is new (the common case): the insertion tells.
      if (!session->step_ids_deferred && !session->step_ids.insert(step.step_id).second) {
        if (!default_id) {
          throw TracingError("timestep(" + std::to_string(turn) + ", \"" + step.step_id +
                             "\"): this step id is already used in session '" + session->id + "'");
        }
        const std::string base = step.step_id;
        for (std::size_t n = 1; session->step_ids.contains(step.step_id); ++n) {
          step.step_id = base + "_" + std::to_string(n);
        }
        session->step_ids.insert(step.step_id);
      }
      step.step_index = static_cast<std::int64_t>(session->journal.steps.size());
      scope.step_id_ = step.step_id;
      scope.step_ = step.step_index;
      session->journal.add_step(std::move(step));
    }
  } catch (const std::bad_alloc&) {
    // The agent goes on; what it records lands in the enclosing step.
    detail::count_failed_record(*core_, [&] { return "timestep(" + std::to_string(turn) + ") could not start: out of memory"; });
    return {};
  }
  scope.session_ = session;
  // The hooks may have moved this thread's contexts (a session of another tracer started in one
  // grows the table): look this one up again.
  c = detail::ContextAccess::find(core_.get());
  if (c == nullptr || detail::ContextAccess::session(*c) != session) return scope;
  scope.previous_step_ = c->step_index();
  scope.previous_turn_ = c->turn();
  detail::ContextAccess::set_step(*c, scope.step_, turn);
  if (core_->spans) {
    scope.span_ = detail::random_id();
    scope.previous_span_ = c->span_id();
    scope.turn_ = turn;
    scope.started_ = now();
    detail::ContextAccess::set_span(*c, scope.span_);  // scopes inside are the timestep's children
  }
  return scope;
}

bool SessionTracer::in_session() const noexcept { return enabled_ && detail::live_context(core_.get()) != nullptr; }

std::string SessionTracer::current_session_id() const {
  const Context* c = enabled_ ? detail::live_context(core_.get()) : nullptr;
  return c ? std::string(c->session_id()) : std::string();
}

std::int64_t SessionTracer::current_turn() const noexcept {
  const Context* c = enabled_ ? detail::live_context(core_.get()) : nullptr;
  return c ? c->turn() : 0;
}

std::shared_ptr<const SessionTrace> SessionTracer::get_session_trace(std::string_view session_id) const {
  std::shared_ptr<detail::SessionState> active;
  std::shared_ptr<detail::FinishedSession> finished;
  {
    std::lock_guard lock(core_->registry_mutex);
    if (const auto it = core_->active.find(std::string(session_id)); it != core_->active.end()) {
      active = it->second.lock();
    }
    if (!active) {
      const auto it = std::find_if(core_->finished.rbegin(), core_->finished.rend(),
                                   [&](const auto& f) { return f->id() == session_id; });  // the newest
      if (it != core_->finished.rend()) finished = *it;
    }
  }
  if (active) {
    std::lock_guard lock(active->mutex);
    if (!active->ended.load(std::memory_order_relaxed)) {
      // The spill writer masks checkpointed items in place, outside the session's lock: they show
      // masked here (README, "Reading a session").
      std::unique_lock<std::mutex> reading;
      if (active->spill) reading = std::unique_lock(active->spill->read_mutex);
      return std::make_shared<const SessionTrace>(active->journal.snapshot());
    }
    finished = active->finished.lock();  // ending: not yet among the finished sessions
  }
  if (!finished) finished = detail::EndedOnThisThread::find(core_.get(), session_id);
  return finished ? finished->trace() : nullptr;
}

void SessionTracer::add_hook(TraceHooks hooks) {
  const bool ends_sessions = bool(hooks.on_session_end);
  core_->hooks->add(std::move(hooks));
  if (ends_sessions) core_->dispatcher.start();  // on_session_end runs on the background thread
}

void SessionTracer::add_sink(std::shared_ptr<SessionSink> sink) {
  if (sink == nullptr) throw TracingError("add_sink(): the sink is null");
  if (const detail::OtelLayer* otel = detail::otel_layer()) {
    TracerStats probe;
    if (otel->add_collector_stats(*sink, probe)) {
      std::lock_guard lock(core_->registry_mutex);
      core_->collectors.push_back(sink);
    }
  }
  core_->dispatcher.add_sink(std::move(sink));
  core_->dispatcher.start_spill(core_);
}

std::size_t SessionTracer::end_all_sessions(std::string reason, std::chrono::milliseconds timeout) {
  if (!enabled_) return 0;
  const std::size_t ended = core_->end_all_sessions(reason);
  flush(timeout);
  return ended;
}

bool SessionTracer::flush(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool done = core_->dispatcher.flush(timeout);
  if (core_->spans) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    done = core_->spans->flush(std::max(left, std::chrono::milliseconds(0))) && done;
  }
  return done;
}

Context SessionTracer::current_context() const noexcept {
  const Context* c = enabled_ ? detail::live_context(core_.get()) : nullptr;
  return c ? *c : Context();
}

TracerStats SessionTracer::stats() const {
  TracerStats s;
  s.sessions_started = core_->sessions_started.load(std::memory_order_relaxed);
  s.sessions_ended = core_->sessions_ended.load(std::memory_order_relaxed);
  s.events_recorded = core_->events_in_ended.load(std::memory_order_relaxed) +
                      core_->span_events_recorded.load(std::memory_order_relaxed);
  s.messages_recorded = core_->messages_in_ended.load(std::memory_order_relaxed) +
                        core_->span_messages_recorded.load(std::memory_order_relaxed);
  s.hook_errors = core_->hooks->errors();
  s.capture_errors = core_->capture_errors.load(std::memory_order_relaxed);
  s.records_failed = core_->records_failed.load(std::memory_order_relaxed);
  s.sessions_sampled_out = core_->sessions_sampled_out.load(std::memory_order_relaxed);
  s.sessions_dropped = core_->dispatcher.dropped();
  s.sink_errors = core_->dispatcher.errors();
  s.sessions_lost = core_->dispatcher.lost();
  s.sessions_pending = core_->dispatcher.pending();
  if (core_->spill) {
    const detail::SpillCounters spill = core_->spill->counters();
    s.sessions_overflowed = spill.overflowed;
    s.sessions_recovered = spill.recovered;
    s.records_not_checkpointed = spill.records_refused;
    s.spill_bytes = spill.bytes;
  }
  if (core_->spans) {
    const BatchStats spans = core_->spans->stats();
    s.spans_ended = spans.spans_ended;
    s.spans_exported = spans.spans_exported;
    s.spans_dropped = spans.spans_dropped;
    s.spans_failed = spans.spans_failed;
    s.spans_queued = spans.queued;
  }
  std::vector<std::shared_ptr<detail::SessionState>> active;
  {
    std::lock_guard lock(core_->registry_mutex);
    for (const auto& collector : core_->collectors) detail::otel_layer()->add_collector_stats(*collector, s);
    for (const auto& [id, weak] : core_->active) {
      if (auto state = weak.lock()) active.push_back(std::move(state));
    }
  }
  for (const auto& state : active) {
    std::lock_guard lock(state->mutex);
    if (state->ended.load(std::memory_order_relaxed)) continue;
    s.events_recorded += state->journal.events.size();
    s.messages_recorded += state->journal.messages.size();
  }
  return s;
}

}  // namespace synth::tracing
