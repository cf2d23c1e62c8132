#include "tracer/journal.hpp"

#include <algorithm>

namespace synth::tracing::detail {

namespace {
// Blocks a thread keeps for reuse, by size. Reached through a plain pointer so that journals
// destroyed late in thread exit (by other thread_local objects) see "gone" instead of a
// destroyed object.
struct BlockCache {
  std::vector<std::pair<std::size_t, std::vector<void*>>> free;
  std::size_t retained = 0;
};
constexpr std::size_t kRetainedBlockBytes = 16u << 20;  // per thread

thread_local BlockCache* t_cache = nullptr;
thread_local bool t_cache_gone = false;

struct BlockCacheOwner {
  ~BlockCacheOwner() {
    if (t_cache != nullptr) {
      for (auto& [bytes, blocks] : t_cache->free) {
        for (void* b : blocks) ::operator delete(b, bytes);
      }
      delete t_cache;
      t_cache = nullptr;
    }
    t_cache_gone = true;
  }
};
thread_local BlockCacheOwner t_cache_owner;
}  // namespace

void* allocate_block(std::size_t bytes) {
  if (t_cache == nullptr && !t_cache_gone) {
    (void)&t_cache_owner;  // registers the owner's destructor for this thread
    t_cache = new BlockCache();
  }
  if (t_cache != nullptr) {
    for (auto& [size, blocks] : t_cache->free) {
      if (size == bytes && !blocks.empty()) {
        void* b = blocks.back();
        blocks.pop_back();
        t_cache->retained -= bytes;
        return b;
      }
    }
  }
  return ::operator new(bytes);
}

void release_block(void* block, std::size_t bytes) noexcept {
  // Only a thread that allocates blocks keeps them; others hand them back to malloc.
  if (BlockCache* cache = t_cache; cache != nullptr && cache->retained + bytes <= kRetainedBlockBytes) {
    try {
      auto it = std::find_if(cache->free.begin(), cache->free.end(), [bytes](const auto& e) { return e.first == bytes; });
      if (it == cache->free.end()) it = cache->free.insert(cache->free.end(), {bytes, {}});
      it->second.push_back(block);
      cache->retained += bytes;
      return;
    } catch (...) {
      // No room to remember it: free it instead.
    }
  }
  ::operator delete(block, bytes);
}

namespace {
// Builds the two-place trace; `Take` either copies or moves an item out of the journal.
template <class Journal, class Take>
SessionTrace build_trace(Journal& j, Take take, const OutgoingPolicy* policy) {
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
    j.steps.for_each_mutable([&](SessionTimeStep& step) {
      if (policy) policy->apply(step);
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
  const auto place = [&](auto& r, auto in_step, auto& history) {
    if (r.step >= 0) (t.session_time_steps[static_cast<std::size_t>(r.step)].*in_step).push_back(r.item);
    history.push_back(take(r.item));
  };
  if constexpr (std::is_const_v<Journal>) {
    j.events.for_each([&](const auto& r) { place(r, &SessionTimeStep::events, t.event_history); });
    j.messages.for_each([&](const auto& r) { place(r, &SessionTimeStep::step_messages, t.message_history); });
  } else {
    j.events.for_each_mutable([&](auto& r) {
      if (policy) policy->apply(r.item);
      place(r, &SessionTimeStep::events, t.event_history);
    });
    j.messages.for_each_mutable([&](auto& r) {
      if (policy) policy->apply(r.item);
      place(r, &SessionTimeStep::step_messages, t.message_history);
    });
  }
  return t;
}
}  // namespace

SessionTrace SessionJournal::snapshot() const {
  return build_trace(*this, [](const auto& x) { return x; }, nullptr);
}

SessionTrace SessionJournal::finish(const OutgoingPolicy* policy) && {
  return build_trace(*this, [](auto& x) { return std::move(x); }, policy);
}

std::shared_ptr<const SessionTrace> FinishedSession::trace() {
  std::lock_guard lock(mutex_);
  if (!trace_) {
    trace_ = std::make_shared<const SessionTrace>(std::move(*journal_).finish(policy_.get()));
    journal_.reset();
  }
  return trace_;
}

}  // namespace synth::tracing::detail
