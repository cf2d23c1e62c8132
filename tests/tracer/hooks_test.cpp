// Hooks: where they run, and what they may do to this thread's contexts while they run.
// Also run under AddressSanitizer and ThreadSanitizer (label "threaded").
#include <gtest/gtest.h>

#include <functional>
#include <future>
#include <optional>
#include <thread>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::SessionTracer;
using st::Value;

namespace {

// Something a hook does to this thread's contexts of another tracer.
using Disturbance = std::function<void()>;

// Records one session in `tracer` whose every hook runs `disturb`, and checks that the
// timestep, its events and messages land where they belong.
void record_with_disturbing_hooks(SessionTracer& tracer, const Disturbance& disturb) {
  int hook_runs = 0;
  tracer.add_hook({
      .on_timestep_start = [&](std::string_view, st::SessionTimeStep&) {
        ++hook_runs;
        disturb();
      },
      .on_event = [&](std::string_view, const st::Event&) -> std::optional<Value> {
        ++hook_runs;
        disturb();
        return Value{{"hook", "ran"}};
      },
      .on_message = [&](std::string_view, const st::SessionEventMessage&) {
        ++hook_runs;
        disturb();
      },
  });
  {
    auto session = tracer.start_session("main");
    {
      auto step = tracer.timestep(5);
      tracer.add_event(CAISEvent{.model_name = "m"});
      tracer.add_message(st::make_message("env", "obs", "observation", 5));
      auto inner = tracer.timestep(6);
      tracer.add_message(st::make_message("env", "inner", "observation", 6));
      tracer.add_event(CAISEvent{.model_name = "inner"});
    }
    EXPECT_EQ(tracer.current_turn(), 0);  // both timesteps ended and restored
    tracer.add_event(CAISEvent{.model_name = "outside"});
  }
  EXPECT_EQ(hook_runs, 2 + 3 + 2);
  const auto trace = tracer.get_session_trace("main");
  ASSERT_NE(trace, nullptr);
  ASSERT_EQ(trace->session_time_steps.size(), 2u);
  const auto& outer = trace->session_time_steps[0];
  const auto& inner = trace->session_time_steps[1];
  ASSERT_EQ(outer.events.size(), 1u);
  ASSERT_EQ(outer.step_messages.size(), 1u);
  EXPECT_EQ(st::time_record(outer.events[0])->message_time, 5);
  EXPECT_EQ(outer.step_messages[0].content["payload"].as_string(), "obs");
  ASSERT_EQ(inner.events.size(), 1u);
  ASSERT_EQ(inner.step_messages.size(), 1u);
  EXPECT_EQ(std::get<CAISEvent>(inner.events[0]).model_name, "inner");
  EXPECT_EQ(st::time_record(inner.events[0])->message_time, 6);
  EXPECT_EQ(inner.step_messages[0].content["payload"].as_string(), "inner");
  ASSERT_EQ(trace->event_history.size(), 3u);
  EXPECT_EQ(st::time_record(trace->event_history[2])->message_time, 0);
  EXPECT_EQ(st::event_metadata(trace->event_history[2]).size(), 1u);
}

}  // namespace

// Each hook starts and ends a session of another tracer on this thread: the per-thread table of
// contexts grows (and may move) while the tracer is in the middle of recording.
TEST(Hooks, HookStartingASessionOfAnotherTracerDoesNotDisturbRecording) {
  SessionTracer tracer;
  SessionTracer other;
  int n = 0;
  record_with_disturbing_hooks(tracer, [&] {
    auto session = other.start_session("other-" + std::to_string(n++));
    other.add_event(CAISEvent{});
  });
  EXPECT_NE(other.get_session_trace("other-0"), nullptr);
}

// Each hook ends a session of another tracer that was current on this thread before the traced
// session started, and starts the next one: entries of the table shift.
TEST(Hooks, HookEndingASessionOfAnotherTracerDoesNotDisturbRecording) {
  SessionTracer other;
  SessionTracer tracer;
  int n = 0;
  std::optional<st::SessionScope> other_session(other.start_session("other-0"));
  record_with_disturbing_hooks(tracer, [&] {
    other_session.reset();
    other_session.emplace(other.start_session("other-" + std::to_string(++n)));
  });
  other_session.reset();
  EXPECT_NE(other.get_session_trace("other-7"), nullptr);
}

// Each hook attaches a context of another tracer's session for a moment.
TEST(Hooks, HookOpeningAContextScopeDoesNotDisturbRecording) {
  SessionTracer other;
  std::promise<st::Context> published;
  std::promise<void> done;
  std::thread owner([&] {
    auto session = other.start_session("elsewhere");
    published.set_value(other.current_context());
    done.get_future().wait();
  });
  const st::Context elsewhere = published.get_future().get();
  SessionTracer tracer;
  record_with_disturbing_hooks(tracer, [&] {
    st::ContextScope attach(elsewhere);
    other.add_event(CAISEvent{.model_name = "from a hook"});
  });
  done.set_value();
  owner.join();
  EXPECT_EQ(other.get_session_trace("elsewhere")->event_history.size(), 7u);
}

TEST(Hooks, OnSessionEndRunsOnTheBackgroundThreadAlsoWithoutSinks) {
  SessionTracer tracer;
  std::promise<std::thread::id> ran_on;
  std::shared_ptr<const st::SessionTrace> seen_by_hook;
  tracer.add_hook({.on_session_end = [&](const st::SessionTrace& t) {
    seen_by_hook = tracer.get_session_trace(t.session_id);  // hooks may look the session up
    ran_on.set_value(std::this_thread::get_id());
  }});
  {
    auto session = tracer.start_session("ending");
    tracer.add_event(CAISEvent{});
  }
  const std::thread::id hook_thread = ran_on.get_future().get();
  EXPECT_NE(hook_thread, std::this_thread::get_id());
  ASSERT_TRUE(tracer.flush());
  ASSERT_NE(seen_by_hook, nullptr);
  EXPECT_EQ(seen_by_hook->event_history.size(), 1u);
}

TEST(Hooks, OnSessionEndRunsBeforeTheSinksWriteAndItsErrorsAreIsolated) {
  st::testing::CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  auto sink = std::make_shared<st::testing::MemorySink>();
  tracer.add_sink(sink);
  std::vector<std::size_t> written_when_hook_ran;
  tracer.add_hook({.on_session_end = [&](const st::SessionTrace&) {
    written_when_hook_ran.push_back(sink->traces().size());
    throw std::runtime_error("end hook bug");
  }});
  for (int i = 0; i < 3; ++i) {
    auto session = tracer.start_session("s" + std::to_string(i));
  }
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(written_when_hook_ran, (std::vector<std::size_t>{0, 1, 2}));
  EXPECT_EQ(sink->traces().size(), 3u);
  EXPECT_EQ(tracer.stats().hook_errors, 3u);
}
