// The LM client's faults: rate limits and Retry-After, retries and their backoff, server and
// authentication errors, malformed answers, timeouts, resets and refused connections.
#include "lm/lm_fixture.hpp"

namespace {

using namespace lm_fixture;

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
  const auto [reply, waited] = generate_timed(1ms);
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
  const auto [reply, waited] = generate_timed(100ms);
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

}  // namespace
