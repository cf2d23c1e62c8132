// OTLP trace requests read by hand (protobuf and JSON) and mapped to sessions: our own export
// comes back as the session it was made from; the shapes Python SDKs send (OpenInference,
// OpenLLMetry, GenAI conventions) become LLM calls with model, tokens and messages; garbage is
// refused with an error naming the problem, never a crash.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <sstream>

#include "server/exports.hpp"
#include "server/fixtures.hpp"
#include "server/otlp_map.hpp"
#include "server/otlp_response.hpp"
#include "support.hpp"
#include "synth/tracing/otel.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth_test::sample_session;

namespace {

// Hand-built protobuf: a varint, and a length-delimited field.
std::string varint(std::size_t v) {
  std::string out;
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
  return out;
}

std::string field(int number, const std::string& bytes) {
  return std::string(1, static_cast<char>(number << 3 | 2)) + varint(bytes.size()) + bytes;
}

std::string fixture(const std::string& name) {
  std::string text = synth::tracing::testing::file_contents(std::filesystem::path(OTLP_FIXTURES) / name);
  EXPECT_FALSE(text.empty()) << name;
  return text;
}

std::string protobuf_of(const SessionTrace& t) {
  const OtlpSpans s = otlp_spans(t);
  return encode_otlp_protobuf(s.spans, s.resource);
}

// What the round trip keeps: everything but the session's metadata entries (not exported).
void expect_same_session(const SessionTrace& got, const SessionTrace& want) {
  EXPECT_EQ(got.session_id, want.session_id);
  EXPECT_EQ(got.created_at, want.created_at);
  ASSERT_EQ(got.event_history.size(), want.event_history.size());
  for (std::size_t i = 0; i < want.event_history.size(); ++i) {
    EXPECT_TRUE(got.event_history[i] == want.event_history[i]) << "event " << i;
  }
  EXPECT_TRUE(got.message_history == want.message_history);
  ASSERT_EQ(got.session_time_steps.size(), want.session_time_steps.size());
  for (std::size_t i = 0; i < want.session_time_steps.size(); ++i) {
    EXPECT_TRUE(got.session_time_steps[i] == want.session_time_steps[i]) << "timestep " << i;
  }
}

const CAISEvent& only_call(const SessionTrace& t) {
  for (const Event& e : t.event_history) {
    if (const auto* c = std::get_if<CAISEvent>(&e)) return *c;
  }
  throw std::runtime_error("no LLM call in " + t.session_id);
}

}  // namespace

TEST(OtlpDecode, OurProtobufExportComesBackAsTheSession) {
  const SessionTrace original = sample_session("round-trip", {.steps = 3, .failing_tool = true});
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_protobuf(protobuf_of(original)));
  EXPECT_EQ(mapped.rejected_spans, 0u) << mapped.error_message;
  ASSERT_EQ(mapped.sessions.size(), 1u);
  expect_same_session(mapped.sessions[0], original);
}

TEST(OtlpDecode, OurJsonExportComesBackAsTheSession) {
  const SessionTrace original = sample_session("round-trip-json", {.steps = 2, .reward_per_step = 0.25});
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(otlp_json(original)));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  expect_same_session(mapped.sessions[0], original);
}

TEST(OtlpDecode, ScopeSpansOfLlmCallsKeepModelTokensCostAndIds) {
  SessionTrace t = sample_session("scoped", {.steps = 1});
  auto& call = std::get<CAISEvent>(t.session_time_steps[0].events[0]);
  call.span_id = "00000000000000a1";
  call.trace_id = "0000000000000001000000000000beef";
  call.cached_tokens = 40;
  call.reasoning_tokens = 5;
  t.event_history[0] = t.session_time_steps[0].events[0];
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_protobuf(protobuf_of(t)));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& got = mapped.sessions[0];
  ASSERT_EQ(got.event_history.size(), t.event_history.size());
  const CAISEvent& c = only_call(got);
  EXPECT_EQ(c.model_name, call.model_name);
  EXPECT_EQ(c.provider, call.provider);
  EXPECT_EQ(c.prompt_tokens, call.prompt_tokens);
  EXPECT_EQ(c.completion_tokens, call.completion_tokens);
  EXPECT_EQ(c.total_tokens, call.total_tokens);
  EXPECT_EQ(c.cached_tokens, 40);
  EXPECT_EQ(c.reasoning_tokens, 5);
  EXPECT_EQ(c.cost, call.cost);
  EXPECT_EQ(c.latency_ms, call.latency_ms);
  EXPECT_EQ(c.system_instance_id, "agent");
  EXPECT_EQ(c.span_id, call.span_id);
  EXPECT_EQ(c.trace_id, call.trace_id);
  EXPECT_EQ(c.time_record, call.time_record);
  EXPECT_EQ(c.metadata["operation"], Value("chat"));
  ASSERT_EQ(got.session_time_steps.size(), 1u);
  EXPECT_EQ(got.session_time_steps[0].step_id, "step_0");
  EXPECT_EQ(got.session_time_steps[0].events.size(), 3u);
}

TEST(OtlpDecode, OpenInferenceFlattenedKeys) {
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(fixture("openinference.json")));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  EXPECT_EQ(t.session_id, "oi-session-1");  // the tool span has none: it takes its trace's
  ASSERT_EQ(t.event_history.size(), 2u);
  const CAISEvent& c = std::get<CAISEvent>(t.event_history[0]);
  EXPECT_EQ(c.model_name, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(c.provider, "openai");
  EXPECT_EQ(c.prompt_tokens, 21);
  EXPECT_EQ(c.completion_tokens, 1);
  EXPECT_EQ(c.total_tokens, 22);
  EXPECT_EQ(c.cached_tokens, 16);
  EXPECT_DOUBLE_EQ(*c.latency_ms, 1250.0);
  EXPECT_EQ(c.system_instance_id, "support-bot");
  EXPECT_EQ(c.span_id, "eee19b7ec3c1b174");
  const Value& in = c.system_state_before["messages"];
  ASSERT_EQ(in.size(), 2u) << c.system_state_before.dump();
  EXPECT_EQ(in[1]["role"], Value("user"));
  EXPECT_EQ(in[1]["content"], Value("What is 2+2?"));
  EXPECT_EQ(c.system_state_before["temperature"], Value(0.2));
  EXPECT_EQ(c.system_state_after["messages"][0]["content"], Value("4"));

  const RuntimeEvent& tool = std::get<RuntimeEvent>(t.event_history[1]);
  EXPECT_EQ(tool.metadata["operation"], Value("get_weather"));
  EXPECT_EQ(tool.system_state_before["arguments"]["city"], Value("Paris"));
  EXPECT_EQ(tool.system_state_after["result"], Value("sunny"));
  EXPECT_EQ(tool.metadata["error"]["type"], Value("TimeoutError"));
  EXPECT_EQ(tool.metadata["parent_span_id"], Value("eee19b7ec3c1b174"));
  ASSERT_EQ(t.session_time_steps.size(), 1u) << "one trace, one timestep";
  EXPECT_EQ(t.session_time_steps[0].step_id, "5b8efff798038103d269b633813fc60c");
  EXPECT_EQ(t.session_time_steps[0].events.size(), 2u);
}

TEST(OtlpDecode, OpenLLMetryPromptAndCompletionKeys) {
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(fixture("openllmetry.json")));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  EXPECT_EQ(t.session_id, "ollm-7");
  const CAISEvent& c = only_call(t);
  EXPECT_EQ(c.model_name, "claude-3-5-haiku-20241022");
  EXPECT_EQ(c.metadata["request_model"], Value("claude-3-5-haiku-latest"));
  EXPECT_EQ(c.provider, "anthropic");
  EXPECT_EQ(c.prompt_tokens, 12);
  EXPECT_EQ(c.completion_tokens, 7);
  EXPECT_EQ(c.total_tokens, 19);
  EXPECT_EQ(c.system_state_before["max_tokens"], Value(256));
  EXPECT_EQ(c.system_state_before["messages"][0]["content"], Value("Plan a day in Lyon"));
  EXPECT_EQ(c.system_state_after["messages"][0]["content"], Value("Morning: Vieux Lyon."));
  EXPECT_EQ(c.system_state_after["messages"][0]["finish_reason"], Value("end_turn"));
  EXPECT_EQ(t.created_at, *parse_timestamp("2025-01-01T00:01:40Z"));
}

TEST(OtlpDecode, FlattenedMessageTextThatLooksLikeJsonStaysText) {
  // A structured or JSON-mode answer is text that happens to be JSON: it was stored parsed (an
  // array or object in place of the text, its formatting lost). OpenLLMetry's multimodal content,
  // a list of typed parts flattened as JSON text, is still read as the list.
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"22222222222222222222222222222222","spanId":"00000000000000a1","name":"openai.chat",
     "startTimeUnixNano":"1735689600000000000","endTimeUnixNano":"1735689601000000000","attributes":[
      {"key":"gen_ai.system","value":{"stringValue":"openai"}},
      {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
      {"key":"gen_ai.prompt.0.role","value":{"stringValue":"user"}},
      {"key":"gen_ai.prompt.0.content","value":{"stringValue":"[1, 2, 3]"}},
      {"key":"gen_ai.prompt.1.role","value":{"stringValue":"user"}},
      {"key":"gen_ai.prompt.1.content","value":{"stringValue":"[{\"type\":\"text\",\"text\":\"Describe\"},{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://x.test/y.png\"}}]"}},
      {"key":"gen_ai.completion.0.role","value":{"stringValue":"assistant"}},
      {"key":"gen_ai.completion.0.content","value":{"stringValue":"{\"answer\": 42,   \"note\": \"x\"}"}}]},
    {"traceId":"22222222222222222222222222222222","spanId":"00000000000000a2","name":"ChatCompletion",
     "startTimeUnixNano":"1735689602000000000","endTimeUnixNano":"1735689603000000000","attributes":[
      {"key":"openinference.span.kind","value":{"stringValue":"LLM"}},
      {"key":"llm.model_name","value":{"stringValue":"gpt-4o"}},
      {"key":"llm.input_messages.0.message.role","value":{"stringValue":"user"}},
      {"key":"llm.input_messages.0.message.content","value":{"stringValue":"{\"q\": 1}"}}]}]}]}]})"));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  ASSERT_EQ(t.event_history.size(), 2u);
  const CAISEvent& openllmetry = std::get<CAISEvent>(t.event_history[0]);
  const Value& in = openllmetry.system_state_before["messages"];
  ASSERT_EQ(in.size(), 2u) << openllmetry.system_state_before.dump();
  EXPECT_EQ(in[0]["content"], Value("[1, 2, 3]"));
  ASSERT_TRUE(in[1]["content"].is_array()) << in.dump();
  EXPECT_EQ(in[1]["content"][1]["image_url"]["url"], Value("https://x.test/y.png"));
  EXPECT_EQ(openllmetry.system_state_after["messages"][0]["content"], Value("{\"answer\": 42,   \"note\": \"x\"}"))
      << openllmetry.system_state_after.dump();
  const CAISEvent& openinference = std::get<CAISEvent>(t.event_history[1]);
  EXPECT_EQ(openinference.system_state_before["messages"][0]["content"], Value("{\"q\": 1}"))
      << openinference.system_state_before.dump();
}

TEST(OtlpDecode, AttributesTheMappingDoesNotReadAreKeptWithTheCallAndTheTool) {
  // An LLM call's or a tool's span kept only what the mapping read: server.address, request
  // parameters without a place, a user's own attributes were lost.
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"33333333333333333333333333333333","spanId":"00000000000000b1","name":"chat gpt-4o",
     "startTimeUnixNano":"1735689600000000000","endTimeUnixNano":"1735689601000000000","attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
      {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
      {"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}},
      {"key":"gen_ai.request.frequency_penalty","value":{"doubleValue":0.5}},
      {"key":"server.address","value":{"stringValue":"api.openai.com"}},
      {"key":"user.id","value":{"stringValue":"u-7"}},
      {"key":"gen_ai.conversation.id","value":{"stringValue":"conv-kept"}},
      {"key":"gen_ai.prompt.0.role","value":{"stringValue":"user"}},
      {"key":"gen_ai.prompt.0.content","value":{"stringValue":"Hi"}}]},
    {"traceId":"33333333333333333333333333333333","spanId":"00000000000000b2","name":"execute_tool get_weather",
     "startTimeUnixNano":"1735689601000000000","endTimeUnixNano":"1735689602000000000","attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"execute_tool"}},
      {"key":"gen_ai.tool.name","value":{"stringValue":"get_weather"}},
      {"key":"gen_ai.tool.description","value":{"stringValue":"Weather by city"}}]}]}]}]})"));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  ASSERT_EQ(t.event_history.size(), 2u);
  const CAISEvent& call = std::get<CAISEvent>(t.event_history[0]);
  EXPECT_EQ(call.metadata["attributes"], (Value{{"gen_ai.request.frequency_penalty", 0.5},
                                                {"server.address", "api.openai.com"},
                                                {"user.id", "u-7"}}))
      << call.metadata.dump();
  const RuntimeEvent& tool = std::get<RuntimeEvent>(t.event_history[1]);
  EXPECT_EQ(tool.metadata["attributes"], (Value{{"gen_ai.tool.description", "Weather by city"}})) << tool.metadata.dump();
}

TEST(OtlpDecode, SystemInstructionsAloneAndOpenInferenceMultimodalContentsAreRead) {
  // gen_ai.system_instructions were dropped from a span without gen_ai.input.messages, and an
  // OpenInference message sent as `contents` (multimodal) was stored without its text.
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"44444444444444444444444444444444","spanId":"00000000000000c1","name":"chat gpt-4o",
     "startTimeUnixNano":"1735689600000000000","endTimeUnixNano":"1735689601000000000","attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
      {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
      {"key":"gen_ai.system_instructions","value":{"stringValue":"[{\"type\":\"text\",\"content\":\"Be brief.\"}]"}}]},
    {"traceId":"44444444444444444444444444444444","spanId":"00000000000000c2","name":"ChatCompletion",
     "startTimeUnixNano":"1735689602000000000","endTimeUnixNano":"1735689603000000000","attributes":[
      {"key":"openinference.span.kind","value":{"stringValue":"LLM"}},
      {"key":"llm.model_name","value":{"stringValue":"gpt-4o"}},
      {"key":"llm.input_messages.0.message.role","value":{"stringValue":"user"}},
      {"key":"llm.input_messages.0.message.contents.0.message_content.type","value":{"stringValue":"text"}},
      {"key":"llm.input_messages.0.message.contents.0.message_content.text","value":{"stringValue":"What is this?"}},
      {"key":"llm.input_messages.0.message.contents.1.message_content.type","value":{"stringValue":"image"}},
      {"key":"llm.input_messages.0.message.contents.1.message_content.image.image.url","value":{"stringValue":"https://x.test/a.png"}},
      {"key":"llm.input_messages.0.message.contents.2.message_content.type","value":{"stringValue":"text"}},
      {"key":"llm.input_messages.0.message.contents.2.message_content.text","value":{"stringValue":"Be precise."}},
      {"key":"llm.input_messages.0.message.contents.3.message_content.type","value":{"stringValue":"text"}},
      {"key":"llm.input_messages.0.message.contents.3.message_content.text","value":{"stringValue":"{\"city\": \"Paris\"}"}}]}]}]}]})"));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  ASSERT_EQ(t.event_history.size(), 2u);
  const Value& instructed = std::get<CAISEvent>(t.event_history[0]).system_state_before["messages"];
  ASSERT_EQ(instructed.size(), 1u) << std::get<CAISEvent>(t.event_history[0]).system_state_before.dump();
  EXPECT_EQ(instructed[0]["role"], Value("system"));
  EXPECT_EQ(instructed[0]["content"], Value("Be brief."));
  const Value& multimodal = std::get<CAISEvent>(t.event_history[1]).system_state_before["messages"];
  ASSERT_EQ(multimodal.size(), 1u) << multimodal.dump();
  EXPECT_EQ(multimodal[0]["content"], Value("What is this?\nBe precise.\n{\"city\": \"Paris\"}")) << multimodal.dump();
  EXPECT_EQ(multimodal[0]["contents"][1]["message_content"]["image"]["image"]["url"], Value("https://x.test/a.png"));
}

TEST(OtlpDecode, GenAiMessagesAndUnknownSpansAsRuntimeEvents) {
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(fixture("genai.json")));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const SessionTrace& t = mapped.sessions[0];
  EXPECT_EQ(t.session_id, "conv-42");
  ASSERT_EQ(t.event_history.size(), 2u);
  const CAISEvent& c = std::get<CAISEvent>(t.event_history[0]);
  EXPECT_EQ(c.model_name, "gpt-4o-2024-08-06");
  EXPECT_EQ(c.prompt_tokens, 97);
  EXPECT_EQ(c.completion_tokens, 52);
  EXPECT_EQ(c.system_instance_id, "chat-app");
  const Value& in = c.system_state_before["messages"];
  ASSERT_EQ(in.size(), 2u) << c.system_state_before.dump();
  EXPECT_EQ(in[0]["role"], Value("system"));
  EXPECT_EQ(in[0]["content"], Value("You are a helpful bot"));
  EXPECT_EQ(in[1]["content"], Value("Weather in Paris?"));
  const Value& out = c.system_state_after["messages"][0];
  EXPECT_EQ(out["parts"][0]["name"], Value("get_weather"));
  EXPECT_EQ(out["parts"][0]["arguments"]["location"], Value("Paris"));
  EXPECT_EQ(c.system_state_after["finish_reason"], Value("tool_calls"));

  const RuntimeEvent& http = std::get<RuntimeEvent>(t.event_history[1]);
  EXPECT_EQ(http.metadata["span"], Value("GET"));
  EXPECT_EQ(http.metadata["attributes"]["http.response.status_code"], Value(200));
  EXPECT_EQ(http.metadata["parent_span_id"], Value("53995c3f42cd8ad8"));
  EXPECT_DOUBLE_EQ(http.metadata["duration_ms"].as_double(), 700.0);
}

TEST(OtlpDecode, SessionFromTheSpanItsTraceOrElseTheTraceId) {
  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"11111111111111111111111111111111","spanId":"1111111111111111","name":"a","attributes":[
      {"key":"session.id","value":{"stringValue":"s"}}]},
    {"traceId":"22222222222222222222222222222222","spanId":"2222222222222222","name":"b","attributes":[
      {"key":"gen_ai.conversation.id","value":{"stringValue":"s"}}]},
    {"traceId":"33333333333333333333333333333333","spanId":"3333333333333333","name":"c"},
    {"traceId":"33333333333333333333333333333333","name":"no span id"}]}]}]})";
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(body));
  EXPECT_EQ(mapped.rejected_spans, 1u);
  EXPECT_NE(mapped.error_message.find("('no span id') has no span id"), std::string::npos) << mapped.error_message;
  ASSERT_EQ(mapped.sessions.size(), 2u);
  const SessionTrace& s = mapped.sessions[0].session_id == "s" ? mapped.sessions[0] : mapped.sessions[1];
  const SessionTrace& other = &s == &mapped.sessions[0] ? mapped.sessions[1] : mapped.sessions[0];
  EXPECT_EQ(s.event_history.size(), 2u);
  EXPECT_EQ(s.session_time_steps.size(), 2u) << "one timestep per trace";
  EXPECT_EQ(other.session_id, "33333333333333333333333333333333");
}

// trace.proto: an all-zero trace or span id is invalid, so none. Spans with span id zero are not
// one span sent twice, spans of trace zero are not one trace (nor its session), and a parent id
// of zero makes a root span; in either encoding.
TEST(OtlpDecode, AllZeroSpanAndTraceIdsAreNoIds) {
  const std::string zero_ids =
      field(1, std::string(16, '\0')) + field(2, std::string(8, '\0')) + field(4, std::string(8, '\0'));
  const OtlpTraces proto = decode_otlp_traces_protobuf(field(1, field(2, field(2, zero_ids))));
  ASSERT_EQ(proto.spans.size(), 1u);
  EXPECT_EQ(proto.spans[0].trace_id, "");
  EXPECT_EQ(proto.spans[0].span_id, "");
  EXPECT_EQ(proto.spans[0].parent_span_id, "");

  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"11111111111111111111111111111111","spanId":"0000000000000000","name":"zero"},
    {"traceId":"11111111111111111111111111111111","spanId":"0000000000000000","name":"zero again"},
    {"traceId":"11111111111111111111111111111111","spanId":"1111111111111111","parentSpanId":"0000000000000000","name":"root"},
    {"traceId":"00000000000000000000000000000000","spanId":"2222222222222222","name":"named","attributes":[
      {"key":"session.id","value":{"stringValue":"s"}}]},
    {"traceId":"00000000000000000000000000000000","spanId":"3333333333333333","name":"unrelated"}]}]}]})";
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(body));
  EXPECT_EQ(mapped.rejected_spans, 3u) << mapped.error_message;
  EXPECT_EQ(mapped.duplicate_spans, 0u);
  EXPECT_NE(mapped.error_message.find("span 0 ('zero') has no span id"), std::string::npos) << mapped.error_message;
  ASSERT_EQ(mapped.sessions.size(), 2u);
  const SessionTrace& trace = mapped.sessions[0];
  EXPECT_EQ(trace.session_id, "11111111111111111111111111111111");
  EXPECT_TRUE(mapped.rooted[0]);
  ASSERT_EQ(trace.event_history.size(), 1u);
  const Value metadata = std::visit([](const auto& e) { return e.metadata; }, trace.event_history[0]);
  EXPECT_EQ(metadata.find("parent_span_id"), nullptr) << metadata.dump();
  const SessionTrace& named = mapped.sessions[1];
  EXPECT_EQ(named.session_id, "s");
  ASSERT_EQ(named.event_history.size(), 1u) << "the span of no trace joined a session by its trace id";
  const Value named_metadata = std::visit([](const auto& e) { return e.metadata; }, named.event_history[0]);
  EXPECT_EQ(named_metadata.find("trace_id"), nullptr) << named_metadata.dump();
}

// The same for log records: a span id of zero is no span, a trace id of zero no trace (so a
// record without a session is refused rather than stored in a session named 000…0).
TEST(OtlpDecode, AllZeroIdsOfLogRecordsAreNoIds) {
  const std::string record = field(9, std::string(16, '\0')) + field(10, std::string(8, '\0'));
  const OtlpLogs proto = decode_otlp_logs_protobuf(field(1, field(2, field(2, record))));
  ASSERT_EQ(proto.logs.size(), 1u);
  EXPECT_EQ(proto.logs[0].trace_id, "");
  EXPECT_EQ(proto.logs[0].span_id, "");
  const OtlpLogs json = decode_otlp_logs_json(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
    {"eventName":"gen_ai.user.message","traceId":"00000000000000000000000000000000","spanId":"0000000000000000"}]}]}]})");
  ASSERT_EQ(json.logs.size(), 1u);
  EXPECT_EQ(json.logs[0].trace_id, "");
  EXPECT_EQ(json.logs[0].span_id, "");
  const OtlpMapped mapped = map_otlp_logs(json);
  EXPECT_EQ(mapped.rejected_spans, 1u);
  EXPECT_TRUE(mapped.sessions.empty());
}

// The session keys by the mapping table's order, whatever their order among the attributes: a
// null one is passed over, an empty string names none (the trace id then), a number is its text.
TEST(OtlpDecode, TheFirstSessionKeyOfTheTableNamesTheSession) {
  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"11111111111111111111111111111111","spanId":"1111111111111111","name":"a","attributes":[
      {"key":"session.id","value":{"stringValue":"third"}},
      {"key":"ai.telemetry.metadata.sessionId","value":{"stringValue":"last"}},
      {"key":"synth.session_id","value":{}},
      {"key":"gen_ai.response.id","value":{"stringValue":"not a session"}},
      {"key":"synth.session.id","value":{"stringValue":"second"}}]},
    {"traceId":"22222222222222222222222222222222","spanId":"2222222222222222","name":"b","attributes":[
      {"key":"langfuse.session.id","value":{"intValue":"42"}}]},
    {"traceId":"33333333333333333333333333333333","spanId":"3333333333333333","name":"c","attributes":[
      {"key":"session.id","value":{"stringValue":"not this"}},
      {"key":"synth.session_id","value":{"stringValue":""}}]}]}]}]})";
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(body));
  std::vector<std::string> ids;
  for (const SessionTrace& t : mapped.sessions) ids.push_back(t.session_id);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"33333333333333333333333333333333", "42", "second"}));
}

TEST(OtlpDecode, MalformedProtobufNamesTheProblem) {
  const auto error_of = [](std::string_view body) -> std::string {
    try {
      decode_otlp_traces_protobuf(body);
    } catch (const OtlpDecodeError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(error_of(std::string("\x0a\x05\x01", 3)).find("says it holds 5 bytes, but 1 are left"), std::string::npos);
  EXPECT_NE(error_of("\x0b").find("wire type 3"), std::string::npos) << error_of("\x0b");
  EXPECT_NE(error_of("\x10\xff").find("varint is cut off"), std::string::npos);
  EXPECT_NE(error_of("\x08\x01").find("field 1 has wire type 0, not 2"), std::string::npos);
  EXPECT_NE(error_of("{\"resourceSpans\": []}").find("malformed OTLP protobuf"), std::string::npos);
  // A span id of the wrong length.
  const std::string span = std::string("\x12\x03", 2) + "abc";
  const std::string scope = "\x12" + std::string(1, static_cast<char>(span.size())) + span;
  const std::string rs = "\x12" + std::string(1, static_cast<char>(scope.size())) + scope;
  const std::string request = "\x0a" + std::string(1, static_cast<char>(rs.size())) + rs;
  EXPECT_NE(error_of(request).find("span_id has 3 bytes, not 8"), std::string::npos) << error_of(request);
  EXPECT_NE(error_of(request).find("in Span"), std::string::npos) << error_of(request);

}

// otlp_decode.hpp promises bytes as hex: OTLP/JSON sends them base64 (the proto3 JSON mapping),
// in either alphabet, padded or not, and they must be stored as the same hex as from protobuf.
TEST(OtlpDecode, BytesValuesAreStoredAsHexInEitherEncoding) {
  const std::string span = field(1, std::string(16, '\x11')) + field(2, std::string(8, '\x22')) +
                           field(9, field(1, "b") + field(2, field(7, "\x01\x02\x03")));
  const OtlpTraces proto = decode_otlp_traces_protobuf(field(1, field(2, field(2, span))));
  ASSERT_EQ(proto.spans.size(), 1u);
  EXPECT_EQ(proto.spans[0].attributes["b"], Value("010203"));
  const auto from_json = [](const std::string& base64) {
    return decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[
      {"key":"b","value":{"bytesValue":")" + base64 + R"("}}]}]}]}]})")
        .spans.at(0)
        .attributes["b"];
  };
  EXPECT_EQ(from_json("AQID"), Value("010203"));
  EXPECT_EQ(from_json("+/8="), Value("fbff"));
  EXPECT_EQ(from_json("-_8"), Value("fbff"));  // URL-safe, unpadded
  EXPECT_EQ(from_json("AQ=="), Value("01"));
  EXPECT_EQ(from_json("AQ"), Value("01"));
  EXPECT_EQ(from_json(""), Value(""));
  // What is not base64 is refused where it is, not stored as some other bytes.
  for (const std::string bad : {"A", "AQ=D", "AQID=", "AQ!D"}) {
    try {
      from_json(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const OtlpDecodeError& e) {
      EXPECT_NE(std::string(e.what()).find("attributes[0].value.bytesValue"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("not base64"), std::string::npos) << e.what();
    }
  }
}

TEST(OtlpDecode, DeepNestingIsRefusedAtTheLimit) {
  // Built from the inside out with proper varint lengths.
  std::string any = field(1, "x");
  for (int i = 0; i < 5000; ++i) any = field(5, field(1, any));  // AnyValue{array_value{values: any}}
  const std::string kv = field(1, "k") + field(2, any);
  const std::string span = field(1, std::string(16, '\x01')) + field(2, std::string(8, '\x02')) + field(9, kv);
  const std::string request = field(1, field(2, field(2, span)));
  try {
    decode_otlp_traces_protobuf(request);
    FAIL() << "accepted";
  } catch (const OtlpDecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("nested deeper than 32"), std::string::npos) << e.what();
  }
}

TEST(OtlpDecode, GarbageAndEveryPrefixNeverCrash) {
  const std::string good = protobuf_of(sample_session("prefix", {.steps = 2}));
  std::size_t refused = 0;
  for (std::size_t n = 0; n < good.size(); ++n) {
    try {
      map_otlp_spans(decode_otlp_traces_protobuf(std::string_view(good).substr(0, n)));
    } catch (const OtlpDecodeError&) {
      ++refused;
    }
  }
  EXPECT_GT(refused, good.size() / 2);
  std::mt19937 rng(12);
  for (int i = 0; i < 20000; ++i) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) c = static_cast<char>(rng());
    if (i % 2 == 0 && !good.empty()) bytes = good.substr(0, rng() % good.size()) + bytes;
    try {
      map_otlp_spans(decode_otlp_traces_protobuf(bytes));
    } catch (const OtlpDecodeError&) {
    }
  }
}

TEST(OtlpDecode, MalformedJsonNamesWhere) {
  const auto error_of = [](std::string_view body) -> std::string {
    try {
      decode_otlp_traces_json(body);
    } catch (const OtlpDecodeError& e) {
      return e.what();
    }
    return "(accepted)";
  };
  EXPECT_NE(error_of("{").find("malformed OTLP JSON"), std::string::npos);
  EXPECT_NE(error_of(R"({"resourceSpans": 3})").find("resourceSpans"), std::string::npos);
  EXPECT_NE(error_of(sample_session("native").to_json()).find("go to POST /api/v1/sessions"), std::string::npos);
  EXPECT_EQ(error_of("{}"), "(accepted)");
  const std::string bad_id = error_of(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"W/8rI2l+","spanId":"x"}]}]}]})");
  EXPECT_NE(bad_id.find("resourceSpans[0].scopeSpans[0].spans[0].traceId"), std::string::npos) << bad_id;
}

TEST(OtlpDecode, ResponsesInBothEncodings) {
  EXPECT_EQ(otlp_trace_response(false, 0, ""), "");
  EXPECT_EQ(otlp_trace_response(true, 0, ""), "{}");
  EXPECT_EQ(otlp_trace_response(false, 2, "x"), std::string("\x0a\x05\x08\x02\x12\x01x", 7));
  const Value json = Value::parse(otlp_trace_response(true, 2, "x"));
  EXPECT_EQ(json["partialSuccess"]["rejectedSpans"], Value("2"));
  EXPECT_EQ(json["partialSuccess"]["errorMessage"], Value("x"));
}

TEST(OtlpDecode, ASpanTakesItsTraceSessionFromAnEarlierRequest) {
  TraceSessions memory(2);
  const auto span = [](const char* trace, const char* id, const char* session) {
    std::string attrs = session == nullptr ? "" : std::string(R"({"key":"session.id","value":{"stringValue":")") + session + "\"}}";
    return std::string(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")") + trace + R"(","spanId":")" + id +
           R"(","name":"n","attributes":[)" + attrs + "]}]}]}]}";
  };
  const std::string t1(32, '1'), t2(32, '2'), t3(32, '3'), t4(32, '4');
  EXPECT_EQ(map_otlp_spans(decode_otlp_traces_json(span(t1.c_str(), "1111111111111111", "s1")), &memory).sessions.at(0).session_id, "s1");
  EXPECT_EQ(map_otlp_spans(decode_otlp_traces_json(span(t1.c_str(), "2222222222222222", nullptr)), &memory).sessions.at(0).session_id, "s1");
  // Bounded: the oldest trace is forgotten first.
  map_otlp_spans(decode_otlp_traces_json(span(t2.c_str(), "1111111111111111", "s2")), &memory);
  map_otlp_spans(decode_otlp_traces_json(span(t3.c_str(), "1111111111111111", "s3")), &memory);
  EXPECT_EQ(map_otlp_spans(decode_otlp_traces_json(span(t1.c_str(), "3333333333333333", nullptr)), &memory).sessions.at(0).session_id, t1);
  EXPECT_EQ(map_otlp_spans(decode_otlp_traces_json(span(t3.c_str(), "3333333333333333", nullptr)), &memory).sessions.at(0).session_id, "s3");
  EXPECT_EQ(map_otlp_spans(decode_otlp_traces_json(span(t4.c_str(), "3333333333333333", nullptr))).sessions.at(0).session_id, t4);
}

TEST(OtlpDecode, ProtobufLogRecordsWithTheirIdsNameAndBody) {
  std::string time = std::string(1, static_cast<char>(1 << 3 | 1)) + std::string("\x00\x00\x00\x00\x00\x00\x00\x01", 8);
  const std::string record = time + field(5, field(1, "Hi?")) + field(9, std::string(16, '\xab')) +
                             field(10, std::string(8, '\xcd')) + field(12, "gen_ai.user.message");
  const OtlpLogs logs = decode_otlp_logs_protobuf(field(1, field(2, field(2, record))));
  ASSERT_EQ(logs.logs.size(), 1u);
  const OtlpLog& log = logs.logs[0];
  EXPECT_EQ(log.time_unix_nano, std::uint64_t{1} << 56);
  EXPECT_EQ(log.body, Value("Hi?"));
  EXPECT_EQ(log.trace_id, "abababababababababababababababab");
  EXPECT_EQ(log.span_id, "cdcdcdcdcdcdcdcd");
  EXPECT_EQ(log.event_name, "gen_ai.user.message");
  const OtlpMapped mapped = map_otlp_logs(logs);
  ASSERT_EQ(mapped.sessions.size(), 1u);
  EXPECT_EQ(mapped.sessions[0].session_id, log.trace_id);
  EXPECT_EQ(mapped.sessions[0].message_history.at(0).content["body"], Value("Hi?"));
  try {
    decode_otlp_logs_protobuf(field(1, field(2, field(2, field(9, "short")))));
    FAIL() << "accepted";
  } catch (const OtlpDecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("trace_id has 5 bytes, not 16"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("in LogRecord"), std::string::npos) << e.what();
  }
  // A scope is read as in a traces request: its name's field cut short is refused.
  try {
    decode_otlp_logs_protobuf(field(1, field(2, field(1, std::string("\x0a\x05") + "ab") + field(2, record))));
    FAIL() << "accepted";
  } catch (const OtlpDecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("in InstrumentationScope"), std::string::npos) << e.what();
  }
}

// GenAI log records as the Python and JS instrumentations send them (a tool-calling turn, two
// choices out of order), folded into their span: the LLM call carries them as its messages.
TEST(OtlpDecode, GenAiLogRecordsFoldIntoTheirSpansLlmCall) {
  const OtlpLogs logs = decode_otlp_logs_json(R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
    {"timeUnixNano":"5","eventName":"gen_ai.choice","body":{"kvlistValue":{"values":[
      {"key":"index","value":{"intValue":"1"}},{"key":"finish_reason","value":{"stringValue":"length"}},
      {"key":"message","value":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"Second."}}]}}}]}}},
    {"timeUnixNano":"1","attributes":[{"key":"event.name","value":{"stringValue":"gen_ai.user.message"}}],
     "body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"Weather?"}}]}}},
    {"timeUnixNano":"2","eventName":"gen_ai.assistant.message","body":{"kvlistValue":{"values":[
      {"key":"tool_calls","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[
        {"key":"id","value":{"stringValue":"call_1"}},{"key":"type","value":{"stringValue":"function"}}]}}]}}}]}}},
    {"timeUnixNano":"3","eventName":"gen_ai.tool.message","body":{"kvlistValue":{"values":[
      {"key":"content","value":{"stringValue":"24 C"}},{"key":"id","value":{"stringValue":"call_1"}}]}}},
    {"timeUnixNano":"5","eventName":"gen_ai.choice","body":{"kvlistValue":{"values":[
      {"key":"index","value":{"intValue":"0"}},{"key":"finish_reason","value":{"stringValue":"stop"}},
      {"key":"message","value":{"kvlistValue":{"values":[{"key":"role","value":{"stringValue":"assistant"}},
        {"key":"content","value":{"stringValue":"Sunny."}}]}}}]}}}]}]}]})");
  ASSERT_EQ(logs.logs.size(), 5u);
  OtlpSpan span;
  span.trace_id = "abababababababababababababababab";
  span.span_id = "cdcdcdcdcdcdcdcd";
  span.name = "chat gpt-4o";
  span.attributes = Value{{"gen_ai.operation.name", "chat"}, {"gen_ai.request.model", "gpt-4o"}};
  fold_logs_into_span(span, logs.logs);
  const Event event = otlp::span_to_event(span, Value::object());
  ASSERT_TRUE(std::holds_alternative<CAISEvent>(event));
  const CAISEvent& call = std::get<CAISEvent>(event);
  EXPECT_EQ(call.system_state_before["messages"], Value::parse(R"([
    {"role":"user","content":"Weather?"},
    {"role":"assistant","tool_calls":[{"id":"call_1","type":"function"}]},
    {"role":"tool","content":"24 C","tool_call_id":"call_1"}])"));
  EXPECT_EQ(call.system_state_after["messages"], Value::parse(R"([
    {"role":"assistant","content":"Sunny.","finish_reason":"stop"},
    {"role":"assistant","content":"Second.","finish_reason":"length"}])"));
  EXPECT_EQ(call.system_state_after["finish_reason"], Value("stop"));
  EXPECT_EQ(call.metadata.find("span_events"), nullptr) << "every record was folded";

  // With system instructions on the span, the records are still its input, after them.
  OtlpSpan instructed;
  instructed.trace_id = span.trace_id;
  instructed.span_id = span.span_id;
  instructed.name = span.name;
  instructed.attributes = Value{{"gen_ai.operation.name", "chat"}, {"gen_ai.request.model", "gpt-4o"},
                                {"gen_ai.system_instructions", "Be brief."}};
  fold_logs_into_span(instructed, logs.logs);
  const Event event2 = otlp::span_to_event(instructed, Value::object());
  const CAISEvent& call2 = std::get<CAISEvent>(event2);
  const Value& in = call2.system_state_before["messages"];
  ASSERT_EQ(in.size(), 4u) << in.dump();
  EXPECT_EQ(in[0]["role"], Value("system"));
  EXPECT_EQ(in[1], (Value{{"role", "user"}, {"content", "Weather?"}}));
  EXPECT_EQ(call2.metadata.find("span_events"), nullptr) << "every record was folded";
}

TEST(OtlpDecode, ItemsAtTheSameTimeKeepTheOrderOfTheirSpansInTheRequest) {
  // 40 spans of one trace starting at the same instant, between an earlier and a later one: their
  // events are in time order, and at equal times in the order the request listed the spans.
  std::string spans;
  const auto span = [&](int i, const char* start) {
    char id[17];
    std::snprintf(id, sizeof id, "%016x", i + 1);
    spans += std::string(spans.empty() ? "" : ",") + R"({"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":")" + id +
             R"(","name":"work )" + std::to_string(i) + R"(","startTimeUnixNano":")" + start +
             R"(","endTimeUnixNano":"1735689900000000000","attributes":[{"key":"session.id","value":{"stringValue":"same-time"}}]})";
  };
  span(0, "1735689800000000002");  // the latest: its event goes last
  for (int i = 1; i <= 40; ++i) span(i, "1735689800000000001");
  span(41, "1735689800000000000");  // the earliest: first
  const OtlpMapped mapped =
      map_otlp_spans(decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + spans + "]}]}]}"));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  std::vector<std::uint32_t> want{41};
  for (std::uint32_t i = 1; i <= 40; ++i) want.push_back(i);
  want.push_back(0);
  EXPECT_EQ(mapped.origins.at(0).events, want);
  ASSERT_EQ(mapped.sessions[0].event_history.size(), want.size());
}

TEST(OtlpDecode, GenAiRequestParametersGoIntoTheCallsStateBefore) {
  const std::string attr = R"({"key":"gen_ai.request.)";
  const std::string body =
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"53995c3f42cd8ad8",)"
      R"("name":"chat gpt-4o","startTimeUnixNano":"1735689800000000000","endTimeUnixNano":"1735689801000000000","attributes":[)"
      R"({"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},)" +
      attr + R"(model","value":{"stringValue":"gpt-4o"}},)" + attr + R"(temperature","value":{"doubleValue":0.25}},)" + attr +
      R"(max_tokens","value":{"intValue":"100"}},)" + attr + R"(top_p","value":{"doubleValue":0.5}},)" + attr +
      R"(top_k","value":{"intValue":"4"}},)" + attr + R"(seed","value":{"intValue":"7"}},)" + attr +
      R"(stream","value":{"boolValue":true}},)" + attr +
      R"(stop_sequences","value":{"arrayValue":{"values":[{"stringValue":"END"}]}}}]}]}]}]})";
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(body));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  const Value& before = only_call(mapped.sessions[0]).system_state_before;
  EXPECT_EQ(before["temperature"], Value(0.25));
  EXPECT_EQ(before["max_tokens"], Value(std::int64_t{100}));
  EXPECT_EQ(before["top_p"], Value(0.5));
  EXPECT_EQ(before["top_k"], Value(std::int64_t{4}));
  EXPECT_EQ(before["seed"], Value(std::int64_t{7}));
  EXPECT_EQ(before["stream"], Value(true));
  EXPECT_EQ(before["stop_sequences"], Value::array({Value("END")}));
  EXPECT_EQ(before["model"], Value("gpt-4o"));
}

// A KeyValue's fields in any order and repeated, as protobuf allows: the last key and the last
// value win, a repeated attribute replaces the earlier one in place, an AnyValue with no field is
// null; a superseded value must still be well-formed.
TEST(OtlpDecode, ProtobufKeyValuesInAnyOrderAndRepeated) {
  const auto number = [&](int f, std::size_t v) { return std::string(1, static_cast<char>(f << 3)) + varint(v); };
  const auto text = [&](const std::string& s) { return field(1, s); };  // AnyValue.string_value
  const auto kv = [&](const std::string& fields) { return field(9, fields); };  // Span.attributes
  const auto request_of = [&](const std::string& attributes) {
    const std::string span = field(1, std::string(16, '\x11')) + field(2, std::string(8, '\x22')) + attributes;
    return field(1, field(2, field(2, span)));
  };
  const std::string nested =
      field(5, field(1, "") + field(1, field(6, field(1, field(1, "k") + field(2, text("1"))) +
                                                    field(1, field(1, "k") + field(2, text("2"))))));
  const std::string attributes = kv(field(2, text("v1")) + field(1, "a")) +          // value before key
                                 kv(field(1, "x") + field(2, number(3, 7)) + field(1, "b")) +  // key twice
                                 kv(field(1, "c") + field(2, text("first")) + field(2, number(2, 1))) +
                                 kv(field(1, "a") + field(2, text("v2"))) +  // the same key again
                                 kv(field(1, "d")) +                         // no value
                                 kv(field(1, "e") + field(2, nested));
  const OtlpTraces traces = decode_otlp_traces_protobuf(request_of(attributes));
  ASSERT_EQ(traces.spans.size(), 1u);
  EXPECT_EQ(traces.spans[0].attributes.dump(),
            R"({"a":"v2","b":7,"c":true,"d":null,"e":[null,{"k":"2"}]})");
  try {
    decode_otlp_traces_protobuf(request_of(kv(field(1, "f") + field(2, "\x0b") + field(2, text("ok")))));
    FAIL() << "accepted";
  } catch (const OtlpDecodeError& e) {
    EXPECT_NE(std::string(e.what()).find("in AnyValue"), std::string::npos) << e.what();
  }
}

TEST(OtlpDecode, EveryFinishReasonOfACallWithSeveralChoicesIsKept) {
  // gen_ai.response.finish_reasons holds one reason per choice (n > 1): the first is the call's
  // finish_reason, as the tracer records it; the others were dropped.
  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"21111111111111111111111111111111","spanId":"2111111111111111","name":"chat gpt-4o",
     "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                   {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
                   {"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[
                     {"stringValue":"stop"},{"stringValue":"length"}]}}}]},
    {"traceId":"21111111111111111111111111111111","spanId":"2111111111111112","name":"chat gpt-4o",
     "attributes":[{"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
                   {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}},
                   {"key":"gen_ai.response.finish_reasons","value":{"arrayValue":{"values":[
                     {"stringValue":"stop"}]}}}]}]}]}]})";
  const OtlpMapped mapped = map_otlp_spans(decode_otlp_traces_json(body));
  ASSERT_EQ(mapped.sessions.size(), 1u);
  ASSERT_EQ(mapped.sessions[0].event_history.size(), 2u);
  const Value& several = std::get<CAISEvent>(mapped.sessions[0].event_history[0]).system_state_after;
  EXPECT_EQ(several["finish_reason"], Value("stop")) << several.dump();
  EXPECT_EQ(several["finish_reasons"], Value::array({"stop", "length"})) << several.dump();
  const Value& one = std::get<CAISEvent>(mapped.sessions[0].event_history[1]).system_state_after;
  EXPECT_EQ(one, (Value{{"finish_reason", "stop"}})) << "one choice: as the tracer records it";
}
