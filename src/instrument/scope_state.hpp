// What a recording scope keeps between its opening and its event: the state every scope has
// (ScopeState) and each kind's (ai_call, environment_step, runtime_operation, trace_span), with
// the helpers the scopes' setters use. Internal: included by the scope code only.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>

#include "diagnostics.hpp"
#include "hex.hpp"
#include "synth/tracing/instrument.hpp"
#include "tracer/state.hpp"

namespace synth::tracing::detail {

// Copies of two strings in one piece of block memory (tracer/journal.hpp), one allocation for
// both: wherever it is freed, the memory goes back to the thread that made the copy.
class BlockTexts {
 public:
  BlockTexts() = default;
  BlockTexts(const BlockTexts&) = delete;
  BlockTexts& operator=(const BlockTexts&) = delete;
  ~BlockTexts() { clear(); }
  void assign(std::string_view first, std::string_view second) {
    clear();
    const std::size_t size = first.size() + second.size();
    if (size == 0) return;
    // Few block sizes, so that the per-thread free lists stay short.
    const std::size_t bytes = (size + 63) / 64 * 64;
    block_ = allocate_block(bytes);
    bytes_ = bytes;
    first_ = first.size();
    second_ = second.size();
    // An empty view may have no data at all: memcpy must not be given its null pointer.
    if (!first.empty()) std::memcpy(block_.data, first.data(), first.size());
    if (!second.empty()) std::memcpy(static_cast<char*>(block_.data) + first.size(), second.data(), second.size());
  }
  std::string_view first() const noexcept { return {static_cast<const char*>(block_.data), first_}; }
  std::string_view second() const noexcept { return {static_cast<const char*>(block_.data) + first_, second_}; }

 private:
  void clear() noexcept {
    if (bytes_ != 0) release_block(block_, bytes_);
    bytes_ = first_ = second_ = 0;
  }
  Block block_{nullptr, nullptr};
  std::size_t bytes_ = 0;
  std::size_t first_ = 0;
  std::size_t second_ = 0;
};

// The wall-clock time at steady-clock time `t`, as now() would have read it then (to the
// microsecond), so that opening a scope reads one clock instead of two. The system and steady
// clocks advance together (NTP slews both), so their offset only changes when the wall clock is
// set: each thread reads it again every 100 ms.
Timestamp wall_time_at(std::chrono::steady_clock::time_point t) noexcept;

// What a traced_* wrapper captured of its call (keep_call_arguments, keep_call_result), kept as
// captured: the event's builder makes the arguments' array and the result's {"output": ...}
// object, usually on the sink thread, sparing the agent's thread two allocations per call and
// their frees at the session's end (which overflow glibc's per-size cache).
struct CapturedCall {
  static constexpr std::size_t kInlineArguments = 2;  // most wrapped functions take one or two
  std::array<Value, kInlineArguments> arguments;  // the first `argument_count`, when they fit
  Value argument_array;  // all of them, when more than fit
  int argument_count = -1;  // -1: none captured
  std::optional<Value> result;

  bool has_arguments() const noexcept { return argument_count >= 0; }
  std::size_t heap_bytes() const noexcept {
    std::size_t bytes = value_heap_bytes(argument_array) + (result ? value_heap_bytes(*result) : 0);
    for (const Value& v : arguments) bytes += value_heap_bytes(v);
    return bytes;
  }
};

// The captured arguments as the event's array, moved or copied out by `take` (MoveOut, CopyOut).
template <class Call, class Take>
Value captured_arguments(Call& call, Take take) {
  if (call.argument_count > static_cast<int>(CapturedCall::kInlineArguments)) return take(call.argument_array);
  Value::Array list;
  list.reserve(static_cast<std::size_t>(call.argument_count));
  for (int i = 0; i < call.argument_count; ++i) list.push_back(take(call.arguments[static_cast<std::size_t>(i)]));
  return Value(std::move(list));
}

/// A recording scope's state (an inert scope has none). When the scope closes, the state itself
/// is what the session's journal keeps: its event (metadata, hex ids) is built when the session is
/// read, on the sink thread, instead of on the agent's (unless on_event hooks need the event at
/// once: then close() builds it). With span export on, the state is also the scope's
/// PendingSpan: the span, too, is built from it on the export thread. Journal and export queue
/// then share it (`refs`); while both hold it, the event is built by copying, never by moving
/// out of the state the export thread reads.
struct ScopeState : PendingSpan {
  // The strings are constructed from the caller's views, not assigned into empty ones (a
  // string's assignment takes twice the instructions of its construction).
  ScopeState(std::string_view scope_name, std::string_view system_instance_id)
      : name(scope_name), system_id(system_instance_id) {}
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
  std::string system_id;  // the event's system_instance_id
  std::uint64_t span = 0;
  std::uint64_t parent = 0;
  std::chrono::steady_clock::time_point started;
  Timestamp started_at{};
  int exceptions_at_open = 0;
  Value error;
  Value metadata;
  CapturedCall call;  // set only by the traced_* wrappers
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
  /// The session's id, then the id of the timestep at step_index ("" outside one): the span names
  /// its timestep, whose own span may be exported after this one's.
  BlockTexts ids;
  std::vector<SpanEvent> span_events;  // mode otel: recorded directly inside the scope
  /// The span, from the state and its event (made by `make_event`).
  SpanData (*span_of)(const ScopeState& state, const Event* event) = nullptr;

  /// The span, built on the export thread from a copy of the event, as close() builds it.
  SpanData build() override;
  void release() noexcept override;

  /// Heap memory of the values and strings the event will hold (scope_event_bytes).
  virtual std::size_t value_bytes() const noexcept {
    return name.capacity() + system_id.capacity() + value_heap_bytes(error) + value_heap_bytes(metadata) +
           call.heap_bytes();
  }
};

struct AiCallState : ScopeState {
  AiCallState(std::string_view scope_name, std::string_view system_instance_id, std::string_view requested_model)
      : ScopeState(scope_name, system_instance_id), model(requested_model) {}
  std::string model;
  std::string provider;
  std::string response_model;
  Value request;
  Value response;
  std::optional<TokenUsage> usage;
  std::optional<double> cost;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + model.capacity() + provider.capacity() +
           value_heap_bytes(request) + value_heap_bytes(response);
  }
};

struct EnvironmentStepState : ScopeState {
  using ScopeState::ScopeState;
  Value before;
  Value after;
  // action() and observation() as given: the agent's thread keeps them as they are and the
  // event's builder sets them into `before` and `after` (the sink thread, usually), which spares
  // the agent an object per step. Set only while `before`/`after` is null or an object (where
  // setting them later gives the same object); state_before()/state_after() set them first.
  std::optional<Value> action;
  std::optional<Value> observation;
  Value diff;
  std::optional<double> reward;
  std::optional<bool> terminated;
  std::optional<bool> truncated;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + value_heap_bytes(before) + value_heap_bytes(after) +
           (action ? value_heap_bytes(*action) : 0) + (observation ? value_heap_bytes(*observation) : 0) +
           value_heap_bytes(diff);
  }
};

struct RuntimeOperationState : ScopeState {
  using ScopeState::ScopeState;
  Value actions;
  Value before;
  Value after;
  std::optional<bool> success;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + value_heap_bytes(actions) + value_heap_bytes(before) +
           value_heap_bytes(after);
  }
};

struct SpanState : ScopeState {
  using ScopeState::ScopeState;
  bool record_event = false;
  Value attributes;
  std::size_t value_bytes() const noexcept override {
    return ScopeState::value_bytes() + value_heap_bytes(attributes);
  }
};

// Merges an object's members into `into` (or keeps a non-object under "state").
inline void merge_state(Value& into, Value state) {
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

inline SpanIdentity identity_of(std::uint64_t trace_id_high, std::uint64_t trace_id_low, const ScopeState& s) {
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

}  // namespace synth::tracing::detail
