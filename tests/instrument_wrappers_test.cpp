// The traced_* wrappers: signatures kept, arguments and results captured (nlohmann types,
// optional usage), exceptions rethrown unchanged, and capture failures (a throwing to_json, out of
// memory) never reaching the call.
#include <gtest/gtest.h>

#include <future>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
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

namespace {
// An event as JSON without what differs between runs (times, ids, duration): what the wrapped
// calls below must keep recording however the wrappers capture.
Value stable_json(const st::Event& event) {
  Value out = Value::object();
  std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        out.set("system_instance_id", e.system_instance_id);
        out.set("system_state_before", e.system_state_before);
        out.set("system_state_after", e.system_state_after);
        if constexpr (std::is_same_v<E, st::EnvironmentEvent>) out.set("observation_diff", e.observation_diff);
        if constexpr (std::is_same_v<E, st::RuntimeEvent>) out.set("actions", e.actions);
        if constexpr (std::is_same_v<E, st::CAISEvent>) {
          out.set("model_name", e.model_name ? Value(*e.model_name) : Value());
          out.set("prompt_tokens", e.prompt_tokens ? Value(*e.prompt_tokens) : Value());
        }
      },
      event);
  Value md = Value::object();
  for (const auto& [key, value] : st::metadata(event).as_object()) {
    // The cost's keys come with the pricing of a finished session, not from the scope.
    static const std::set<std::string> kVarying = {"duration_ms", "span_id",         "trace_id",   "parent_span_id",
                                                   "cost_source", "price_table_as_of", "cost_status"};
    if (!kVarying.contains(key)) md.set(key, value);
  }
  out.set("metadata", std::move(md));
  return out;
}

// Wrapped calls of every kind: no argument, one, two, more than two, a result that does not
// convert to JSON (its type name), a throwing function, an LLM result with model and usage.
void make_wrapped_calls() {
  auto none = st::traced_runtime_operation("none", [] { return 1; });
  auto one = st::traced_runtime_operation("one", [](int x) { return x + 1; });
  auto two = st::traced_environment_step("two", [](const std::string& a, int b) { return Value{{a, b}}; });
  auto four = st::traced_ai_call(
      "four", [](int a, const char* b, double c, bool d) { return Completion{b, "gpt-4o-mini-2024-07-18", {a, 2}}; },
      {.model = "gpt-4o-mini"});
  auto opaque = st::traced_runtime_operation("opaque", [](Point p) { return Opaque{p.x}; });
  auto throwing = st::traced_runtime_operation("throwing", [](int) -> int { throw std::invalid_argument("bad x"); });
  auto throwing_llm = st::traced_ai_call("throwing_llm", [](std::string_view) -> int { throw 7; });
  auto step = st::traced_environment_step("step", [](int x) { return x * 2; });
  (void)none();
  (void)one(41);
  (void)two("k", 3);
  (void)four(5, "text", 1.5, true);
  (void)opaque(Point{1, 2});
  EXPECT_THROW(throwing(1), std::invalid_argument);
  EXPECT_THROW(throwing_llm("q"), int);
  (void)step(4);
}

std::string stable_history(const st::SessionTrace& trace) {
  Value all = Value::array({});
  for (const auto& e : trace.event_history) all.as_array().push_back(stable_json(e));
  return all.dump();
}

const std::string& wrapped_calls_json() {
  static const std::string expected = [] {
    std::string text = R"([{"system_instance_id":"runtime","system_state_before":null,"system_state_after":{"output":1},"actions":[],"metadata":{"operation_type":"none","success":true}},{"system_instance_id":"runtime","system_state_before":null,"system_state_after":{"output":42},"actions":[41],"metadata":{"operation_type":"one","success":true}},{"system_instance_id":"environment","system_state_before":{"action":["k",3]},"system_state_after":{"observation":{"k":3}},"observation_diff":null,"metadata":{"step":"two"}},{"system_instance_id":"llm_agent","system_state_before":{"arguments":[5,"text",1.5,true]},"system_state_after":{"output":{"text":"text"}},"model_name":"gpt-4o-mini-2024-07-18","prompt_tokens":5,"metadata":{"request_model":"gpt-4o-mini","operation":"four"}},{"system_instance_id":"runtime","system_state_before":null,"system_state_after":{"output":"@Opaque@"},"actions":[{"x":1,"y":2}],"metadata":{"operation_type":"opaque","success":true}},{"system_instance_id":"runtime","system_state_before":null,"system_state_after":null,"actions":[1],"metadata":{"error":{"type":"std::invalid_argument","message":"bad x"},"operation_type":"throwing","success":false}},{"system_instance_id":"llm_agent","system_state_before":{"arguments":["q"]},"system_state_after":null,"model_name":null,"prompt_tokens":null,"metadata":{"error":{"type":"unknown","message":"a non-standard exception"},"operation":"throwing_llm"}},{"system_instance_id":"environment","system_state_before":{"action":[4]},"system_state_after":{"observation":8},"observation_diff":null,"metadata":{"step":"step"}}])";
    const std::string opaque = "<" + std::string(typeid(Opaque).name()) + ">";
    for (std::size_t at; (at = text.find("@Opaque@")) != std::string::npos;) text.replace(at, 8, opaque);
    return text;
  }();
  return expected;
}
}  // namespace

// The events a wrapped call records are the same whether they are built when the session is read
// (moved out of the scopes' states), copied for a snapshot of the active session, or built at once
// for an on_event hook.
TEST(Instrument, WrappedCallsRecordTheSameEventsOnEveryPath) {
  SessionTracer tracer;
  std::string snapshot;
  const auto trace = in_session(tracer, [&] {
    make_wrapped_calls();
    snapshot = stable_history(*tracer.get_session_trace("s"));
  });
  EXPECT_EQ(stable_history(*trace), wrapped_calls_json());
  EXPECT_EQ(snapshot, wrapped_calls_json());

  SessionTracer hooked;
  int seen = 0;
  hooked.add_hook({.on_event = [&](std::string_view, const st::Event&) -> std::optional<Value> {
    ++seen;
    return std::nullopt;
  }});
  const auto hooked_trace = in_session(hooked, make_wrapped_calls);
  EXPECT_EQ(seen, 8);
  EXPECT_EQ(stable_history(*hooked_trace), wrapped_calls_json());
}
