// Internal: the writer's committed sessions freed on a thread of their own. The handler threads
// allocated them, so freeing them on the writer's thread took ~15 % of it (glibc frees a chunk
// into the arena of the thread that allocated it, under that arena's lock); the writer's one
// thread bounds the ingest rate, and the other core has room.
#pragma once

#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "synth/tracing/model.hpp"

namespace synth::tracing::server {

class SessionReleaser {
 public:
  /// Sessions waiting to be freed at most: past it the caller frees its own (memory stays bounded).
  static constexpr std::size_t kMaxWaiting = 20000;

  SessionReleaser();
  /// Frees what waits, then stops the thread.
  ~SessionReleaser();
  SessionReleaser(const SessionReleaser&) = delete;
  SessionReleaser& operator=(const SessionReleaser&) = delete;

  /// Takes `sessions` (left empty) to free them on the releaser's thread; when kMaxWaiting wait
  /// already, they stay in `sessions`, for the caller to free.
  void release(std::vector<SessionTrace>& sessions) noexcept;

 private:
  void run() noexcept;

  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<SessionTrace> waiting_;  // guarded by mutex_
  bool stopping_ = false;              // guarded by mutex_
  std::thread thread_;
};

}  // namespace synth::tracing::server
