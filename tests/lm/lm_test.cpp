// The LM client against a local server speaking each provider's wire format: requests, answers,
// tokens, structured output, costs, the in-process model, and the events the calls record.
// Streams and tool calls, faults and retries, keys and providers are in lm_*_test.cpp beside it.
#include "lm/lm_fixture.hpp"

namespace {

using namespace lm_fixture;

TEST_F(LMTest, OpenAIGenerateSendsTheRequestAndRecordsOneEvent) {
  server.script({Reply{.body = openai_answer("Go north.")}});
  st::LM lm(openai_options());
  EXPECT_EQ(lm.provider(), "openai");
  st::LMResponse reply;
  std::string trace_json;
  {
    auto session = tracer.start_session("s-openai");
    auto step = tracer.timestep(3);
    reply = lm.generate({st::Message::system("You play a grid game."), st::Message::user("Where now?")});
  }
  EXPECT_EQ(reply.text, "Go north.");
  EXPECT_EQ(reply.finish_reason, "stop");
  EXPECT_EQ(reply.model, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(reply.response_id, "chatcmpl-123");
  EXPECT_EQ(reply.provider, "openai");
  EXPECT_EQ(reply.usage->prompt_tokens, 12);
  EXPECT_EQ(reply.usage->completion_tokens, 5);
  EXPECT_EQ(reply.usage->cached_tokens, 2);
  EXPECT_EQ(reply.attempts, 1);
  EXPECT_GT(reply.latency_ms, 0);
  EXPECT_FALSE(reply.time_to_first_token_ms.has_value());

  const auto req = server.last();
  EXPECT_EQ(req.path, "/v1/chat/completions");
  EXPECT_EQ(req.header("Authorization"), std::string("Bearer ") + kKey);
  EXPECT_EQ(req.header("Content-Type"), "application/json");
  const json body = json::parse(req.body);
  EXPECT_EQ(body["model"], "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.2);
  EXPECT_EQ(body["max_completion_tokens"], 64);
  EXPECT_FALSE(body.contains("stream"));
  ASSERT_EQ(body["messages"].size(), 2u);
  EXPECT_EQ(body["messages"][0], (json{{"role", "system"}, {"content", "You play a grid game."}}));
  EXPECT_EQ(body["messages"][1], (json{{"role", "user"}, {"content", "Where now?"}}));

  const auto trace = finished("s-openai");
  const auto events = cais_events(trace);
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  ASSERT_EQ(trace.session_time_steps.size(), 1u);
  EXPECT_EQ(trace.session_time_steps[0].events.size(), 1u);
  EXPECT_EQ(e.system_instance_id, "my_agent");
  EXPECT_EQ(e.model_name, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(e.provider, "openai");
  EXPECT_EQ(e.prompt_tokens, 12);
  EXPECT_EQ(e.completion_tokens, 5);
  EXPECT_EQ(e.total_tokens, 17);
  EXPECT_EQ(e.cached_tokens, 2);
  ASSERT_TRUE(e.cost.has_value()) << "priced from the table";
  EXPECT_EQ(e.cost, st::calculate_cost("gpt-4o-mini-2024-07-18", *reply.usage));
  ASSERT_TRUE(e.latency_ms.has_value());
  EXPECT_GT(*e.latency_ms, 0);
  ASSERT_TRUE(e.time_record.has_value());
  EXPECT_EQ(e.time_record->message_time, 3);
  // State before: the request; state after: the answer.
  const json before = json(e.system_state_before);
  EXPECT_EQ(before["model"], "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(before["temperature"].get<double>(), 0.2);
  EXPECT_EQ(before["max_tokens"], 64);
  EXPECT_EQ(before["messages"][1]["content"], "Where now?");
  EXPECT_FALSE(before.contains("stream"));
  EXPECT_FALSE(before.contains("tools"));
  const json after = json(e.system_state_after);
  EXPECT_EQ(after["content"], "Go north.");
  EXPECT_EQ(after["finish_reason"], "stop");
  EXPECT_EQ(after["response_id"], "chatcmpl-123");
  EXPECT_EQ(after["model"], "gpt-4o-mini-2024-07-18");
  EXPECT_FALSE(e.metadata.contains("error"));
  // The server saw the call's span as its parent.
  ASSERT_TRUE(e.trace_id && e.span_id);
  EXPECT_EQ(req.header("traceparent"), "00-" + *e.trace_id + "-" + *e.span_id + "-01");
  EXPECT_EQ(trace.to_json().find(kKey), std::string::npos);
}

TEST_F(LMTest, AnthropicTokensAreMappedAndTotalled) {
  server.script({Reply{.body = anthropic_answer("Hello there", 15, 25)}});
  st::LM lm({.model = "claude-3-5-haiku-20241022",
             .base_url = server.url(),
             .api_key = kKey,
             .session_tracer = &tracer,
             .system_id = "claude_agent"});
  // The provider comes from the model name even on a local address once it is set explicitly;
  // here the local base_url makes it "local", so name it.
  st::LM anthropic({.model = "claude-3-5-haiku-20241022",
                    .provider = "anthropic",
                    .base_url = server.url(),
                    .api_key = kKey,
                    .session_tracer = &tracer,
                    .system_id = "claude_agent"});
  EXPECT_EQ(lm.provider(), "local");
  EXPECT_EQ(anthropic.provider(), "anthropic");
  st::LMResponse reply;
  {
    auto session = tracer.start_session("s-anthropic");
    auto step = tracer.timestep(0);
    reply = anthropic.generate({st::Message::system("Be brief."), st::Message::user("Hi")}, {.temperature = 0.5});
  }
  EXPECT_EQ(reply.text, "Hello there");
  EXPECT_EQ(reply.finish_reason, "stop");
  EXPECT_EQ(reply.usage->prompt_tokens, 15);
  EXPECT_EQ(reply.usage->completion_tokens, 25);

  const auto req = server.last();
  EXPECT_EQ(req.path, "/v1/messages");
  EXPECT_EQ(req.header("x-api-key"), kKey);
  EXPECT_EQ(req.header("anthropic-version"), "2023-06-01");
  EXPECT_FALSE(req.has_header("Authorization"));
  const json body = json::parse(req.body);
  EXPECT_EQ(body["system"], "Be brief.");
  EXPECT_EQ(body["max_tokens"], 4096) << "Anthropic requires it; a default is sent";
  EXPECT_DOUBLE_EQ(body["temperature"].get<double>(), 0.5);
  ASSERT_EQ(body["messages"].size(), 1u);
  EXPECT_EQ(body["messages"][0], (json{{"role", "user"}, {"content", "Hi"}}));

  const auto events = cais_events(finished("s-anthropic"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].provider, "anthropic");
  EXPECT_EQ(events[0].prompt_tokens, 15);
  EXPECT_EQ(events[0].completion_tokens, 25);
  EXPECT_EQ(events[0].total_tokens, 40);
  EXPECT_EQ(events[0].system_instance_id, "claude_agent");
  EXPECT_DOUBLE_EQ(json(events[0].system_state_before)["temperature"].get<double>(), 0.5);
}

TEST_F(LMTest, AnthropicCachedTokensCountAsInput) {
  server.script({Reply{.body = json{{"id", "msg_2"},
                                     {"model", "claude-sonnet-4-20250514"},
                                     {"content", {{{"type", "text"}, {"text", "ok"}}}},
                                     {"stop_reason", "max_tokens"},
                                     {"usage",
                                      {{"input_tokens", 10},
                                       {"cache_read_input_tokens", 100},
                                       {"cache_creation_input_tokens", 5},
                                       {"output_tokens", 7}}}}
                                   .dump()}});
  st::LM lm({.model = "claude-sonnet-4-20250514", .provider = "anthropic", .base_url = server.url(), .api_key = kKey});
  const auto reply = lm.generate("hi");
  EXPECT_EQ(reply.usage->prompt_tokens, 115);
  EXPECT_EQ(reply.usage->cached_tokens, 100);
  EXPECT_EQ(reply.usage->cache_write_tokens, 5);
  EXPECT_EQ(reply.usage->completion_tokens, 7);
  EXPECT_EQ(reply.finish_reason, "length");
}

TEST_F(LMTest, AnthropicCacheWritesReachTheEventAndArePricedAtTheirRate) {
  server.script({Reply{.body = json{{"id", "msg_3"},
                                    {"model", "claude-sonnet-4-20250514"},
                                    {"content", {{{"type", "text"}, {"text", "ok"}}}},
                                    {"stop_reason", "end_turn"},
                                    {"usage",
                                     {{"input_tokens", 50},
                                      {"cache_read_input_tokens", 2000},
                                      {"cache_creation_input_tokens", 3000},
                                      {"output_tokens", 20}}}}
                                   .dump()}});
  st::LM lm({.model = "claude-sonnet-4-20250514", .provider = "anthropic", .base_url = server.url(), .api_key = kKey,
             .session_tracer = &tracer});
  {
    auto session = tracer.start_session("s-cache-write");
    (void)lm.generate("hi");
  }
  const auto events = cais_events(finished("s-cache-write"));
  ASSERT_EQ(events.size(), 1u);
  const auto& e = events[0];
  EXPECT_EQ(e.prompt_tokens, 5050) << "input + cache read + cache write";
  EXPECT_EQ(e.cached_tokens, 2000);
  EXPECT_EQ(e.cache_write_tokens, 3000);
  EXPECT_EQ(e.completion_tokens, 20);
  ASSERT_TRUE(e.cost.has_value());
  // claude-sonnet-4: input 3, cache read 0.30, cache write 3.75, output 15 (USD per million).
  EXPECT_DOUBLE_EQ(*e.cost, (50 * 3.0 + 2000 * 0.30 + 3000 * 3.75 + 20 * 15.0) / 1e6);
}

// Token counts a server may send that do not fit: beyond int64, huge doubles. Reading them was
// undefined behaviour (a double cast, sums that overflow) or a ValueTypeError escaping the call;
// they are clamped to 2^53, so that the sums (input + cached, total) stay exact.
TEST_F(LMTest, AbsurdTokenCountsAreClamped) {
  constexpr std::int64_t kMax = std::int64_t{1} << 53;
  server.script({Reply{.body = R"({"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}],
                                  "usage":{"prompt_tokens":1e300,"completion_tokens":18446744073709551615,
                                           "prompt_tokens_details":{"cached_tokens":-1e300}}})"}});
  st::LMResponse reply;
  {
    auto session = tracer.start_session("s-absurd-tokens");
    reply = st::LM(openai_options()).generate("hi");
  }
  EXPECT_EQ(reply.usage->prompt_tokens, kMax);
  EXPECT_EQ(reply.usage->completion_tokens, kMax);
  EXPECT_EQ(reply.usage->cached_tokens, -kMax);
  const auto events = cais_events(finished("s-absurd-tokens"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].total_tokens, 2 * kMax);

  server.script({Reply{.body = R"({"content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn",
                                  "usage":{"input_tokens":9223372036854775807,"cache_read_input_tokens":9223372036854775807,
                                           "cache_creation_input_tokens":1e19,"output_tokens":2}})"}});
  st::LM anthropic({.model = "claude-sonnet-4-20250514", .provider = "anthropic", .base_url = server.url(), .api_key = kKey});
  EXPECT_EQ(anthropic.generate("hi").usage->prompt_tokens, 3 * kMax);

  server.script({Reply{.body = R"({"candidates":[{"content":{"parts":[{"text":"ok"}]},"finishReason":"STOP"}],
                                  "usageMetadata":{"promptTokenCount":9223372036854775807,"toolUsePromptTokenCount":1e20,
                                                   "candidatesTokenCount":1e300,"thoughtsTokenCount":1e300}})"}});
  st::LM gemini({.model = "gemini-2.5-flash", .provider = "google", .base_url = server.url(), .api_key = kKey});
  const auto usage = gemini.generate("hi").usage;
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->prompt_tokens, 2 * kMax);
  EXPECT_EQ(usage->completion_tokens, 2 * kMax);
}

TEST_F(LMTest, GeminiGenerateContent) {
  server.script({Reply{.body = json{{"candidates",
                                     {{{"content", {{"role", "model"}, {"parts", {{{"text", "Paris"}}}}}},
                                       {"finishReason", "STOP"}}}},
                                    {"usageMetadata",
                                     {{"promptTokenCount", 8},
                                      {"candidatesTokenCount", 3},
                                      {"thoughtsTokenCount", 4},
                                      {"cachedContentTokenCount", 1}}},
                                    {"modelVersion", "gemini-2.0-flash-001"},
                                    {"responseId", "resp-g1"}}
                                   .dump()}});
  st::LM lm({.model = "gemini-2.0-flash",
             .provider = "gemini",
             .max_tokens = 100,
             .base_url = server.url(),
             .api_key = kKey,
             .session_tracer = &tracer});
  EXPECT_EQ(lm.provider(), "google");
  EXPECT_EQ(lm.system_id(), "lm_gemini-2.0-flash");
  st::LMResponse reply;
  {
    auto session = tracer.start_session("s-gemini");
    reply = lm.generate({st::Message::system("Answer in one word."), st::Message::user("Capital of France?")});
  }
  EXPECT_EQ(reply.text, "Paris");
  EXPECT_EQ(reply.finish_reason, "stop");
  EXPECT_EQ(reply.usage->prompt_tokens, 8);
  EXPECT_EQ(reply.usage->completion_tokens, 7);
  EXPECT_EQ(reply.usage->reasoning_tokens, 4);
  EXPECT_EQ(reply.usage->cached_tokens, 1);
  EXPECT_EQ(reply.model, "gemini-2.0-flash-001");
  EXPECT_EQ(reply.response_id, "resp-g1");

  const auto req = server.last();
  EXPECT_EQ(req.path, "/v1beta/models/gemini-2.0-flash:generateContent");
  EXPECT_EQ(req.header("x-goog-api-key"), kKey);
  EXPECT_EQ(req.path.find("key="), std::string::npos) << "the key is not put in the URL";
  const json body = json::parse(req.body);
  EXPECT_EQ(body["systemInstruction"]["parts"][0]["text"], "Answer in one word.");
  EXPECT_EQ(body["contents"], (json::array({{{"role", "user"}, {"parts", {{{"text", "Capital of France?"}}}}}})));
  EXPECT_EQ(body["generationConfig"]["maxOutputTokens"], 100);

  const auto events = cais_events(finished("s-gemini"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].provider, "google");
  EXPECT_EQ(events[0].system_instance_id, "lm_gemini-2.0-flash");
  EXPECT_EQ(events[0].reasoning_tokens, 4);
  EXPECT_EQ(events[0].total_tokens, 15);
}

TEST_F(LMTest, StructuredOutput) {
  server.script({Reply{.body = openai_answer(R"({"action":"north","confidence":0.9})")}});
  st::LM lm(openai_options());
  const st::Value schema = {{"type", "object"},
                            {"properties", {{"action", {{"type", "string"}}}, {"confidence", {{"type", "number"}}}}},
                            {"required", {"action"}}};
  const auto reply = lm.generate("Decide", {.json = st::JsonOutput{.schema = schema, .name = "decision"}});
  EXPECT_EQ(reply.json()["action"].as_string(), "north");
  const json body = json::parse(server.last().body);
  EXPECT_EQ(body["response_format"]["type"], "json_schema");
  EXPECT_EQ(body["response_format"]["json_schema"]["name"], "decision");
  EXPECT_EQ(body["response_format"]["json_schema"]["schema"]["required"][0], "action");

  server.script({Reply{.body = openai_answer("not json")}});
  const auto plain = lm.generate("Decide", {.json = st::JsonOutput{}});
  EXPECT_EQ(json::parse(server.last().body)["response_format"], (json{{"type", "json_object"}}));
  EXPECT_THROW((void)plain.json(), st::LMResponseError);
}

TEST_F(LMTest, DisabledTracingRecordsNothing) {
  server.script({Reply{.body = openai_answer("quiet")}});
  auto options = openai_options();
  options.enable_v2_tracing = false;
  st::LM lm(options);
  {
    auto session = tracer.start_session("s-disabled");
    auto step = tracer.timestep(0);
    EXPECT_EQ(lm.generate("hi").text, "quiet");
    EXPECT_EQ(lm.generate("again").text, "quiet");
  }
  EXPECT_TRUE(cais_events(finished("s-disabled")).empty());
  EXPECT_FALSE(server.last().has_header("traceparent"));
}

TEST_F(LMTest, WithoutASessionNothingIsRecordedAndNoTraceparentIsSent) {
  server.script({Reply{.body = openai_answer("fine")}});
  st::LM lm(openai_options());
  EXPECT_EQ(lm.generate("hi").text, "fine");
  EXPECT_FALSE(server.last().has_header("traceparent"));
}

TEST_F(LMTest, ProviderReportedCostIsKept) {
  server.script({Reply{.body = json{{"id", "gen-1"},
                                    {"model", "meta-llama/llama-3.1-8b-instruct"},
                                    {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", "hey"}}},
                                                  {"finish_reason", "stop"}}}},
                                    {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 1}, {"cost", 0.00042}}}}
                                   .dump()}});
  st::LM lm({.model = "meta-llama/llama-3.1-8b-instruct", .provider = "openrouter", .base_url = server.url("/api/v1"),
             .api_key = kKey, .session_tracer = &tracer});
  {
    auto session = tracer.start_session("s-cost");
    EXPECT_EQ(lm.generate("hi").cost, 0.00042);
  }
  const auto events = cais_events(finished("s-cost"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].cost, 0.00042);
  EXPECT_EQ(events[0].provider, "openrouter");
  EXPECT_EQ(events[0].metadata["cost_source"].as_string(), "provider") << "the trace says where the cost came from";
}

TEST_F(LMTest, InProcessModel) {
  st::LM lm({.model = "synth-offline-policy",
             .session_tracer = &tracer,
             .system_id = "policy",
             .in_process_model = [](const st::LMRequest& request) {
               st::LMResponse r;
               r.text = "echo: " + request.messages.back().content;
               r.usage = {.prompt_tokens = 4, .completion_tokens = 2};
               r.cost = 0.0;
               return r;
             }});
  EXPECT_EQ(lm.provider(), "offline");
  std::string streamed;
  {
    auto session = tracer.start_session("s-offline");
    auto step = tracer.timestep(5);
    EXPECT_EQ(lm.generate("north").text, "echo: north");
    (void)lm.stream("south", [&](std::string_view p) { streamed += p; });
  }
  EXPECT_EQ(streamed, "echo: south");
  EXPECT_EQ(server.request_count(), 0u);
  const auto events = cais_events(finished("s-offline"));
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0].provider, "offline");
  EXPECT_EQ(events[0].model_name, "synth-offline-policy");
  EXPECT_EQ(events[0].total_tokens, 6);
  EXPECT_EQ(events[0].cost, 0.0);
  EXPECT_EQ(events[0].time_record->message_time, 5);
  EXPECT_EQ(json(events[0].system_state_after)["finish_reason"], "stop");
}

TEST_F(LMTest, AnAnswerIsReturnedWhenItsSessionEndedDuringTheCall) {
  st::testing::CapturedDiagnostics diagnostics;
  std::optional<st::SessionScope> session;
  st::LM lm({.model = "synth-offline-policy",
             .session_tracer = &tracer,
             .in_process_model = [&](const st::LMRequest&) {
               session->end();  // say, another part of the agent ended the episode meanwhile
               st::LMResponse r;
               r.text = "answer";
               r.usage = st::TokenUsage{.prompt_tokens = 4, .completion_tokens = 2};
               return r;
             }});
  session.emplace(tracer.start_session("s-ended-during"));
  st::LMResponse reply;
  EXPECT_NO_THROW(reply = lm.generate("go"));
  EXPECT_EQ(reply.text, "answer");
  EXPECT_EQ(tracer.stats().records_failed, 1u) << "the lost event is counted";
  const auto messages = diagnostics.all();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("ended after its session"), std::string::npos) << messages[0];
  EXPECT_TRUE(cais_events(finished("s-ended-during")).empty());
}

TEST_F(LMTest, AnExceptionFromTheStreamReceiverReachesTheCallerAndIsRecorded) {
  server.script({Reply{.events = {R"({"id":"c","choices":[{"index":0,"delta":{"content":"a"}}]})",
                                  R"({"id":"c","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})", "[DONE]"}}});
  st::LM lm(openai_options());
  {
    auto session = tracer.start_session("s-receiver");
    EXPECT_THROW((void)lm.stream("hi", [](std::string_view) { throw std::invalid_argument("UI closed"); }),
                 std::invalid_argument);
  }
  const auto events = cais_events(finished("s-receiver"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].metadata["error"]["message"].as_string(), "UI closed");
}

}  // namespace
