// The instrumentation scopes (ai_call, environment_step, runtime_operation, trace_span): the
// events they record, nesting and ids, exceptions, threads, inert scopes, hooks, and events read
// while the session is active. The traced_* wrappers are in instrument_wrappers_test.cpp.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <stdexcept>
#include <thread>

#include "instrument_fixture.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/nlohmann.hpp"

using namespace instrument_fixture;

namespace {

// A scope's ids: the event's fields for LLM calls, its metadata for the other kinds.
std::string span_of(const st::Event& e) {
  if (const auto* c = std::get_if<st::CAISEvent>(&e)) return c->span_id.value_or("");
  return md(e)["span_id"].as_string();
}
std::string trace_of(const st::Event& e) {
  if (const auto* c = std::get_if<st::CAISEvent>(&e)) return c->trace_id.value_or("");
  return md(e)["trace_id"].as_string();
}

}  // namespace

TEST(Instrument, AiCallRecordsOneCaisEvent) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "gpt-4", .system_id = "agent"});
    call.request({{"messages", {{{"role", "user"}, {"content", "hi"}}}}})
        .response({{"content", "hello"}})
        .usage({.prompt_tokens = 100, .completion_tokens = 200, .cached_tokens = 0})
        .set("attempt", 1);
  });
  ASSERT_EQ(trace->event_history.size(), 1u);
  const auto& e = std::get<st::CAISEvent>(trace->event_history[0]);
  EXPECT_EQ(e.system_instance_id, "agent");
  EXPECT_EQ(e.model_name, "gpt-4");
  EXPECT_EQ(e.provider, st::detect_provider("gpt-4"));
  EXPECT_EQ(e.prompt_tokens, 100);
  EXPECT_EQ(e.completion_tokens, 200);
  EXPECT_EQ(e.total_tokens, 300);
  ASSERT_TRUE(e.cost.has_value());  // priced from usage before leaving the process
  EXPECT_DOUBLE_EQ(*e.cost, 0.015);
  ASSERT_TRUE(e.latency_ms.has_value());
  EXPECT_GE(*e.latency_ms, 0.0);
  EXPECT_EQ(e.time_record->message_time, 3);  // the turn of the timestep
  EXPECT_EQ(e.system_state_before["messages"][0]["content"].as_string(), "hi");
  EXPECT_EQ(e.system_state_after["content"].as_string(), "hello");
  EXPECT_EQ(e.metadata["operation"].as_string(), "chat");
  EXPECT_EQ(e.metadata["attempt"].as_int(), 1);
  EXPECT_TRUE(e.metadata["duration_ms"].is_number());
  EXPECT_TRUE(std::regex_match(*e.span_id, std::regex("[0-9a-f]{16}")));
  EXPECT_TRUE(std::regex_match(*e.trace_id, std::regex("[0-9a-f]{32}")));
  EXPECT_FALSE(e.metadata.contains("span_id"));  // the event's own fields carry the ids
  EXPECT_FALSE(e.metadata.contains("parent_span_id"));
  EXPECT_EQ(trace->session_time_steps[0].events.size(), 1u);
}

TEST(Instrument, AiCallWithoutUsageKeepsItsTokensEmptyAndSaysSo) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini"});
    call.response({{"content", "hello"}});  // the provider reported no usage
  });
  const auto& e = std::get<st::CAISEvent>(trace->event_history.at(0));
  EXPECT_FALSE(e.prompt_tokens.has_value());
  EXPECT_FALSE(e.completion_tokens.has_value());
  EXPECT_FALSE(e.total_tokens.has_value());
  EXPECT_FALSE(e.cost.has_value()) << "a known model is never priced at $0 for lack of data";
  EXPECT_EQ(e.metadata["cost_status"].as_string(), "no_usage");
}

TEST(Instrument, AiCallRecordsWhereItsCostCameFrom) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    // Reported by the provider (OpenRouter's usage.cost): kept as it is, and said so.
    st::ai_call("chat", {.model = "gpt-4"}).usage({.prompt_tokens = 100, .completion_tokens = 200}).cost(0.5);
    // Priced from the price table when it leaves the process.
    st::ai_call("chat", {.model = "gpt-4"}).usage({.prompt_tokens = 100, .completion_tokens = 200});
    // A model the price table does not know: no cost, and why.
    st::ai_call("chat", {.model = "no-such-model-x"}).usage({.prompt_tokens = 10, .completion_tokens = 10});
  });
  ASSERT_EQ(trace->event_history.size(), 3u);
  const auto event = [&](std::size_t i) -> const st::CAISEvent& {
    return std::get<st::CAISEvent>(trace->event_history[i]);
  };
  EXPECT_EQ(event(0).cost, 0.5);
  EXPECT_EQ(event(0).metadata["cost_source"].as_string(), "provider");
  EXPECT_FALSE(event(0).metadata.contains("cost_status"));
  ASSERT_TRUE(event(1).cost.has_value());
  EXPECT_DOUBLE_EQ(*event(1).cost, 0.015);
  EXPECT_EQ(event(1).metadata["cost_source"].as_string(), "price_table") << "priced from the table, not reported";
  EXPECT_FALSE(event(1).metadata.contains("cost_status"));
  EXPECT_EQ(event(1).metadata["price_table_as_of"].as_string(), st::PricingTable::builtin().as_of()) << "the table's date";
  EXPECT_FALSE(event(0).metadata.contains("price_table_as_of")) << "the provider's cost needs no table";
  EXPECT_FALSE(event(2).cost.has_value());
  EXPECT_FALSE(event(2).metadata.contains("cost_source"));
  EXPECT_EQ(event(2).metadata["cost_status"].as_string(), "unknown_model");
  EXPECT_EQ(event(2).metadata["price_table_as_of"].as_string(), st::PricingTable::builtin().as_of())
      << "the table that did not know it";

  // Costs not tracked: no cost, and no table named.
  SessionTracer untracked(st::TracingConfig{.track_costs = false});
  const auto none = in_session(untracked, [] {
    st::ai_call("chat", {.model = "gpt-4"}).usage({.prompt_tokens = 100, .completion_tokens = 200});
  });
  const auto& unpriced = std::get<st::CAISEvent>(none->event_history.at(0));
  EXPECT_FALSE(unpriced.cost.has_value());
  EXPECT_FALSE(unpriced.metadata.contains("price_table_as_of"));
  // The trace JSON carries it (an additive metadata key: the Python original reads it as any other).
  EXPECT_TRUE(std::regex_search(trace->to_json(), std::regex(R"("cost_source":\s*"provider")")));
}

TEST(Instrument, AiCallKeepsCacheWriteTokens) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "claude-3-5-haiku-20241022"});
    call.usage({.prompt_tokens = 1000, .completion_tokens = 10, .cached_tokens = 100, .cache_write_tokens = 600});
  });
  const auto& e = std::get<st::CAISEvent>(trace->event_history.at(0));
  EXPECT_EQ(e.prompt_tokens, 1000);
  EXPECT_EQ(e.cached_tokens, 100);
  EXPECT_EQ(e.cache_write_tokens, 600);
  EXPECT_EQ(e.cost, st::calculate_cost("claude-3-5-haiku-20241022", {.prompt_tokens = 1000,
                                                                      .completion_tokens = 10,
                                                                      .cached_tokens = 100,
                                                                      .cache_write_tokens = 600}));
}

// Counts near the int64 limit (a caller's or a server's nonsense) must not overflow the total
// (undefined behaviour inside the library): it saturates.
TEST(Instrument, TotalTokensSaturateInsteadOfOverflowing) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "gpt-4"});
    call.usage({.prompt_tokens = INT64_MAX, .completion_tokens = 2});
  });
  EXPECT_EQ(std::get<st::CAISEvent>(trace->event_history[0]).total_tokens, INT64_MAX);
  const auto negative = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "gpt-4"});
    call.usage({.prompt_tokens = INT64_MIN, .completion_tokens = -2});
  });
  EXPECT_EQ(std::get<st::CAISEvent>(negative->event_history[0]).total_tokens, INT64_MIN);
}

TEST(Instrument, ResponseModelAndExplicitProvider) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    auto call = st::ai_call("chat", {.model = "my-deployment", .provider = "Azure"});
    call.response_model("gpt-4o-2024-08-06");
  });
  const auto& e = std::get<st::CAISEvent>(trace->event_history[0]);
  EXPECT_EQ(e.model_name, "gpt-4o-2024-08-06");
  EXPECT_EQ(e.provider, st::normalize_provider("Azure"));
  EXPECT_EQ(e.metadata["request_model"].as_string(), "my-deployment");
}

TEST(Instrument, ScopesNestAndShareTheSessionTraceId) {
  SessionTracer tracer;
  st::SpanIdentity outer_id;
  const auto trace = in_session(tracer, [&] {
    auto outer = st::trace_span("plan", {{"goal", "treasure"}}, {.record_event = true});
    outer_id = outer.identity();
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini"});
      auto tool = st::runtime_operation("search");  // sibling of nothing: child of the call
    }
    auto step = st::environment_step("move");
  });
  ASSERT_EQ(trace->event_history.size(), 4u);
  // Recorded when each scope ends: tool, call, step, then the span.
  const auto& tool = trace->event_history[0];
  const auto& call = trace->event_history[1];
  const auto& step = trace->event_history[2];
  const auto& span = trace->event_history[3];
  EXPECT_EQ(md(span)["span"].as_string(), "plan");
  EXPECT_EQ(md(span)["attributes"]["goal"].as_string(), "treasure");
  EXPECT_EQ(span_of(span), outer_id.span_id);
  EXPECT_EQ(md(call)["parent_span_id"].as_string(), outer_id.span_id);
  EXPECT_EQ(md(tool)["parent_span_id"].as_string(), span_of(call));
  EXPECT_EQ(md(step)["parent_span_id"].as_string(), outer_id.span_id);  // the call had ended
  for (const auto& e : trace->event_history) EXPECT_EQ(trace_of(e), outer_id.trace_id);

  const auto other = [&] {
    auto session = tracer.start_session("other");
    auto s = st::trace_span("x");
    return s.identity().trace_id;
  }();
  EXPECT_NE(other, outer_id.trace_id);
}

TEST(Instrument, EnvironmentStepAndRuntimeOperation) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    {
      auto step = st::environment_step("move", {.system_id = "gridworld"});
      step.action("north").observation({{"pos", {0, 1}}}).reward(0.5).terminated(false).truncated(false);
      step.state_before({{"pos", {0, 0}}}).observation_diff({{"pos", {0, 1}}});
    }
    {
      auto op = st::runtime_operation("validate_action", {.system_id = "validator"});
      op.actions({"north"}).state_after({{"valid", true}});
    }
    {
      auto failing = st::runtime_operation("shell");
      failing.error("TimeoutError", "took 30 s");
    }
  });
  ASSERT_EQ(trace->event_history.size(), 3u);
  const auto& env = std::get<st::EnvironmentEvent>(trace->event_history[0]);
  EXPECT_EQ(env.system_instance_id, "gridworld");
  EXPECT_EQ(env.system_state_before["action"].as_string(), "north");
  EXPECT_EQ(env.system_state_before["pos"][1].as_int(), 0);
  EXPECT_EQ(env.system_state_after["observation"]["pos"][1].as_int(), 1);
  EXPECT_EQ(env.reward, 0.5);
  EXPECT_EQ(env.terminated, false);
  EXPECT_EQ(env.truncated, false);
  EXPECT_EQ(env.observation_diff["pos"][1].as_int(), 1);
  EXPECT_EQ(env.metadata["step"].as_string(), "move");
  const auto& op = std::get<st::RuntimeEvent>(trace->event_history[1]);
  EXPECT_EQ(op.system_instance_id, "validator");
  EXPECT_EQ(op.actions, Value::array({"north"}));
  EXPECT_TRUE(op.metadata["success"].as_bool());
  EXPECT_EQ(op.metadata["operation_type"].as_string(), "validate_action");
  const auto& failed = std::get<st::RuntimeEvent>(trace->event_history[2]);
  EXPECT_FALSE(failed.metadata["success"].as_bool());
  EXPECT_EQ(failed.metadata["error"]["type"].as_string(), "TimeoutError");
  EXPECT_EQ(failed.metadata["error"]["message"].as_string(), "took 30 s");
}

// A scope reads the steady clock only and takes its wall-clock time from an offset each thread
// reads again every 100 ms: the time must still be the wall clock's when the scope opened, for
// every kind, across the offset's refreshes.
TEST(Instrument, ScopeTimesAreTheWallClockWhenTheyOpened) {
  SessionTracer tracer;
  std::vector<std::pair<st::Timestamp, st::Timestamp>> bounds;
  const auto trace = in_session(tracer, [&] {
    for (int i = 0; i < 3; ++i) {
      const st::Timestamp before = st::now();
      {
        auto step = st::environment_step("move");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      {
        auto call = st::ai_call("chat");
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      }
      bounds.emplace_back(before, st::now());
      std::this_thread::sleep_for(std::chrono::milliseconds(60));
    }
  });
  ASSERT_EQ(trace->event_history.size(), 6u);
  for (std::size_t i = 0; i < trace->event_history.size(); ++i) {
    const auto& time = st::time_record(trace->event_history[i]);
    ASSERT_TRUE(time.has_value());
    EXPECT_GE(time->event_time, bounds[i / 2].first) << "event " << i;
    EXPECT_LE(time->event_time, bounds[i / 2].second) << "event " << i;
  }
}

TEST(Instrument, SpanWithoutEventRecordsNothing) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] { SYNTH_TRACE_SPAN("parse"); });
  EXPECT_TRUE(trace->event_history.empty());
}

TEST(Instrument, ScopeLeftByAnExceptionSaysSo) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    try {
      auto call = st::ai_call("chat", {.model = "gpt-4o"});
      throw std::runtime_error("rate limited");
    } catch (const std::runtime_error&) {
    }
    try {
      auto call = st::ai_call("chat", {.model = "gpt-4o"});
      try {
        throw std::invalid_argument("bad prompt");
      } catch (const std::exception& e) {
        call.error(e);
        throw;
      }
    } catch (const std::invalid_argument&) {
    }
  });
  ASSERT_EQ(trace->event_history.size(), 2u);
  EXPECT_EQ(md(trace->event_history[0])["error"]["type"].as_string(), "exception");
  EXPECT_EQ(md(trace->event_history[1])["error"]["type"].as_string(), "std::invalid_argument");
  EXPECT_EQ(md(trace->event_history[1])["error"]["message"].as_string(), "bad prompt");
}

TEST(Instrument, ScopesInPoolTasksAreChildrenOfTheRightParent) {
  SessionTracer tracer;
  std::string parent_span;
  const auto trace = in_session(tracer, [&] {
    auto parent = st::trace_span("fan-out", Value::object(), {.record_event = true});
    parent_span = parent.identity().span_id;
    std::vector<std::future<void>> tasks;
    for (int i = 0; i < 4; ++i) {
      tasks.push_back(std::async(std::launch::async, tracer.wrap([i] {
        auto call = st::ai_call("chat", {.model = "gpt-4o-mini"});
        call.set("worker", i);
      })));
    }
    for (auto& t : tasks) t.get();
  });
  ASSERT_EQ(trace->event_history.size(), 5u);
  int children = 0;
  for (const auto& e : trace->event_history) {
    if (std::holds_alternative<st::CAISEvent>(e)) {
      EXPECT_EQ(md(e)["parent_span_id"].as_string(), parent_span);
      ++children;
    }
  }
  EXPECT_EQ(children, 4);
  EXPECT_EQ(trace->session_time_steps[0].events.size(), 5u);
}

TEST(Instrument, InertWithoutASessionDisabledOrSampledOut) {
  {
    SessionTracer tracer;
    auto call = st::ai_call("chat", {.model = "gpt-4o"});  // no session anywhere: nothing to do, no error
    EXPECT_FALSE(call.recording());
    call.usage({.prompt_tokens = 1}).response("x");
    EXPECT_TRUE(call.identity().span_id.empty());
  }
  SessionTracer off(TracingConfig{.enabled = false});
  auto s1 = off.start_session("a");
  EXPECT_FALSE(st::ai_call("chat", {.tracer = &off}).recording());

  SessionTracer sampled(TracingConfig{.sampling_rate = 0.0});
  auto s2 = sampled.start_session("b");
  EXPECT_FALSE(st::runtime_operation("x", {.tracer = &sampled}).recording());
}

TEST(Instrument, NamedTracerWhenSeveralAreCurrent) {
  SessionTracer a;
  SessionTracer b;
  auto sa = a.start_session("a");
  auto sb = b.start_session("b");  // b's session is the most recent on this thread
  { auto implicit = st::runtime_operation("implicit"); }
  { auto named = st::runtime_operation("named", {.tracer = &a}); }
  EXPECT_EQ(md(a.get_session_trace("a")->event_history.at(0))["operation_type"].as_string(), "named");
  EXPECT_EQ(md(b.get_session_trace("b")->event_history.at(0))["operation_type"].as_string(), "implicit");
}

TEST(Instrument, MovedScopeRecordsOnceAndHooksSeeScopeEvents) {
  SessionTracer tracer;
  int hook_events = 0;
  tracer.add_hook({.on_event = [&](std::string_view, const st::Event&) -> std::optional<Value> {
    ++hook_events;
    return std::nullopt;
  }});
  const auto trace = in_session(tracer, [] {
    auto first = st::ai_call("chat");
    auto second = std::move(first);
    second.end();
    second.end();  // idempotent
  });
  EXPECT_EQ(trace->event_history.size(), 1u);
  EXPECT_EQ(hook_events, 1);
}

TEST(Instrument, ScopeOutlivingItsSessionIsDroppedCountedAndReported) {
  std::vector<std::string> diagnostics;
  st::set_diagnostic_handler([&](std::string_view m) { diagnostics.emplace_back(m); });
  SessionTracer tracer;
  std::optional<st::AiCallScope> late;
  {
    auto session = tracer.start_session("short");
    late.emplace(st::ai_call("chat"));
  }
  EXPECT_NO_THROW(late.reset());
  st::set_diagnostic_handler({});
  EXPECT_TRUE(tracer.get_session_trace("short")->event_history.empty());
  EXPECT_EQ(tracer.stats().records_failed, 1u) << "nothing recorded is lost silently";
  ASSERT_EQ(diagnostics.size(), 1u);
  EXPECT_NE(diagnostics[0].find("ended after its session"), std::string::npos);
}

// A scope's event is built when the session is read (the journal keeps the scope's state): a
// snapshot of the active session, the finished trace and a tracer with hooks (which builds each
// event as the scope closes) must all see the same events.
TEST(Instrument, ScopeEventsReadWhileActiveEqualTheStoredOnesAndThoseBuiltEagerly) {
  const auto record = [](SessionTracer& tracer, std::shared_ptr<const st::SessionTrace>& active) {
    auto session = tracer.start_session("s");
    {
      auto step = tracer.timestep(3);
      {
        auto call = st::ai_call("chat", {.model = "gpt-4o", .system_id = "agent"});
        call.request({{"prompt", "a prompt longer than any inline string buffer"}}).set("user_key", 7);
        call.response({{"content", "ok"}}).response_model("gpt-4o-2024-08-06").usage({.prompt_tokens = 3, .completion_tokens = 4});
        call.cost(0.5);
        auto tool = st::runtime_operation("tool.check");
        tool.actions({{"check", "north"}}).error("Timeout", "slow");
      }
      auto env = st::environment_step("move", {.system_id = "grid"});
      env.action("north").observation({{"x", 1}}).reward(1.0).terminated(false);
      env.end();
      auto span = st::trace_span("plan", {{"depth", 2}}, {.record_event = true});
    }
    active = tracer.get_session_trace("s");
  };
  SessionTracer deferred;
  std::shared_ptr<const st::SessionTrace> snapshot;
  record(deferred, snapshot);
  const auto stored = deferred.get_session_trace("s");

  SessionTracer eager;  // a hook: every event is built as its scope closes
  eager.add_hook({.on_event = [](std::string_view, const st::Event&) -> std::optional<Value> { return std::nullopt; }});
  std::shared_ptr<const st::SessionTrace> eager_snapshot;
  record(eager, eager_snapshot);
  const auto eager_stored = eager.get_session_trace("s");

  ASSERT_TRUE(snapshot && stored && eager_snapshot && eager_stored);
  ASSERT_EQ(stored->event_history.size(), 4u);  // tool, call (the inner scope closes first), env, span
  ASSERT_EQ(snapshot->event_history.size(), 4u);
  EXPECT_EQ(snapshot->session_time_steps[0].events, snapshot->event_history);
  EXPECT_EQ(stored->session_time_steps[0].events, stored->event_history);
  // The same content but for ids and times, which differ between the two tracers.
  const auto without_ids_and_times = [](st::Event e) {
    std::visit(
        [](auto& x) {
          x.time_record.reset();
          if constexpr (std::is_same_v<std::decay_t<decltype(x)>, st::CAISEvent>) {
            x.span_id.reset();
            x.trace_id.reset();
            x.latency_ms.reset();
          }
        },
        e);
    auto& members = st::metadata(e).as_object();
    std::erase_if(members, [](const auto& m) {
      return m.first == "span_id" || m.first == "trace_id" || m.first == "parent_span_id" || m.first == "duration_ms";
    });
    return e;
  };
  for (std::size_t i = 0; i < stored->event_history.size(); ++i) {
    // Copied from the kept state (snapshot) and moved out of it (stored), as built eagerly.
    EXPECT_EQ(without_ids_and_times(snapshot->event_history[i]), without_ids_and_times(eager_snapshot->event_history[i]))
        << "event " << i;
    EXPECT_EQ(without_ids_and_times(stored->event_history[i]), without_ids_and_times(eager_stored->event_history[i]))
        << "event " << i;
    EXPECT_EQ(span_of(snapshot->event_history[i]), span_of(stored->event_history[i]));
    EXPECT_EQ(trace_of(snapshot->event_history[i]), trace_of(stored->event_history[i]));
  }
  const auto& call = std::get<st::CAISEvent>(stored->event_history[1]);
  EXPECT_EQ(call.model_name, "gpt-4o-2024-08-06");
  EXPECT_EQ(call.prompt_tokens, 3);
  EXPECT_EQ(md(stored->event_history[1])["request_model"].as_string(), "gpt-4o");
  EXPECT_EQ(md(stored->event_history[1])["user_key"].as_int(), 7);
  EXPECT_EQ(md(stored->event_history[0])["success"].as_bool(), false);
  EXPECT_EQ(md(stored->event_history[0])["error"]["type"].as_string(), "Timeout");
  EXPECT_EQ(span_of(stored->event_history[0]).size(), 16u);
  EXPECT_EQ(trace_of(stored->event_history[0]).size(), 32u);
  EXPECT_EQ(md(stored->event_history[0])["parent_span_id"].as_string(), span_of(stored->event_history[1]));
  EXPECT_EQ(md(stored->event_history[3])["attributes"]["depth"].as_int(), 2);
  EXPECT_EQ(std::get<st::EnvironmentEvent>(stored->event_history[2]).reward, 1.0);
}

// action() and observation() are members of the step's states whatever the order of the calls:
// a later state_before()/state_after() key of the same name replaces them, a later action() or
// observation() replaces that key, and a state that is not an object keeps them beside it.
TEST(Instrument, EnvironmentStepActionAndObservationJoinTheStatesInCallOrder) {
  SessionTracer tracer;
  const auto trace = in_session(tracer, [] {
    {
      auto step = st::environment_step("action first");
      step.action("north").state_before({{"action", "south"}, {"x", 1}});
      step.observation({{"y", 2}}).state_after({{"observation", "replaced"}});
    }
    {
      auto step = st::environment_step("state first");
      step.state_before({{"action", "south"}, {"x", 1}}).action("north").action("east");
      step.state_after({{"z", 3}}).observation("seen");
    }
    {
      auto step = st::environment_step("text state");
      step.action("north").state_before("a board as text");
      step.state_after("after, as text").observation("seen");
    }
  });
  ASSERT_EQ(trace->event_history.size(), 3u);
  const auto env = [&](std::size_t i) { return std::get<st::EnvironmentEvent>(trace->event_history[i]); };
  EXPECT_EQ(env(0).system_state_before, Value({{"action", "south"}, {"x", 1}}));
  EXPECT_EQ(env(0).system_state_after, Value({{"observation", "replaced"}}));
  EXPECT_EQ(env(0).system_state_before.dump(), R"({"action":"south","x":1})");
  EXPECT_EQ(env(1).system_state_before.dump(), R"({"action":"east","x":1})");
  EXPECT_EQ(env(1).system_state_after.dump(), R"({"z":3,"observation":"seen"})");
  EXPECT_EQ(env(2).system_state_before.dump(), R"({"action":"north","state":"a board as text"})");
  // A text state cannot take a member: the observation is a capture error, as it always was.
  EXPECT_EQ(env(2).system_state_after, Value("after, as text"));
}
