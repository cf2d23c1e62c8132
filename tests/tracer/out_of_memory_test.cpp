// Issue 10, fault injection: out of memory inside the tracer. Every allocation that recording
// one step of an agent makes is failed in turn (failing_allocator.hpp: a real std::bad_alloc
// from operator new): the agent never sees an exception, the failure is counted, and the
// session still ends and reaches its sink with everything that was recorded whole.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "failing_allocator.hpp"
#include "support.hpp"
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

