// The LM client's streams (server-sent events of each provider, usage in streams) and tool calls
// (requests, answers, results sent back).
#include "lm/lm_fixture.hpp"

namespace {

using namespace lm_fixture;

TEST_F(LMTest, OpenAIStreamAsksForUsageAndDeliversPieces) {
  auto chunk = [](const json& delta, const json& finish = nullptr) {
    return json{{"id", "chatcmpl-s1"},
                {"model", "gpt-4o-mini-2024-07-18"},
                {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}}
        .dump();
  };
  server.script({Reply{.events = {chunk({{"role", "assistant"}, {"content", ""}}), chunk({{"content", "Hel"}}),
                                  chunk({{"content", "lo"}}), chunk(json::object(), "stop"),
                                  json{{"id", "chatcmpl-s1"},
                                       {"model", "gpt-4o-mini-2024-07-18"},
                                       {"choices", json::array()},
                                       {"usage", {{"prompt_tokens", 9}, {"completion_tokens", 2}}}}
                                      .dump(),
                                  "[DONE]"},
                       .event_gap = 2ms}});
  st::LM lm(openai_options());
  std::vector<std::string> pieces;
  st::LMResponse reply;
  {
    auto session = tracer.start_session("s-stream");
    auto step = tracer.timestep(1);
    reply = lm.stream("Say hello", [&](std::string_view p) { pieces.emplace_back(p); });
  }
  EXPECT_EQ(pieces, (std::vector<std::string>{"Hel", "lo"}));
  EXPECT_EQ(reply.text, "Hello");
  EXPECT_EQ(reply.finish_reason, "stop");
  EXPECT_EQ(reply.usage->prompt_tokens, 9);
  EXPECT_EQ(reply.usage->completion_tokens, 2);
  EXPECT_EQ(reply.response_id, "chatcmpl-s1");
  ASSERT_TRUE(reply.time_to_first_token_ms.has_value());
  EXPECT_LE(*reply.time_to_first_token_ms, reply.latency_ms);

  const auto req = server.last();
  const json body = json::parse(req.body);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["stream_options"]["include_usage"], true);
  EXPECT_EQ(req.header("Accept"), "text/event-stream");

  const auto events = cais_events(finished("s-stream"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].total_tokens, 11);
  EXPECT_EQ(json(events[0].system_state_before)["stream"], true);
  EXPECT_EQ(json(events[0].system_state_after)["content"], "Hello");
  ASSERT_TRUE(events[0].metadata.contains("time_to_first_token_ms"));
  EXPECT_DOUBLE_EQ(events[0].metadata["time_to_first_token_ms"].as_double(), *reply.time_to_first_token_ms);
  EXPECT_EQ(events[0].time_record->message_time, 1);
}

// A server that ignores stream_options (or is not asked) and sends no usage chunk: the call's
// tokens stay empty and its cost unknown, never a $0 call of a known model.
TEST_F(LMTest, AStreamWithoutUsageKeepsItsTokensEmpty) {
  const auto chunk = [](const json& delta, const json& finish = nullptr) {
    return json{{"id", "c-nu"}, {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}}.dump();
  };
  server.script({Reply{.events = {chunk({{"content", "No usage"}}), chunk(json::object(), "stop"), "[DONE]"}}});
  st::LM asked(openai_options());                       // OpenAI: asks for usage, the server ignores it
  st::LM local({.model = "gpt-4o-mini", .base_url = server.url("/v1"), .session_tracer = &tracer});  // not asked
  ASSERT_EQ(local.provider(), "local");
  {
    auto session = tracer.start_session("s-no-usage");
    EXPECT_EQ(asked.stream("hi", [](std::string_view) {}).text, "No usage");
    EXPECT_TRUE(json::parse(server.last().body).contains("stream_options"));
    const auto reply = local.stream("hi", [](std::string_view) {});
    EXPECT_FALSE(json::parse(server.last().body).contains("stream_options"));
    EXPECT_EQ(reply.text, "No usage");
    EXPECT_FALSE(reply.usage.has_value());
  }
  const auto events = cais_events(finished("s-no-usage"));
  ASSERT_EQ(events.size(), 2u);
  for (const auto& e : events) {
    EXPECT_FALSE(e.prompt_tokens.has_value());
    EXPECT_FALSE(e.completion_tokens.has_value());
    EXPECT_FALSE(e.total_tokens.has_value());
    EXPECT_FALSE(e.cost.has_value()) << "a known model is never priced at $0 for lack of data";
    EXPECT_EQ(e.metadata["cost_status"].as_string(), "no_usage");
  }
}

TEST_F(LMTest, StreamOptionsGoOnlyToServersKnownToAcceptThem) {
  const auto chunk = [](const json& delta, const json& finish = nullptr) {
    return json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}}.dump();
  };
  server.script({Reply{.events = {chunk({{"content", "x"}}), chunk(json::object(), "stop"),
                                  json{{"id", "c"}, {"choices", json::array()},
                                       {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 1}}}}
                                      .dump(),
                                  "[DONE]"}}});
  const auto sends_stream_options = [&](const st::LMOptions& options) {
    st::LM lm(options);
    const auto reply = lm.stream("hi", [](std::string_view) {});
    EXPECT_EQ(reply.usage->prompt_tokens, 3) << options.provider;
    return json::parse(server.last().body).contains("stream_options");
  };
  const std::string url = server.url("/v1");
  EXPECT_TRUE(sends_stream_options({.model = "gpt-4o-mini", .provider = "openai", .base_url = url, .api_key = kKey}));
  EXPECT_TRUE(sends_stream_options({.model = "deepseek-chat", .provider = "deepseek", .base_url = url, .api_key = kKey}));
  // Mistral answers 422 to the unknown field (and sends usage anyway).
  EXPECT_FALSE(sends_stream_options({.model = "mistral-small-latest", .provider = "mistral", .base_url = url, .api_key = kKey}));
  EXPECT_FALSE(sends_stream_options({.model = "llama3.1", .base_url = url}));  // a local server
  EXPECT_FALSE(sends_stream_options({.model = "my-model", .provider = "vllm", .base_url = url}));
}

TEST_F(LMTest, StreamUsageCanBeTurnedOnAndOff) {
  const auto chunk = [](const json& delta, const json& finish = nullptr) {
    return json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish}}}}}.dump();
  };
  server.script({Reply{.events = {chunk({{"content", "x"}}), chunk(json::object(), "stop"), "[DONE]"}}});
  const std::string url = server.url("/v1");
  st::LM vllm({.model = "llama3.1", .base_url = url, .stream_usage = true});
  (void)vllm.stream("hi", [](std::string_view) {});
  EXPECT_EQ(json::parse(server.last().body)["stream_options"], (json{{"include_usage", true}}));
  st::LM quiet({.model = "gpt-4o-mini", .provider = "openai", .base_url = url, .api_key = kKey, .stream_usage = false});
  (void)quiet.stream("hi", [](std::string_view) {});
  EXPECT_FALSE(json::parse(server.last().body).contains("stream_options"));
}

TEST_F(LMTest, AnthropicStreamWithToolUse) {
  server.script({Reply{.events = {
                           R"(event: message_start
data: {"type":"message_start","message":{"id":"msg_s","model":"claude-3-5-haiku-20241022","usage":{"input_tokens":20,"output_tokens":1}}})",
                           R"(event: content_block_start
data: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}})",
                           R"(event: content_block_delta
data: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Checking."}})",
                           R"(event: ping
data: {"type":"ping"})",
                           R"(event: content_block_start
data: {"type":"content_block_start","index":1,"content_block":{"type":"tool_use","id":"toolu_1","name":"move","input":{}}})",
                           R"(event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"{\"dir\":"}})",
                           R"(event: content_block_delta
data: {"type":"content_block_delta","index":1,"delta":{"type":"input_json_delta","partial_json":"\"north\"}"}})",
                           R"(event: message_delta
data: {"type":"message_delta","delta":{"stop_reason":"tool_use"},"usage":{"output_tokens":30}})",
                           R"(event: message_stop
data: {"type":"message_stop"})"}}});
  st::LM lm({.model = "claude-3-5-haiku-20241022", .provider = "anthropic", .base_url = server.url(), .api_key = kKey});
  std::string text;
  const auto reply = lm.stream("Move", [&](std::string_view p) { text += p; },
                               {.tools = {{.name = "move", .description = "Move one cell", .parameters = {{"type", "object"}}}}});
  EXPECT_EQ(text, "Checking.");
  EXPECT_EQ(reply.finish_reason, "tool_calls");
  ASSERT_EQ(reply.tool_calls.size(), 1u);
  EXPECT_EQ(reply.tool_calls[0], (st::ToolCall{"toolu_1", "move", R"({"dir":"north"})"}));
  EXPECT_EQ(reply.usage->prompt_tokens, 20);
  EXPECT_EQ(reply.usage->completion_tokens, 30);
  const json body = json::parse(server.last().body);
  EXPECT_EQ(body["stream"], true);
  EXPECT_EQ(body["tools"][0]["name"], "move");
  EXPECT_EQ(body["tools"][0]["input_schema"], (json{{"type", "object"}}));
  EXPECT_EQ(body["tool_choice"], (json{{"type", "auto"}}));
}

TEST_F(LMTest, GeminiStreamGenerateContent) {
  server.script({Reply{.events = {
                           R"({"candidates":[{"content":{"role":"model","parts":[{"text":"One, "}]}}],"modelVersion":"gemini-2.5-flash"})",
                           R"({"candidates":[{"content":{"role":"model","parts":[{"text":"two."}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":4,"candidatesTokenCount":3},"modelVersion":"gemini-2.5-flash","responseId":"r-2"})"}}});
  st::LM lm({.model = "gemini-2.5-flash", .provider = "google", .base_url = server.url(), .api_key = kKey});
  std::vector<std::string> pieces;
  const auto reply = lm.stream("Count", [&](std::string_view p) { pieces.emplace_back(p); });
  EXPECT_EQ(pieces, (std::vector<std::string>{"One, ", "two."}));
  EXPECT_EQ(reply.text, "One, two.");
  EXPECT_EQ(reply.usage->prompt_tokens, 4);
  EXPECT_EQ(reply.usage->completion_tokens, 3);
  EXPECT_EQ(reply.response_id, "r-2");
  EXPECT_EQ(server.last().path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
}

TEST_F(LMTest, ToolCallsRoundTrip) {
  server.script({Reply{.body = json{{"id", "c1"},
                                    {"model", "gpt-4o-mini"},
                                    {"choices",
                                     {{{"index", 0},
                                       {"message",
                                        {{"role", "assistant"},
                                         {"content", nullptr},
                                         {"tool_calls",
                                          {{{"id", "call_a"},
                                            {"type", "function"},
                                            {"function", {{"name", "look"}, {"arguments", R"({"dir":"east"})"}}}}}}}},
                                       {"finish_reason", "tool_calls"}}}},
                                    {"usage", {{"prompt_tokens", 30}, {"completion_tokens", 10}}}}
                                   .dump()},
                 Reply{.body = openai_answer("East is a wall.")}});
  st::LM lm(openai_options());
  const st::Tool look{.name = "look",
                      .description = "Look in a direction",
                      .parameters = {{"type", "object"}, {"properties", {{"dir", {{"type", "string"}}}}}}};
  std::vector<st::Message> conversation{st::Message::user("What is east?")};
  {
    auto session = tracer.start_session("s-tools");
    const auto first = lm.generate(conversation, {.tools = {look}});
    EXPECT_EQ(first.finish_reason, "tool_calls");
    EXPECT_EQ(first.text, "");
    ASSERT_EQ(first.tool_calls.size(), 1u);
    EXPECT_EQ(first.tool_calls[0], (st::ToolCall{"call_a", "look", R"({"dir":"east"})"}));
    conversation.push_back(st::Message::assistant(first.text, first.tool_calls));
    conversation.push_back(st::Message::tool("call_a", "a wall"));
    const auto second = lm.generate(conversation, {.tools = {look}, .tool_choice = "none"});
    EXPECT_EQ(second.text, "East is a wall.");
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 2u);
  const json first_body = json::parse(requests[0].body);
  EXPECT_EQ(first_body["tools"][0]["type"], "function");
  EXPECT_EQ(first_body["tools"][0]["function"]["name"], "look");
  EXPECT_EQ(first_body["tools"][0]["function"]["parameters"]["properties"]["dir"]["type"], "string");
  EXPECT_EQ(first_body["tool_choice"], "auto");
  const json second_body = json::parse(requests[1].body);
  EXPECT_EQ(second_body["tool_choice"], "none");
  ASSERT_EQ(second_body["messages"].size(), 3u);
  EXPECT_EQ(second_body["messages"][1]["tool_calls"][0]["id"], "call_a");
  EXPECT_EQ(second_body["messages"][1]["tool_calls"][0]["function"]["arguments"], R"({"dir":"east"})");
  EXPECT_EQ(second_body["messages"][2], (json{{"role", "tool"}, {"content", "a wall"}, {"tool_call_id", "call_a"}}));

  const auto events = cais_events(finished("s-tools"));
  ASSERT_EQ(events.size(), 2u);
  const json after = json(events[0].system_state_after);
  EXPECT_EQ(after["finish_reason"], "tool_calls");
  EXPECT_EQ(after["tool_calls"][0]["name"], "look");
  EXPECT_EQ(json(events[0].system_state_before)["tools"][0]["name"], "look");
  EXPECT_EQ(json(events[1].system_state_before)["messages"][2]["tool_call_id"], "call_a");
}

TEST_F(LMTest, GeminiParallelToolResultsGoBackInOneTurn) {
  server.script({Reply{.body = json{{"candidates",
                                     {{{"content",
                                        {{"role", "model"},
                                         {"parts",
                                          {{{"functionCall", {{"name", "weather"}, {"args", {{"city", "Paris"}}}}}},
                                           {{"functionCall", {{"name", "weather"}, {"args", {{"city", "Rome"}}}}}}}}}},
                                       {"finishReason", "STOP"}}}},
                                    {"usageMetadata", {{"promptTokenCount", 20}, {"candidatesTokenCount", 10}}}}
                                   .dump()},
                 Reply{.body = json{{"candidates",
                                     {{{"content", {{"role", "model"}, {"parts", {{{"text", "Sunny in both."}}}}}},
                                       {"finishReason", "STOP"}}}},
                                    {"usageMetadata", {{"promptTokenCount", 40}, {"candidatesTokenCount", 5}}}}
                                   .dump()}});
  st::LM lm({.model = "gemini-2.5-flash", .provider = "google", .base_url = server.url(), .api_key = kKey});
  const st::Tool weather{.name = "weather", .description = "Weather of a city", .parameters = {{"type", "object"}}};
  std::vector<st::Message> messages{st::Message::user("Weather in Paris and Rome?")};
  const auto first = lm.generate(messages, {.tools = {weather}});
  ASSERT_EQ(first.tool_calls.size(), 2u);
  EXPECT_EQ(first.finish_reason, "tool_calls");
  messages.push_back(st::Message::assistant(first.text, first.tool_calls));
  messages.push_back(st::Message::tool(first.tool_calls[0].id, R"({"sky":"sunny","city":"Paris"})"));
  messages.push_back(st::Message::tool(first.tool_calls[1].id, "sunny in Rome"));
  EXPECT_EQ(lm.generate(messages, {.tools = {weather}}).text, "Sunny in both.");

  const json contents = json::parse(server.last().body)["contents"];
  ASSERT_EQ(contents.size(), 3u) << contents.dump(2);
  EXPECT_EQ(contents[1]["role"], "model");
  EXPECT_EQ(contents[1]["parts"].size(), 2u);
  // One turn answers both calls, in order: as many functionResponse parts as functionCall parts.
  const json paris = {{"functionResponse", {{"name", "weather"}, {"response", {{"sky", "sunny"}, {"city", "Paris"}}}}}};
  const json rome = {{"functionResponse", {{"name", "weather"}, {"response", {{"result", "sunny in Rome"}}}}}};
  EXPECT_EQ(contents[2], (json{{"role", "user"}, {"parts", json::array({paris, rome})}})) << contents[2].dump(2);
}

}  // namespace
