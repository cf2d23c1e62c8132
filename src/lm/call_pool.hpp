// Internal: the threads that run an LM's agenerate() calls.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include "synth/tracing/lm.hpp"

namespace synth::tracing::lm_detail {

/// At most `max_threads` threads, started as calls arrive, and at most `queue_capacity` calls
/// waiting for one: memory and threads stay bounded however fast calls come.
class CallPool {
 public:
  CallPool(std::size_t max_threads, std::size_t queue_capacity);
  /// Runs the calls already queued, then joins the threads.
  ~CallPool();
  CallPool(const CallPool&) = delete;
  CallPool& operator=(const CallPool&) = delete;

  /// Queues `call` (moved from) for a thread; false, leaving `call` untouched, when the queue is
  /// full or no thread can be started.
  bool try_submit(std::packaged_task<LMResponse()>& call);

 private:
  void run();

  const std::size_t max_threads_;
  const std::size_t queue_capacity_;
  std::mutex mutex_;
  std::condition_variable work_ready_;
  std::deque<std::packaged_task<LMResponse()>> queue_;  // guarded by mutex_
  std::vector<std::thread> threads_;                    // guarded by mutex_
  std::size_t idle_ = 0;                                // threads waiting for work; guarded by mutex_
  bool stopping_ = false;                               // guarded by mutex_
};

}  // namespace synth::tracing::lm_detail
