// The LM client against a local server speaking each provider's wire format: requests, answers,
// streaming, tool calls, faults, and the events the calls record.
#include "synth/tracing/lm.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "lm/provider_server.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::testing::MemorySink;
using json = nlohmann::json;
using synth_test::Reply;
using namespace std::chrono_literals;

namespace {

constexpr const char* kKey = "sk-test-SECRET-4f9c2b7d1e";


std::vector<st::CAISEvent> cais_events(const st::SessionTrace& trace) {
  std::vector<st::CAISEvent> out;
  for (const auto& e : trace.event_history) {
    if (const auto* c = std::get_if<st::CAISEvent>(&e)) out.push_back(*c);
  }
  return out;
}

std::string openai_answer(const std::string& content, int prompt = 12, int completion = 5,
                          const std::string& model = "gpt-4o-mini-2024-07-18") {
  return json{{"id", "chatcmpl-123"},
              {"object", "chat.completion"},
              {"model", model},
              {"choices", {{{"index", 0},
                            {"message", {{"role", "assistant"}, {"content", content}}},
                            {"finish_reason", "stop"}}}},
              {"usage", {{"prompt_tokens", prompt},
                         {"completion_tokens", completion},
                         {"total_tokens", prompt + completion},
                         {"prompt_tokens_details", {{"cached_tokens", 2}}},
                         {"completion_tokens_details", {{"reasoning_tokens", 0}}}}}}
      .dump();
}

std::string anthropic_answer(const std::string& text, int input = 15, int output = 25) {
  return json{{"id", "msg_01"},
              {"type", "message"},
              {"role", "assistant"},
              {"model", "claude-3-5-haiku-20241022"},
              {"content", {{{"type", "text"}, {"text", text}}}},
              {"stop_reason", "end_turn"},
              {"usage", {{"input_tokens", input}, {"output_tokens", output}}}}
      .dump();
}

class LMTest : public ::testing::Test {
 protected:
  LMTest() : tracer(st::TracingConfig{.mask_pii = false}) { tracer.add_sink(sink); }

  st::LMOptions openai_options() {
    return st::LMOptions{.model = "gpt-4o-mini",
                         .provider = "openai",
                         .temperature = 0.2,
                         .max_tokens = 64,
                         .base_url = server.url("/v1"),
                         .api_key = kKey,
                         .timeout = 5s,
                         .max_retries = 2,
                         .retry_backoff = 5ms,
                         .session_tracer = &tracer,
                         .system_id = "my_agent"};
  }

  // The finished session `id` as the sinks received it (priced, after the outgoing policy).
  st::SessionTrace finished(const std::string& id) {
    EXPECT_TRUE(tracer.flush());
    for (auto& t : sink->traces()) {
      if (t.session_id == id) return t;
    }
    ADD_FAILURE() << "no finished session " << id;
    return {};
  }

  synth_test::ProviderServer server;
  std::shared_ptr<MemorySink> sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer;
};

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

TEST_F(LMTest, RateLimitRetriesAfterRetryAfter) {
  server.script({Reply{.status = 429,
                       .body = R"({"error":{"message":"Rate limit reached","type":"requests"}})",
                       .headers = {{"Retry-After", "1"}}},
                 Reply{.body = openai_answer("finally")}});
  auto options = openai_options();
  options.retry_backoff = 1ms;  // Retry-After, not the backoff, decides the wait
  st::LM lm(options);
  const auto start = std::chrono::steady_clock::now();
  st::LMResponse reply;
  {
    auto session = tracer.start_session("s-429");
    reply = lm.generate("hi");
  }
  EXPECT_GE(std::chrono::steady_clock::now() - start, 990ms);
  EXPECT_EQ(reply.text, "finally");
  EXPECT_EQ(reply.attempts, 2);
  EXPECT_EQ(server.request_count(), 2u);
  const auto events = cais_events(finished("s-429"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].metadata["attempts"].as_int(), 2);
  EXPECT_FALSE(events[0].metadata.contains("error"));
}

TEST_F(LMTest, RateLimitWithRetryAfterTooLongFailsAtOnce) {
  server.script({Reply{.status = 429, .body = R"({"error":{"message":"quota"}})", .headers = {{"Retry-After", "3600"}}}});
  st::LM lm(openai_options());
  try {
    (void)lm.generate("hi");
    FAIL() << "no exception";
  } catch (const st::LMRateLimitError& e) {
    EXPECT_EQ(e.status(), 429);
    EXPECT_EQ(e.retry_after(), std::chrono::milliseconds(3600000));
    EXPECT_NE(std::string(e.what()).find("quota"), std::string::npos);
  }
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(LMTest, ServerErrorsAreRetriedWithBackoff) {
  server.script({Reply{.status = 500, .body = R"({"error":{"message":"boom"}})"},
                 Reply{.status = 503, .body = "upstream unavailable"}, Reply{.body = openai_answer("ok")}});
  st::LM lm(openai_options());
  const auto reply = lm.generate("hi");
  EXPECT_EQ(reply.text, "ok");
  EXPECT_EQ(reply.attempts, 3);
  EXPECT_EQ(server.request_count(), 3u);
}

// The waits come from the shared http::RetryBackoff: its retry-after-ms (OpenAI's header) wins
// over Retry-After, which alone would have failed the call at once (3600 s is too long to wait).
TEST_F(LMTest, RetryAfterMsIsHonouredBeforeRetryAfter) {
  server.script({Reply{.status = 429,
                       .body = R"({"error":{"message":"slow down"}})",
                       .headers = {{"retry-after-ms", "300"}, {"Retry-After", "3600"}}},
                 Reply{.body = openai_answer("after 300 ms")}});
  auto options = openai_options();
  options.retry_backoff = 1ms;
  st::LM lm(options);
  const auto start = std::chrono::steady_clock::now();
  const auto reply = lm.generate("hi");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.text, "after 300 ms");
  EXPECT_EQ(reply.attempts, 2);
  EXPECT_GE(waited, 295ms);
  EXPECT_LT(waited, 3s);
}

// Without a server's wait, retry n waits retry_backoff * 2^(n-1), jittered between 75 % and all
// of it: 100 ms then 200 ms give 225..300 ms in all (plus the requests themselves).
TEST_F(LMTest, BackoffDoublesWithinItsJitterBounds) {
  server.script({Reply{.status = 503, .body = "busy"}, Reply{.status = 502, .body = "busy"},
                 Reply{.body = openai_answer("third time")}});
  auto options = openai_options();
  options.retry_backoff = 100ms;
  st::LM lm(options);
  const auto start = std::chrono::steady_clock::now();
  const auto reply = lm.generate("hi");
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(reply.attempts, 3);
  EXPECT_GE(waited, 225ms);
  EXPECT_LT(waited, 2s) << "the waits are bounded by the steps, not more";
}

TEST_F(LMTest, ServerErrorAfterTheRetriesIsRecordedAndThrown) {
  server.script({Reply{.status = 500, .body = R"({"error":{"message":"the model crashed"}})"}});
  st::LM lm(openai_options());
  {
    auto session = tracer.start_session("s-500");
    auto step = tracer.timestep(2);
    try {
      (void)lm.generate("hi");
      FAIL() << "no exception";
    } catch (const st::LMServerError& e) {
      EXPECT_EQ(e.status(), 500);
      EXPECT_EQ(e.provider(), "openai");
      EXPECT_NE(std::string(e.what()).find("the model crashed"), std::string::npos);
    }
  }
  EXPECT_EQ(server.request_count(), 3u) << "1 + max_retries";
  const auto events = cais_events(finished("s-500"));
  ASSERT_EQ(events.size(), 1u) << "a failed call still records its event";
  const auto& error = events[0].metadata["error"];
  ASSERT_TRUE(error.is_object());
  EXPECT_NE(error["type"].as_string().find("LMServerError"), std::string::npos);
  EXPECT_NE(error["message"].as_string().find("the model crashed"), std::string::npos);
  EXPECT_EQ(events[0].time_record->message_time, 2);
  EXPECT_EQ(json(events[0].system_state_before)["messages"][0]["content"], "hi");
}

TEST_F(LMTest, AuthenticationErrorIsNotRetriedAndNeverShowsTheKey) {
  // Servers echo the key they were given; it must not come back out.
  server.script({Reply{.status = 401,
                       .body = json{{"error", {{"message", std::string("Incorrect API key provided: ") + kKey}}}}.dump()}});
  st::LM lm(openai_options());
  std::string message;
  {
    auto session = tracer.start_session("s-401");
    try {
      (void)lm.generate("hi");
      FAIL() << "no exception";
    } catch (const st::LMAuthenticationError& e) {
      message = e.what();
      EXPECT_EQ(e.status(), 401);
    }
  }
  EXPECT_EQ(server.request_count(), 1u);
  EXPECT_NE(message.find("Incorrect API key provided"), std::string::npos);
  EXPECT_EQ(message.find(kKey), std::string::npos) << message;
  const auto trace = finished("s-401");
  const std::string text = trace.to_json();
  EXPECT_NE(text.find("Incorrect API key provided"), std::string::npos);
  EXPECT_EQ(text.find(kKey), std::string::npos);
}

TEST_F(LMTest, BadRequestCarriesTheServersMessage) {
  server.script({Reply{.status = 400,
                       .body = R"({"error":{"message":"'temperature' must be at most 2","param":"temperature"}})"}});
  st::LM lm(openai_options());
  try {
    (void)lm.generate("hi", {.temperature = 7});
    FAIL() << "no exception";
  } catch (const st::LMBadRequestError& e) {
    EXPECT_EQ(e.status(), 400);
    EXPECT_NE(std::string(e.what()).find("'temperature' must be at most 2"), std::string::npos) << e.what();
  }
  EXPECT_EQ(server.request_count(), 1u);
}

TEST_F(LMTest, MalformedAnswersAreResponseErrors) {
  server.script({Reply{.body = R"({"id": "x", "choices": [)"}});
  st::LM lm(openai_options());
  EXPECT_THROW((void)lm.generate("hi"), st::LMResponseError);
  server.script({Reply{.body = R"({"id": "x", "choices": []})"}});
  EXPECT_THROW((void)lm.generate("hi"), st::LMResponseError);
  server.script({Reply{.events = {"{not json"}}});
  EXPECT_THROW((void)lm.stream("hi", [](std::string_view) {}), st::LMResponseError);
  // A stream that ends cleanly but without finishing the answer.
  server.script({Reply{.events = {R"({"id":"c","choices":[{"index":0,"delta":{"content":"par"}}]})"}}});
  EXPECT_THROW((void)lm.stream("hi", [](std::string_view) {}), st::LMResponseError);
}

TEST_F(LMTest, AStalledServerTimesOut) {
  server.script({Reply{.stall = true}});
  auto options = openai_options();
  options.timeout = 200ms;
  options.max_retries = 1;
  st::LM lm(options);
  const auto start = std::chrono::steady_clock::now();
  {
    auto session = tracer.start_session("s-timeout");
    EXPECT_THROW((void)lm.generate("hi"), st::LMTimeoutError);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GE(elapsed, 400ms);
  EXPECT_LT(elapsed, 5s);
  EXPECT_EQ(server.request_count(), 2u);
  const auto events = cais_events(finished("s-timeout"));
  ASSERT_EQ(events.size(), 1u);
  EXPECT_NE(events[0].metadata["error"]["type"].as_string().find("LMTimeoutError"), std::string::npos);
}

TEST_F(LMTest, AConnectionResetMidStreamIsNotRetried) {
  server.script({Reply{.events = {R"({"id":"c","choices":[{"index":0,"delta":{"content":"par"}}]})",
                                  R"({"id":"c","choices":[{"index":0,"delta":{"content":"tial"}}]})"},
                       .reset_after_first = true}});
  st::LM lm(openai_options());
  std::string text;
  EXPECT_THROW((void)lm.stream("hi", [&](std::string_view p) { text += p; }), st::LMConnectionError);
  EXPECT_EQ(text, "par");
  EXPECT_EQ(server.request_count(), 1u) << "the caller already saw part of the answer";
}

TEST_F(LMTest, ConnectionRefusedIsRetriedThenAConnectionError) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  auto options = openai_options();
  options.base_url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/v1";
  st::LM lm(options);
  try {
    (void)lm.generate("hi");
    FAIL() << "no exception";
  } catch (const st::LMConnectionError& e) {
    EXPECT_EQ(e.status(), 0);
    EXPECT_EQ(std::string(e.what()).find(kKey), std::string::npos);
  }
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

TEST_F(LMTest, KeysComeFromTheProvidersVariable) {
  ::setenv("DEEPSEEK_API_KEY", "env-key-123456", 1);
  ::unsetenv("GROQ_API_KEY");
  server.script({Reply{.body = openai_answer("from env")}});
  st::LM deepseek({.model = "deepseek-chat", .base_url = server.url("/v1"), .max_retries = 0});
  // A local base_url makes the provider "local", which never gets a key from the environment.
  EXPECT_EQ(deepseek.provider(), "local");
  (void)deepseek.generate("hi");
  EXPECT_FALSE(server.last().has_header("Authorization"));

  st::LM named({.model = "deepseek-chat", .provider = "deepseek", .base_url = server.url("/v1")});
  (void)named.generate("hi");
  EXPECT_EQ(server.last().header("Authorization"), "Bearer env-key-123456");
  EXPECT_EQ(server.last().path, "/v1/chat/completions");
  EXPECT_EQ(json::parse(server.last().body).count("max_completion_tokens"), 0u);

  st::LM groq({.model = "llama-3.3-70b-versatile", .provider = "groq", .base_url = server.url("/v1"),
               .session_tracer = &tracer});
  const std::size_t before = server.request_count();
  {
    auto session = tracer.start_session("s-nokey");
    try {
      (void)groq.generate("hi");
      FAIL() << "no exception";
    } catch (const st::LMAuthenticationError& e) {
      EXPECT_NE(std::string(e.what()).find("GROQ_API_KEY"), std::string::npos);
    }
  }
  EXPECT_EQ(server.request_count(), before) << "nothing is sent without a key";
  ASSERT_EQ(cais_events(finished("s-nokey")).size(), 1u);
  ::unsetenv("DEEPSEEK_API_KEY");
}

TEST_F(LMTest, ProviderResolution) {
  EXPECT_EQ(st::LM({.model = "gpt-4o-mini", .api_key = "k"}).provider(), "openai");
  EXPECT_EQ(st::LM({.model = "claude-sonnet-4-20250514", .api_key = "k"}).provider(), "anthropic");
  EXPECT_EQ(st::LM({.model = "gemini-2.0-flash", .api_key = "k"}).provider(), "google");
  EXPECT_EQ(st::LM({.model = "llama3.1", .base_url = "http://localhost:11434/v1"}).provider(), "local");
  EXPECT_EQ(st::LM({.model = "x", .provider = "Grok", .api_key = "k"}).provider(), "xai");
  EXPECT_THROW(st::LM({.model = "my-own-model"}), st::LMError);
  EXPECT_THROW(st::LM({.model = ""}), st::LMError);
  EXPECT_THROW(st::LM({.model = "gpt-4o", .max_retries = -1}), st::LMError);
  try {
    st::LM({.model = "gpt-4o", .api_key = "k", .async_threads = 0});
    ADD_FAILURE() << "no exception";
  } catch (const st::LMError& e) {
    EXPECT_NE(std::string(e.what()).find("async_threads"), std::string::npos) << e.what();
  }
  EXPECT_THROW(st::LM({.model = "gpt-4o", .api_key = "k", .async_queue_capacity = 0}), st::LMError);
}

TEST_F(LMTest, TheLMAndProviderDetectionShareOneRegistry) {
  // Every spelling detection understands, the LM understands too.
  for (const std::string alias : {"google-genai", "GCP.Gemini", "MistralAI", "together_ai", "claude", "open_router",
                                  "groqcloud", "deepseek_ai", "Azure", "x_ai"}) {
    const std::string name = st::normalize_provider(alias);
    ASSERT_NE(name, "unknown");
    try {
      // Azure has no public endpoint: each user has their own.
      const std::string url = name == "azure_openai" ? "https://x.openai.azure.com/openai/v1" : "";
      st::LM lm({.model = "some-model", .provider = alias, .base_url = url, .api_key = "k"});
      EXPECT_EQ(lm.provider(), name) << alias;
    } catch (const st::LMError& e) {
      ADD_FAILURE() << alias << ": " << e.what();
    }
  }
  // Hosts detection names, the LM sends to.
  EXPECT_EQ(st::detect_provider("anything", "https://api.together.xyz/v1"), "together");
  st::LM together({.model = "meta-llama/Llama-3-8b", .base_url = "https://api.together.xyz/v1", .api_key = "k"});
  EXPECT_EQ(together.provider(), "together");
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

// Issue 9: the key in use (given, or read from the environment) is registered as a secret, so
// even a key of no known shape (Mistral's: 32 letters and digits) never appears in a trace, an
// error or a diagnostic, with PII masking off (this fixture) and a server echoing it everywhere.
TEST_F(LMTest, KeysOfAnyShapeNeverLeaveTheProcess) {
  const std::string given = "Mq7ZrT2vX9pL4nB8wK3sD6fH1jG5cV0a";
  const std::string from_env = "Ej4Uw8Ty2Oi6Pa0Sd3Fg7Hk1Lz5Xc9Vb";
  ::setenv("MISTRAL_API_KEY", from_env.c_str(), 1);
  st::testing::CapturedDiagnostics diagnostics;
  tracer.add_hook({.on_session_end = [&](const st::SessionTrace&) { throw std::runtime_error("hook saw " + given); }});
  server.script({Reply{.body = openai_answer("echo " + given + " / " + from_env)},
                 Reply{.status = 400, .body = json{{"error", {{"message", "bad key " + given + " or " + from_env}}}}.dump()}});
  st::LM with_key({.model = "mistral-small-latest", .provider = "mistral", .base_url = server.url("/v1"),
                   .api_key = given, .session_tracer = &tracer});
  st::LM with_env_key({.model = "mistral-small-latest", .provider = "mistral", .base_url = server.url("/v1"),
                       .session_tracer = &tracer});
  ::unsetenv("MISTRAL_API_KEY");
  std::string error;
  {
    auto session = tracer.start_session("s-keys");
    EXPECT_NE(with_key.generate("my keys: " + given + ", " + from_env).text.find(given), std::string::npos)
        << "the caller gets the answer unchanged";
    try {
      (void)with_env_key.generate("again");
      FAIL() << "no exception";
    } catch (const st::LMBadRequestError& e) {
      error = e.what();
    }
  }
  EXPECT_EQ(server.requests()[1].header("Authorization"), "Bearer " + from_env);
  EXPECT_NE(error.find("bad key [SECRET] or [SECRET]"), std::string::npos) << error;
  const std::string trace = finished("s-keys").to_json();
  EXPECT_NE(trace.find("[SECRET]"), std::string::npos);
  const auto logged = diagnostics.all();
  ASSERT_FALSE(logged.empty());
  for (const std::string& key : {given, from_env}) {
    EXPECT_EQ(trace.find(key), std::string::npos) << trace;
    EXPECT_EQ(error.find(key), std::string::npos);
    for (const std::string& line : logged) EXPECT_EQ(line.find(key), std::string::npos) << line;
  }
}

// A base URL with credentials in it (userinfo, a key parameter) is never printed as such.
TEST_F(LMTest, CredentialsInTheBaseUrlAreNeverPrinted) {
  int run = 0;
  for (const std::string& base_url : {std::string("http://agent:pa55-Word-77@127.0.0.1:1/v1"),
                                      std::string("http://127.0.0.1:1/v1?api_key=pa55-Word-77")}) {
    const std::string id = "s-url-" + std::to_string(run++);
    st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = base_url, .api_key = kKey, .max_retries = 0,
               .session_tracer = &tracer});
    std::string error;
    {
      auto session = tracer.start_session(id);
      try {
        (void)lm.generate("hi");
        FAIL() << "no exception";
      } catch (const st::LMConnectionError& e) {
        error = e.what();
      }
    }
    EXPECT_NE(error.find("127.0.0.1:1"), std::string::npos) << error;
    EXPECT_NE(error.find("[API_KEY]"), std::string::npos) << error;
    EXPECT_EQ(error.find("pa55-Word-77"), std::string::npos) << error;
    const std::string trace = finished(id).to_json();
    EXPECT_EQ(trace.find("pa55-Word-77"), std::string::npos) << trace;
    EXPECT_NE(trace.find("127.0.0.1:1"), std::string::npos) << "masking is off in this fixture";
  }
}

TEST_F(LMTest, BaseUrlComesFromTheProvidersVariableWhenNotGiven) {
  st::testing::ScopedEnv base("OPENAI_BASE_URL", server.url("/v1").c_str());
  st::testing::ScopedEnv key("OPENAI_API_KEY", "env-key-654321");
  server.script({Reply{.body = openai_answer("from the variable")}, Reply{.body = openai_answer("given")}});
  st::LM lm({.model = "gpt-4", .max_retries = 0});
  EXPECT_EQ(lm.provider(), "openai");
  EXPECT_EQ(lm.generate("hi").text, "from the variable");
  EXPECT_EQ(server.last().path, "/v1/chat/completions");
  EXPECT_EQ(server.last().header("Authorization"), "Bearer env-key-654321");

  // A base_url given in code wins over the variable.
  st::testing::ScopedEnv elsewhere("OPENAI_BASE_URL", "http://127.0.0.1:9/never");
  st::LM given({.model = "gpt-4", .base_url = server.url("/v1"), .max_retries = 0});
  EXPECT_EQ(given.generate("hi").text, "given");
}
