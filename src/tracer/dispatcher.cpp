#include <condition_variable>
#include <deque>
#include <optional>
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

struct SinkDispatcher::State {
  State(std::size_t queue_capacity, std::shared_ptr<const HookList> hook_list, bool deliver_to_sinks)
      : capacity(queue_capacity), hooks(std::move(hook_list)), to_sinks(deliver_to_sinks) {}

  void run();
  void deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks, const std::shared_ptr<FinishedSession>& session);
  void flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& sinks);
  void start_locked(const std::shared_ptr<State>& self);

  const std::size_t capacity;
  const std::shared_ptr<const HookList> hooks;  // on_session_end runs here, before the sinks
  const bool to_sinks;                         // false: sessions go to the hooks only
  mutable std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable flushed;
  std::deque<std::shared_ptr<FinishedSession>> queue;  // guarded by mutex
  std::vector<std::shared_ptr<SessionSink>> sinks;     // guarded by mutex
  std::uint64_t submitted = 0;                         // guarded by mutex
  std::uint64_t completed = 0;  // guarded by mutex; written, or dropped at shutdown
  std::uint64_t flush_requested = 0;  // guarded by mutex
  std::uint64_t flush_done = 0;       // guarded by mutex
  bool stopping = false;              // guarded by mutex; submit() drops from then on
  std::optional<bool> shutdown_result;  // guarded by mutex; set by the first shutdown()
  WorkerThread worker;                  // started by the first add_sink() or start()
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> errors{0};
  std::atomic<std::uint64_t> lost{0};
};

SinkDispatcher::SinkDispatcher(std::size_t capacity, std::chrono::milliseconds shutdown_timeout,
                               std::shared_ptr<const HookList> hooks, bool to_sinks)
    : state_(std::make_shared<State>(capacity, std::move(hooks), to_sinks)), shutdown_timeout_(shutdown_timeout) {}

SinkDispatcher::~SinkDispatcher() { shutdown(std::chrono::steady_clock::now() + shutdown_timeout_); }

void SinkDispatcher::add_sink(std::shared_ptr<SessionSink> sink) {
  std::lock_guard lock(state_->mutex);
  state_->sinks.push_back(std::move(sink));
  state_->start_locked(state_);
}

void SinkDispatcher::start() {
  std::lock_guard lock(state_->mutex);
  state_->start_locked(state_);
}

void SinkDispatcher::State::start_locked(const std::shared_ptr<State>& self) {
  // The thread shares the state: it may outlive the dispatcher (see shutdown()).
  if (!stopping && !worker.running()) worker = WorkerThread([self] { self->run(); });
}

void SinkDispatcher::submit(std::shared_ptr<FinishedSession> session) noexcept {
  State& s = *state_;
  std::string dropped_id;
  std::uint64_t dropped_count = 0;
  bool stopped = false;
  {
    std::lock_guard lock(s.mutex);
    if ((s.sinks.empty() || !s.to_sinks) && !s.hooks->ends_sessions()) return;
    stopped = s.stopping;
    if (s.queue.size() >= s.capacity || stopped) {
      dropped_count = s.dropped.fetch_add(1, std::memory_order_relaxed) + 1;
      dropped_id = session->id();
    } else {
      try {
        s.queue.push_back(std::move(session));
        ++s.submitted;
      } catch (...) {
        dropped_count = s.dropped.fetch_add(1, std::memory_order_relaxed) + 1;
        dropped_id = session->id();
      }
    }
  }
  if (dropped_count == 0) {
    s.work_ready.notify_one();
  } else if (is_report_worthy(dropped_count)) {
    report((stopped ? "session '" + dropped_id + "' ended after the tracer shut down and was not written ("
                    : "sink queue full (" + std::to_string(s.capacity) + " sessions): session '" + dropped_id +
                          "' was not written (") +
           std::to_string(dropped_count) + " dropped so far" +
           (stopped ? ")" : "; raise TracingConfig::sink_queue_capacity or use faster sinks)"));
  }
}

bool SinkDispatcher::flush(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  // After a shutdown began only shutdown() touches the thread.
  if (s.stopping || !s.worker.running()) return s.completed == s.submitted;
  if (s.worker.is_current()) return false;  // a sink flushing its own tracer
  const std::uint64_t ticket = ++s.flush_requested;
  s.work_ready.notify_one();
  return s.flushed.wait_for(lock, timeout, [&] { return s.flush_done >= ticket; });
}

bool SinkDispatcher::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  if (s.shutdown_result) return *s.shutdown_result;
  s.stopping = true;
  s.shutdown_result = false;
  if (s.worker.is_current()) {
    // The last owner let go from inside a sink: the thread delivers the rest, then ends by itself.
    s.worker.finish(deadline);
    return false;
  }
  s.work_ready.notify_one();
  lock.unlock();
  // The thread ends once the queue is empty and the sinks flushed.
  const bool delivered = s.worker.wait_until(deadline);
  lock.lock();
  const std::size_t left = s.queue.size();
  s.queue.clear();
  s.completed += left;
  const std::uint64_t still_writing = s.submitted - s.completed;
  lock.unlock();
  if (left > 0) {
    s.dropped.fetch_add(left, std::memory_order_relaxed);
    report("sinks did not finish by the shutdown deadline: " + std::to_string(left) +
           " sessions still queued were dropped (raise shutdown_timeout_ms, or use faster sinks)");
  }
  const bool ended = s.worker.finish(std::max(deadline, std::chrono::steady_clock::now()) + kShutdownGrace);
  if (!ended) {
    report("a sink was still busy at the shutdown deadline" +
           (still_writing > 0 ? " writing " + std::to_string(still_writing) + " session(s)" : std::string()) +
           "; it is left to finish in the background");
  }
  lock.lock();
  s.shutdown_result = delivered && ended;
  return *s.shutdown_result;
}

std::uint64_t SinkDispatcher::dropped() const noexcept { return state_->dropped.load(std::memory_order_relaxed); }

std::uint64_t SinkDispatcher::errors() const noexcept { return state_->errors.load(std::memory_order_relaxed); }

std::uint64_t SinkDispatcher::lost() const noexcept { return state_->lost.load(std::memory_order_relaxed); }

std::uint64_t SinkDispatcher::pending() const {
  std::lock_guard lock(state_->mutex);
  return state_->submitted - state_->completed;
}

void SinkDispatcher::State::deliver(const std::vector<std::shared_ptr<SessionSink>>& targets,
                                    const std::shared_ptr<FinishedSession>& session) {
  std::shared_ptr<const SessionTrace> built;
  try {
    built = session->trace();  // the two-place trace is built here, off the agent's thread
  } catch (...) {
    errors.fetch_add(1, std::memory_order_relaxed);
    report("could not assemble session '" + session->id() + "' for the sinks: " + current_exception_text());
    return;
  }
  const SessionTrace& trace = *built;
  if (hooks->ends_sessions()) {
    hooks->for_each("on_session_end", trace.session_id, [&](const TraceHooks& h) {
      if (h.on_session_end) h.on_session_end(trace);
    });
  }
  if (!to_sinks) return;
  for (const auto& sink : targets) {
    try {
      sink->write(trace);
    } catch (...) {
      const std::uint64_t lost_now = sessions_lost_in_failure(1);  // a write that throws has lost its session
      lost.fetch_add(lost_now, std::memory_order_relaxed);
      const std::uint64_t n = errors.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to write session '" + trace.session_id +
               "': " + current_exception_text() + " (" + std::to_string(n) + " sink errors so far" + lost_text(lost_now) +
               ")");
      }
    }
  }
}

void SinkDispatcher::State::flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& targets) {
  for (const auto& sink : targets) {
    try {
      sink->flush();
    } catch (...) {
      const std::uint64_t lost_now = sessions_lost_in_failure(0);
      lost.fetch_add(lost_now, std::memory_order_relaxed);
      const std::uint64_t n = errors.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + typeid(*sink).name() + " failed to flush: " + current_exception_text() + " (" +
               std::to_string(n) + " sink errors so far" + lost_text(lost_now) + ")");
      }
    }
  }
}

void SinkDispatcher::State::run() {
  std::unique_lock lock(mutex);
  bool dirty = false;  // written since the sinks were last flushed
  for (;;) {
    work_ready.wait(lock, [&] { return stopping || !queue.empty() || flush_requested > flush_done; });
    while (!queue.empty()) {
      auto session = std::move(queue.front());
      queue.pop_front();
      const auto targets = sinks;
      lock.unlock();
      deliver(targets, session);
      session.reset();
      lock.lock();
      ++completed;
      dirty = true;
    }
    // The queue is empty: a natural point for sinks to commit their batch.
    if (dirty || flush_requested > flush_done) {
      const std::uint64_t ticket = flush_requested;
      const auto targets = sinks;
      lock.unlock();
      flush_sinks(targets);
      lock.lock();
      dirty = false;
      flush_done = std::max(flush_done, ticket);
      flushed.notify_all();
    }
    if (stopping && queue.empty()) return;
  }
}

}  // namespace synth::tracing::detail
