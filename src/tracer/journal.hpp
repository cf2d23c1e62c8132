// Internal: how a session is recorded before anyone needs it as a SessionTrace.
//
// A SessionTrace holds every event twice (in its timestep and in the history), as the
// original's JSON does. Building that on the agent's thread would cost a deep copy per event,
// so the recording thread only appends each item once, with its timestep index, into storage
// that never moves what it holds; the two-place SessionTrace is built later, off the hot path.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "synth/tracing/instrument.hpp"
#include "synth/tracing/model.hpp"
#include "tracer/outgoing.hpp"

namespace synth::tracing::detail {

/// Memory blocks for journal chunks, recycled per thread. Fresh memory costs a page fault per
/// 4 KiB on first touch (microseconds on virtual machines), so a block goes back to the thread
/// that allocated it, wherever it is released (the sink thread frees the journals the agent
/// filled), and that thread reuses it (up to a bound).
struct BlockCache;
struct Block {
  void* data;
  BlockCache* owner;  // null: plain memory
};
Block allocate_block(std::size_t bytes);
void release_block(Block block, std::size_t bytes) noexcept;

/// Append-only sequence in chunks: appending never relocates earlier elements (no
/// reallocation copies), and chunk memory comes from allocate_block().
template <class T>
class ChunkedList {
 public:
  ChunkedList() = default;
  ChunkedList(ChunkedList&& other) noexcept : chunks_(std::move(other.chunks_)), size_(other.size_) {
    other.size_ = 0;
  }
  ChunkedList& operator=(ChunkedList&&) = delete;
  ChunkedList(const ChunkedList&) = delete;
  ChunkedList& operator=(const ChunkedList&) = delete;
  ~ChunkedList() {
    for (Chunk& c : chunks_) {
      std::destroy_n(c.data, c.used);
      release_block(Block{c.data, c.owner}, c.capacity * sizeof(T));
    }
  }

  /// Constructs the element in place.
  template <class... Args>
  void emplace_back(Args&&... args) {
    if (chunks_.empty() || chunks_.back().used == chunks_.back().capacity) {
      // Small first chunks keep short sessions small; later chunks stay one size that the per-thread block cache reuses.
      const std::size_t capacity = chunks_.empty() ? kFirstChunk : std::min(chunks_.back().capacity * 2, kMaxChunk);
      chunks_.reserve(chunks_.size() + 1);
      const Block block = allocate_block(capacity * sizeof(T));
      chunks_.push_back(Chunk{static_cast<T*>(block.data), block.owner, capacity, 0});
    }
    Chunk& c = chunks_.back();
    std::construct_at(c.data + c.used, std::forward<Args>(args)...);
    ++c.used;
    ++size_;
  }

  std::size_t size() const noexcept { return size_; }

  /// The element at `index` (below size()), found from the chunks' capacities.
  const T& at(std::size_t index) const noexcept {
    std::size_t chunk = 0;
    for (std::size_t capacity = kFirstChunk; capacity < kMaxChunk && index >= capacity; capacity *= 2) {
      index -= capacity;
      ++chunk;
    }
    // Past the growing chunks every chunk holds kMaxChunk (before them, index < kMaxChunk).
    return chunks_[chunk + index / kMaxChunk].data[index % kMaxChunk];
  }

  template <class F>
  void for_each(F&& f) const {
    for (const Chunk& c : chunks_) {
      for (std::size_t i = 0; i < c.used; ++i) f(static_cast<const T&>(c.data[i]));
    }
  }
  /// Calls f on the elements from index `first` on.
  template <class F>
  void for_each_from(std::size_t first, F&& f) const {
    std::size_t base = 0;
    for (const Chunk& c : chunks_) {
      for (std::size_t i = first > base ? first - base : 0; i < c.used; ++i) f(static_cast<const T&>(c.data[i]));
      base += c.used;
    }
  }
  template <class F>
  void for_each_mutable(F&& f) {
    for (Chunk& c : chunks_) {
      for (std::size_t i = 0; i < c.used; ++i) f(c.data[i]);
    }
  }
  template <class F>
  void for_each_mutable_from(std::size_t first, F&& f) {
    std::size_t base = 0;
    for (Chunk& c : chunks_) {
      for (std::size_t i = first > base ? first - base : 0; i < c.used; ++i) f(c.data[i]);
      base += c.used;
    }
  }

 private:
  static constexpr std::size_t kFirstChunk = 8;
  static constexpr std::size_t kMaxChunk = 64;
  struct Chunk {
    T* data;
    BlockCache* owner;
    std::size_t capacity;
    std::size_t used;
  };
  static_assert(kFirstChunk * sizeof(T) >= 2 * sizeof(void*), "a returned block holds a link and its size");

  std::vector<Chunk> chunks_;
  std::size_t size_ = 0;
};

/// An item recorded into a session, with the index of its timestep (-1: history only).
template <class T>
struct Recorded {
  // A constructor, not aggregate initialization: ChunkedList::emplace_back builds it with
  // parentheses, which clang before 16 cannot do for aggregates (C++20's P0960).
  // Forwarding, so that an event alternative (CAISEvent&&) becomes the item in one move.
  template <class U>
  Recorded(U&& recorded, std::int64_t in_step) : item(std::forward<U>(recorded)), step(in_step) {}
  T item;
  std::int64_t step;
};

/// A closed instrumentation scope's state (src/instrument/scope_state.hpp), kept by the journal instead of its
/// event: building the event (hex ids, metadata) is left to whoever reads the session.
using ScopeStatePtr = std::unique_ptr<ScopeState, ScopeStateDeleter>;
/// The scope's event, moved out of `state` (once).
Event take_scope_event(ScopeState& state);
/// A copy of the scope's event.
Event copy_scope_event(const ScopeState& state);
/// An estimate of the memory the scope's event takes (as estimated_trace_bytes counts).
std::size_t scope_event_bytes(const ScopeState& state) noexcept;

/// A recorded event: the event itself, or a closed scope's state whose event is built on demand.
template <>
struct Recorded<Event> {
  template <class E>
  Recorded(E&& recorded, std::int64_t in_step)
      : item(std::in_place_type<Event>, std::forward<E>(recorded)), step(in_step) {}
  // A closed scope's record constructs no Event (a CAISEvent's default members) on the agent's
  // thread: its event is built in place later.
  Recorded(ScopeStatePtr&& closed, std::int64_t in_step) : item(std::move(closed)), step(in_step) {}

  /// The event, built from the scope's state first when there is one.
  Event& event() {
    if (auto* scope = std::get_if<ScopeStatePtr>(&item)) {
      Event built = take_scope_event(**scope);
      item.emplace<Event>(std::move(built));  // frees the state
    }
    return std::get<Event>(item);
  }
  /// A copy of the event, leaving this record as it is.
  Event copy() const {
    if (const auto* scope = std::get_if<ScopeStatePtr>(&item)) return copy_scope_event(**scope);
    return std::get<Event>(item);
  }

  std::variant<ScopeStatePtr, Event> item;
  std::int64_t step;
};

/// The timestep index of each event and message of a trace, in history order (-1: none).
struct ItemSteps {
  std::vector<std::int64_t> events;
  std::vector<std::int64_t> messages;
};

struct SpillCursor;

/// How many of a journal's first timesteps, events and messages passed the outgoing policy in
/// place already: a spill checkpoint masks the items it writes, once, for the sinks too.
struct PolicyApplied {
  std::size_t steps = 0;
  std::size_t events = 0;
  std::size_t messages = 0;
};

/// The memory an item takes in a SessionTrace: the item itself, with the strings and JSON values
/// it holds (an event is stored as an Event, whichever its kind).
std::size_t trace_bytes(const CAISEvent& event) noexcept;
std::size_t trace_bytes(const EnvironmentEvent& event) noexcept;
std::size_t trace_bytes(const RuntimeEvent& event) noexcept;
std::size_t trace_bytes(const Event& event) noexcept;
std::size_t trace_bytes(const SessionEventMessage& message) noexcept;
std::size_t trace_bytes(const SessionTimeStep& step) noexcept;
std::size_t trace_bytes(const SessionMetadataEntry& entry) noexcept;

/// Everything recorded in one session, each item stored once. Items are appended through the
/// add_ functions, which count what each will take in the SessionTrace as it arrives (recorded
/// items never change), so that the session's size is known when it ends without walking it.
struct SessionJournal {
  /// `estimates_size`: whether estimated_trace_bytes() is wanted (by a tracer that keeps finished
  /// sessions, within a bound in bytes); without it the items are not counted.
  explicit SessionJournal(bool estimates_size = true) : estimates_size_(estimates_size) {}

  std::string session_id;
  Timestamp created_at{};
  std::vector<SessionMetadataEntry> session_metadata;
  /// Timesteps without their items (events and step_messages stay empty here).
  ChunkedList<SessionTimeStep> steps;
  ChunkedList<Recorded<Event>> events;
  ChunkedList<Recorded<SessionEventMessage>> messages;

  void add_metadata(SessionMetadataEntry entry) {
    const std::size_t bytes = estimates_size_ ? trace_bytes(entry) : 0;
    session_metadata.push_back(std::move(entry));
    item_bytes_ += bytes;
  }
  void add_step(SessionTimeStep step) {
    const std::size_t bytes = estimates_size_ ? trace_bytes(step) : 0;
    steps.emplace_back(std::move(step));
    item_bytes_ += bytes;
  }
  /// `event`: an Event or one of its alternatives, moved once into the journal.
  template <class E>
  void add_event(E&& event, std::int64_t step) {
    const std::size_t bytes = estimates_size_ ? trace_bytes(event) : 0;
    events.emplace_back(std::forward<E>(event), step);
    count_item(bytes, step);
  }
  /// A closed scope, whose event is built when the session is read.
  void add_scope(ScopeStatePtr&& state, std::int64_t step) {
    const std::size_t bytes = estimates_size_ ? scope_event_bytes(*state) : 0;
    events.emplace_back(std::move(state), step);
    count_item(bytes, step);
  }
  void add_message(SessionEventMessage&& message, std::int64_t step) {
    const std::size_t bytes = estimates_size_ ? trace_bytes(message) : 0;
    messages.emplace_back(std::move(message), step);
    count_item(bytes, step);
  }

  /// An estimate of the memory the SessionTrace built from the journal takes: the items, each in
  /// its timestep and in a history, with the strings and JSON values they hold (when the journal
  /// estimates its size).
  std::size_t estimated_trace_bytes() const noexcept;

  /// A SessionTrace copied from the journal (a snapshot of an active session).
  SessionTrace snapshot() const;
  /// The SessionTrace, moving the items out of the journal; each item (session metadata entry,
  /// timestep, event, message) passes `policy` once (masking, truncation, costs) when given,
  /// except the ones `applied` says passed it already. `steps`, when given, receives the
  /// timestep index of each event and message (-1: none).
  SessionTrace finish(const OutgoingPolicy* policy, ItemSteps* steps = nullptr, PolicyApplied applied = {}) &&;

 private:
  // An item in a timestep is held twice in the trace: there and in the history.
  void count_item(std::size_t bytes, std::int64_t step) noexcept { item_bytes_ += step >= 0 ? 2 * bytes : bytes; }
  bool estimates_size_;
  std::size_t item_bytes_ = 0;  // of the items appended so far
};

/// Heap memory a string, array or object Value holds beyond the Value itself.
std::size_t string_or_container_heap_bytes(const Value& value) noexcept;
/// Heap memory a JSON value holds beyond the Value itself (strings, arrays, objects).
inline std::size_t value_heap_bytes(const Value& value) noexcept {
  // Inline for the scalars, which hold none: most values a scope keeps (its error, its
  // metadata) are null, and every scope's values are counted as it closes.
  return value.kind() < Value::Kind::string ? 0 : string_or_container_heap_bytes(value);
}

/// An ended session: its journal until someone needs the SessionTrace, built once on the
/// first request (the sink thread, get_session_trace or an on_session_end hook).
class FinishedSession {
 public:
  /// `spill`: the session's place in the spill (null without one).
  FinishedSession(SessionJournal journal, std::shared_ptr<const OutgoingPolicy> policy,
                  std::shared_ptr<SpillCursor> spill = nullptr)
      : policy_(std::move(policy)),
        spill_(std::move(spill)),
        id_(journal.session_id),
        created_at_(journal.created_at),
        event_count_(journal.events.size()),
        message_count_(journal.messages.size()),
        footprint_(journal.estimated_trace_bytes()),
        journal_(std::move(journal)) {}
  /// With a spill, frees the journal under its lock: the writer may still be reading its items.
  ~FinishedSession();
  FinishedSession(const FinishedSession&) = delete;
  FinishedSession& operator=(const FinishedSession&) = delete;

  const std::string& id() const noexcept { return id_; }
  Timestamp created_at() const noexcept { return created_at_; }
  std::size_t event_count() const noexcept { return event_count_; }
  std::size_t message_count() const noexcept { return message_count_; }
  /// The journal's estimated_trace_bytes() when the session ended.
  std::size_t footprint() const noexcept { return footprint_; }
  std::shared_ptr<const SessionTrace> trace();
  /// The session's place in the spill (null without one).
  const std::shared_ptr<SpillCursor>& spill() const noexcept { return spill_; }
  /// With a spill: the timestep of each item of trace() (built by it).
  const ItemSteps& item_steps() const noexcept { return steps_; }

 private:
  const std::shared_ptr<const OutgoingPolicy> policy_;
  const std::shared_ptr<SpillCursor> spill_;
  const std::string id_;
  const Timestamp created_at_;
  const std::size_t event_count_;
  const std::size_t message_count_;
  const std::size_t footprint_;
  std::mutex mutex_;
  std::optional<SessionJournal> journal_;       // guarded by mutex_
  std::shared_ptr<const SessionTrace> trace_;  // guarded by mutex_
  ItemSteps steps_;                            // written with trace_
};

}  // namespace synth::tracing::detail
