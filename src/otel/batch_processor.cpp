#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

#include "diagnostics.hpp"
#include "synth/tracing/otel.hpp"
#include "worker_thread.hpp"

namespace synth::tracing {

namespace {

// What the queue holds: a span, or one to be built on the export thread (`pending`).
struct QueuedSpan {
  SpanData span;  // unless `pending`
  PendingSpanPtr pending;
};

// Bounded multi-producer queue after Dmitry Vyukov's array queue: one atomic sequence per cell,
// producers claim cells with one CAS, nobody takes a lock, capacity fixed at construction.
class SpanQueue {
 public:
  explicit SpanQueue(std::size_t capacity) : cells_(std::max<std::size_t>(capacity, 1)) {
    for (std::size_t i = 0; i < cells_.size(); ++i) cells_[i].sequence.store(i, std::memory_order_relaxed);
  }

  // `item`: a SpanData or a PendingSpanPtr, moved in unless the queue is full.
  template <class Item>
  bool try_push(Item&& item) noexcept {
    std::size_t pos = tail_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos % cells_.size()];
      const std::size_t seq = cell.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos);
      if (diff == 0) {
        if (tail_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          if constexpr (std::is_same_v<std::decay_t<Item>, PendingSpanPtr>) {
            cell.item.pending = std::move(item);
          } else {
            cell.item.span = std::move(item);
          }
          cell.sequence.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // full
      } else {
        pos = tail_.load(std::memory_order_relaxed);
      }
    }
  }

  // `out.pending` must be empty.
  bool try_pop(QueuedSpan& out) noexcept {
    std::size_t pos = head_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& cell = cells_[pos % cells_.size()];
      const std::size_t seq = cell.sequence.load(std::memory_order_acquire);
      const auto diff = static_cast<std::ptrdiff_t>(seq) - static_cast<std::ptrdiff_t>(pos + 1);
      if (diff == 0) {
        if (head_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out.pending = std::move(cell.item.pending);
          if (!out.pending) out.span = std::move(cell.item.span);
          cell.sequence.store(pos + cells_.size(), std::memory_order_release);
          return true;
        }
      } else if (diff < 0) {
        return false;  // empty
      } else {
        pos = head_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Cell {
    std::atomic<std::size_t> sequence{0};
    QueuedSpan item;
  };
  std::vector<Cell> cells_;
  alignas(64) std::atomic<std::size_t> tail_{0};
  alignas(64) std::atomic<std::size_t> head_{0};
};

}  // namespace

// The Impl whose sender thread this is (concurrent exports), else null: such a thread counts as an
// export thread for force_flush() and shutdown().
static thread_local const void* current_sender = nullptr;

struct BatchSpanProcessor::Impl {
  Impl(std::unique_ptr<SpanExporter> e, BatchOptions o)
      : exporter(std::move(e)),
        options(o),
        batch_size(std::clamp<std::size_t>(o.max_export_batch_size, 1, std::max<std::size_t>(o.max_queue_size, 1))),
        concurrency(exporter->concurrent_exports() ? std::max<std::size_t>(o.max_concurrent_exports, 1) : 1),
        queue(o.max_queue_size) {}

  void run();
  void run_loop();
  // Exports `batch` (and clears it): handed to an idle sender thread when there is one, so that
  // the next batch is collected and sent meanwhile; else exported on this thread.
  void export_batch(std::vector<SpanData>& batch);
  void export_now(std::vector<SpanData>& batch);
  // Moves what was popped into `batch`, building a pending span here, on the export thread (one
  // that fails to build is counted failed).
  void add(std::vector<SpanData>& batch, QueuedSpan& item) noexcept;
  void send_loop();
  // end(): a SpanData or a PendingSpanPtr.
  template <class Item>
  bool end(Item&& span) noexcept;
  // Waits until no sender thread has a batch.
  void wait_senders_idle();
  bool on_export_thread() const noexcept { return worker.is_current() || current_sender == this; }
  // Drops `batch` and everything queued, waiting for pushes in flight (shutdown).
  void drop_all(std::vector<SpanData>& batch);

  std::unique_ptr<SpanExporter> exporter;
  const BatchOptions options;
  const std::size_t batch_size;
  // Batches exported at once: the worker's own and concurrency - 1 sender threads' (fewer when
  // threads could not be started: senders_running).
  const std::size_t concurrency;
  SpanQueue queue;
  std::atomic<std::uint64_t> queued{0};
  std::atomic<std::uint64_t> ended{0};
  std::atomic<std::uint64_t> exported{0};
  std::atomic<std::uint64_t> dropped{0};
  std::atomic<std::uint64_t> failed{0};
  std::atomic<std::uint64_t> batches{0};
  // Set when shutdown begins: end() drops from then on.
  std::atomic<bool> closed{false};
  // Set at the shutdown deadline: the worker drops what is left instead of exporting it.
  std::atomic<bool> abandon{false};
  std::atomic<std::uint64_t> dropped_at_shutdown{0};

  std::mutex mutex;
  std::condition_variable wake;
  std::condition_variable flushed;
  bool stopping = false;              // guarded by mutex
  bool batch_ready = false;           // guarded by mutex
  std::uint64_t flush_requested = 0;  // guarded by mutex
  std::uint64_t flush_done = 0;       // guarded by mutex
  std::optional<bool> shutdown_result;  // guarded by mutex; set by the first shutdown()

  std::mutex send_mutex;
  std::condition_variable send_changed;
  std::deque<std::vector<SpanData>> pending;  // guarded by send_mutex
  std::size_t in_flight = 0;                  // guarded by send_mutex: handed to senders, not done
  std::size_t senders_running = 0;            // guarded by send_mutex: sender threads started
  bool senders_stop = false;                  // guarded by send_mutex
  std::vector<std::vector<SpanData>> spare;   // guarded by send_mutex: emptied batches, reused

  detail::WorkerThread worker;
};

void BatchSpanProcessor::Impl::export_batch(std::vector<SpanData>& batch) {
  if (batch.empty()) return;
  if (concurrency > 1) {
    std::unique_lock lock(send_mutex);
    if (in_flight < senders_running) {
      ++in_flight;
      pending.push_back(std::move(batch));
      if (!spare.empty()) {
        batch = std::move(spare.back());
        spare.pop_back();
      } else {
        batch = {};
        batch.reserve(batch_size);
      }
      lock.unlock();
      send_changed.notify_all();
      return;
    }
  }
  export_now(batch);
}

void BatchSpanProcessor::Impl::send_loop() {
  current_sender = this;
  std::unique_lock lock(send_mutex);
  for (;;) {
    send_changed.wait(lock, [&] { return senders_stop || !pending.empty(); });
    if (pending.empty()) return;
    std::vector<SpanData> batch = std::move(pending.front());
    pending.pop_front();
    lock.unlock();
    export_now(batch);
    lock.lock();
    --in_flight;
    spare.push_back(std::move(batch));
    send_changed.notify_all();
  }
}

void BatchSpanProcessor::Impl::wait_senders_idle() {
  if (concurrency == 1) return;
  std::unique_lock lock(send_mutex);
  send_changed.wait(lock, [&] { return in_flight == 0; });
}

void BatchSpanProcessor::Impl::export_now(std::vector<SpanData>& batch) {
  ExportResult result = ExportResult::failure;
  try {
    result = exporter->export_spans(batch);
  } catch (...) {
    detail::report("span exporter threw: " + detail::current_exception_text());
  }
  const std::uint64_t size = batch.size();
  const std::uint64_t refused =
      result.status == ExportResult::success ? std::min<std::uint64_t>(result.rejected, size) : size;
  // `batches` last: who sees the batch counted sees the other counters updated for it.
  queued.fetch_sub(size, std::memory_order_acq_rel);
  exported.fetch_add(size - refused, std::memory_order_relaxed);
  failed.fetch_add(refused, std::memory_order_relaxed);
  batches.fetch_add(1, std::memory_order_release);
  batch.clear();
}

void BatchSpanProcessor::Impl::add(std::vector<SpanData>& batch, QueuedSpan& item) noexcept {
  if (!item.pending) {
    batch.push_back(std::move(item.span));  // no reallocation: reserved to batch_size
    return;
  }
  PendingSpanPtr to_build = std::move(item.pending);
  try {
    batch.push_back(to_build->build());
  } catch (...) {
    queued.fetch_sub(1, std::memory_order_acq_rel);
    const std::uint64_t n = failed.fetch_add(1, std::memory_order_relaxed) + 1;
    if (detail::is_report_worthy(n)) {
      detail::report("a span could not be built for export: " + detail::current_exception_text() + " (" +
                     std::to_string(n) + " spans failed so far)");
    }
  }
}

void BatchSpanProcessor::Impl::drop_all(std::vector<SpanData>& batch) {
  std::uint64_t n = batch.size();
  batch.clear();
  queued.fetch_sub(n, std::memory_order_acq_rel);
  QueuedSpan span;
  // `queued` counts a span before it is in the queue: wait for pushes in flight (end() sees
  // `closed` and gives up, or pushes at once).
  while (queued.load(std::memory_order_acquire) > 0) {
    if (queue.try_pop(span)) {
      span.pending.reset();  // dropped unbuilt
      queued.fetch_sub(1, std::memory_order_acq_rel);
      ++n;
    } else {
      std::this_thread::yield();
    }
  }
  dropped.fetch_add(n, std::memory_order_relaxed);
  dropped_at_shutdown.fetch_add(n, std::memory_order_relaxed);
}

void BatchSpanProcessor::Impl::run() {
  std::vector<std::thread> senders;
  try {
    for (std::size_t i = 1; i < concurrency; ++i) senders.emplace_back([this] { send_loop(); });
  } catch (...) {
    detail::report("span export: could start only " + std::to_string(senders.size()) + " of " +
                   std::to_string(concurrency - 1) + " sender threads (" + detail::current_exception_text() +
                   "); fewer batches go at once (lower max_concurrent_exports, or check the process's thread limit)");
  }
  {
    std::lock_guard lock(send_mutex);
    senders_running = senders.size();
  }
  run_loop();
  {
    std::lock_guard lock(send_mutex);
    senders_stop = true;
  }
  send_changed.notify_all();
  for (std::thread& t : senders) t.join();
}

void BatchSpanProcessor::Impl::run_loop() {
  // Spans taken from the queue stay in `batch` (still counted in `queued`) until it is full, the
  // timer fires, or a flush or stop asks for everything: a wake-up never sends a partial batch.
  std::vector<SpanData> batch;
  batch.reserve(batch_size);
  auto deadline = std::chrono::steady_clock::now() + options.schedule_delay;
  std::unique_lock lock(mutex);
  for (;;) {
    wake.wait_until(lock, deadline, [&] { return stopping || batch_ready || flush_requested > flush_done; });
    const bool draining = stopping || flush_requested > flush_done;
    const bool timer = std::chrono::steady_clock::now() >= deadline;
    const std::uint64_t ticket = flush_requested;
    batch_ready = false;
    lock.unlock();
    for (;;) {
      if (abandon.load(std::memory_order_acquire)) {
        drop_all(batch);
        break;
      }
      QueuedSpan item;
      while (batch.size() < batch_size && queue.try_pop(item)) add(batch, item);
      if (batch.size() == batch_size) {
        export_batch(batch);
        continue;
      }
      if (!batch.empty() && (draining || timer)) {
        export_batch(batch);
        if (draining) continue;
      }
      // `queued` counts a span before it is in the queue, and until its batch is exported: while
      // draining, wait (blocked) for the batches of sender threads, then for pushes in flight.
      if (draining && batch.empty() && queued.load(std::memory_order_acquire) > 0) {
        wait_senders_idle();
        if (queued.load(std::memory_order_acquire) > 0) std::this_thread::yield();
        continue;
      }
      break;
    }
    // A flush is done when the batches handed to sender threads are, too.
    if (draining) wait_senders_idle();
    if (timer) deadline = std::chrono::steady_clock::now() + options.schedule_delay;
    lock.lock();
    if (draining) {
      flush_done = std::max(flush_done, ticket);
      flushed.notify_all();
    }
    if (stopping && queued.load(std::memory_order_acquire) == 0) return;
  }
}

template <class Item>
bool BatchSpanProcessor::Impl::end(Item&& span) noexcept {
  const std::uint64_t n_ended = ended.fetch_add(1, std::memory_order_relaxed) + 1;
  // Counted before the push, so the worker never sees more spans than `queued`. Sequentially
  // consistent with `closed`: a shutdown either sees this span counted or this call sees it.
  queued.fetch_add(1, std::memory_order_seq_cst);
  const bool shut = closed.load(std::memory_order_seq_cst);
  if (shut || !queue.try_push(std::move(span))) {
    queued.fetch_sub(1, std::memory_order_acq_rel);
    const std::uint64_t n = dropped.fetch_add(1, std::memory_order_relaxed) + 1;
    if (detail::is_report_worthy(n)) {
      detail::report(shut ? "span ended after the span export shut down: " + std::to_string(n) +
                                  " spans dropped so far"
                            : "span queue full (" + std::to_string(options.max_queue_size) + " spans): " +
                                  std::to_string(n) +
                                  " spans dropped so far (raise otel_max_queue_size, or check the collector)");
    }
    return false;
  }
  // Wake the exporter once per batch_size spans: a lock here once per batch, never per span. The
  // worker sends only full batches on such a wake, so a wake-up early or late costs nothing.
  if (n_ended % batch_size == 0) {
    {
      std::lock_guard lock(mutex);
      batch_ready = true;
    }
    wake.notify_one();
  }
  return true;
}

bool BatchSpanProcessor::end(SpanData&& span) noexcept { return impl_->end(std::move(span)); }

bool BatchSpanProcessor::end(PendingSpanPtr&& span) noexcept {
  // Released here when dropped: the caller's memory goes back on the caller's thread.
  PendingSpanPtr owned = std::move(span);
  return impl_->end(std::move(owned));
}

BatchSpanProcessor::BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchOptions options)
    : impl_(std::make_shared<Impl>(std::move(exporter), options)) {
  // The thread shares the state: it may outlive this object (destroyed from the thread itself,
  // or an exporter that ignores shutdown()).
  impl_->worker = detail::WorkerThread("synth-spans", [impl = impl_] { impl->run(); });
}

BatchSpanProcessor::~BatchSpanProcessor() { shutdown(impl_->options.shutdown_timeout); }

bool BatchSpanProcessor::force_flush(std::chrono::milliseconds timeout) {
  Impl& x = *impl_;
  std::unique_lock lock(x.mutex);
  // Once shutdown began, only shutdown() touches the thread.
  if (x.shutdown_result) return x.queued.load(std::memory_order_acquire) == 0;
  if (x.on_export_thread()) return false;
  const std::uint64_t ticket = ++x.flush_requested;
  x.wake.notify_one();
  return x.flushed.wait_for(lock, timeout, [&] { return x.flush_done >= ticket; });
}

bool BatchSpanProcessor::shutdown(std::chrono::milliseconds timeout) {
  Impl& x = *impl_;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  std::unique_lock lock(x.mutex);
  if (x.shutdown_result) return *x.shutdown_result;
  x.shutdown_result = false;
  x.closed.store(true, std::memory_order_seq_cst);
  if (x.on_export_thread()) {
    // Destroyed from inside export_spans(): the thread exports the rest, then ends by itself. (A
    // sender thread does not wait for the worker, which waits for it.)
    x.stopping = true;
    if (x.worker.is_current()) {
      x.worker.finish(deadline);
    } else {
      x.wake.notify_one();
      x.worker.finish(std::chrono::steady_clock::now());
    }
    return false;
  }
  const std::uint64_t ticket = ++x.flush_requested;
  x.wake.notify_one();
  const bool exported = x.flushed.wait_until(lock, deadline, [&] { return x.flush_done >= ticket; });
  x.stopping = true;
  if (!exported) x.abandon.store(true, std::memory_order_release);
  lock.unlock();
  x.wake.notify_one();
  x.exporter->shutdown();  // an export still in progress gives up now
  const bool ended = x.worker.finish(std::max(deadline, std::chrono::steady_clock::now()) + detail::kShutdownGrace);
  if (const std::uint64_t n = x.dropped_at_shutdown.load(std::memory_order_relaxed); n > 0) {
    detail::report("span export did not finish by the shutdown deadline: " + std::to_string(n) +
                   " spans still queued were dropped (raise shutdown_timeout_ms, or check the collector)");
  }
  if (!ended) {
    detail::report("the span exporter did not stop when asked at shutdown; it is left to finish in the background");
  }
  lock.lock();
  x.shutdown_result = exported && ended;
  return *x.shutdown_result;
}

BatchStats BatchSpanProcessor::stats() const {
  BatchStats s;
  s.batches = impl_->batches.load(std::memory_order_acquire);
  s.spans_ended = impl_->ended.load(std::memory_order_relaxed);
  s.spans_exported = impl_->exported.load(std::memory_order_relaxed);
  s.spans_dropped = impl_->dropped.load(std::memory_order_relaxed);
  s.spans_failed = impl_->failed.load(std::memory_order_relaxed);
  s.queued = impl_->queued.load(std::memory_order_relaxed);
  return s;
}

SpanExporter& BatchSpanProcessor::exporter() noexcept { return *impl_->exporter; }

}  // namespace synth::tracing
