// GenAI instrumentations from npm against the real `synth-trace serve`: the official
// @opentelemetry/instrumentation-openai (content as log events), OpenInference's
// @arizeai/openinference-instrumentation-openai and OpenLLMetry's @traceloop/instrumentation-openai
// (content on the spans) instrument real `openai`
// client calls to a fake OpenAI server on 127.0.0.1, and the OpenTelemetry JS SDK exports
// over OTLP/protobuf (tests/server/genai_instrumentation/openai_calls.js). Checked through
// serve's read API: models, tokens, the prompt and completion messages, and the session.
// Without node or the npm packages the test is skipped, except in CI (CI=true), where it fails.
#include <gtest/gtest.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "server/serve_process.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::get_json;
using synth_test::ServeProcess;

namespace {

const std::string kClientDir = GENAI_INSTRUMENTATION_DIR;

// Why the client cannot run here, or empty.
std::string missing_client() {
  if (std::string(NODE_BINARY).empty()) return "node was not found when configuring";
  if (!std::filesystem::exists(kClientDir + "/node_modules/@opentelemetry/instrumentation-openai") ||
      !std::filesystem::exists(kClientDir + "/node_modules/@arizeai/openinference-instrumentation-openai") ||
      !std::filesystem::exists(kClientDir + "/node_modules/@traceloop/instrumentation-openai") ||
      !std::filesystem::exists(kClientDir + "/node_modules/openai")) {
    return kClientDir + "/node_modules is missing: run scripts/setup.sh";
  }
  return {};
}

// Runs openai_calls.js with an instrumentation (content capture of the official one on or off);
// its exit code and what it printed.
// `order` (the official one): which of spans and logs are exported first.
synth::tracing::testing::CommandResult run_client(const std::string& base, const std::string& session, bool capture_content,
                                      const std::string& instrumentation = "opentelemetry",
                                      const std::string& order = "spans-first") {
  return synth::tracing::testing::run_command(std::string("OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT=") +
                                  (capture_content ? "true" : "false") + " " + NODE_BINARY + " " + kClientDir +
                                  "/openai_calls.js " + base + " " + session + " " + instrumentation + " " + order);
}

// The session once the writer stored all of it (ingest is asynchronous): its detail.
Value stored_session(const ServeProcess& serve, const std::string& id, std::int64_t events, std::int64_t messages) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  Value detail;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto r = serve.client()->Get("/api/v1/sessions/" + id);
    if (r && r->status == 200) {
      detail = Value::parse(r->body);
      if (detail["session"]["num_events"].as_int() == events && detail["session"]["num_messages"].as_int() == messages) {
        return detail;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << id << " did not reach " << events << " events and " << messages << " messages: " << detail.dump();
  return detail;
}

}  // namespace

std::vector<Value> expect_calls_with_messages(const ServeProcess& serve, const std::string& session);

// Skips the test without the client, or fails it in CI.
#define REQUIRE_CLIENT()                                                                \
  if (const std::string missing = missing_client(); !missing.empty()) {                 \
    const char* ci = std::getenv("CI");                                                 \
    if (ci != nullptr && std::string(ci) == "true") FAIL() << "CI=true and " << missing; \
    GTEST_SKIP() << missing;                                                            \
  }

TEST(GenAiInstrumentation, OpenAiCallsInstrumentedByOpenTelemetryAreStoredAsOneSession) {
  REQUIRE_CLIENT();
  TempDir dir;
  // A generous wait for the log records of calls whose spans come first (the default is 500 ms):
  // a loaded machine must not make the test flaky.
  ServeProcess serve(dir.db(), {"--otlp-port", "0", "--span-hold-ms", "2000"});
  {
    const auto [code, out] = run_client(serve.url(), "turn-with-content", true, "opentelemetry", "logs-first");
    ASSERT_EQ(code, 0) << out;
  }
  {
    const auto [code, out] = run_client(serve.url(), "turn-spans-first", true, "opentelemetry", "spans-first");
    ASSERT_EQ(code, 0) << out;
  }

  // Two chat calls and their parent; the logs (system + user + choice for the first call,
  // system + user + assistant + user + choice for the second) went out before the spans, waited
  // for them, and are the calls' messages: no loose messages.
  const Value detail = stored_session(serve, "turn-with-content", 3, 0);
  const Value& s = detail["session"];
  EXPECT_EQ(s["num_llm_calls"].as_int(), 2);
  EXPECT_EQ(s["prompt_tokens"].as_int(), 23 + 41);
  EXPECT_EQ(s["completion_tokens"].as_int(), 7 + 4);
  EXPECT_EQ(s["total_tokens"].as_int(), 75);
  EXPECT_EQ(s["models"], Value::parse(R"(["gpt-4o-mini-2024-07-18"])"));
  EXPECT_EQ(s["providers"], Value::parse(R"(["openai"])"));
  EXPECT_EQ(s["num_timesteps"].as_int(), 1) << "one trace, one timestep";

  const Value events = get_json(serve, "/api/v1/sessions/turn-with-content/events");
  ASSERT_EQ(events["events"].size(), 3u) << events.dump();
  std::string agent_span;
  for (const Value& e : events["events"].as_array()) {
    if (e["name"] == Value("invoke_agent weather")) agent_span = e["span_id"].as_string();
  }
  ASSERT_FALSE(agent_span.empty()) << events.dump();
  const std::vector<Value> chats = expect_calls_with_messages(serve, "turn-with-content");
  ASSERT_EQ(chats.size(), 2u);
  for (std::size_t i = 0; i < chats.size(); ++i) {
    const Value& full = chats[i];
    EXPECT_EQ(full["system"], Value("openai-agent")) << "the service name: " << i;
    EXPECT_EQ(full["parent_span_id"], Value(agent_span)) << "under the turn's span: " << i;
    EXPECT_EQ(full["metadata"]["request_model"], Value("gpt-4o-mini")) << full.dump();
    EXPECT_EQ(full["system_state_after"]["finish_reason"], Value("stop")) << full.dump();
    EXPECT_EQ(full["system_state_after"]["response_id"], Value("chatcmpl-" + std::to_string(i + 1))) << full.dump();
    EXPECT_EQ(full["system_state_after"]["messages"][0]["finish_reason"], Value("stop")) << full.dump();
  }

  // The spans first: the calls without content waited for their records, which then joined them.
  stored_session(serve, "turn-spans-first", 3, 0);
  EXPECT_EQ(expect_calls_with_messages(serve, "turn-spans-first").size(), 2u);

  // Nothing else: no session named after a trace id for spans or logs without the session id.
  const Value list = get_json(serve, "/api/v1/sessions");
  std::vector<std::string> ids;
  for (const Value& x : list["sessions"].as_array()) ids.push_back(x["session_id"].as_string());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"turn-spans-first", "turn-with-content"})) << list.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(GenAiInstrumentation, OpenTelemetryLogEventsAfterTheirStoredCallsJoinTheStoredCalls) {
  REQUIRE_CLIENT();
  TempDir dir;
  // No call waits for its records (--span-hold-ms 0), and the spans go first: the records come
  // after their calls were stored.
  ServeProcess serve(dir.db(), {"--otlp-port", "0", "--span-hold-ms", "0"});
  {
    const auto [code, out] = run_client(serve.url(), "turn-without-content", false);
    ASSERT_EQ(code, 0) << out;
  }
  // Content capture off (the instrumentation's default): the same calls and tokens; the log
  // events complete the stored calls (roles and finish reasons, without text): no loose messages.
  stored_session(serve, "turn-without-content", 3, 0);
  const Value events = get_json(serve, "/api/v1/sessions/turn-without-content/events");
  std::int64_t prompt = 0;
  std::size_t inputs = 0;
  for (const Value& e : events["events"].as_array()) {
    if (e["kind"] != Value("cais")) continue;
    prompt += e["prompt_tokens"].as_int();
    const Value full = get_json(serve, "/api/v1/events/" + std::to_string(e["id"].as_int()));
    const Value& before = full["system_state_before"]["messages"];
    ASSERT_TRUE(before.is_array() && !before.empty()) << full.dump();
    for (const Value& m : before.as_array()) EXPECT_EQ(m.find("content"), nullptr) << "no text captured: " << full.dump();
    inputs += before.size();
    EXPECT_EQ(full["system_state_after"]["messages"][0]["finish_reason"], Value("stop")) << full.dump();
  }
  EXPECT_EQ(prompt, 64);
  EXPECT_EQ(inputs, 6u) << "system + user, then system + user + assistant + user";
  const Value counts = get_json(serve, "/api/v1/health")["ingest"];
  EXPECT_EQ(counts["otlp_logs_attached"], Value(8)) << counts.dump();
  EXPECT_EQ(counts["otlp_logs_messages"], Value(0)) << counts.dump();
  const Value list = get_json(serve, "/api/v1/sessions");
  ASSERT_EQ(list["sessions"].size(), 1u) << list.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

// The two LLM calls of a session whose instrumentation puts the messages on the spans: models,
// tokens and the messages in the events' system_state_before/after; the calls' full events,
// oldest first.
std::vector<Value> expect_calls_with_messages(const ServeProcess& serve, const std::string& session) {
  const Value events = get_json(serve, "/api/v1/sessions/" + session + "/events");
  std::vector<Value> calls;
  for (const Value& e : events["events"].as_array()) {
    if (e["kind"] == Value("cais")) calls.push_back(get_json(serve, "/api/v1/events/" + std::to_string(e["id"].as_int())));
  }
  EXPECT_EQ(calls.size(), 2u) << events.dump();
  if (calls.size() != 2) return calls;
  std::sort(calls.begin(), calls.end(),
            [](const Value& a, const Value& b) { return a["started_at"].as_string() < b["started_at"].as_string(); });
  const auto lines = [](const Value& messages) {
    std::vector<std::string> out;
    if (!messages.is_array()) return out;
    for (const Value& m : messages.as_array()) out.push_back(m["role"].as_string() + ": " + m["content"].as_string());
    return out;
  };
  const std::array<std::pair<int, int>, 2> usage{{{23, 7}, {41, 4}}};
  for (std::size_t i = 0; i < calls.size(); ++i) {
    EXPECT_EQ(calls[i]["model"], Value("gpt-4o-mini-2024-07-18")) << i;
    EXPECT_EQ(calls[i]["provider"], Value("openai")) << i;
    EXPECT_EQ(calls[i]["prompt_tokens"].as_int(), usage[i].first) << i;
    EXPECT_EQ(calls[i]["completion_tokens"].as_int(), usage[i].second) << i;
  }
  EXPECT_EQ(calls[0]["system_state_before"]["temperature"], Value(0.2)) << calls[0].dump();
  EXPECT_EQ(lines(calls[0]["system_state_before"]["messages"]),
            (std::vector<std::string>{"system: You answer about the weather.", "user: Weather in Paris?"}))
      << calls[0].dump();
  EXPECT_EQ(lines(calls[0]["system_state_after"]["messages"]), (std::vector<std::string>{"assistant: Sunny, 24 C in Paris."}))
      << calls[0].dump();
  EXPECT_EQ(lines(calls[1]["system_state_before"]["messages"]),
            (std::vector<std::string>{"system: You answer about the weather.", "user: Weather in Paris?",
                                      "assistant: Sunny, 24 C in Paris.", "user: What should I take?"}))
      << calls[1].dump();
  EXPECT_EQ(lines(calls[1]["system_state_after"]["messages"]), (std::vector<std::string>{"assistant: Take sunglasses."}))
      << calls[1].dump();
  return calls;
}

// OpenInference: each call its own trace (a timestep each), one session by the `session.id` that
// setSession puts on the spans; the messages on the LLM call events themselves.
TEST(GenAiInstrumentation, OpenAiCallsInstrumentedByOpenInferenceAreStoredWithTheirMessages) {
  REQUIRE_CLIENT();
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-port", "0"});
  const auto [code, out] = run_client(serve.url(), "openinference-session", false, "openinference");
  ASSERT_EQ(code, 0) << out;

  const Value detail = stored_session(serve, "openinference-session", 2, 0);
  const Value& s = detail["session"];
  EXPECT_EQ(s["num_llm_calls"].as_int(), 2);
  EXPECT_EQ(s["num_timesteps"].as_int(), 2) << "one trace per call, one timestep each";
  EXPECT_EQ(s["prompt_tokens"].as_int(), 64);
  EXPECT_EQ(s["completion_tokens"].as_int(), 11);
  const std::vector<Value> calls = expect_calls_with_messages(serve, "openinference-session");
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_NE(calls[0]["step_id"], calls[1]["step_id"]);

  const Value list = get_json(serve, "/api/v1/sessions");
  ASSERT_EQ(list["sessions"].size(), 1u) << "no session named after a trace id: " << list.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

// OpenLLMetry (@traceloop/instrumentation-openai): GenAI `gen_ai.input/output.messages` on the
// spans; the session from the parent span's traceloop.association.properties.session_id.
TEST(GenAiInstrumentation, OpenAiCallsInstrumentedByOpenLLMetryAreStoredWithTheirMessages) {
  REQUIRE_CLIENT();
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-port", "0"});
  const auto [code, out] = run_client(serve.url(), "openllmetry-session", false, "traceloop");
  ASSERT_EQ(code, 0) << out;

  const Value detail = stored_session(serve, "openllmetry-session", 3, 0);
  EXPECT_EQ(detail["session"]["num_llm_calls"].as_int(), 2);
  EXPECT_EQ(detail["session"]["num_timesteps"].as_int(), 1);
  const std::vector<Value> calls = expect_calls_with_messages(serve, "openllmetry-session");
  ASSERT_EQ(calls.size(), 2u);
  for (const Value& call : calls) {
    EXPECT_EQ(call["metadata"]["request_model"], Value("gpt-4o-mini")) << call.dump();
    EXPECT_EQ(call["system_state_after"]["finish_reason"], Value("stop")) << call.dump();
    EXPECT_TRUE(call["parent_span_id"].is_string()) << call.dump();
    EXPECT_EQ(call["parent_span_id"], calls[0]["parent_span_id"]) << "both under the turn's span";
  }
  const Value list = get_json(serve, "/api/v1/sessions");
  ASSERT_EQ(list["sessions"].size(), 1u) << "no session named after a trace id: " << list.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}
