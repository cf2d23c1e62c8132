#include <gtest/gtest.h>

#include <regex>
#include <stdexcept>
#include <utility>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::EnvironmentEvent;
using st::RuntimeEvent;
using st::SessionTracer;
using st::TracingConfig;
using st::TimestepScope;
using st::TracingError;
using st::Value;
using st::testing::CapturedDiagnostics;
using st::testing::MemorySink;

namespace {
TracingConfig quiet_config() { return TracingConfig{}; }
}  // namespace

TEST(SessionTracer, SessionTimestepEventsAndMessages) {
  SessionTracer tracer(quiet_config());
  {
    auto session = tracer.start_session("session-123", {{"experiment", "test"}});
    EXPECT_EQ(session.session_id(), "session-123");
    EXPECT_TRUE(tracer.in_session());
    EXPECT_EQ(tracer.current_session_id(), "session-123");
    {
      auto step = tracer.timestep(0);
      EXPECT_EQ(step.step_id(), "step_0");
      tracer.add_event(CAISEvent{.system_instance_id = "agent",
                                 .model_name = "gpt-4",
                                 .prompt_tokens = 50,
                                 .completion_tokens = 100,
                                 .metadata = {{"provider", "openai"}}});
      tracer.add_message(st::make_message("agent", {{"action", "move_north"}}, "action", 0));
    }
    {
      auto step = tracer.timestep(1);
      EXPECT_EQ(tracer.current_turn(), 1);
      tracer.add_event(EnvironmentEvent{.reward = 1.0, .terminated = false});
    }
    tracer.add_event(RuntimeEvent{.actions = {"noop"}});  // outside a timestep: history only
  }
  EXPECT_FALSE(tracer.in_session());
  auto trace = tracer.get_session_trace("session-123");
  ASSERT_NE(trace, nullptr);
  EXPECT_EQ(trace->start_metadata()["experiment"].as_string(), "test");
  ASSERT_EQ(trace->session_time_steps.size(), 2u);
  EXPECT_EQ(trace->session_time_steps[0].events.size(), 1u);
  EXPECT_EQ(trace->session_time_steps[0].step_messages.size(), 1u);
  EXPECT_EQ(trace->session_time_steps[1].step_id, "step_1");
  EXPECT_EQ(trace->session_time_steps[1].step_index, 1);
  EXPECT_EQ(trace->session_time_steps[1].turn_number, 1);
  ASSERT_EQ(trace->event_history.size(), 3u);
  EXPECT_EQ(st::event_type(trace->event_history[0]), st::EventType::cais);
  EXPECT_EQ(st::event_type(trace->event_history[1]), st::EventType::environment);
  EXPECT_EQ(st::event_type(trace->event_history[2]), st::EventType::runtime);
  // Missing time records are filled with now and the turn of the timestep.
  EXPECT_EQ(st::time_record(trace->event_history[1])->message_time, 1);
  EXPECT_EQ(st::time_record(trace->event_history[2])->message_time, 0);
  EXPECT_GT(st::time_record(trace->event_history[0])->event_time.time_since_epoch().count(), 0);
  EXPECT_EQ(trace->message_history.size(), 1u);
  EXPECT_EQ(trace->session_time_steps[0].events[0], trace->event_history[0]);
}

TEST(SessionTracer, GivenTimeRecordIsKept) {
  SessionTracer tracer(quiet_config());
  const auto t = *st::parse_timestamp("2025-01-01T10:00:01Z");
  {
    auto session = tracer.start_session("s");
    auto step = tracer.timestep(4);
    tracer.add_event(CAISEvent{.time_record = st::TimeRecord{t, 9}});
  }
  auto trace = tracer.get_session_trace("s");
  EXPECT_EQ(st::time_record(trace->event_history[0]), (st::TimeRecord{t, 9}));
}

TEST(SessionTracer, EmptyIdMeansUuid4) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session();
  const std::string id(session.session_id());
  EXPECT_TRUE(std::regex_match(id, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")))
      << id;
  auto other = SessionTracer(quiet_config()).start_session();
  EXPECT_NE(other.session_id(), id);
}

TEST(SessionTracer, ErrorsWithoutASession) {
  SessionTracer tracer(quiet_config());
  EXPECT_THROW(tracer.add_event(CAISEvent{}), TracingError);
  EXPECT_THROW(tracer.add_message(st::SessionEventMessage{}), TracingError);
  EXPECT_THROW((void)tracer.timestep(0), TracingError);
  EXPECT_THROW(tracer.add_session_metadata("x", {}), TracingError);
  try {
    tracer.add_event(CAISEvent{});
  } catch (const TracingError& e) {
    EXPECT_NE(std::string(e.what()).find("start_session"), std::string::npos);
  }
  tracer.end_session();  // harmless without a session
}

TEST(SessionTracer, SessionsDoNotNestOnAThread) {
  SessionTracer tracer(quiet_config());
  auto first = tracer.start_session("a");
  EXPECT_THROW((void)tracer.start_session("b"), TracingError);
  first.end();
  auto second = tracer.start_session("b");  // fine once the first ended
  EXPECT_EQ(tracer.current_session_id(), "b");
}

TEST(SessionTracer, ActiveIdsAreUnique) {
  SessionTracer tracer(quiet_config());
  auto a = tracer.start_session("same");
  std::thread other([&] { EXPECT_THROW((void)tracer.start_session("same"), TracingError); });
  other.join();
}

TEST(SessionTracer, TwoTracersOnOneThreadAreIndependent) {
  SessionTracer a(quiet_config());
  SessionTracer b(quiet_config());
  auto sa = a.start_session("a");
  auto sb = b.start_session("b");
  a.add_event(CAISEvent{});
  b.add_event(CAISEvent{});
  b.add_event(CAISEvent{});
  EXPECT_EQ(a.get_session_trace("a")->event_history.size(), 1u);
  EXPECT_EQ(b.get_session_trace("b")->event_history.size(), 2u);
}

TEST(SessionTracer, EndSessionExplicitly) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session("x");
  tracer.add_event(CAISEvent{});
  tracer.end_session();
  EXPECT_FALSE(tracer.in_session());
  EXPECT_THROW(tracer.add_event(CAISEvent{}), TracingError);
  session.end();  // already ended: no effect
  EXPECT_EQ(tracer.stats().sessions_ended, 1u);
}

TEST(SessionTracer, TimestepsNestAndRestore) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session("s");
  auto outer = tracer.timestep(1);
  {
    auto inner = tracer.timestep(2);
    tracer.add_event(CAISEvent{});
  }
  tracer.add_event(CAISEvent{});
  auto trace = tracer.get_session_trace("s");
  EXPECT_EQ(trace->session_time_steps[0].events.size(), 1u);
  EXPECT_EQ(trace->session_time_steps[1].events.size(), 1u);
  EXPECT_EQ(tracer.current_turn(), 1);
}

TEST(SessionTracer, MovedTimestepScopesEndTheirTimestepOnce) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session("s");
  TimestepScope a = tracer.timestep(1);
  {
    TimestepScope b = tracer.timestep(2);
    TimestepScope c(std::move(b));
    a = std::move(c);  // a's timestep 1 ends (it is not current: nothing to restore); a owns timestep 2
  }  // b and c were moved from: ending them does nothing
  tracer.add_event(CAISEvent{.model_name = "in-2"});
  EXPECT_EQ(tracer.current_turn(), 2);
  a.end();  // timestep 2 ends: timestep 1 is current again
  tracer.add_event(CAISEvent{.model_name = "in-1"});
  EXPECT_EQ(tracer.current_turn(), 1);
  a.end();  // already ended: no effect
  auto trace = tracer.get_session_trace("s");
  ASSERT_EQ(trace->session_time_steps.size(), 2u);
  ASSERT_EQ(trace->session_time_steps[0].events.size(), 1u);
  ASSERT_EQ(trace->session_time_steps[1].events.size(), 1u);
  EXPECT_EQ(std::get<CAISEvent>(trace->session_time_steps[0].events[0]).model_name, "in-1");
  EXPECT_EQ(std::get<CAISEvent>(trace->session_time_steps[1].events[0]).model_name, "in-2");
}

TEST(SessionTracer, StepIdsAreUniqueWithinASession) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session("s");
  EXPECT_EQ(tracer.timestep(0).step_id(), "step_0");
  EXPECT_EQ(tracer.timestep(0).step_id(), "step_0_1");
  EXPECT_EQ(tracer.timestep(0).step_id(), "step_0_2");
  EXPECT_EQ(tracer.timestep(5, "custom").step_id(), "custom");
  EXPECT_THROW((void)tracer.timestep(6, "custom"), TracingError);
  auto step = tracer.timestep(7, "", {{"phase", "eval"}});
  auto trace = tracer.get_session_trace("s");
  EXPECT_EQ(trace->session_time_steps.back().step_metadata["phase"].as_string(), "eval");
}

// The usual run of timesteps (default ids, rising turns) and every way an id could repeat after it.
TEST(SessionTracer, StepIdsStayUniqueAfterARunOfRisingTurns) {
  SessionTracer tracer(quiet_config());
  {
    auto session = tracer.start_session("rising");
    for (int turn = 0; turn < 5; ++turn) EXPECT_EQ(tracer.timestep(turn).step_id(), "step_" + std::to_string(turn));
    EXPECT_EQ(tracer.timestep(2).step_id(), "step_2_1");  // a turn again: its default id is taken
    EXPECT_THROW((void)tracer.timestep(9, "step_3"), TracingError);
    EXPECT_EQ(tracer.timestep(7).step_id(), "step_7");
    EXPECT_EQ(tracer.timestep(8, "custom").step_id(), "custom");
    EXPECT_EQ(tracer.timestep(10).step_id(), "step_10");
    EXPECT_THROW((void)tracer.timestep(11, "step_10"), TracingError);
  }
  {
    auto session = tracer.start_session("given first");
    EXPECT_EQ(tracer.timestep(0, "step_3").step_id(), "step_3");
    EXPECT_EQ(tracer.timestep(3).step_id(), "step_3_1");
  }
}

TEST(SessionTracer, SessionMetadata) {
  SessionTracer tracer(quiet_config());
  {
    auto session = tracer.start_session("s");
    tracer.add_session_metadata("run", {{"seed", 1}});
  }
  auto trace = tracer.get_session_trace("s");
  ASSERT_EQ(trace->session_metadata.size(), 1u);  // no start metadata given
  EXPECT_EQ(trace->session_metadata[0].metadata_type, "run");
  EXPECT_EQ(trace->session_metadata[0].data["seed"].as_int(), 1);
  EXPECT_TRUE(trace->start_metadata().is_null());
}

TEST(SessionTracer, HooksRunAndMayEdit) {
  SessionTracer tracer(quiet_config());
  std::vector<std::string> calls;
  tracer.add_hook({
      .on_session_start = [&](std::string_view id, Value& metadata) {
        calls.push_back("start:" + std::string(id));
        metadata["added_by_hook"] = true;
      },
      .on_timestep_start = [&](std::string_view, st::SessionTimeStep& step) {
        calls.push_back("step:" + step.step_id);
        step.step_metadata["hooked"] = 1;
      },
      .on_event = [&](std::string_view, const st::Event& e) -> std::optional<Value> {
        calls.push_back("event");
        if (st::event_type(e) == st::EventType::environment) return Value{{"hook_name", "reward_check"}};
        return std::nullopt;
      },
      .on_message = [&](std::string_view, const st::SessionEventMessage& m) { calls.push_back("msg:" + m.message_type); },
      .on_session_end = [&](const st::SessionTrace& t) {
        calls.push_back("end:" + std::to_string(t.event_history.size()));
      },
  });
  {
    auto session = tracer.start_session("h", {{"x", 1}});
    auto step = tracer.timestep(0);
    tracer.add_event(CAISEvent{});
    tracer.add_event(EnvironmentEvent{.reward = 2});
    tracer.add_message(st::make_message("env", "obs", "observation", 0));
  }
  ASSERT_TRUE(tracer.flush());  // on_session_end runs on the background thread
  EXPECT_EQ(calls, (std::vector<std::string>{"start:h", "step:step_0", "event", "event", "msg:observation", "end:2"}));
  auto trace = tracer.get_session_trace("h");
  EXPECT_TRUE(trace->start_metadata()["added_by_hook"].as_bool());
  EXPECT_EQ(trace->session_time_steps[0].step_metadata["hooked"].as_int(), 1);
  EXPECT_TRUE(st::event_metadata(trace->event_history[0]).empty());
  ASSERT_EQ(st::event_metadata(trace->event_history[1]).size(), 1u);
  EXPECT_EQ(st::event_metadata(trace->event_history[1])[0]["hook_name"].as_string(), "reward_check");
  // The copy in the timestep carries the hook result too.
  EXPECT_EQ(trace->session_time_steps[0].events[1], trace->event_history[1]);
}

TEST(SessionTracer, ThrowingHookIsIsolatedAndCounted) {
  CapturedDiagnostics diagnostics;
  SessionTracer tracer(quiet_config());
  tracer.add_hook({.on_event = [](std::string_view, const st::Event&) -> std::optional<Value> {
    throw std::runtime_error("hook bug");
  }});
  tracer.add_hook({.on_event = [](std::string_view, const st::Event&) -> std::optional<Value> { return Value(1); }});
  {
    auto session = tracer.start_session("s");
    EXPECT_NO_THROW(tracer.add_event(CAISEvent{}));
    EXPECT_NO_THROW(tracer.add_event(CAISEvent{}));
  }
  EXPECT_EQ(tracer.stats().hook_errors, 2u);
  auto trace = tracer.get_session_trace("s");
  ASSERT_EQ(trace->event_history.size(), 2u);
  EXPECT_EQ(st::event_metadata(trace->event_history[0]).size(), 1u);  // the healthy hook still ran
  const auto messages = diagnostics.all();
  ASSERT_EQ(messages.size(), 1u);  // reported once (1st), not flooded
  EXPECT_NE(messages[0].find("hook bug"), std::string::npos);
}

TEST(SessionTracer, FinishedSessionsKeptUpToTheLimit) {
  SessionTracer tracer(TracingConfig{.max_finished_sessions = 2});
  for (int i = 0; i < 4; ++i) {
    auto s = tracer.start_session("s" + std::to_string(i));
  }
  EXPECT_EQ(tracer.get_session_trace("s0"), nullptr);
  EXPECT_EQ(tracer.get_session_trace("s1"), nullptr);
  EXPECT_NE(tracer.get_session_trace("s2"), nullptr);
  EXPECT_NE(tracer.get_session_trace("s3"), nullptr);
  EXPECT_EQ(tracer.get_session_trace("unknown"), nullptr);
}

TEST(SessionTracer, ActiveSessionSnapshot) {
  SessionTracer tracer(quiet_config());
  auto session = tracer.start_session("live");
  tracer.add_event(CAISEvent{});
  auto snapshot = tracer.get_session_trace("live");
  ASSERT_NE(snapshot, nullptr);
  tracer.add_event(CAISEvent{});
  EXPECT_EQ(snapshot->event_history.size(), 1u);  // a snapshot, not a live view
  EXPECT_EQ(tracer.get_session_trace("live")->event_history.size(), 2u);
}

TEST(SessionTracer, DisabledTracerIsANoOp) {
  SessionTracer tracer(TracingConfig{.enabled = false});
  EXPECT_FALSE(tracer.enabled());
  auto session = tracer.start_session("s");
  EXPECT_EQ(session.session_id(), "");
  auto step = tracer.timestep(0);
  EXPECT_NO_THROW(tracer.add_event(CAISEvent{}));
  EXPECT_NO_THROW(tracer.add_message(st::SessionEventMessage{}));
  EXPECT_NO_THROW(tracer.add_session_metadata("x", 1));
  EXPECT_FALSE(tracer.in_session());
  EXPECT_TRUE(tracer.current_context().empty());
  EXPECT_EQ(tracer.get_session_trace("s"), nullptr);
  EXPECT_EQ(tracer.stats().sessions_started, 0u);
}

TEST(SessionTracer, DisabledByEnvironment) {
  ::setenv("SYNTH_TRACING_ENABLED", "False", 1);
  SessionTracer tracer;
  ::unsetenv("SYNTH_TRACING_ENABLED");
  EXPECT_FALSE(tracer.enabled());
}

TEST(SessionTracer, StatsCountActiveAndEndedSessions) {
  SessionTracer tracer(quiet_config());
  {
    auto s = tracer.start_session("a");
    tracer.add_event(CAISEvent{});
    tracer.add_message(st::SessionEventMessage{});
  }
  auto s = tracer.start_session("b");
  tracer.add_event(CAISEvent{});
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.sessions_started, 2u);
  EXPECT_EQ(stats.sessions_ended, 1u);
  EXPECT_EQ(stats.events_recorded, 2u);
  EXPECT_EQ(stats.messages_recorded, 1u);
}

TEST(SessionTracer, MessageDefaultsAreFilled) {
  SessionTracer tracer(quiet_config());
  auto s = tracer.start_session("m");
  auto step = tracer.timestep(3);
  tracer.add_message(st::SessionEventMessage{.content = "hi"});
  auto trace = tracer.get_session_trace("m");
  const auto& m = trace->message_history.at(0);
  EXPECT_EQ(m.message_type, "unknown");
  EXPECT_GT(m.timestamp.time_since_epoch().count(), 0);
  ASSERT_TRUE(m.time_record.has_value());
  EXPECT_EQ(m.time_record->message_time, 3);
}

TEST(SessionTracer, SamplingIsDecidedBySessionIdAndIsStable) {
  constexpr int kSessions = 10000;
  // A queue for every session: this test is about which sessions are kept, not about backpressure.
  SessionTracer a(TracingConfig{.sampling_rate = 0.3, .max_finished_sessions = 0, .sink_queue_capacity = kSessions});
  SessionTracer b(TracingConfig{.sampling_rate = 0.3, .max_finished_sessions = 0, .sink_queue_capacity = kSessions});
  auto sink_a = std::make_shared<MemorySink>();
  auto sink_b = std::make_shared<MemorySink>();
  a.add_sink(sink_a);
  b.add_sink(sink_b);
  for (int i = 0; i < kSessions; ++i) {
    const std::string id = "episode-" + std::to_string(i);
    {
      auto s = a.start_session(id);
      a.add_event(CAISEvent{});
    }
    {
      auto s = b.start_session(id);
    }
  }
  ASSERT_TRUE(a.flush());
  ASSERT_TRUE(b.flush());
  const auto kept_a = sink_a->traces();
  const auto kept_b = sink_b->traces();
  // Two tracers (as two processes would) keep exactly the same sessions.
  ASSERT_EQ(kept_a.size(), kept_b.size());
  for (std::size_t i = 0; i < kept_a.size(); ++i) EXPECT_EQ(kept_a[i].session_id, kept_b[i].session_id);
  // About 30%: binomial(10000, 0.3) has sigma 46; allow 5 sigma.
  EXPECT_NEAR(static_cast<double>(kept_a.size()), 0.3 * kSessions, 230.0);
  const auto stats = a.stats();
  EXPECT_EQ(stats.sessions_started + stats.sessions_sampled_out, static_cast<std::uint64_t>(kSessions));
  EXPECT_EQ(stats.sessions_started, kept_a.size());
  EXPECT_EQ(stats.events_recorded, kept_a.size());
}

TEST(SessionTracer, SampledOutSessionRecordsNothingButBehavesLikeOne) {
  SessionTracer none(TracingConfig{.sampling_rate = 0.0});
  auto sink = std::make_shared<MemorySink>();
  none.add_sink(sink);
  {
    auto session = none.start_session("dropped");
    EXPECT_TRUE(none.in_session());
    EXPECT_THROW((void)none.start_session("nested"), TracingError);  // still one session per thread
    auto step = none.timestep(0);
    EXPECT_NO_THROW(none.add_event(CAISEvent{}));
    EXPECT_NO_THROW(none.add_message(st::SessionEventMessage{}));
    EXPECT_NO_THROW(none.add_session_metadata("x", 1));
  }
  EXPECT_FALSE(none.in_session());
  EXPECT_THROW(none.add_event(CAISEvent{}), TracingError);  // after it ended: no session again
  ASSERT_TRUE(none.flush());
  EXPECT_TRUE(sink->traces().empty());
  EXPECT_EQ(none.get_session_trace("dropped"), nullptr);
  EXPECT_EQ(none.stats().sessions_sampled_out, 1u);
  EXPECT_EQ(none.stats().sessions_started, 0u);
}
