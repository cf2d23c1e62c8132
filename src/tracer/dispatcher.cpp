#include <typeinfo>

#include "diagnostics.hpp"
#include "tracer/state.hpp"

namespace synth::tracing::detail {

namespace {
// Sessions lost to the sink failure being handled: what SessionsLost says, else `otherwise`.
std::uint64_t sessions_lost_in_failure(std::uint64_t otherwise) {
  try {
    throw;
  } catch (const SessionsLost& e) {
    return e.count();
  } catch (...) {
    return otherwise;
  }
}

std::string lost_text(std::uint64_t lost) {
  if (lost == 0) return "";
  return ", " + std::to_string(lost) + (lost == 1 ? " session lost" : " sessions lost");
}
}  // namespace

SinkDispatcher::~SinkDispatcher() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  if (worker_.joinable()) {
    if (worker_.get_id() == std::this_thread::get_id()) {
      worker_.detach();  // the last owner let go from inside a sink; the thread ends by itself
    } else {
      worker_.join();
    }
  }
}

void SinkDispatcher::add_sink(std::shared_ptr<SessionSink> sink) {
  std::lock_guard lock(mutex_);
  sinks_.push_back(std::move(sink));
  if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
}

void SinkDispatcher::submit(std::shared_ptr<FinishedSession> session) noexcept {
  std::string dropped_id;
  std::uint64_t dropped_count = 0;
  {
    std::lock_guard lock(mutex_);
    if (sinks_.empty()) return;
    if (queue_.size() >= capacity_ || stopping_) {
      dropped_count = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
      dropped_id = session->id();
    } else {
      try {
        queue_.push_back(std::move(session));
        ++submitted_;
      } catch (...) {
        dropped_count = dropped_.fetch_add(1, std::memory_order_relaxed) + 1;
        dropped_id = session->id();
      }
    }
  }
  if (dropped_count == 0) {
    work_ready_.notify_one();
  } else if (is_report_worthy(dropped_count)) {
    report("sink queue full (" + std::to_string(capacity_) + " sessions): session '" + dropped_id +
           "' was not written (" + std::to_string(dropped_count) +
           " dropped so far; raise TracingConfig::sink_queue_capacity or use faster sinks)");
  }
}

bool SinkDispatcher::flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  if (!worker_.joinable()) return true;
  if (worker_.get_id() == std::this_thread::get_id()) return false;  // a sink flushing its own tracer
  const std::uint64_t ticket = ++flush_requested_;
  work_ready_.notify_one();
  return flushed_.wait_for(lock, timeout, [&] { return flush_done_ >= ticket; });
}

std::uint64_t SinkDispatcher::pending() const {
  std::lock_guard lock(mutex_);
  return submitted_ - completed_;
}

void SinkDispatcher::deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks,
                             const std::shared_ptr<FinishedSession>& session) {
  std::shared_ptr<const SessionTrace> built;
  try {
    built = session->trace();  // the two-place trace is built here, off the agent's thread
  } catch (...) {
    errors_.fetch_add(1, std::memory_order_relaxed);
    report("could not assemble session '" + session->id() + "' for the sinks: " + current_exception_text());
    return;
  }
  const SessionTrace& trace = *built;
  for (const auto& sink : sinks) {
    try {
      sink->write(trace);
    } catch (...) {
      const std::uint64_t lost = sessions_lost_in_failure(1);  // a write that throws has lost its session
      lost_.fetch_add(lost, std::memory_order_relaxed);
      const std::uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to write session '" + trace.session_id +
               "': " + current_exception_text() + " (" + std::to_string(n) + " sink errors so far" + lost_text(lost) +
               ")");
      }
    }
  }
}

void SinkDispatcher::flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& sinks) {
  for (const auto& sink : sinks) {
    try {
      sink->flush();
    } catch (...) {
      const std::uint64_t lost = sessions_lost_in_failure(0);
      lost_.fetch_add(lost, std::memory_order_relaxed);
      const std::uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to flush: " + current_exception_text() + " (" +
               std::to_string(n) + " sink errors so far" + lost_text(lost) + ")");
      }
    }
  }
}

void SinkDispatcher::run() {
  std::unique_lock lock(mutex_);
  bool dirty = false;  // written since the sinks were last flushed
  for (;;) {
    work_ready_.wait(lock, [&] { return stopping_ || !queue_.empty() || flush_requested_ > flush_done_; });
    while (!queue_.empty()) {
      auto session = std::move(queue_.front());
      queue_.pop_front();
      const auto sinks = sinks_;
      lock.unlock();
      deliver(sinks, session);
      session.reset();
      lock.lock();
      ++completed_;
      dirty = true;
    }
    // The queue is empty: a natural point for sinks to commit their batch.
    if (dirty || flush_requested_ > flush_done_) {
      const std::uint64_t ticket = flush_requested_;
      const auto sinks = sinks_;
      lock.unlock();
      flush_sinks(sinks);
      lock.lock();
      dirty = false;
      flush_done_ = std::max(flush_done_, ticket);
      flushed_.notify_all();
    }
    if (stopping_ && queue_.empty()) return;
  }
}

}  // namespace synth::tracing::detail
