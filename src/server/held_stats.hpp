// Internal: the aggregates the server's writer holds (StoreAccess::batch_commit without
// fold_stats: merged sessions' additions not yet in session_stats), and the readers that wait
// for them. A read sees in the aggregates every request answered before it began: it asks the
// writer to store what it holds (at its next commit, or within 20 ms when idle) and waits for that.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>

namespace synth::tracing::server {

class HeldStats {
 public:
  using Clock = std::chrono::steady_clock;

  /// The writer: a commit held aggregates (true), or stored all it held (false).
  void set_held(bool held) {
    {
      std::lock_guard lock(mutex_);
      if (held_ && !held) ++stored_;
      held_ = held;
      if (!held) requested_.store(false, std::memory_order_relaxed);
    }
    if (!held) stored_cv_.notify_all();
  }
  /// The writer: a reader waits for what it holds.
  bool requested() const noexcept { return requested_.load(std::memory_order_relaxed); }

  /// A reader: returns once the aggregates held when called are stored (true), or at `deadline`
  /// (false: it reads them as they are).
  bool await_stored(Clock::time_point deadline) {
    std::unique_lock lock(mutex_);
    if (!held_) return true;
    const std::uint64_t target = stored_ + 1;
    requested_.store(true, std::memory_order_relaxed);
    return stored_cv_.wait_until(lock, deadline, [&] { return stored_ >= target; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable stored_cv_;
  bool held_ = false;
  std::uint64_t stored_ = 0;  // how many times what was held got stored
  std::atomic<bool> requested_{false};
};

}  // namespace synth::tracing::server
