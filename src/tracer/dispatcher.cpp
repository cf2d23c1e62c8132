#include "tracer/dispatcher.hpp"

#include <condition_variable>
#include <deque>
#include <optional>
#include <typeinfo>

#include "diagnostics.hpp"
#include "spill/spill_file.hpp"
#include "tracer/state.hpp"
#include "synth/tracing/spill.hpp"

namespace synth::tracing::detail {

namespace {
// Sessions with spill files delivered between two flushes of the sinks, at most.
constexpr std::size_t kFlushEvery = 256;

// How long what was delivered may wait for the sinks' flush once the queue ran empty. A rollout
// ends a short session every few milliseconds and the thread empties the queue between two: a
// flush each time (a DuckDB commit, an fsync per JSON file) cost more than storing the session.
constexpr std::chrono::milliseconds kIdleFlushDelay{100};

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

thread_local const std::shared_ptr<const SessionTrace>* delivering_now = nullptr;
}  // namespace

std::shared_ptr<const SessionTrace> shared_if_delivered(const SessionTrace& trace) noexcept {
  if (delivering_now == nullptr || delivering_now->get() != &trace) return nullptr;
  return *delivering_now;
}

DeliveringTrace::DeliveringTrace(const std::shared_ptr<const SessionTrace>& trace) noexcept
    : previous_(delivering_now) {
  delivering_now = &trace;
}

DeliveringTrace::~DeliveringTrace() { delivering_now = previous_; }

struct SinkDispatcher::State {
  State(const TracingConfig& config, std::shared_ptr<const HookList> hook_list, bool deliver_to_sinks,
        std::shared_ptr<SpillWriter> spill_writer)
      : capacity(config.sink_queue_capacity),
        overflow(config.overflow),
        overflow_timeout(std::chrono::milliseconds(*config.overflow_timeout_ms)),
        hooks(std::move(hook_list)),
        to_sinks(deliver_to_sinks),
        spill(std::move(spill_writer)) {}

  void run();
  void deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks, const std::shared_ptr<FinishedSession>& session);
  // A session kept whole in the spill (overflowed, or recovered from a tracer that is gone).
  // False when the file cannot be read (it is kept).
  bool deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks, const SpilledFile& spilled);
  void deliver(const std::vector<std::shared_ptr<SessionSink>>& sinks, std::shared_ptr<const SessionTrace> trace);
  void flush_sinks(const std::vector<std::shared_ptr<SessionSink>>& sinks);
  void start_locked(const std::shared_ptr<State>& self);
  // Counts and reports a session not given to the sinks.
  void count_drop(const std::string& session_id, const char* why) noexcept;

  const std::size_t capacity;
  const OverflowPolicy overflow;
  const std::chrono::milliseconds overflow_timeout;
  const std::shared_ptr<const HookList> hooks;  // on_session_end runs here, before the sinks
  const bool to_sinks;                         // false: sessions go to the hooks only
  const std::shared_ptr<SpillWriter> spill;    // may be null
  mutable std::mutex mutex;
  std::condition_variable work_ready;
  std::condition_variable flushed;
  std::condition_variable room;  // the queue shrank (OverflowPolicy::block waits for it)
  std::deque<std::shared_ptr<FinishedSession>> queue;  // guarded by mutex
  std::vector<std::shared_ptr<FinishedSession>> released;  // guarded by mutex; freed by the thread
  std::deque<SpilledFile> spilled;                     // guarded by mutex; after the queue
  std::vector<std::shared_ptr<SpillCursor>> delivered;  // guarded by mutex; since the last flush
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

SinkDispatcher::SinkDispatcher(const TracingConfig& config, std::shared_ptr<const HookList> hooks, bool to_sinks,
                               std::shared_ptr<SpillWriter> spill)
    : state_(std::make_shared<State>(config, std::move(hooks), to_sinks, spill)),
      spill_(std::move(spill)),
      shutdown_timeout_(std::chrono::milliseconds(*config.shutdown_timeout_ms)) {}

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
  if (!stopping && !worker.running()) worker = WorkerThread("synth-sinks", [self] { self->run(); });
}

void SinkDispatcher::State::count_drop(const std::string& session_id, const char* why) noexcept {
  const std::uint64_t n = dropped.fetch_add(1, std::memory_order_relaxed) + 1;
  if (!is_report_worthy(n)) return;
  try {
    report("session '" + session_id + "' was not written: " + why + " (" + std::to_string(n) + " dropped so far)");
  } catch (...) {
    // The counter still tells.
  }
}

void SinkDispatcher::submit(std::shared_ptr<FinishedSession> session) noexcept {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  if ((s.sinks.empty() || !s.to_sinks) && !s.hooks->ends_sessions()) return;
  if (s.stopping) {
    lock.unlock();
    s.count_drop(session->id(), "it ended after the tracer shut down");
    return;
  }
  if (s.queue.size() >= s.capacity && s.overflow == OverflowPolicy::block) {
    s.room.wait_for(lock, s.overflow_timeout, [&] { return s.stopping || s.queue.size() < s.capacity; });
  }
  if (s.queue.size() >= s.capacity || s.stopping) {
    ++s.submitted;  // counted as pending while the spill writes it
    lock.unlock();
    if (s.overflow == OverflowPolicy::spill && s.spill && s.spill->overflow(session, s.overflow_timeout)) return;
    lock.lock();
    ++s.completed;
    lock.unlock();
    s.work_ready.notify_one();  // a flush may have waited for it
    const char* why = s.overflow == OverflowPolicy::spill
                          ? "the sink queue is full and the spill cannot take it (off, or full: see spill_max_bytes)"
                          : "the sink queue is full (raise TracingConfig::sink_queue_capacity, or use overflow = spill)";
    s.count_drop(session->id(), why);
    return;
  }
  try {
    s.queue.push_back(session);
    ++s.submitted;
  } catch (...) {
    lock.unlock();
    s.count_drop(session->id(), "out of memory");
    return;
  }
  lock.unlock();
  s.work_ready.notify_one();
  // Queued sessions that were checkpointed get their end in the spill: crash-safe until stored.
  if (s.spill && session->spill()) s.spill->ended(std::move(session));
}

void SinkDispatcher::release(std::vector<std::shared_ptr<FinishedSession>>& sessions) noexcept {
  State& s = *state_;
  {
    std::lock_guard lock(s.mutex);
    if (!s.stopping && s.worker.running()) {
      for (auto& session : sessions) {
        if (!session || s.released.size() >= s.capacity) continue;
        try {
          s.released.push_back(std::move(session));
        } catch (...) {
          break;  // out of memory: freed here
        }
      }
    }
  }
  sessions.clear();
}

void SinkDispatcher::start_spill(std::weak_ptr<TracerCore> core) {
  if (!spill_) return;
  std::weak_ptr<State> weak = state_;
  spill_->start(
      std::move(core),
      [weak](SpilledFile file) {
        const auto s = weak.lock();
        if (!s) return;
        {
          std::lock_guard lock(s->mutex);
          if (s->stopping) return;  // it stays on disk for the next recovery
          if (file.recovered) ++s->submitted;
          s->spilled.push_back(std::move(file));
        }
        s->work_ready.notify_one();
      },
      [weak](const std::string& session_id) {
        const auto s = weak.lock();
        if (!s) return;
        {
          std::lock_guard lock(s->mutex);
          ++s->completed;
        }
        s->work_ready.notify_one();  // a flush may have waited for it
        s->count_drop(session_id, "the sink queue is full and the spill could not write it (see spill_max_bytes)");
      });
}

bool SinkDispatcher::flush(std::chrono::milliseconds timeout) {
  State& s = *state_;
  std::unique_lock lock(s.mutex);
  // After a shutdown began only shutdown() touches the thread.
  if (s.stopping || !s.worker.running()) return s.completed == s.submitted && s.spilled.empty();
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
  const auto targets = s.sinks;
  lock.unlock();
  // Sinks that retry (over a network) learn when waiting for them ends.
  for (const auto& sink : targets) sink->shutdown_by(deadline);
  // The thread ends once the queue is empty and the sinks flushed.
  const bool delivered = s.worker.wait_until(deadline);
  lock.lock();
  const std::size_t left = s.queue.size();
  s.queue.clear();
  s.completed += left;
  // Whole on disk already: the next recovery (a tracer on the same spill_dir, synth-trace recover) stores them.
  const std::size_t left_in_spill = s.spilled.size();
  s.spilled.clear();
  s.completed += left_in_spill;
  const std::uint64_t still_writing = s.submitted - s.completed;
  lock.unlock();
  if (left_in_spill > 0) {
    report(std::to_string(left_in_spill) +
           " sessions kept in the spill were not stored by the shutdown deadline; they stay on disk for the next "
           "recovery (a tracer with the same spill_dir, or `synth-trace recover`)");
  }
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
  deliver(targets, std::move(built));
}

bool SinkDispatcher::State::deliver(const std::vector<std::shared_ptr<SessionSink>>& targets, const SpilledFile& from_spill) {
  std::shared_ptr<SpilledSession> read;
  std::error_code size_error;
  if (std::filesystem::file_size(from_spill.file, size_error) == 0 && !size_error) {
    return true;  // created by a process that died before writing to it: nothing to store
  }
  try {
    read = std::make_shared<SpilledSession>(read_spill_file(from_spill.file));
    if (!read->ended) read->trace.session_metadata.push_back(aborted_status("its process ended before the session did"));
  } catch (...) {
    errors.fetch_add(1, std::memory_order_relaxed);
    report("could not read spilled session " + from_spill.file.string() + ": " + current_exception_text() +
           " (the file is kept; `synth-trace recover` reports what it holds)");
    return false;
  }
  if (read->bytes_cut > 0) {
    report("spilled session '" + read->trace.session_id + "' (" + from_spill.file.string() + "): a torn tail of " +
           std::to_string(read->bytes_cut) + " bytes was cut");
  }
  deliver(targets, std::shared_ptr<const SessionTrace>(read, &read->trace));
  return true;
}

void SinkDispatcher::State::deliver(const std::vector<std::shared_ptr<SessionSink>>& targets,
                                    std::shared_ptr<const SessionTrace> shared) {
  const SessionTrace& trace = *shared;
  if (hooks->ends_sessions()) {
    hooks->for_each("on_session_end", trace.session_id, [&](const TraceHooks& h) {
      if (h.on_session_end) h.on_session_end(trace);
    });
  }
  if (!to_sinks) return;
  const DeliveringTrace delivering(shared);
  for (const auto& sink : targets) {
    try {
      sink->write(trace);
    } catch (...) {
      const std::uint64_t lost_now = sessions_lost_in_failure(1);  // a write that throws has lost its session
      lost.fetch_add(lost_now, std::memory_order_relaxed);
      const std::uint64_t n = errors.fetch_add(1, std::memory_order_relaxed) + 1;
      if (is_report_worthy(n)) {
        report(std::string("sink ") + type_name(typeid(*sink)) + " failed to write session '" + trace.session_id +
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
        report(std::string("sink ") + type_name(typeid(*sink)) + " failed to flush: " + current_exception_text() + " (" +
               std::to_string(n) + " sink errors so far" + lost_text(lost_now) + ")");
      }
    }
  }
}

void SinkDispatcher::State::run() {
  std::unique_lock lock(mutex);
  bool dirty = false;  // written since the sinks were last flushed
  std::chrono::steady_clock::time_point flush_due;  // while dirty: kIdleFlushDelay after its first write
  for (;;) {
    const auto ready = [&] {
      return stopping || !queue.empty() || !spilled.empty() || (flush_requested > flush_done && completed == submitted);
    };
    if (dirty) {
      work_ready.wait_until(lock, flush_due, ready);
    } else {
      work_ready.wait(lock, ready);
    }
    if (!released.empty()) {
      auto freed_here = std::move(released);
      released.clear();
      lock.unlock();
      freed_here.clear();
      lock.lock();
    }
    // The queue first; sessions on disk as it runs empty.
    while (!queue.empty() || !spilled.empty()) {
      const auto targets = sinks;
      if (!queue.empty()) {
        auto session = std::move(queue.front());
        queue.pop_front();
        lock.unlock();
        room.notify_one();
        deliver(targets, session);
        lock.lock();
        if (session->spill()) delivered.push_back(session->spill());
        lock.unlock();
        session.reset();
      } else {
        SpilledFile file = std::move(spilled.front());
        spilled.pop_front();
        lock.unlock();
        const bool read = deliver(targets, file);
        lock.lock();
        if (read) delivered.push_back(std::move(file.cursor));
        lock.unlock();
      }
      lock.lock();
      ++completed;
      if (!dirty) flush_due = std::chrono::steady_clock::now() + kIdleFlushDelay;
      dirty = true;
      // A long backlog is flushed now and then, so that the spill files of what is stored go
      // (the spill's disk stays within its cap) and the sinks commit as they go.
      if (delivered.size() >= kFlushEvery) break;
    }
    // The queue is empty (or a batch was delivered): a natural point for sinks to commit, once
    // the first session written since the last flush waited kIdleFlushDelay.
    const bool flush_now =
        stopping || delivered.size() >= kFlushEvery || std::chrono::steady_clock::now() >= flush_due;
    if ((dirty && flush_now) || flush_requested > flush_done) {
      const std::uint64_t ticket = flush_requested;
      const auto targets = sinks;
      auto stored = std::move(delivered);
      delivered.clear();
      lock.unlock();
      flush_sinks(targets);
      // Every sink has them now (or counted them lost): their spill files go.
      if (spill) {
        for (const auto& cursor : stored) spill->stored(cursor);
      }
      lock.lock();
      dirty = false;
      if (completed == submitted) flush_done = std::max(flush_done, ticket);
      flushed.notify_all();
    }
    if (stopping && queue.empty() && spilled.empty()) return;
  }
}

}  // namespace synth::tracing::detail
