// BatchSpanProcessor on its own: full batches go at once, the timer sends the rest, every span is
// exported, dropped or failed exactly once under concurrent producers, flush and shutdown drain.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <future>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>
#include <vector>

#include "support.hpp"
#include "synth/tracing/otel.hpp"

namespace st = synth::tracing;
using namespace std::chrono_literals;

namespace {

// What a CollectingExporter was given; outlives the exporter (which the processor owns).
class Collected {
 public:
  st::ExportResult take(std::span<st::SpanData> spans) {
    std::unique_lock lock(mutex_);
    ++calls_;
    max_active_ = std::max(max_active_, ++active_);
    changed_.notify_all();
    open_.wait(lock, [&] { return !held_; });
    --active_;
    batch_sizes_.push_back(spans.size());
    if (fail_) return st::ExportResult::failure;
    for (const auto& s : spans) ids_.push_back(s.span_id);
    changed_.notify_all();
    return st::ExportResult::success;
  }
  // Holds the export thread inside export_spans() until release().
  void hold() {
    std::lock_guard lock(mutex_);
    held_ = true;
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      held_ = false;
    }
    open_.notify_all();
  }
  void fail() {
    std::lock_guard lock(mutex_);
    fail_ = true;
  }
  // SpanExporter::shutdown(): an export held gives up with a failure, as do later ones.
  void abandon() {
    {
      std::lock_guard lock(mutex_);
      shutdowns_ += 1;
      fail_ = true;
      held_ = false;
    }
    open_.notify_all();
  }
  int shutdowns() {
    std::lock_guard lock(mutex_);
    return shutdowns_;
  }
  // Waits until `n` spans were exported; false after 10 s.
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return ids_.size() >= n; });
  }
  int calls() {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  // The most export_spans() calls that were in progress at once.
  int max_active() {
    std::lock_guard lock(mutex_);
    return max_active_;
  }
  bool wait_for_calls(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, 10s, [&] { return calls_ >= n; });
  }
  std::vector<std::uint64_t> ids() {
    std::lock_guard lock(mutex_);
    return ids_;
  }
  std::vector<std::size_t> batch_sizes() {
    std::lock_guard lock(mutex_);
    return batch_sizes_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable open_, changed_;
  bool held_ = false, fail_ = false;
  int calls_ = 0, shutdowns_ = 0, active_ = 0, max_active_ = 0;
  std::vector<std::uint64_t> ids_;
  std::vector<std::size_t> batch_sizes_;
};

// Keeps what it is given in a Collected the test holds on to.
class CollectingExporter : public st::SpanExporter {
 public:
  // `concurrent`: says export_spans() may run on several threads at once (Collected is safe so).
  explicit CollectingExporter(std::shared_ptr<Collected> into, bool concurrent = false)
      : into_(std::move(into)), concurrent_(concurrent) {}
  st::ExportResult export_spans(std::span<st::SpanData> spans) override { return into_->take(spans); }
  void shutdown() noexcept override { into_->abandon(); }
  bool concurrent_exports() const noexcept override { return concurrent_; }

 private:
  std::shared_ptr<Collected> into_;
  bool concurrent_;
};

// An exporter for a processor, and what it will have collected.
std::pair<std::unique_ptr<st::SpanExporter>, std::shared_ptr<Collected>> collecting(bool concurrent = false) {
  auto collected = std::make_shared<Collected>();
  return {std::make_unique<CollectingExporter>(collected, concurrent), collected};
}

st::SpanData span(std::uint64_t id) {
  st::SpanData s;
  s.trace_id_low = 1;
  s.span_id = id;
  s.name = "s";
  return s;
}

}  // namespace

TEST(BatchSpanProcessor, AFullBatchGoesWithoutWaitingForTheTimer) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 100, .max_export_batch_size = 10,
                                                      .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 25; ++i) EXPECT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(exporter.wait_for(20));  // two full batches, long before the hour is up
  // The counters are updated once export_spans returned.
  ASSERT_TRUE(st::testing::wait_until([&] { return processor.stats().batches >= 2; }));
  EXPECT_EQ(exporter.batch_sizes(), (std::vector<std::size_t>{10, 10}));
  EXPECT_EQ(processor.stats().queued, 5u);
  ASSERT_TRUE(processor.force_flush(10s));  // the rest on flush
  EXPECT_EQ(exporter.ids().size(), 25u);
}

TEST(BatchSpanProcessor, TheTimerSendsAPartialBatch) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 100, .max_export_batch_size = 50,
                                                      .schedule_delay = 20ms});
  for (std::uint64_t i = 1; i <= 3; ++i) processor.end(span(i));
  ASSERT_TRUE(exporter.wait_for(3));  // sent by the timer: nothing else asked for it
  ASSERT_TRUE(processor.force_flush(10s));  // the counters are updated once export_spans returned
  EXPECT_EQ(processor.stats().spans_exported, 3u);
}

TEST(BatchSpanProcessor, ConcurrentProducersEveryIdExportedOnce) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  constexpr int kThreads = 4;
  constexpr std::uint64_t kPerThread = 20000;
  {
    st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = kThreads * kPerThread,
                                                        .max_export_batch_size = 512, .schedule_delay = 5ms});
    std::vector<std::thread> producers;
    for (int t = 0; t < kThreads; ++t) {
      producers.emplace_back([&, t] {
        for (std::uint64_t i = 0; i < kPerThread; ++i) processor.end(span(t * kPerThread + i + 1));
      });
    }
    for (auto& p : producers) p.join();
    ASSERT_TRUE(processor.force_flush(30s));
    const auto stats = processor.stats();
    EXPECT_EQ(stats.spans_ended, kThreads * kPerThread);
    EXPECT_EQ(stats.spans_exported, kThreads * kPerThread);
    EXPECT_EQ(stats.spans_dropped, 0u);
  }
  const auto ids = exporter.ids();
  EXPECT_EQ(std::set<std::uint64_t>(ids.begin(), ids.end()).size(), kThreads * kPerThread);
}

TEST(BatchSpanProcessor, OverflowDropsAreCountedExactlyWhileTheExporterIsStuck) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  exporter.hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 32, .max_export_batch_size = 8,
                                                      .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 8; ++i) processor.end(span(i));
  ASSERT_TRUE(exporter.wait_for_calls(1));  // the first batch is stuck in the exporter
  std::atomic<std::uint64_t> refused{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 4; ++t) {
    producers.emplace_back([&, t] {
      for (std::uint64_t i = 0; i < 100; ++i) {
        if (!processor.end(span(1000 + t * 100 + i))) refused.fetch_add(1);
      }
    });
  }
  for (auto& p : producers) p.join();
  EXPECT_EQ(refused.load(), 400u - 32u);  // the queue holds exactly its capacity
  EXPECT_EQ(processor.stats().spans_dropped, refused.load());
  EXPECT_FALSE(processor.force_flush(50ms));  // stuck: the flush times out instead of hanging
  exporter.release();
  ASSERT_TRUE(processor.force_flush(10s));
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_ended, 408u);
  EXPECT_EQ(stats.spans_exported + stats.spans_dropped, stats.spans_ended);
  EXPECT_EQ(exporter.ids().size(), 40u);
}

TEST(BatchSpanProcessor, FailuresAreCountedAndShutdownDrainsTheQueue) {
  auto [failing, failures] = collecting();
  failures->fail();
  st::BatchSpanProcessor bad(std::move(failing), {.max_queue_size = 64, .max_export_batch_size = 16});
  for (std::uint64_t i = 1; i <= 20; ++i) bad.end(span(i));
  ASSERT_TRUE(bad.force_flush(10s));
  EXPECT_EQ(bad.stats().spans_failed, 20u);

  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  {
    st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 64, .max_export_batch_size = 16,
                                                        .schedule_delay = std::chrono::hours(1)});
    for (std::uint64_t i = 1; i <= 5; ++i) processor.end(span(i));
  }  // destroyed: what was queued is exported first
  EXPECT_EQ(exporter.ids().size(), 5u);
}

TEST(BatchSpanProcessor, ShutdownDropsWhatTheDeadlineLeftAndCountsEverySpanOnce) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  exporter.hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 64, .max_export_batch_size = 8,
                                                      .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(exporter.wait_for_calls(1));  // the first batch is stuck in the exporter
  EXPECT_FALSE(processor.shutdown(50ms));
  EXPECT_EQ(exporter.shutdowns(), 1);  // asked to give up the export in progress
  auto stats = processor.stats();
  EXPECT_EQ(stats.spans_ended, 20u);
  EXPECT_EQ(stats.spans_failed, 8u);    // the batch the exporter abandoned
  EXPECT_EQ(stats.spans_dropped, 12u);  // still queued at the deadline
  EXPECT_EQ(stats.spans_exported + stats.queued, 0u);
  // Shut down: later spans are dropped and counted, flushes and shutdowns answer at once.
  EXPECT_FALSE(processor.end(span(21)));
  EXPECT_EQ(processor.stats().spans_dropped, 13u);
  EXPECT_TRUE(processor.force_flush(10s));
  EXPECT_FALSE(processor.shutdown(10s));
  EXPECT_EQ(exporter.shutdowns(), 1);
}

TEST(BatchSpanProcessor, ShutdownInTimeExportsEverything) {
  auto [owned, collected] = collecting();
  Collected& exporter = *collected;
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 64, .max_export_batch_size = 16,
                                                      .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 20; ++i) processor.end(span(i));
  EXPECT_TRUE(processor.shutdown(10s));
  EXPECT_EQ(processor.stats().spans_exported, 20u);
  EXPECT_EQ(exporter.ids().size(), 20u);
}

TEST(BatchSpanProcessor, ConcurrentExportsKeepSeveralBatchesInFlightAndAFlushWaitsForAll) {
  auto [owned, collected] = collecting(/*concurrent=*/true);
  Collected& exporter = *collected;
  exporter.hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 100, .max_export_batch_size = 10,
                                                      .schedule_delay = std::chrono::hours(1),
                                                      .max_concurrent_exports = 3});
  for (std::uint64_t i = 1; i <= 55; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(exporter.wait_for_calls(3));  // three batches in the exporter at once
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(exporter.calls(), 3);  // never more than max_concurrent_exports
  EXPECT_FALSE(processor.force_flush(50ms));  // the flush waits for the batches in flight
  exporter.release();
  ASSERT_TRUE(processor.force_flush(10s));
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_exported, 55u);
  EXPECT_EQ(stats.queued, 0u);
  EXPECT_EQ(exporter.max_active(), 3);
  const auto ids = exporter.ids();
  EXPECT_EQ(std::set<std::uint64_t>(ids.begin(), ids.end()).size(), 55u);
}

TEST(BatchSpanProcessor, AnExporterThatDoesNotAllowConcurrencyGetsOneExportAtATime) {
  auto [owned, collected] = collecting(/*concurrent=*/false);
  Collected& exporter = *collected;
  exporter.hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 100, .max_export_batch_size = 10,
                                                      .schedule_delay = std::chrono::hours(1),
                                                      .max_concurrent_exports = 4});
  for (std::uint64_t i = 1; i <= 40; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(exporter.wait_for_calls(1));
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(exporter.calls(), 1);
  exporter.release();
  ASSERT_TRUE(processor.force_flush(10s));
  EXPECT_EQ(processor.stats().spans_exported, 40u);
  EXPECT_EQ(exporter.max_active(), 1);
}

TEST(BatchSpanProcessor, ShutdownWithConcurrentExportsStuckCountsEverySpanOnce) {
  auto [owned, collected] = collecting(/*concurrent=*/true);
  Collected& exporter = *collected;
  exporter.hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 64, .max_export_batch_size = 8,
                                                      .schedule_delay = std::chrono::hours(1),
                                                      .max_concurrent_exports = 2});
  for (std::uint64_t i = 1; i <= 30; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(exporter.wait_for_calls(2));  // two batches stuck in the exporter
  EXPECT_FALSE(processor.shutdown(50ms));
  EXPECT_EQ(exporter.shutdowns(), 1);
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_ended, 30u);
  EXPECT_EQ(stats.spans_exported, 0u);
  EXPECT_EQ(stats.spans_failed + stats.spans_dropped, 30u);  // the stuck batches fail, the rest drop
  EXPECT_GE(stats.spans_failed, 16u);
  EXPECT_EQ(stats.queued, 0u);
}

// An exporter that, from inside export_spans(), lets go of the last reference to its processor
// (once the test is done calling it).
class SelfReleasingExporter : public st::SpanExporter {
 public:
  // `concurrent`: with max_concurrent_exports > 1 the first full batch goes to a sender thread,
  // which then destroys the processor.
  SelfReleasingExporter(std::shared_ptr<st::BatchSpanProcessor>* owner, std::shared_future<void> go,
                        std::promise<void>* destroyed, bool concurrent = false)
      : owner_(owner), go_(std::move(go)), destroyed_(destroyed), concurrent_(concurrent) {}
  ~SelfReleasingExporter() override { destroyed_->set_value(); }
  st::ExportResult export_spans(std::span<st::SpanData>) override {
    go_.wait();
    if (!released_.exchange(true)) owner_->reset();  // ~BatchSpanProcessor on its own export thread
    return st::ExportResult::success;
  }
  bool concurrent_exports() const noexcept override { return concurrent_; }

 private:
  std::atomic<bool> released_{false};
  bool concurrent_;
  std::shared_ptr<st::BatchSpanProcessor>* owner_;
  std::shared_future<void> go_;
  std::promise<void>* destroyed_;
};

TEST(BatchSpanProcessor, DestroyedFromItsOwnExportThread) {
  std::promise<void> go;
  std::promise<void> destroyed;
  auto exporter_gone = destroyed.get_future();
  std::shared_ptr<st::BatchSpanProcessor> processor;
  auto exporter = std::make_unique<SelfReleasingExporter>(&processor, go.get_future().share(), &destroyed);
  processor = std::make_shared<st::BatchSpanProcessor>(
      std::move(exporter), st::BatchOptions{.max_queue_size = 16, .max_export_batch_size = 4,
                                            .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 6; ++i) processor->end(span(i));  // a full batch goes at once
  go.set_value();
  // The processor is destroyed on its export thread, which neither joins itself nor touches
  // freed state: it exports the rest and ends by itself, destroying the exporter.
  ASSERT_EQ(exporter_gone.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(processor, nullptr);
}

TEST(BatchSpanProcessor, DestroyedFromASenderThreadOfConcurrentExports) {
  std::promise<void> go;
  std::promise<void> destroyed;
  auto exporter_gone = destroyed.get_future();
  std::shared_ptr<st::BatchSpanProcessor> processor;
  auto exporter =
      std::make_unique<SelfReleasingExporter>(&processor, go.get_future().share(), &destroyed, /*concurrent=*/true);
  processor = std::make_shared<st::BatchSpanProcessor>(
      std::move(exporter), st::BatchOptions{.max_queue_size = 16, .max_export_batch_size = 4,
                                            .schedule_delay = std::chrono::hours(1),
                                            .max_concurrent_exports = 2});
  for (std::uint64_t i = 1; i <= 6; ++i) processor->end(span(i));  // a full batch goes to a sender
  const auto start = std::chrono::steady_clock::now();
  go.set_value();
  // The sender neither waits for the worker (which waits for it) nor joins anything: the worker
  // exports the rest and ends by itself, well before the 5 s shutdown timeout.
  ASSERT_EQ(exporter_gone.wait_for(10s), std::future_status::ready);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_EQ(processor, nullptr);
}

// ---- spans built on the export thread (PendingSpan) ----

namespace {
// Where a PendingSpan was built and released.
struct PendingLog {
  std::mutex mutex;
  std::vector<std::thread::id> built, released;
  std::vector<std::thread::id> of(std::vector<std::thread::id> PendingLog::*which) {
    std::lock_guard lock(mutex);
    return this->*which;
  }
};

class TestPendingSpan final : public st::PendingSpan {
 public:
  TestPendingSpan(std::uint64_t id, PendingLog& log, bool fails = false) : id_(id), log_(log), fails_(fails) {}
  st::SpanData build() override {
    {
      std::lock_guard lock(log_.mutex);
      log_.built.push_back(std::this_thread::get_id());
    }
    if (fails_) throw std::runtime_error("no memory for the span");
    return span(id_);
  }
  void release() noexcept override {
    {
      std::lock_guard lock(log_.mutex);
      log_.released.push_back(std::this_thread::get_id());
    }
    delete this;
  }

 private:
  std::uint64_t id_;
  PendingLog& log_;
  bool fails_;
};

st::PendingSpanPtr pending(std::uint64_t id, PendingLog& log, bool fails = false) {
  return st::PendingSpanPtr(new TestPendingSpan(id, log, fails));
}
}  // namespace

TEST(BatchSpanProcessor, APendingSpanIsBuiltOnTheExportThreadInItsPlace) {
  PendingLog log;
  auto [owned, collected] = collecting();
  {
    st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 100, .max_export_batch_size = 10,
                                                        .schedule_delay = std::chrono::hours(1)});
    EXPECT_TRUE(processor.end(span(1)));
    EXPECT_TRUE(processor.end(pending(2, log)));
    EXPECT_TRUE(processor.end(span(3)));
    EXPECT_TRUE(processor.end(pending(4, log, /*fails=*/true)));
    ASSERT_TRUE(processor.force_flush(10s));
    const auto stats = processor.stats();
    EXPECT_EQ(stats.spans_ended, 4u);
    EXPECT_EQ(stats.spans_exported, 3u);
    EXPECT_EQ(stats.spans_failed, 1u);  // the one whose build threw
    EXPECT_EQ(stats.queued, 0u);
  }
  EXPECT_EQ(collected->ids(), (std::vector<std::uint64_t>{1, 2, 3}));  // in the order ended
  const auto built = log.of(&PendingLog::built);
  ASSERT_EQ(built.size(), 2u);
  for (const auto& id : built) EXPECT_NE(id, std::this_thread::get_id());
  EXPECT_EQ(log.of(&PendingLog::released).size(), 2u);  // each released once, built or not
}

TEST(BatchSpanProcessor, ADroppedPendingSpanIsReleasedAtOnceUnbuilt) {
  PendingLog log;
  auto [owned, collected] = collecting();
  collected->hold();
  st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 2, .max_export_batch_size = 1,
                                                      .schedule_delay = std::chrono::hours(1)});
  // One span held in the exporter, two in the queue: the rest do not fit.
  EXPECT_TRUE(processor.end(pending(1, log)));
  ASSERT_TRUE(collected->wait_for_calls(1));
  EXPECT_TRUE(processor.end(pending(2, log)));
  EXPECT_TRUE(processor.end(pending(3, log)));
  EXPECT_FALSE(processor.end(pending(4, log)));
  // The first was released on the export thread once built; the dropped one by end() itself, on
  // this thread, never built.
  const auto released = log.of(&PendingLog::released);
  ASSERT_EQ(released.size(), 2u);
  EXPECT_NE(released[0], std::this_thread::get_id());
  EXPECT_EQ(released[1], std::this_thread::get_id());
  EXPECT_EQ(log.of(&PendingLog::built).size(), 1u);
  collected->release();
  ASSERT_TRUE(processor.force_flush(10s));
  EXPECT_EQ(collected->ids(), (std::vector<std::uint64_t>{1, 2, 3}));
  EXPECT_TRUE(processor.shutdown(1s));
  EXPECT_FALSE(processor.end(pending(5, log)));  // after shutdown: dropped, released
  EXPECT_EQ(log.of(&PendingLog::released).size(), 5u);
  EXPECT_EQ(log.of(&PendingLog::built).size(), 3u);
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_exported, 3u);
  EXPECT_EQ(stats.spans_dropped, 2u);
}
