#include "lm/call_pool.hpp"

#include <system_error>

#include "worker_thread.hpp"

namespace synth::tracing::lm_detail {

CallPool::CallPool(std::size_t max_threads, std::size_t queue_capacity)
    : max_threads_(max_threads), queue_capacity_(queue_capacity) {}

CallPool::~CallPool() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
    threads.swap(threads_);
  }
  work_ready_.notify_all();
  for (auto& t : threads) t.join();
}

bool CallPool::try_submit(std::packaged_task<LMResponse()>& call) {
  std::lock_guard lock(mutex_);
  if (queue_.size() >= queue_capacity_) return false;
  // A thread more when the calls waiting outnumber the idle threads (this one included).
  if (queue_.size() + 1 > idle_ && threads_.size() < max_threads_) {
    try {
      threads_.emplace_back([this] {
        detail::name_this_thread("synth-lm-calls");
        run();
      });
    } catch (const std::system_error&) {
      if (threads_.empty()) return false;  // the threads there are will take it
    }
  }
  queue_.push_back(std::move(call));
  work_ready_.notify_one();
  return true;
}

void CallPool::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    ++idle_;
    work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    --idle_;
    if (queue_.empty()) return;  // stopping, and everything queued has run
    std::packaged_task<LMResponse()> call = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    call();  // the call's answer or exception goes to its future
    lock.lock();
  }
}

}  // namespace synth::tracing::lm_detail
