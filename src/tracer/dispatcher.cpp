#include <typeinfo>

#include "diagnostics.hpp"
#include "tracer/state.hpp"

namespace synth::tracing::detail {

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
  start_locked();
}

void SinkDispatcher::start() {
  std::lock_guard lock(mutex_);
  start_locked();
}

void SinkDispatcher::start_locked() {
  if (!worker_.joinable()) worker_ = std::thread([this] { run(); });
}

void SinkDispatcher::submit(std::shared_ptr<FinishedSession> session) noexcept {
  std::string dropped_id;
  std::uint64_t dropped_count = 0;
  {
    std::lock_guard lock(mutex_);
    if ((sinks_.empty() || !to_sinks_) && !hooks_.ends_sessions()) return;
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
  if (hooks_.ends_sessions()) {
    hooks_.for_each("on_session_end", trace.session_id, [&](const TraceHooks& h) {
      if (h.on_session_end) h.on_session_end(trace);
    });
  }
  if (!to_sinks_) return;
  for (const auto& sink : sinks) {
    try {
      sink->write(trace);
    } catch (...) {
      const std::uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to write session '" + trace.session_id +
               "': " + current_exception_text() + " (" + std::to_string(n) + " sink errors so far)");
      }
    }
  }
}

void SinkDispatcher::flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& sinks) {
  for (const auto& sink : sinks) {
    try {
      sink->flush();
    } catch (...) {
      const std::uint64_t n = errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to flush: " + current_exception_text());
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
