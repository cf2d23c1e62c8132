// Which LLM call spans POST /v1/traces holds back for their GenAI log records (SpanHold): those
// of GenAI instrumentations whose content is missing or unreadable, outside traces with our
// spans; and the content read to decide it is the content the call's event gets.
#include <gtest/gtest.h>

#include <algorithm>

#include "server/otlp_map.hpp"
#include "server/otlp_routes.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::Routes;

namespace {

// A span of its own trace (trace ids from `n`), with attributes given as OTLP/JSON KeyValues.
std::string span_json(int n, const std::string& name, const std::string& attributes, const char* trace = nullptr) {
  char trace_id[33];
  std::snprintf(trace_id, sizeof trace_id, "%032x", n + 1);
  char span_id[17];
  std::snprintf(span_id, sizeof span_id, "%016x", n + 1);
  return R"({"traceId":")" + std::string(trace != nullptr ? trace : trace_id) + R"(","spanId":")" + span_id +
         R"(","name":")" + name + R"(","startTimeUnixNano":"1735689600000000000","endTimeUnixNano":"1735689601000000000",)" +
         R"("attributes":[)" + attributes + "]}";
}

std::string string_attribute(const std::string& key, const std::string& value) {
  return R"({"key":")" + key + R"(","value":{"stringValue":)" + Value(value).dump() + "}}";
}

std::string chat(const std::string& more = "") {
  return string_attribute("gen_ai.operation.name", "chat") + "," + string_attribute("gen_ai.request.model", "gpt-4o") +
         (more.empty() ? "" : "," + more);
}

std::string request(const std::vector<std::string>& spans) {
  std::string joined;
  for (const std::string& s : spans) joined += (joined.empty() ? "" : ",") + s;
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[)" + joined + "]}]}]}";
}

const std::string kMessages = R"([{"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}]}])";

}  // namespace

TEST(OtlpSpanWait, WhichLlmCallsWaitForTheirLogRecords) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  const std::string ours_trace = "00000000000000000000000000000063";
  const std::string body = request({
      span_json(0, "no content", chat()),
      span_json(1, "readable input", chat(string_attribute("gen_ai.input.messages", kMessages))),
      span_json(2, "unreadable input", chat(string_attribute("gen_ai.input.messages", "[{\"role\": \"user\", "))),
      span_json(3, "empty list", chat(string_attribute("gen_ai.input.messages", "[]"))),
      span_json(4, "list of nulls", chat(string_attribute("gen_ai.input.messages", "[null]"))),
      span_json(5, "output only", chat(string_attribute("gen_ai.output.messages", kMessages))),
      span_json(6, "plain text prompt", chat(string_attribute("gen_ai.prompt", "Weather in Paris?"))),
      span_json(7, "flattened", string_attribute("openinference.span.kind", "LLM") + "," +
                                      string_attribute("llm.input_messages.0.message.role", "user") + "," +
                                      string_attribute("llm.input_messages.0.message.content", "Hi")),
      span_json(8, "messages as a list value",
                chat(R"({"key":"gen_ai.input.messages","value":{"arrayValue":{"values":[{"kvlistValue":{"values":[
                         {"key":"role","value":{"stringValue":"user"}},{"key":"content","value":{"stringValue":"Hi"}}]}}]}}})")),
      span_json(9, "a tool", string_attribute("gen_ai.operation.name", "execute_tool") + "," +
                                 string_attribute("gen_ai.tool.name", "get_weather")),
      span_json(10, "in a trace with ours", chat(), ours_trace.c_str()),
      span_json(11, "ours", string_attribute("synth.kind", "timestep"), ours_trace.c_str()),
  });
  const auto r = routes.post("/v1/traces", body, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  std::vector<std::string> waiting;
  for (const HeldSpan& h : routes.ctx.span_hold->take_due(SpanHold::Clock::time_point::max())) waiting.push_back(h.span.name);
  std::sort(waiting.begin(), waiting.end());
  EXPECT_EQ(waiting, (std::vector<std::string>{"empty list", "list of nulls", "no content", "plain text prompt",
                                               "unreadable input"}));
}

TEST(OtlpSpanWait, TheContentReadToDecideTheWaitIsTheContentOfTheCallsEvent) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const std::string output = R"([{"role":"assistant","parts":[{"type":"text","content":"Rain."}],"finish_reason":"stop"}])";
  const std::string body = request({span_json(
      0, "chat gpt-4o",
      chat(string_attribute("gen_ai.conversation.id", "conv-wait") + "," +
           string_attribute("gen_ai.system_instructions", R"([{"type":"text","content":"Be brief."}])") + "," +
           string_attribute("gen_ai.input.messages", kMessages) + "," + string_attribute("gen_ai.output.messages", output)))});
  const auto r = routes.post("/v1/traces", body, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  routes.drain();
  // The same span mapped without the route (no wait decided before).
  const OtlpMapped direct = map_otlp_spans(decode_otlp_traces_json(body));
  ASSERT_EQ(direct.sessions.size(), 1u);
  const auto& expected = std::get<CAISEvent>(direct.sessions[0].event_history.at(0));
  const auto stored = routes.store.load_trace("conv-wait");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->event_history.size(), 1u);
  const auto& call = std::get<CAISEvent>(stored->event_history[0]);
  EXPECT_EQ(call.system_state_before, expected.system_state_before);
  EXPECT_EQ(call.system_state_after, expected.system_state_after);
  EXPECT_EQ(call.system_state_before["messages"], Value::parse(R"([
    {"role":"system","parts":[{"type":"text","content":"Be brief."}],"content":"Be brief."},
    {"role":"user","parts":[{"type":"text","content":"Weather in Paris?"}],"content":"Weather in Paris?"}])"));
  EXPECT_EQ(call.system_state_after["messages"][0]["content"], Value("Rain."));
}
