#include "server/writer_release.hpp"

#include "worker_thread.hpp"

namespace synth::tracing::server {

SessionReleaser::SessionReleaser()
    : thread_([this] {
        detail::name_this_thread("serve-release");
        run();
      }) {}

SessionReleaser::~SessionReleaser() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  ready_.notify_one();
  thread_.join();
}

void SessionReleaser::release(std::vector<SessionTrace>& sessions) noexcept {
  if (sessions.empty()) return;
  {
    std::lock_guard lock(mutex_);
    if (waiting_.size() >= kMaxWaiting) return;
    if (waiting_.empty()) {
      waiting_.swap(sessions);
    } else {
      try {
        waiting_.reserve(waiting_.size() + sessions.size());
      } catch (...) {
        return;  // no memory to grow the list: the caller frees them
      }
      waiting_.insert(waiting_.end(), std::make_move_iterator(sessions.begin()), std::make_move_iterator(sessions.end()));
      sessions.clear();  // moved-from shells: nothing left to free
    }
  }
  ready_.notify_one();
}

void SessionReleaser::run() noexcept {
  std::vector<SessionTrace> freeing;
  std::unique_lock lock(mutex_);
  for (;;) {
    ready_.wait(lock, [this] { return stopping_ || !waiting_.empty(); });
    if (waiting_.empty()) return;  // stopping, nothing left
    freeing.swap(waiting_);
    lock.unlock();
    freeing.clear();
    lock.lock();
  }
}

}  // namespace synth::tracing::server
