#include "tracer/journal.hpp"

#include "tracer/spill_writer.hpp"

#include <algorithm>
#include <atomic>
#include <utility>

namespace synth::tracing::detail {

// A thread's block cache. Blocks it allocated come back to it wherever they are released: on
// the owner, into its free lists; on another thread (the sink thread frees journals), onto the
// `returned` stack, which the owner takes over when its free lists run dry. So an agent reuses
// the memory it already touched instead of faulting in fresh pages. The cache lives until its
// owner thread has exited and every block it handed out is back (`refs`).
struct BlockCache {
  struct Returned {  // written over a returned block
    Returned* next;
    std::size_t bytes;
  };
  // The owner's.
  std::vector<std::pair<std::size_t, std::vector<void*>>> free;
  // Shared.
  std::atomic<Returned*> returned{nullptr};
  std::atomic<std::size_t> held{0};  // bytes in `free` and `returned`, within kRetainedBlockBytes
  std::atomic<std::size_t> refs{1};  // the owner thread, plus one per block handed out
  std::atomic<bool> owner_gone{false};  // from then on, blocks go back to malloc
};

namespace {
constexpr std::size_t kRetainedBlockBytes = 16u << 20;  // per thread

thread_local BlockCache* t_cache = nullptr;
thread_local bool t_cache_gone = false;

// Frees a cache whose owner is gone and whose blocks are all back.
void destroy(BlockCache* cache) noexcept {
  for (auto* r = cache->returned.exchange(nullptr, std::memory_order_acquire); r != nullptr;) {
    auto* next = r->next;
    ::operator delete(static_cast<void*>(r), r->bytes);
    r = next;
  }
  for (auto& [bytes, blocks] : cache->free) {
    for (void* b : blocks) ::operator delete(b, bytes);
  }
  delete cache;
}

void release_reference(BlockCache* cache) noexcept {
  if (cache->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) destroy(cache);
}

struct BlockCacheOwner {
  ~BlockCacheOwner() {
    if (BlockCache* cache = std::exchange(t_cache, nullptr)) {
      for (auto& [bytes, blocks] : cache->free) {
        for (void* b : blocks) ::operator delete(b, bytes);
      }
      cache->free.clear();
      cache->owner_gone.store(true, std::memory_order_relaxed);
      release_reference(cache);  // blocks still out bring it to an end when they come back
    }
    t_cache_gone = true;
  }
};
thread_local BlockCacheOwner t_cache_owner;

// Keeps a block in the owner's free lists; false when that would exceed the bound (or memory).
bool keep(BlockCache& cache, void* block, std::size_t bytes) noexcept {
  try {
    auto it = std::find_if(cache.free.begin(), cache.free.end(), [bytes](const auto& e) { return e.first == bytes; });
    if (it == cache.free.end()) it = cache.free.insert(cache.free.end(), {bytes, {}});
    it->second.push_back(block);
    return true;
  } catch (...) {
    return false;
  }
}

void* take_kept(BlockCache& cache, std::size_t bytes) noexcept {
  for (auto& [size, blocks] : cache.free) {
    if (size == bytes && !blocks.empty()) {
      void* b = blocks.back();
      blocks.pop_back();
      cache.held.fetch_sub(bytes, std::memory_order_relaxed);
      return b;
    }
  }
  return nullptr;
}

// The owner takes over the blocks other threads gave back.
void take_returned(BlockCache& cache) noexcept {
  for (auto* r = cache.returned.exchange(nullptr, std::memory_order_acquire); r != nullptr;) {
    auto* next = r->next;
    const std::size_t bytes = r->bytes;
    if (!keep(cache, r, bytes)) {
      cache.held.fetch_sub(bytes, std::memory_order_relaxed);
      ::operator delete(static_cast<void*>(r), bytes);
    }
    r = next;
  }
}
}  // namespace

Block allocate_block(std::size_t bytes) {
  if (t_cache == nullptr && !t_cache_gone) {
    (void)&t_cache_owner;  // registers the owner's destructor for this thread
    t_cache = new BlockCache();
  }
  BlockCache* cache = t_cache;
  if (cache == nullptr) return {::operator new(bytes), nullptr};  // during thread exit
  void* b = take_kept(*cache, bytes);
  if (b == nullptr && cache->returned.load(std::memory_order_relaxed) != nullptr) {
    take_returned(*cache);
    b = take_kept(*cache, bytes);
  }
  if (b == nullptr) b = ::operator new(bytes);
  cache->refs.fetch_add(1, std::memory_order_relaxed);
  return {b, cache};
}

void release_block(Block block, std::size_t bytes) noexcept {
  BlockCache* cache = block.owner;
  if (cache == nullptr) {
    ::operator delete(block.data, bytes);
    return;
  }
  const bool room = !cache->owner_gone.load(std::memory_order_relaxed) &&
                    cache->held.fetch_add(bytes, std::memory_order_relaxed) + bytes <= kRetainedBlockBytes;
  if (!room) {
    if (!cache->owner_gone.load(std::memory_order_relaxed)) cache->held.fetch_sub(bytes, std::memory_order_relaxed);
    ::operator delete(block.data, bytes);
  } else if (cache == t_cache) {
    if (!keep(*cache, block.data, bytes)) {
      cache->held.fetch_sub(bytes, std::memory_order_relaxed);
      ::operator delete(block.data, bytes);
    }
  } else {
    auto* r = static_cast<BlockCache::Returned*>(block.data);
    r->bytes = bytes;
    r->next = cache->returned.load(std::memory_order_relaxed);
    while (!cache->returned.compare_exchange_weak(r->next, r, std::memory_order_release, std::memory_order_relaxed)) {
    }
  }
  release_reference(cache);
}

namespace {
// Builds the two-place trace; `Take` either copies or moves an item out of the journal.
template <class Journal, class Take>
SessionTrace build_trace(Journal& j, Take take, const OutgoingPolicy* policy, ItemSteps* steps = nullptr,
                         PolicyApplied applied = {}) {
  SessionTrace t;
  t.session_id = take(j.session_id);
  t.created_at = j.created_at;
  t.session_metadata = take(j.session_metadata);
  t.session_time_steps.reserve(j.steps.size());
  if constexpr (std::is_const_v<Journal>) {
    j.steps.for_each([&](const SessionTimeStep& step) { t.session_time_steps.push_back(step); });
  } else {
    if (policy) {
      for (SessionMetadataEntry& entry : t.session_metadata) policy->apply(entry);
    }
    std::size_t index = 0;
    j.steps.for_each_mutable([&](SessionTimeStep& step) {
      if (policy && index++ >= applied.steps) policy->apply(step);
      t.session_time_steps.push_back(std::move(step));
    });
  }
  std::vector<std::size_t> event_counts(t.session_time_steps.size(), 0);
  std::vector<std::size_t> message_counts(t.session_time_steps.size(), 0);
  j.events.for_each([&](const auto& r) {
    if (r.step >= 0) ++event_counts[static_cast<std::size_t>(r.step)];
  });
  j.messages.for_each([&](const auto& r) {
    if (r.step >= 0) ++message_counts[static_cast<std::size_t>(r.step)];
  });
  for (std::size_t i = 0; i < t.session_time_steps.size(); ++i) {
    t.session_time_steps[i].events.reserve(event_counts[i]);
    t.session_time_steps[i].step_messages.reserve(message_counts[i]);
  }
  t.event_history.reserve(j.events.size());
  t.message_history.reserve(j.messages.size());
  if (steps != nullptr) {
    steps->events.reserve(j.events.size());
    j.events.for_each([&](const auto& r) { steps->events.push_back(r.step); });
    steps->messages.reserve(j.messages.size());
    j.messages.for_each([&](const auto& r) { steps->messages.push_back(r.step); });
  }
  const auto place = [&](auto& item, std::int64_t step, auto in_step, auto& history) {
    if (step >= 0) (t.session_time_steps[static_cast<std::size_t>(step)].*in_step).push_back(item);
    history.push_back(take(item));
  };
  if constexpr (std::is_const_v<Journal>) {
    j.events.for_each([&](const Recorded<Event>& r) {
      Event event = r.copy();
      if (r.step >= 0) t.session_time_steps[static_cast<std::size_t>(r.step)].events.push_back(event);
      t.event_history.push_back(std::move(event));
    });
    j.messages.for_each([&](const auto& r) { place(r.item, r.step, &SessionTimeStep::step_messages, t.message_history); });
  } else {
    std::size_t event_index = 0;
    j.events.for_each_mutable([&](Recorded<Event>& r) {
      Event& event = r.event();  // a scope's event is built here, off the agent's thread
      if (policy && event_index++ >= applied.events) policy->apply(event);
      place(event, r.step, &SessionTimeStep::events, t.event_history);
    });
    std::size_t message_index = 0;
    j.messages.for_each_mutable([&](auto& r) {
      if (policy && message_index++ >= applied.messages) policy->apply(r.item);
      place(r.item, r.step, &SessionTimeStep::step_messages, t.message_history);
    });
  }
  return t;
}
}  // namespace

SessionTrace SessionJournal::snapshot() const {
  return build_trace(*this, [](const auto& x) { return x; }, nullptr);
}

SessionTrace SessionJournal::finish(const OutgoingPolicy* policy, ItemSteps* item_steps, PolicyApplied applied) && {
  return build_trace(*this, [](auto& x) { return std::move(x); }, policy, item_steps, applied);
}

namespace {
// Heap memory held beyond the object itself (strings longer than the inline buffer, containers).
std::size_t heap_bytes(const std::string& s) noexcept { return s.capacity() > 15 ? s.capacity() + 1 : 0; }
std::size_t heap_bytes(const std::optional<std::string>& s) noexcept { return s ? heap_bytes(*s) : 0; }
std::size_t heap_bytes(const Value& v) noexcept { return value_heap_bytes(v); }
std::size_t heap_bytes(const std::vector<Value>& values) noexcept {
  std::size_t n = values.capacity() * sizeof(Value);
  for (const Value& v : values) n += heap_bytes(v);
  return n;
}
// Heap memory of the members an event of kind E holds.
template <class E>
std::size_t event_heap_bytes(const E& e) noexcept {
  std::size_t n = heap_bytes(e.system_instance_id) + heap_bytes(e.system_state_before) +
                  heap_bytes(e.system_state_after) + heap_bytes(e.metadata) + heap_bytes(e.event_metadata);
  if constexpr (std::is_same_v<E, CAISEvent>) {
    n += heap_bytes(e.llm_call_records) + heap_bytes(e.span_id) + heap_bytes(e.trace_id) + heap_bytes(e.model_name) +
         heap_bytes(e.provider);
  } else if constexpr (std::is_same_v<E, EnvironmentEvent>) {
    n += heap_bytes(e.observation_diff);
  } else {
    n += heap_bytes(e.actions);
  }
  return n;
}
}  // namespace

std::size_t trace_bytes(const CAISEvent& event) noexcept { return sizeof(Event) + event_heap_bytes(event); }
std::size_t trace_bytes(const EnvironmentEvent& event) noexcept { return sizeof(Event) + event_heap_bytes(event); }
std::size_t trace_bytes(const RuntimeEvent& event) noexcept { return sizeof(Event) + event_heap_bytes(event); }
std::size_t trace_bytes(const Event& event) noexcept {
  return sizeof(Event) + std::visit([](const auto& e) noexcept { return event_heap_bytes(e); }, event);
}
std::size_t trace_bytes(const SessionEventMessage& m) noexcept {
  return sizeof(SessionEventMessage) + heap_bytes(m.content) + heap_bytes(m.message_type);
}
std::size_t trace_bytes(const SessionTimeStep& s) noexcept {
  return sizeof(SessionTimeStep) + heap_bytes(s.step_id) + heap_bytes(s.step_metadata);
}
std::size_t trace_bytes(const SessionMetadataEntry& m) noexcept {
  return sizeof(SessionMetadataEntry) + heap_bytes(m.metadata_type) + heap_bytes(m.data);
}

std::size_t string_or_container_heap_bytes(const Value& v) noexcept {
  switch (v.kind()) {
    case Value::Kind::string:
      return heap_bytes(v.as_string());
    case Value::Kind::array: {
      std::size_t n = v.as_array().capacity() * sizeof(Value);
      for (const Value& e : v.as_array()) n += value_heap_bytes(e);
      return n;
    }
    case Value::Kind::object: {
      std::size_t n = v.as_object().capacity() * sizeof(Value::Member);
      for (const auto& [key, e] : v.as_object()) n += heap_bytes(key) + value_heap_bytes(e);
      return n;
    }
    default:
      return 0;
  }
}

std::size_t SessionJournal::estimated_trace_bytes() const noexcept {
  return sizeof(SessionTrace) + heap_bytes(session_id) + item_bytes_;
}

std::shared_ptr<const SessionTrace> FinishedSession::trace() {
  std::lock_guard lock(mutex_);
  if (!trace_) {
    if (spill_) {
      // The spill writer may still be reading items of the session as it was when it ended; the
      // ones its checkpoints wrote are masked already.
      std::lock_guard reading(spill_->read_mutex);
      trace_ = std::make_shared<const SessionTrace>(
          std::move(*journal_).finish(policy_.get(), &steps_, spill_->policy_applied));
    } else {
      trace_ = std::make_shared<const SessionTrace>(std::move(*journal_).finish(policy_.get()));
    }
    journal_.reset();
  }
  return trace_;
}

FinishedSession::~FinishedSession() {
  if (spill_ && journal_) {
    std::lock_guard reading(spill_->read_mutex);
    journal_.reset();
  }
}

}  // namespace synth::tracing::detail
