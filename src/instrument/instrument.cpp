#include "synth/tracing/instrument.hpp"

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "diagnostics.hpp"
#include "hex.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

namespace detail {

namespace {
// A copy of a string in block memory (tracer/journal.hpp): wherever it is freed, the memory goes
// back to the thread that made the copy.
class BlockText {
 public:
  BlockText() = default;
  BlockText(const BlockText&) = delete;
  BlockText& operator=(const BlockText&) = delete;
  ~BlockText() { clear(); }
  void assign(std::string_view text) {
    clear();
    if (text.empty()) return;
    // Few block sizes, so that the per-thread free lists stay short.
    const std::size_t bytes = (text.size() + 63) / 64 * 64;
    block_ = allocate_block(bytes);
    bytes_ = bytes;
    size_ = text.size();
    std::memcpy(block_.data, text.data(), text.size());
  }
  std::string_view view() const noexcept { return {static_cast<const char*>(block_.data), size_}; }

 private:
  void clear() noexcept {
    if (bytes_ != 0) release_block(block_, bytes_);
    bytes_ = size_ = 0;
  }
  Block block_{nullptr, nullptr};
  std::size_t bytes_ = 0;
  std::size_t size_ = 0;
};
}  // namespace

/// A recording scope's state (an inert scope has none). When the scope closes, the state itself
/// is what the session's journal keeps: its event (metadata, hex ids) is built when the session is
/// read, on the sink thread, instead of on the agent's (unless on_event hooks need the event at
/// once: then close() builds it). With span export on, the state is also the scope's
/// PendingSpan: the span, too, is built from it on the export thread. Journal and export queue
/// then share it (`refs`); while both hold it, the event is built by copying, never by moving
/// out of the state the export thread reads.
struct ScopeState : PendingSpan {
  virtual ~ScopeState() = default;
  // States come from the journal's per-thread blocks (tracer/journal.hpp): a state the sink
  // thread frees goes back to the agent that opened the scope, whose pages are already touched.
  static void* operator new(std::size_t bytes) {
    const Block block = allocate_block(bytes + kOwnerBytes);
    *static_cast<BlockCache**>(block.data) = block.owner;
    return static_cast<char*>(block.data) + kOwnerBytes;
  }
  static void operator delete(void* state, std::size_t bytes) noexcept {
    char* start = static_cast<char*>(state) - kOwnerBytes;
    release_block(Block{start, *reinterpret_cast<BlockCache**>(start)}, bytes + kOwnerBytes);
  }
  static constexpr std::size_t kOwnerBytes = alignof(std::max_align_t);

  Context where;  // session and timestep the event goes to (emptied once recorded)
  std::string name;
  std::uint64_t span = 0;
  std::uint64_t parent = 0;
  std::chrono::steady_clock::time_point started;
  Timestamp started_at{};
  int exceptions_at_open = 0;
  Value error;
  Value metadata;
  // Set when the scope closes.
  double duration_ms = 0;
  std::int64_t turn = 0;
  std::uint64_t trace_id_high = 0;
  std::uint64_t trace_id_low = 0;
  /// Builds the event, moving out of the state (`consume`) or copying it; nullopt: none.
  std::optional<Event> (*make_event)(ScopeState& state, bool consume) = nullptr;

  // Span export: what the span needs once the state has left the agent's thread.
  std::atomic<std::uint32_t> refs{1};  // the journal and the export queue
  std::int64_t step_index = -1;
  BlockText session_id;
  std::vector<SpanEvent> span_events;  // mode otel: recorded directly inside the scope
  /// The span, from the state and its event (made by `make_event`).
  SpanData (*span_of)(const ScopeState& state, const Event* event) = nullptr;

  /// The span, built on the export thread from a copy of the event, as close() builds it.
  SpanData build() override;
  void release() noexcept override;

  /// Heap memory of the values and strings the event will hold (scope_event_bytes).
  virtual std::size_t value_bytes() const noexcept {
    return name.capacity() + value_heap_bytes(error) + value_heap_bytes(metadata);
  }
};

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

namespace {

struct AiCallState : ScopeState {
  std::string model;
  std::string system_id;
  std::string provider;
  std::string response_model;
  Value request;
  Value response;
  std::optional<TokenUsage> usage;
  std::optional<double> cost;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + model.capacity() + system_id.capacity() + provider.capacity() +
           value_heap_bytes(request) + value_heap_bytes(response);
  }
};

struct EnvironmentStepState : ScopeState {
  std::string system_id;
  Value before;
  Value after;
  Value diff;
  std::optional<double> reward;
  std::optional<bool> terminated;
  std::optional<bool> truncated;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + system_id.capacity() + value_heap_bytes(before) + value_heap_bytes(after) +
           value_heap_bytes(diff);
  }
};

struct RuntimeOperationState : ScopeState {
  std::string system_id;
  Value actions;
  Value before;
  Value after;
  std::optional<bool> success;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + system_id.capacity() + value_heap_bytes(actions) + value_heap_bytes(before) +
           value_heap_bytes(after);
  }
};

struct SpanState : ScopeState {
  bool record_event = false;
  std::string system_id;
  Value attributes;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + system_id.capacity() + value_heap_bytes(attributes);
  }
};

// Merges an object's members into `into` (or keeps a non-object under "state").
void merge_state(Value& into, Value state) {
  if (state.is_object() && (into.is_null() || into.is_object())) {
    for (auto& [k, v] : state.as_object()) into.set(k, std::move(v));
  } else if (into.is_null()) {
    into = std::move(state);
  } else {
    into.set("state", std::move(state));
  }
}

// The metadata of a scope's event: the user's keys (set()) first, then the scope's own. Without
// user keys the scope's are appended unchecked (they are distinct); with them, a user key of
// the same name is replaced, as set() does.
struct ScopeMetadata {
  Value value;  // an object
  bool has_user_keys = false;
  void put(std::string_view key, Value v) {
    if (has_user_keys) {
      value.set(key, std::move(v));
    } else {
      value.as_object().emplace_back(std::string(key), std::move(v));
    }
  }
};

SpanIdentity identity_of(std::uint64_t trace_id_high, std::uint64_t trace_id_low, const ScopeState& s) {
  SpanIdentity id;
  id.trace_id.resize(32);
  write_hex(id.trace_id.data(), trace_id_high);
  write_hex(id.trace_id.data() + 16, trace_id_low);
  id.span_id.resize(16);
  write_hex(id.span_id.data(), s.span);
  if (s.parent != 0) {
    id.parent_span_id.resize(16);
    write_hex(id.parent_span_id.data(), s.parent);
  }
  return id;
}

template <class State>
State* state_of(const std::unique_ptr<ScopeState, ScopeStateDeleter>& p) noexcept {
  return static_cast<State*>(p.get());
}

// Applies a setter's change to a recording scope's state. Out of memory loses that one value,
// counted (TracerStats::records_failed): the agent never sees it.
template <class State, class Change>
void change_state(const std::unique_ptr<ScopeState, ScopeStateDeleter>& p, Change&& apply) noexcept {
  State* s = state_of<State>(p);
  if (s == nullptr) return;
  try {
    apply(*s);
  } catch (...) {
    count_failed_record(*ContextAccess::session(s->where)->core, [&] {
      return "scope '" + s->name + "' could not record a value: " + current_exception_text();
    });
  }
}

}  // namespace

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

template <class MakeState>
void ScopeBase::open(Context& where, std::string_view name, MakeState&& make_state) noexcept {
  try {
    auto state = make_state();
    state->name = name;
    state->exceptions_at_open = std::uncaught_exceptions();
    state->span = random_id();
    state->parent = where.span_id();
    ContextAccess::set_span(where, state->span);  // scopes opened inside this one become its children
    state->where = where;
    state->started_at = now();
    state->started = std::chrono::steady_clock::now();
    state_.reset(state.release());
  } catch (...) {
    count_failed_record(*ContextAccess::session(where)->core, [&] {
      return "scope '" + std::string(name) + "' could not start: " + current_exception_text();
    });
  }
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

namespace {
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
}  // namespace

namespace {
template <class State>
constexpr std::string_view kind_of = std::is_same_v<State, AiCallState>            ? "ai_call"
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
                    .session_id = s.session_id.view(),
                    .trace_id_high = s.trace_id_high,
                    .trace_id_low = s.trace_id_low,
                    .span_id = s.span,
                    .parent_span_id = s.parent,
                    .start = s.started_at,
                    .end = s.started_at + std::chrono::duration_cast<Timestamp::duration>(
                                              std::chrono::duration<double, std::nano>(s.duration_ms * 1e6)),
                    .turn = s.turn,
                    .step_index = s.step_index,
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
bool record_scoped_state(std::unique_ptr<ScopeState, ScopeStateDeleter>& state, const Context& where) {
  SessionState& session = *ContextAccess::session(where);
  if (!session.recording) return true;  // sampled out: nothing is kept
  const std::int64_t step = where.step_index();
  std::lock_guard lock(session.mutex);
  if (session.ended.load(std::memory_order_relaxed)) return false;
  session.journal.events.emplace_back(std::move(state), step);
  return true;
}
}  // namespace

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
      s.session_id.assign(session->id);
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

}  // namespace detail

using detail::state_of;

// ---- ai_call ----

void AiCallScope::start(Context& where, std::string_view operation, const AiCallOptions& options) noexcept {
  open(where, operation, [&] {
    auto s = std::make_unique<detail::AiCallState>();
    s->model = options.model;
    s->system_id = options.system_id;
    if (!options.provider.empty()) {
      // A thread's calls name the same provider over and over (an LM client's, say): the last
      // one normalized is kept rather than normalized again (lowercasing, ~50 aliases compared).
      thread_local std::string last_given, last_normalized;
      if (options.provider != last_given) {
        std::string normalized = normalize_provider(options.provider);
        std::string given(options.provider);
        last_normalized.swap(normalized);  // both or neither: out of memory leaves the old pair
        last_given.swap(given);
      }
      s->provider = last_normalized;
    }
    return s;
  });
}

AiCallScope& AiCallScope::request(Value request) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->request = std::move(request);
  return *this;
}
AiCallScope& AiCallScope::response(Value response) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->response = std::move(response);
  return *this;
}
AiCallScope& AiCallScope::usage(const TokenUsage& usage) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->usage = usage;
  return *this;
}
AiCallScope& AiCallScope::cost(double usd) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->cost = usd;
  return *this;
}
AiCallScope& AiCallScope::response_model(std::string_view model) {
  detail::change_state<detail::AiCallState>(state_, [&](auto& s) { s.response_model = model; });
  return *this;
}

void AiCallScope::end() noexcept {
  close<detail::AiCallState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    CAISEvent e;
    e.time_record = TimeRecord{s.started_at, s.turn};
    e.system_instance_id = take(s.system_id);
    e.system_state_before = take(s.request);
    e.system_state_after = take(s.response);
    e.span_id = std::move(id.span_id);
    e.trace_id = std::move(id.trace_id);
    // The model that answered, when it differs from the one asked for.
    const bool renamed = !s.response_model.empty() && s.response_model != s.model;
    if (renamed && !s.model.empty()) md.put("request_model", take(s.model));
    auto& model = renamed ? s.response_model : s.model;
    if (!model.empty()) e.model_name = take(model);
    if (!s.provider.empty()) e.provider = take(s.provider);  // else detected when assembled
    if (s.usage) {
      e.prompt_tokens = s.usage->prompt_tokens;
      e.completion_tokens = s.usage->completion_tokens;
      std::int64_t total = 0;
      if (__builtin_add_overflow(s.usage->prompt_tokens, s.usage->completion_tokens, &total)) {
        total = s.usage->prompt_tokens > 0 ? INT64_MAX : INT64_MIN;  // nonsense counts saturate, never wrap
      }
      e.total_tokens = total;
      if (s.usage->cached_tokens > 0) e.cached_tokens = s.usage->cached_tokens;
      if (s.usage->cache_write_tokens > 0) e.cache_write_tokens = s.usage->cache_write_tokens;
      if (s.usage->reasoning_tokens > 0) e.reasoning_tokens = s.usage->reasoning_tokens;
    }
    e.cost = s.cost;
    // A cost set on the scope is the provider's; the viewer shows where each cost came from. A
    // call without one is priced when it leaves the process (OutgoingPolicy::price records the
    // price table's date there).
    if (s.cost) md.put("cost_source", "provider");
    e.latency_ms = s.duration_ms;
    md.put("operation", s.name);
    e.metadata = std::move(md.value);
    return std::optional<Event>(std::move(e));
  });
}

// ---- environment_step ----

void EnvironmentStepScope::start(Context& where, std::string_view name,
                                 const EnvironmentStepOptions& options) noexcept {
  open(where, name, [&] {
    auto s = std::make_unique<detail::EnvironmentStepState>();
    s->system_id = options.system_id;
    return s;
  });
}

EnvironmentStepScope& EnvironmentStepScope::action(Value action) {
  detail::change_state<detail::EnvironmentStepState>(state_, [&](auto& s) { s.before.set("action", std::move(action)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation(Value observation) {
  detail::change_state<detail::EnvironmentStepState>(state_,
                                                     [&](auto& s) { s.after.set("observation", std::move(observation)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::reward(double reward) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->reward = reward;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::terminated(bool terminated) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->terminated = terminated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::truncated(bool truncated) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->truncated = truncated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_before(Value state) {
  detail::change_state<detail::EnvironmentStepState>(state_, [&](auto& s) { detail::merge_state(s.before, std::move(state)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_after(Value state) {
  detail::change_state<detail::EnvironmentStepState>(state_, [&](auto& s) { detail::merge_state(s.after, std::move(state)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation_diff(Value diff) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->diff = std::move(diff);
  return *this;
}

void EnvironmentStepScope::end() noexcept {
  close<detail::EnvironmentStepState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    md.put("step", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    return std::optional<Event>(EnvironmentEvent{.time_record = TimeRecord{s.started_at, s.turn},
                                                 .system_instance_id = take(s.system_id),
                                                 .system_state_before = take(s.before),
                                                 .system_state_after = take(s.after),
                                                 .reward = s.reward,
                                                 .terminated = s.terminated,
                                                 .truncated = s.truncated,
                                                 .observation_diff = take(s.diff),
                                                 .metadata = std::move(md.value)});
  });
}

// ---- runtime_operation ----

void RuntimeOperationScope::start(Context& where, std::string_view operation_type,
                                  const RuntimeOperationOptions& options) noexcept {
  open(where, operation_type, [&] {
    auto s = std::make_unique<detail::RuntimeOperationState>();
    s->system_id = options.system_id;
    return s;
  });
}

RuntimeOperationScope& RuntimeOperationScope::actions(Value actions) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->actions = std::move(actions);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::success(bool success) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->success = success;
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_before(Value state) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->before = std::move(state);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_after(Value state) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->after = std::move(state);
  return *this;
}

void RuntimeOperationScope::end() noexcept {
  close<detail::RuntimeOperationState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    md.put("operation_type", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    md.put("success", s.success.value_or(!md.value.contains("error")));
    return std::optional<Event>(RuntimeEvent{.time_record = TimeRecord{s.started_at, s.turn},
                                             .system_instance_id = take(s.system_id),
                                             .system_state_before = take(s.before),
                                             .system_state_after = take(s.after),
                                             .actions = take(s.actions),
                                             .metadata = std::move(md.value)});
  });
}

// ---- trace_span ----

void SpanScope::start(Context& where, std::string_view name, Value attributes, const SpanOptions& options) noexcept {
  open(where, name, [&] {
    auto s = std::make_unique<detail::SpanState>();
    s->record_event = options.record_event;
    s->system_id = options.system_id;
    s->attributes = std::move(attributes);
    return s;
  });
}

SpanScope& SpanScope::set(std::string_view key, Value value) {
  detail::change_state<detail::SpanState>(state_, [&](auto& s) { s.attributes.set(key, std::move(value)); });
  return *this;
}

void SpanScope::end() noexcept {
  close<detail::SpanState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) -> std::optional<Event> {
    if (!s.record_event) return std::nullopt;
    md.put("span", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    md.put("attributes", take(s.attributes));
    return RuntimeEvent{.time_record = TimeRecord{s.started_at, s.turn},
                        .system_instance_id = take(s.system_id),
                        .metadata = std::move(md.value)};
  });
}

}  // namespace synth::tracing
