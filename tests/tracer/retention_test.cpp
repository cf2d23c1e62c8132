// Finished sessions kept in memory for get_session_trace: found right after they end, bounded in
// count and in bytes. Also run under ThreadSanitizer (label "threaded").
#include <gtest/gtest.h>

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "failing_allocator.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::SessionTracer;
using st::TracingConfig;

TEST(Retention, SessionIsFoundRightAfterItEndsWhileOtherThreadsEndTheirs) {
  constexpr int kThreads = 4;
  constexpr int kSessions = 250;
  SessionTracer tracer;  // keeps 100 finished sessions: other threads end many more meanwhile
  std::atomic<int> missing{0};
  std::atomic<int> found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int s = 0; s < kSessions; ++s) {
        const std::string id = "t" + std::to_string(t) + "-s" + std::to_string(s);
        {
          auto session = tracer.start_session(id);
          tracer.add_event(CAISEvent{.system_instance_id = id});
        }
        const auto trace = tracer.get_session_trace(id);
        if (trace == nullptr || trace->event_history.size() != 1) {
          missing.fetch_add(1);
        } else {
          found.fetch_add(1);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(missing.load(), 0);
  EXPECT_EQ(found.load(), kThreads * kSessions);
}

TEST(Retention, FinishedSessionsAreBoundedInBytes) {
  constexpr std::size_t kPayload = 10000;
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 1000, .max_finished_bytes = 50000});
  for (int i = 0; i < 20; ++i) {
    auto session = tracer.start_session("s" + std::to_string(i));
    tracer.add_event(CAISEvent{.system_state_before = {{"prompt", std::string(kPayload, 'x')}}});
  }
  int kept = 0;
  for (int i = 0; i < 20; ++i) kept += tracer.get_session_trace("s" + std::to_string(i)) != nullptr;
  // About 10 kB each: four fit in 50 kB, the newest ones.
  EXPECT_GE(kept, 3);
  EXPECT_LE(kept, 4);
  EXPECT_EQ(tracer.get_session_trace("s0"), nullptr);
  EXPECT_NE(tracer.get_session_trace("s19"), nullptr);
  EXPECT_NE(tracer.get_session_trace("s17"), nullptr);
}

TEST(Retention, SessionsInTimestepsCountTwiceLikeTheTraceHoldsThem) {
  constexpr std::size_t kPayload = 10000;
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 1000, .max_finished_bytes = 50000});
  for (int i = 0; i < 20; ++i) {
    auto session = tracer.start_session("s" + std::to_string(i));
    auto step = tracer.timestep(0);
    tracer.add_event(CAISEvent{.system_state_before = {{"prompt", std::string(kPayload, 'x')}}});
  }
  int kept = 0;
  for (int i = 0; i < 20; ++i) kept += tracer.get_session_trace("s" + std::to_string(i)) != nullptr;
  EXPECT_EQ(kept, 2);  // each event is in its timestep and in the history: about 20 kB a session
}

// Every kind of item counts toward the bound, by the memory its trace will hold: a scope's event
// (built later, off the agent's thread), a message, session metadata, a timestep's own metadata.
TEST(Retention, EveryKindOfItemCountsTowardTheBoundInBytes) {
  constexpr std::size_t kPayload = 10000;
  const std::string payload(kPayload, 'x');
  const std::vector<std::pair<std::string, std::function<void(SessionTracer&)>>> kinds = {
      {"ai_call scope", [&](SessionTracer&) { st::ai_call("chat", {.model = "gpt-4"}).request({{"prompt", payload}}); }},
      {"environment_step scope",
       [&](SessionTracer&) { st::environment_step("move").action("north").observation({{"grid", payload}}); }},
      {"runtime_operation scope", [&](SessionTracer&) { st::runtime_operation("tool").actions({{"args", payload}}); }},
      {"message", [&](SessionTracer& t) { t.add_message(st::SessionEventMessage{.content = {{"text", payload}}}); }},
      {"session metadata", [&](SessionTracer& t) { t.add_session_metadata("notes", {{"text", payload}}); }},
      {"timestep metadata", [&](SessionTracer& t) { auto step = t.timestep(0, "s", {{"text", payload}}); }},
  };
  for (const auto& [kind, record] : kinds) {
    SCOPED_TRACE(kind);
    SessionTracer tracer(TracingConfig{.max_finished_sessions = 1000, .max_finished_bytes = 50000});
    for (int i = 0; i < 20; ++i) {
      auto session = tracer.start_session("s" + std::to_string(i));
      record(tracer);
    }
    int kept = 0;
    for (int i = 0; i < 20; ++i) kept += tracer.get_session_trace("s" + std::to_string(i)) != nullptr;
    // About 10 kB each (or a little more): three or four fit in 50 kB, the newest ones.
    EXPECT_GE(kept, 3);
    EXPECT_LE(kept, 4);
    EXPECT_NE(tracer.get_session_trace("s19"), nullptr);
  }
}

TEST(Retention, ASessionLargerThanTheBoundIsStillFoundRightAfterItEnds) {
  SessionTracer tracer(TracingConfig{.max_finished_bytes = 1000});
  {
    auto session = tracer.start_session("big");
    tracer.add_event(CAISEvent{.system_state_before = {{"prompt", std::string(5000, 'x')}}});
  }
  EXPECT_NE(tracer.get_session_trace("big"), nullptr);
  {
    auto session = tracer.start_session("next");
  }
  EXPECT_EQ(tracer.get_session_trace("big"), nullptr);
  EXPECT_NE(tracer.get_session_trace("next"), nullptr);
}

// A sink that only counts: the tracer builds each session's trace for it, the expensive part.
class CountingSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace&) override { written.fetch_add(1); }
  std::atomic<int> written{0};
};

TEST(Retention, ASessionLeavingTheKeptOnesIsFreedOffTheAgentThread) {
  // A kept session whose trace the sinks built holds thousands of blocks: when a newer one
  // pushes it out, the agent thread that ended the newer one must not pay for freeing it.
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 1});
  auto sink = std::make_shared<CountingSink>();
  tracer.add_sink(sink);
  {
    auto session = tracer.start_session("big");
    auto step = tracer.timestep(0);
    for (int i = 0; i < 2000; ++i) {
      tracer.add_event(CAISEvent{.system_state_before = {{"prompt", "p" + std::to_string(i)}}, .model_name = "gpt-4o"});
    }
  }
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
  ASSERT_NE(tracer.get_session_trace("big"), nullptr);  // built by the sink thread, kept
  {
    auto session = tracer.start_session("next");
    const std::size_t frees_before = st::testing::frees_on_this_thread();
    session.end();  // pushes "big" out of the kept sessions and out of this thread's memory
    EXPECT_LT(st::testing::frees_on_this_thread() - frees_before, 200u);
  }
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
  EXPECT_EQ(tracer.get_session_trace("big"), nullptr);
  EXPECT_EQ(sink->written.load(), 2);
}
