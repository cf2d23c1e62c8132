// The traced_* wrappers: signatures kept, arguments and results captured (nlohmann types,
// optional usage), exceptions rethrown unchanged, and capture failures (a throwing to_json, out of
// memory) never reaching the call.
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

struct Point {
  int x;
  int y;
};
void to_json(nlohmann::json& j, const Point& p) { j = nlohmann::json{{"x", p.x}, {"y", p.y}}; }

struct Opaque {
  int secret;
};

struct Completion {
  std::string text;
  std::string model;
  st::TokenUsage usage;
};
void to_json(nlohmann::json& j, const Completion& c) { j = nlohmann::json{{"text", c.text}}; }

// An argument whose nlohmann conversion throws, as a buggy user to_json would.
struct Unserializable {
  int id;
};
void to_json(nlohmann::json&, const Unserializable&) { throw std::runtime_error("to_json bug"); }

// A result whose capture runs out of memory.
struct HugeResult {
  int value;
  explicit operator Value() const { throw std::bad_alloc(); }
};

}  // namespace

TEST(Instrument, WrappersKeepTheSignatureAndCaptureArgumentsAndResults) {
  SessionTracer tracer;
  int calls = 0;
  auto plan = st::traced_ai_call(
      "plan",
      [&](const std::string& goal, Point where, Opaque) {
        ++calls;
        return Completion{"go " + goal, "gpt-4o-mini-2024-07-18", {.prompt_tokens = 10, .completion_tokens = 5}};
      },
      {.model = "gpt-4o-mini"});
  auto move = st::traced_environment_step("move", [](const std::string& a) { return Value{{"moved", a}}; });
  auto check = st::traced_runtime_operation("check", [](int x) { return x > 0; });
  auto log = st::traced_span("log", [](std::string_view) {});
  std::string result_text;
  const auto trace = in_session(tracer, [&] {
    const Completion c = plan("treasure", Point{1, 2}, Opaque{42});
    result_text = c.text;
    EXPECT_EQ(move("north")["moved"].as_string(), "north");
    EXPECT_TRUE(check(5));
    log("hello");
  });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result_text, "go treasure");
  ASSERT_EQ(trace->event_history.size(), 3u);
  const auto& call = std::get<st::CAISEvent>(trace->event_history[0]);
  const Value& args = call.system_state_before["arguments"];
  EXPECT_EQ(args[0].as_string(), "treasure");
  EXPECT_EQ(args[1], (Value{{"x", 1}, {"y", 2}}));  // through its nlohmann to_json
  EXPECT_EQ(args[2].as_string().front(), '<');       // not serializable: its type name
  EXPECT_EQ(call.system_state_after["output"]["text"].as_string(), "go treasure");
  EXPECT_EQ(call.model_name, "gpt-4o-mini-2024-07-18");  // llm_result_traits: model member
  EXPECT_EQ(call.prompt_tokens, 10);                      // llm_result_traits: usage member
  EXPECT_EQ(call.completion_tokens, 5);
  const auto& env = std::get<st::EnvironmentEvent>(trace->event_history[1]);
  EXPECT_EQ(env.system_state_before["action"], Value::array({"north"}));
  EXPECT_EQ(env.system_state_after["observation"]["moved"].as_string(), "north");
  const auto& op = std::get<st::RuntimeEvent>(trace->event_history[2]);
  EXPECT_EQ(op.actions, Value::array({5}));
  EXPECT_EQ(op.system_state_after["output"], Value(true));
}

TEST(Instrument, WrappedResultsWithOptionalUsage) {
  // An LMResponse-like result: usage is absent when the provider reported none.
  struct Reply {
    std::string model;
    std::optional<st::TokenUsage> usage;
  };
  SessionTracer tracer;
  auto ask = st::traced_ai_call("chat", [](bool reported) {
    return reported ? Reply{"gpt-4o-mini", st::TokenUsage{.prompt_tokens = 7, .completion_tokens = 3}}
                    : Reply{"gpt-4o-mini", std::nullopt};
  });
  const auto trace = in_session(tracer, [&] {
    (void)ask(true);
    (void)ask(false);
  });
  ASSERT_EQ(trace->event_history.size(), 2u);
  const auto& with = std::get<st::CAISEvent>(trace->event_history[0]);
  EXPECT_EQ(with.prompt_tokens, 7);
  EXPECT_EQ(with.completion_tokens, 3);
  EXPECT_TRUE(with.cost.has_value());
  const auto& without = std::get<st::CAISEvent>(trace->event_history[1]);
  EXPECT_FALSE(without.prompt_tokens.has_value());
  EXPECT_FALSE(without.cost.has_value());
  EXPECT_EQ(without.metadata["cost_status"].as_string(), "no_usage");
}

TEST(Instrument, WrapperRecordsAndRethrowsTheSameException) {
  SessionTracer tracer;
  auto failing = st::traced_ai_call("chat", [](int) -> int { throw std::out_of_range("no such choice"); });
  const auto trace = in_session(tracer, [&] { EXPECT_THROW(failing(1), std::out_of_range); });
  ASSERT_EQ(trace->event_history.size(), 1u);
  EXPECT_EQ(md(trace->event_history[0])["error"]["type"].as_string(), "std::out_of_range");
  EXPECT_EQ(md(trace->event_history[0])["error"]["message"].as_string(), "no such choice");
}
TEST(Instrument, ArgumentCaptureThatThrowsStillRunsTheCallAndIsRecorded) {
  st::testing::CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  int calls = 0;
  auto plan = st::traced_ai_call("plan", [&](const Unserializable& u) { return ++calls + u.id; });
  int result = 0;
  const auto trace = in_session(tracer, [&] { EXPECT_NO_THROW(result = plan(Unserializable{40})); });
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(result, 41);
  ASSERT_EQ(trace->event_history.size(), 1u);
  const Value& capture_error = md(trace->event_history[0])["capture_error"];
  EXPECT_NE(capture_error["arguments"].as_string().find("to_json bug"), std::string::npos) << capture_error.dump();
  EXPECT_FALSE(md(trace->event_history[0]).contains("error"));  // the call itself succeeded
  const auto& call = std::get<st::CAISEvent>(trace->event_history[0]);
  EXPECT_EQ(call.system_state_after["output"], Value(41));
  EXPECT_EQ(tracer.stats().capture_errors, 1u);
  const auto reported = diagnostics.all();
  ASSERT_EQ(reported.size(), 1u);
  EXPECT_NE(reported[0].find("'plan' could not capture its arguments: std::runtime_error: to_json bug"),
            std::string::npos)
      << reported[0];
}

TEST(Instrument, ResultCaptureThatThrowsBadAllocStillReturnsTheResult) {
  st::testing::CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  auto step = st::traced_environment_step("move", [](int n) { return HugeResult{n * 2}; });
  auto tool = st::traced_runtime_operation("tool", [](int n) { return HugeResult{n + 1}; });
  auto call = st::traced_ai_call("chat", [](int n) { return HugeResult{n}; });
  auto span = st::traced_span("span", [](int n) { return HugeResult{n}; }, {.record_event = true});
  int sum = 0;
  const auto trace = in_session(tracer, [&] {
    EXPECT_NO_THROW(sum += step(5).value);
    EXPECT_NO_THROW(sum += tool(5).value);
    EXPECT_NO_THROW(sum += call(5).value);
    EXPECT_NO_THROW(sum += span(5).value);
  });
  EXPECT_EQ(sum, 10 + 6 + 5 + 5);
  ASSERT_EQ(trace->event_history.size(), 4u);
  for (const auto& e : trace->event_history) {
    EXPECT_FALSE(md(e).contains("error")) << md(e).dump();
    EXPECT_NE(md(e)["capture_error"]["result"].as_string().find("bad_alloc"), std::string::npos) << md(e).dump();
  }
  EXPECT_EQ(tracer.stats().capture_errors, 4u);
}

TEST(Instrument, UsersExceptionPassesThroughUnchangedWhenCaptureAlsoFails) {
  st::testing::CapturedDiagnostics diagnostics;
  SessionTracer tracer;
  auto failing = st::traced_runtime_operation("tool", [](const Unserializable&) -> int {
    throw std::out_of_range("the user's own error");
  });
  const auto trace = in_session(tracer, [&] {
    try {
      failing(Unserializable{1});
      ADD_FAILURE() << "no exception";
    } catch (const std::out_of_range& e) {
      EXPECT_STREQ(e.what(), "the user's own error");
    }
  });
  ASSERT_EQ(trace->event_history.size(), 1u);
  EXPECT_EQ(md(trace->event_history[0])["error"]["type"].as_string(), "std::out_of_range");
  EXPECT_TRUE(md(trace->event_history[0])["capture_error"].contains("arguments"));
  EXPECT_EQ(tracer.stats().capture_errors, 1u);
}
