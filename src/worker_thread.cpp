#include "worker_thread.hpp"

#include <pthread.h>

#include <cstdio>
#include <exception>

#include "diagnostics.hpp"

namespace synth::tracing::detail {

void name_this_thread(const char* name) noexcept { pthread_setname_np(pthread_self(), name); }

WorkerThread::WorkerThread(const char* name, std::function<void()> body) : done_(std::make_shared<Done>()) {
  thread_ = std::thread([done = done_, name, body = std::move(body)] {
    name_this_thread(name);
    try {
      body();
    } catch (...) {
      // Leaving the thread, it would end the program (std::terminate). The bodies handle what
      // they expect; this is the last guard. Said without allocating: it may be out of memory.
      char what[200] = "not a std::exception";
      try {
        throw;
      } catch (const std::exception& e) {
        std::snprintf(what, sizeof what, "%s", e.what());
      } catch (...) {
      }
      char message[320];
      std::snprintf(message, sizeof message, "the background thread %s stopped on an exception (%s)", name, what);
      report(message);
    }
    {
      std::lock_guard lock(done->mutex);
      done->done = true;
    }
    done->changed.notify_all();
  });
}

WorkerThread::~WorkerThread() { finish(std::chrono::steady_clock::time_point::min()); }

WorkerThread& WorkerThread::operator=(WorkerThread&& other) noexcept {
  if (this != &other) {
    finish(std::chrono::steady_clock::time_point::min());
    done_ = std::move(other.done_);
    thread_ = std::move(other.thread_);
  }
  return *this;
}

bool WorkerThread::wait_until(std::chrono::steady_clock::time_point deadline) noexcept {
  if (!thread_.joinable()) return true;
  if (is_current()) return false;
  std::unique_lock lock(done_->mutex);
  return done_->changed.wait_until(lock, deadline, [&] { return done_->done; });
}

bool WorkerThread::finish(std::chrono::steady_clock::time_point deadline) noexcept {
  if (!thread_.joinable()) return true;
  const bool done = wait_until(deadline);
  // A finished body only has its captures left to release: the join is immediate.
  if (done) {
    thread_.join();
  } else {
    thread_.detach();  // the body keeps what it uses alive and ends by itself
  }
  return done;
}

}  // namespace synth::tracing::detail
