// Threaded behaviour of SessionTracer: many sessions at once, contexts moved across threads.
// Also run under ThreadSanitizer (label "threaded").
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <map>
#include <mutex>
#include <thread>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::SessionTracer;
using st::TracingConfig;

namespace {
class CollectingSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace& trace) override {
    std::lock_guard lock(mutex_);
    traces_[trace.session_id] = trace;
  }
  std::map<std::string, st::SessionTrace> traces() {
    std::lock_guard lock(mutex_);
    return traces_;
  }

 private:
  std::mutex mutex_;
  std::map<std::string, st::SessionTrace> traces_;
};

std::int64_t seq_of(const st::Event& e) { return st::metadata(e)["seq"].as_int(); }
}  // namespace

TEST(Concurrency, EightThreadsThousandSessionsEachLoseNothing) {
  constexpr int kThreads = 8;
  constexpr int kSessions = 1000;
  constexpr int kSteps = 3;
  constexpr int kEventsPerStep = 2;
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 0, .sink_queue_capacity = kThreads * kSessions});
  auto sink = std::make_shared<CollectingSink>();
  tracer.add_sink(sink);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&tracer, t] {
      for (int s = 0; s < kSessions; ++s) {
        const std::string id = "t" + std::to_string(t) + "-s" + std::to_string(s);
        auto session = tracer.start_session(id, {{"thread", t}});
        int seq = 0;
        for (int step = 0; step < kSteps; ++step) {
          auto ts = tracer.timestep(step);
          for (int e = 0; e < kEventsPerStep; ++e) {
            tracer.add_event(CAISEvent{.system_instance_id = id, .metadata = {{"seq", seq++}}});
          }
          tracer.add_message(st::make_message(id, seq, "obs", step));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_TRUE(tracer.flush());
  const auto traces = sink->traces();
  ASSERT_EQ(traces.size(), static_cast<std::size_t>(kThreads * kSessions));
  for (const auto& [id, trace] : traces) {
    ASSERT_EQ(trace.session_time_steps.size(), static_cast<std::size_t>(kSteps)) << id;
    ASSERT_EQ(trace.event_history.size(), static_cast<std::size_t>(kSteps * kEventsPerStep)) << id;
    ASSERT_EQ(trace.message_history.size(), static_cast<std::size_t>(kSteps)) << id;
    for (std::size_t i = 0; i < trace.event_history.size(); ++i) {
      ASSERT_EQ(st::system_instance_id(trace.event_history[i]), id);  // nothing misplaced
      ASSERT_EQ(seq_of(trace.event_history[i]), static_cast<std::int64_t>(i));  // in order
    }
    for (int step = 0; step < kSteps; ++step) {
      const auto& events = trace.session_time_steps[static_cast<std::size_t>(step)].events;
      ASSERT_EQ(events.size(), static_cast<std::size_t>(kEventsPerStep));
      ASSERT_EQ(seq_of(events[0]), step * kEventsPerStep);
      ASSERT_EQ(st::time_record(events[0])->message_time, step);
    }
  }
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.sessions_ended, static_cast<std::uint64_t>(kThreads * kSessions));
  EXPECT_EQ(stats.events_recorded, static_cast<std::uint64_t>(kThreads * kSessions * kSteps * kEventsPerStep));
  EXPECT_EQ(stats.sessions_dropped, 0u);
}

TEST(Concurrency, ContextAttachedInWorkersRecordsIntoTheRightTimestep) {
  SessionTracer tracer;
  auto session = tracer.start_session("parent");
  auto step = tracer.timestep(7);
  const st::Context ctx = tracer.current_context();
  EXPECT_EQ(ctx.session_id(), "parent");
  EXPECT_EQ(ctx.step_index(), 0);
  EXPECT_EQ(ctx.turn(), 7);
  std::vector<std::thread> workers;
  for (int w = 0; w < 4; ++w) {
    workers.emplace_back([&tracer, ctx, w] {
      EXPECT_FALSE(tracer.in_session());
      st::ContextScope attach(ctx);
      EXPECT_EQ(tracer.current_session_id(), "parent");
      for (int i = 0; i < 250; ++i) tracer.add_event(CAISEvent{.metadata = {{"worker", w}, {"seq", i}}});
    });
  }
  for (auto& w : workers) w.join();
  auto trace = tracer.get_session_trace("parent");
  ASSERT_EQ(trace->session_time_steps[0].events.size(), 1000u);
  ASSERT_EQ(trace->event_history.size(), 1000u);
  std::map<std::int64_t, std::int64_t> next_seq;  // per worker, order is kept
  for (const auto& e : trace->event_history) {
    const auto worker = st::metadata(e)["worker"].as_int();
    EXPECT_EQ(seq_of(e), next_seq[worker]++);
    EXPECT_EQ(st::time_record(e)->message_time, 7);
  }
}

TEST(Concurrency, ContextScopeRestoresWhatWasCurrent) {
  SessionTracer tracer;
  std::promise<st::Context> published;
  std::promise<void> done;
  std::thread owner([&] {
    auto s = tracer.start_session("other");
    published.set_value(tracer.current_context());
    done.get_future().wait();  // keep "other" active until the main thread is finished with it
  });
  const st::Context other_ctx = published.get_future().get();
  {
    auto mine = tracer.start_session("mine");
    auto step = tracer.timestep(1);
    {
      st::ContextScope attach(other_ctx);
      EXPECT_EQ(tracer.current_session_id(), "other");
      tracer.add_event(CAISEvent{.system_instance_id = "into-other"});
    }
    EXPECT_EQ(tracer.current_session_id(), "mine");
    EXPECT_EQ(tracer.current_turn(), 1);
    tracer.add_event(CAISEvent{.system_instance_id = "into-mine"});
    EXPECT_EQ(tracer.get_session_trace("mine")->session_time_steps[0].events.size(), 1u);
  }
  EXPECT_EQ(st::system_instance_id(tracer.get_session_trace("other")->event_history.at(0)), "into-other");
  done.set_value();
  owner.join();
  // An empty context attaches nothing.
  st::ContextScope nothing{st::Context{}};
  EXPECT_FALSE(tracer.in_session());
}

TEST(Concurrency, WrapCarriesTheContextIntoThreadsAndFutures) {
  SessionTracer tracer;
  auto session = tracer.start_session("wrapped");
  auto step = tracer.timestep(2);
  std::thread t(tracer.wrap([&tracer] { tracer.add_event(st::EnvironmentEvent{.reward = 1.0}); }));
  t.join();
  auto fut = std::async(std::launch::async, tracer.wrap([&tracer](int x) {
                          tracer.add_event(st::RuntimeEvent{.actions = {x}});
                          return x * 2;
                        }),
                        21);
  EXPECT_EQ(fut.get(), 42);
  // A wrapped callable that throws passes the exception through and restores the context.
  auto throwing = tracer.wrap([] { throw std::runtime_error("boom"); });
  std::thread t2([&] { EXPECT_THROW(throwing(), std::runtime_error); EXPECT_FALSE(tracer.in_session()); });
  t2.join();
  auto trace = tracer.get_session_trace("wrapped");
  ASSERT_EQ(trace->session_time_steps[0].events.size(), 2u);
  EXPECT_EQ(st::event_type(trace->session_time_steps[0].events[0]), st::EventType::environment);
  EXPECT_EQ(st::event_type(trace->session_time_steps[0].events[1]), st::EventType::runtime);
}

TEST(Concurrency, WorkersKeepTheTimestepTheyWereGiven) {
  SessionTracer tracer;
  auto session = tracer.start_session("s");
  std::optional<st::TimestepScope> step0(tracer.timestep(0));
  const st::Context at_step0 = tracer.current_context();
  step0.reset();
  auto step1 = tracer.timestep(1);
  std::thread worker([&] {
    st::ContextScope attach(at_step0);
    tracer.add_event(CAISEvent{});
  });
  worker.join();
  tracer.add_event(CAISEvent{});
  auto trace = tracer.get_session_trace("s");
  EXPECT_EQ(trace->session_time_steps[0].events.size(), 1u);
  EXPECT_EQ(trace->session_time_steps[1].events.size(), 1u);
}

TEST(Concurrency, RecordingIntoAnEndedSessionIsATracingError) {
  SessionTracer tracer;
  st::Context ctx;
  {
    auto session = tracer.start_session("short");
    ctx = tracer.current_context();
  }
  std::thread late([&] {
    st::ContextScope attach(ctx);
    EXPECT_FALSE(tracer.in_session());
    EXPECT_THROW(tracer.add_event(CAISEvent{}), st::TracingError);
    // A new session may start on this thread even though a stale context is attached.
    auto fresh = tracer.start_session("fresh");
    tracer.add_event(CAISEvent{});
  });
  late.join();
  EXPECT_EQ(tracer.get_session_trace("short")->event_history.size(), 0u);
  EXPECT_EQ(tracer.get_session_trace("fresh")->event_history.size(), 1u);
}

TEST(Concurrency, SessionEndingWhileWorkersRecordLosesNothingAccepted) {
  // Workers race the end of the session: every add_event either lands in the trace or throws.
  for (int round = 0; round < 20; ++round) {
    SessionTracer tracer;
    auto session = tracer.start_session("race");
    const st::Context ctx = tracer.current_context();
    std::atomic<int> accepted{0};
    std::vector<std::thread> workers;
    for (int w = 0; w < 3; ++w) {
      workers.emplace_back([&] {
        st::ContextScope attach(ctx);
        for (int i = 0; i < 200; ++i) {
          try {
            tracer.add_event(CAISEvent{});
            accepted.fetch_add(1);
          } catch (const st::TracingError&) {
          }
        }
      });
    }
    std::this_thread::yield();
    session.end();
    for (auto& w : workers) w.join();
    EXPECT_EQ(tracer.get_session_trace("race")->event_history.size(), static_cast<std::size_t>(accepted.load()));
  }
}

TEST(Concurrency, HooksAddedWhileRecording) {
  SessionTracer tracer;
  std::atomic<bool> stop{false};
  std::atomic<int> hook_calls{0};
  std::thread recorder([&] {
    auto session = tracer.start_session("busy");
    while (!stop.load()) tracer.add_event(CAISEvent{});
  });
  for (int i = 0; i < 20; ++i) {
    const int before = hook_calls.load();
    tracer.add_hook({.on_event = [&](std::string_view, const st::Event&) -> std::optional<st::Value> {
      hook_calls.fetch_add(1);
      return std::nullopt;
    }});
    // The recorder runs the hooks while more are added.
    if (!st::testing::wait_until([&] { return hook_calls.load() > before; })) {
      ADD_FAILURE() << "the recorder stopped running hooks";
      break;
    }
  }
  stop = true;
  recorder.join();
  EXPECT_GT(hook_calls.load(), 0);
}
