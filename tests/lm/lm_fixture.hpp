// What the LM client's tests share (lm_*_test.cpp): the fixture with a local provider server
// and a tracer, the test key, and the providers' answers.
#pragma once

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

namespace lm_fixture {

inline constexpr const char* kKey = "sk-test-SECRET-4f9c2b7d1e";

inline std::vector<st::CAISEvent> cais_events(const st::SessionTrace& trace) {
  std::vector<st::CAISEvent> out;
  for (const auto& e : trace.event_history) {
    if (const auto* c = std::get_if<st::CAISEvent>(&e)) out.push_back(*c);
  }
  return out;
}

inline std::string openai_answer(const std::string& content, int prompt = 12, int completion = 5,
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

inline std::string anthropic_answer(const std::string& text, int input = 15, int output = 25) {
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

  // A call with openai_options() but `backoff` as its retry_backoff, and how long it took (waits
  // included).
  std::pair<st::LMResponse, std::chrono::steady_clock::duration> generate_timed(std::chrono::milliseconds backoff) {
    auto options = openai_options();
    options.retry_backoff = backoff;
    st::LM lm(options);
    const auto start = std::chrono::steady_clock::now();
    st::LMResponse reply = lm.generate("hi");
    return {std::move(reply), std::chrono::steady_clock::now() - start};
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

}  // namespace lm_fixture
