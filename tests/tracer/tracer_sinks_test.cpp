// The tracer's background delivery to sinks: the sink thread, failing, lost and slow sinks, the
// bounded queue and the shutdown deadline (tracer_test.cpp: sessions, timesteps, hooks).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <regex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::SessionTracer;
using st::TracingConfig;
using st::testing::CapturedDiagnostics;
using st::testing::MemorySink;

namespace {
TracingConfig quiet_config() { return TracingConfig{}; }

// A sink whose write() waits until release(): a slow or stuck disk.
class HeldSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace&) override {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_; });
    ++written_;
    changed_.notify_all();
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    changed_.notify_all();
  }
  // Waits until write() was entered `n` times (at most 10 s).
  bool wait_entered(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return entered_ >= n; });
  }
  bool wait_written(int n) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return written_ >= n; });
  }
  int written() {
    std::lock_guard lock(mutex_);
    return written_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool released_ = false;
  int entered_ = 0;
  int written_ = 0;
};
}  // namespace

TEST(SessionTracer, SinksReceiveFinishedSessionsInTheBackground) {
  SessionTracer tracer(quiet_config());
  auto sink = std::make_shared<MemorySink>();
  tracer.add_sink(sink);
  for (int i = 0; i < 3; ++i) {
    auto s = tracer.start_session("s" + std::to_string(i));
    tracer.add_event(CAISEvent{.prompt_tokens = i});
  }
  ASSERT_TRUE(tracer.flush());
  const auto traces = sink->traces();
  ASSERT_EQ(traces.size(), 3u);
  EXPECT_EQ(traces[2].session_id, "s2");
  EXPECT_EQ(std::get<CAISEvent>(traces[2].event_history[0]).prompt_tokens, 2);
  EXPECT_GE(sink->flushes(), 1);
  EXPECT_EQ(tracer.stats().sessions_pending, 0u);
}

// What `top -H`, `ps -L`, gdb and perf show: the tracer's threads say whose they are.
TEST(SessionTracer, ItsBackgroundThreadsAreNamed) {
  st::testing::TempDir dir;
  SessionTracer tracer(TracingConfig{.checkpoint = true, .spill_dir = dir.path / "spill"});
  tracer.add_sink(std::make_shared<MemorySink>());
  { auto s = tracer.start_session("named"); }
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(st::testing::threads_named("synth-sinks", 1), 1) << "the sink thread";
  EXPECT_EQ(st::testing::threads_named("synth-spill", 1), 1) << "the spill thread";
}

TEST(SessionTracer, FailingSinkIsCountedAndOthersStillWrite) {
  CapturedDiagnostics diagnostics;
  struct Failing : st::SessionSink {
    void write(const st::SessionTrace&) override { throw std::runtime_error("disk on fire"); }
  };
  SessionTracer tracer(quiet_config());
  tracer.add_sink(std::make_shared<Failing>());
  auto good = std::make_shared<MemorySink>();
  tracer.add_sink(good);
  { auto s = tracer.start_session("s"); }
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(tracer.stats().sink_errors, 1u);
  EXPECT_EQ(tracer.stats().sessions_lost, 1u);  // the failing sink did not store it
  EXPECT_EQ(good->traces().size(), 1u);
  const auto messages = diagnostics.all();
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("disk on fire"), std::string::npos);
}

TEST(SessionTracer, SessionsASinkAcceptedAndThenLostAreCounted) {
  CapturedDiagnostics diagnostics;
  // Keeps sessions in a batch and loses the batch when it flushes, as a store whose commit fails.
  struct LosingBatches : st::SessionSink {
    std::uint64_t held = 0;
    void write(const st::SessionTrace&) override { ++held; }
    void flush() override {
      const std::uint64_t lost = std::exchange(held, 0);
      if (lost > 0) throw st::SessionsLost(lost, "the batch's commit failed");
    }
  };
  SessionTracer tracer(quiet_config());
  tracer.add_sink(std::make_shared<LosingBatches>());
  for (int i = 0; i < 3; ++i) auto s = tracer.start_session("s" + std::to_string(i));
  ASSERT_TRUE(tracer.flush());
  // However the sessions were batched (the sink flushes whenever its queue runs empty), all
  // three are counted, and the failures are reported with what they lost.
  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_lost, 3u);
  EXPECT_GE(stats.sink_errors, 1u);
  const auto messages = diagnostics.all();
  ASSERT_FALSE(messages.empty());
  for (const auto& m : messages) {
    EXPECT_NE(m.find("the batch's commit failed"), std::string::npos) << m;
    EXPECT_TRUE(std::regex_search(m, std::regex("[123] sessions? lost"))) << m;
  }
}

TEST(SessionTracer, FullSinkQueueDropsAndCountsWithoutBlocking) {
  CapturedDiagnostics diagnostics;
  SessionTracer tracer(TracingConfig{.sink_queue_capacity = 2, .overflow = st::OverflowPolicy::drop});
  auto slow = std::make_shared<HeldSink>();
  tracer.add_sink(slow);
  { auto first = tracer.start_session("s0"); }
  ASSERT_TRUE(slow->wait_entered(1));
  // The sink is stuck until released: ending these sessions never waits for it (else this
  // would never finish).
  for (int i = 1; i < 10; ++i) {
    auto s = tracer.start_session("s" + std::to_string(i));
  }
  // One in the sink, two queued, seven dropped.
  EXPECT_EQ(tracer.stats().sessions_dropped, 7u);
  EXPECT_EQ(tracer.stats().sessions_pending, 3u);  // the one being written counts too
  slow->release();
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(slow->written(), 3);
  EXPECT_EQ(tracer.stats().sessions_dropped, 7u);
  const auto messages = diagnostics.all();
  ASSERT_FALSE(messages.empty());
  EXPECT_NE(messages[0].find("the sink queue is full"), std::string::npos) << messages[0];
}

TEST(SessionTracer, AStuckSinkDelaysDestructionOnlyUntilTheShutdownDeadline) {
  CapturedDiagnostics diagnostics;
  auto stuck = std::make_shared<HeldSink>();
  auto tracer = std::make_unique<SessionTracer>(TracingConfig{.shutdown_timeout_ms = std::size_t{200}});
  tracer->add_sink(stuck);
  for (int i = 0; i < 3; ++i) {
    auto s = tracer->start_session("stuck-" + std::to_string(i));
  }
  ASSERT_TRUE(stuck->wait_entered(1));
  // The sink never returns before the tracer is gone: destruction gives up at the deadline
  // (a liveness bound: without one, this waits forever).
  auto destroyed = std::async(std::launch::async, [&] { tracer.reset(); });
  const bool in_time = destroyed.wait_for(std::chrono::seconds(20)) == std::future_status::ready;
  stuck->release();  // now let the sink thread, left behind, finish
  ASSERT_TRUE(in_time);
  ASSERT_TRUE(stuck->wait_written(1));
  const auto messages = diagnostics.all();
  const auto said = [&](const std::string& text) {
    return std::any_of(messages.begin(), messages.end(), [&](const std::string& m) { return m.find(text) != std::string::npos; });
  };
  EXPECT_TRUE(said("2 sessions still queued were dropped")) << ::testing::PrintToString(messages);
  EXPECT_TRUE(said("left to finish in the background")) << ::testing::PrintToString(messages);
  EXPECT_EQ(stuck->written(), 1);  // the two queued ones were dropped, not written late
}

// A sink holding a context of its tracer: when it lets go, from inside write(), after the
// SessionTracer is gone, the tracer's last owner is the sink thread itself.
class ContextHoldingSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace&) override {
    go_.get_future().wait();
    context_ = st::Context();  // ~TracerCore, ~SinkDispatcher on the sink thread
    released_.set_value();
  }
  void hold(st::Context context) { context_ = std::move(context); }
  void go() { go_.set_value(); }
  std::future<void> released() { return released_.get_future(); }

 private:
  st::Context context_;
  std::promise<void> go_;
  std::promise<void> released_;
};

TEST(SessionTracer, DestroyedFromItsOwnSinkThread) {
  auto sink = std::make_shared<ContextHoldingSink>();
  auto released = sink->released();
  {
    SessionTracer tracer(TracingConfig{.shutdown_timeout_ms = std::size_t{50}});
    tracer.add_sink(sink);
    auto worker_session = tracer.start_session("held");
    sink->hold(tracer.current_context());
  }  // the session ends (the sink waits in write()), then the tracer is destroyed
  sink->go();
  ASSERT_EQ(released.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  // The sink thread then returns into the dispatcher, whose state it still shares, and ends.
}

namespace {
// Counts flushes, and whether something was written since the last one.
class FlushCountingSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace&) override {
    written_.fetch_add(1);
    unflushed_.store(true);
  }
  void flush() override {
    unflushed_.store(false);
    flushes_.fetch_add(1);
  }
  int written() const { return written_.load(); }
  int flushes() const { return flushes_.load(); }
  bool unflushed() const { return unflushed_.load(); }

 private:
  std::atomic<int> written_{0};
  std::atomic<int> flushes_{0};
  std::atomic<bool> unflushed_{false};
};
}  // namespace

// A rollout ends a short session every few milliseconds, and the sink thread empties its queue
// between two: a flush (a DuckDB commit, an fsync per JSON file) each time cost more than
// storing the session. The queue running empty flushes at most every 100 ms; nothing waits
// longer than that without tracer.flush().
TEST(SessionTracer, AStreamOfShortSessionsIsFlushedNowAndThenAndStillWithoutAskingWhenItStops) {
  SessionTracer tracer(quiet_config());
  auto sink = std::make_shared<FlushCountingSink>();
  tracer.add_sink(sink);
  constexpr int kSessions = 30;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSessions; ++i) {
    { auto s = tracer.start_session("s" + std::to_string(i)); }
    // The sink thread has it before the next one ends: its queue ran empty in between.
    ASSERT_TRUE(st::testing::wait_until([&] { return sink->written() == i + 1; }));
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // At most one flush per 100 ms (here: per 50 ms, for the timer's slack) and the last one.
  const auto bound = elapsed / std::chrono::milliseconds(50) + 2;
  EXPECT_LE(sink->flushes(), bound) << "in " << std::chrono::duration<double, std::milli>(elapsed).count() << " ms";
  EXPECT_TRUE(st::testing::wait_until([&] { return !sink->unflushed(); }, std::chrono::seconds(5)));
}
