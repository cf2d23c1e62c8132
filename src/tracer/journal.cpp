#include "tracer/journal.hpp"

#include <algorithm>

namespace synth::tracing::detail {

BlockPool::~BlockPool() {
  for (auto& [bytes, blocks] : free_) {
    for (void* b : blocks) ::operator delete(b, bytes);
  }
}

void* BlockPool::allocate(std::size_t bytes) {
  {
    std::lock_guard lock(mutex_);
    for (auto& [size, blocks] : free_) {
      if (size == bytes && !blocks.empty()) {
        void* b = blocks.back();
        blocks.pop_back();
        retained_ -= bytes;
        return b;
      }
    }
  }
  return ::operator new(bytes);
}

void BlockPool::release(void* block, std::size_t bytes) noexcept {
  try {
    std::lock_guard lock(mutex_);
    if (retained_ + bytes <= max_bytes_) {
      auto it = std::find_if(free_.begin(), free_.end(), [bytes](const auto& e) { return e.first == bytes; });
      if (it == free_.end()) it = free_.insert(free_.end(), {bytes, {}});
      it->second.push_back(block);
      retained_ += bytes;
      return;
    }
  } catch (...) {
    // Could not keep it: give it back instead.
  }
  ::operator delete(block, bytes);
}

namespace {
// Builds the two-place trace; `Take` either copies or moves an item out of the journal.
template <class Journal, class Take>
SessionTrace build_trace(Journal& j, Take take) {
  SessionTrace t;
  t.session_id = take(j.session_id);
  t.created_at = j.created_at;
  t.session_metadata = take(j.session_metadata);
  t.session_time_steps.reserve(j.steps.size());
  if constexpr (std::is_const_v<Journal>) {
    j.steps.for_each([&](const SessionTimeStep& step) { t.session_time_steps.push_back(step); });
  } else {
    j.steps.for_each_mutable([&](SessionTimeStep& step) { t.session_time_steps.push_back(std::move(step)); });
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
    j.events.for_each_mutable([&](auto& r) { place(r, &SessionTimeStep::events, t.event_history); });
    j.messages.for_each_mutable([&](auto& r) { place(r, &SessionTimeStep::step_messages, t.message_history); });
  }
  return t;
}
}  // namespace

SessionTrace SessionJournal::snapshot() const {
  return build_trace(*this, [](const auto& x) { return x; });
}

SessionTrace SessionJournal::finish() && {
  return build_trace(*this, [](auto& x) { return std::move(x); });
}

std::shared_ptr<const SessionTrace> FinishedSession::trace() {
  std::lock_guard lock(mutex_);
  if (!trace_) {
    trace_ = std::make_shared<const SessionTrace>(std::move(*journal_).finish());
    journal_.reset();
  }
  return trace_;
}

}  // namespace synth::tracing::detail
