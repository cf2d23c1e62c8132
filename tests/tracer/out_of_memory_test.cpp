// Issue 10, fault injection: out of memory inside the tracer. Every allocation that recording
// one step of an agent makes is failed in turn (failing_allocator.hpp: a real std::bad_alloc
// from operator new): the agent never sees an exception, the failure is counted, and the
// session still ends and reaches its sink with everything that was recorded whole.
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "failing_allocator.hpp"
#include "support.hpp"
#include "tracer/spill_support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;

namespace {

// What the agent hands to the tracer in one step, built before the allocator is armed: the
// agent's own allocations are not the tracer's to survive.
struct StepInputs {
  explicit StepInputs(int turn)
      : request{{"prompt", "where is the treasure?"}},
        response{{"content", "north, two steps"}},
        action("north"),
        observation{{"position", turn}},
        tool_state{{"clear", true}},
        attempt(1),
        env_state{{"map", "grid-7"}},
        event{.system_instance_id = "tools", .metadata = {{"checked", turn}}},
        message(st::make_message("environment", {{"position", turn}}, "observation", turn)) {}
  st::Value request, response, action, observation, tool_state, attempt, env_state;
  st::RuntimeEvent event;
  st::SessionEventMessage message;
};

// One step of an agent, through every recording call of the API.
void agent_step(st::SessionTracer& tracer, int turn, StepInputs in) {
  auto step = tracer.timestep(turn);
  {
    auto call = st::ai_call("policy", {.model = "gpt-4o-mini"});
    call.request(std::move(in.request));
    call.response(std::move(in.response));
    call.usage({.prompt_tokens = 40, .completion_tokens = 6});
    call.response_model("gpt-4o-mini-2024-07-18").set("attempt", std::move(in.attempt));
  }
  {
    auto env = st::environment_step("grid");
    env.state_before(std::move(in.env_state));
    env.action(std::move(in.action)).observation(std::move(in.observation)).reward(0.5).terminated(turn == 3);
  }
  {
    auto tool = st::runtime_operation("check_path");
    tool.state_after(std::move(in.tool_state));
    tool.error("timeout", "the tool did not answer in time");
  }
  tracer.add_event(std::move(in.event));
  tracer.add_message(std::move(in.message));
}

}  // namespace

TEST(TracerOutOfMemory, NoFailureToRecordReachesTheAgent) {
  st::testing::CapturedDiagnostics diagnostics;
  auto sink = std::make_shared<st::testing::MemorySink>();
  st::SessionTracer tracer(st::TracingConfig{.mask_pii = false});
  tracer.add_sink(sink);
  std::size_t failures = 0;
  std::size_t arm_at = 1;
  {
    auto session = tracer.start_session("oom");
    for (; arm_at <= 2000; ++arm_at) {
      const int turn = static_cast<int>(arm_at);
      StepInputs inputs(turn);
      st::testing::fail_allocation_in(arm_at);
      EXPECT_NO_THROW(agent_step(tracer, turn, std::move(inputs))) << "allocation " << arm_at << " failed";
      const bool beyond_the_step = st::testing::allocation_failure_pending();
      st::testing::fail_allocation_in(0);
      if (beyond_the_step) break;
      ++failures;
    }
  }
  ASSERT_LT(arm_at, 2000u) << "a step makes fewer than 2000 allocations";
  ASSERT_GE(failures, 5u) << "the step's allocations were failed one by one";
  ASSERT_TRUE(tracer.flush());
  const st::TracerStats stats = tracer.stats();
  EXPECT_GE(stats.records_failed, 1u) << "failures are counted";
  EXPECT_EQ(stats.sessions_ended, 1u);
  ASSERT_EQ(sink->traces().size(), 1u) << "the session still ends and reaches its sink";
}


// The spill thread's allocations fail one by one, from its first checkpoint of an active session
// on: the program goes on (an exception leaving a background thread would end it), the spill
// thread keeps working, the session reaches its sink whole, and every item leaves masked exactly
// once (the pattern's replacement holds what it matches: a second masking shows as "[[tok]]").
TEST(TracerOutOfMemory, TheSpillThreadOutlivesFailedCheckpointsAndMasksEachItemOnce) {
  const auto record = [](st::SessionTracer& tracer, int turn) {
    auto step = tracer.timestep(turn, {}, {{"note", "tok"}});
    tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"text", "tok"}}});
    tracer.add_message(st::SessionEventMessage{.content = st::Value{{"text", "tok"}}, .message_type = "user"});
  };
  st::testing::CapturedDiagnostics diagnostics;
  for (std::size_t arm_at = 1; arm_at <= 80; ++arm_at) {
    SCOPED_TRACE("allocation " + std::to_string(arm_at) + " of the spill thread failed");
    st::testing::TempDir dir;
    st::TracingConfig config{.mode = st::TracingMode::v2, .checkpoint = true, .spill_dir = dir.path / "spill",
                             .checkpoint_interval_ms = 20};
    config.pii_patterns = std::vector<st::PiiPattern>{st::testing::echo_pattern()};
    auto sink = std::make_shared<st::testing::MemorySink>();
    st::SessionTracer tracer(config);
    tracer.add_sink(sink);
    {
      auto session = tracer.start_session("oom-spill", {{"owner", "tok"}});
      record(tracer, 0);
      // Once its file is on disk, the next pass checkpoints the items recorded now, and fails
      // at the armed allocation (or an idle pass before it does: while a session is active,
      // every pass allocates, so the failure comes).
      ASSERT_TRUE(st::testing::wait_until([&] { return !st::testing::spill_files(dir.path / "spill").empty(); }));
      st::testing::fail_allocation_on_thread("synth-spill", arm_at);
      record(tracer, 1);
      record(tracer, 2);
      ASSERT_TRUE(st::testing::wait_until([] { return !st::testing::thread_allocation_failure_pending(); }))
          << "the spill thread is named synth-spill and allocates";
      // The pass after the failure checkpoints what the failed one did not write.
      ASSERT_TRUE(st::testing::wait_until([&] { return st::testing::events_in_spill(dir.path / "spill") == 3; }));
    }
    ASSERT_TRUE(tracer.flush());
    const auto traces = sink->traces();
    ASSERT_EQ(traces.size(), 1u);
    const st::SessionTrace& t = traces[0];
    EXPECT_EQ(t.session_time_steps.size(), 3u);
    EXPECT_EQ(t.event_history.size(), 3u);
    EXPECT_EQ(t.message_history.size(), 3u);
    st::testing::expect_masked_once(t);
    if (::testing::Test::HasFailure()) break;
  }
  bool said = false;
  for (const std::string& m : diagnostics.all()) said = said || m.find("ran out of memory") != std::string::npos;
  EXPECT_TRUE(said) << "the failed passes are reported";
}
