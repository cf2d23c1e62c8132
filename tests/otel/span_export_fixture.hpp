// What the span export tests share (span_export_test.cpp, span_export_faults_test.cpp): a tracer
// configuration for the receiver, finding spans by name, a small episode, and the fixture.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include "otel/otlp_receiver.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"

namespace span_export_fixture {

namespace st = synth::tracing;
using nlohmann::json;
using st::testing::OtlpReceiver;
using st::testing::ScopedEnv;
using namespace std::chrono_literals;

inline st::TracingConfig config_for(const OtlpReceiver& receiver, st::TracingMode mode = st::TracingMode::dual) {
  st::TracingConfig c;
  c.mode = mode;
  c.otel_endpoint = receiver.endpoint();
  c.otel_schedule_delay_ms = std::size_t{50};
  c.save_dir = std::filesystem::path();
  return c;
}

// As config_for, but spans go only on flush or at the end: an episode is one request.
inline st::TracingConfig one_batch_config(const OtlpReceiver& receiver) {
  st::TracingConfig c = config_for(receiver);
  c.otel_schedule_delay_ms = std::size_t{3600000};
  return c;
}

// The spans of `spans` named `name`.
inline std::vector<json> named(const json& spans, const std::string& name) {
  std::vector<json> out;
  for (const json& s : spans) {
    if (s["name"] == name) out.push_back(s);
  }
  return out;
}

inline json one_named(const json& spans, const std::string& name) {
  const auto found = named(spans, name);
  if (found.size() != 1) throw std::runtime_error("expected one span named '" + name + "', got " + std::to_string(found.size()));
  return found.front();
}

inline json attrs(const json& span) { return OtlpReceiver::attributes(span["attributes"]); }

// Records a small episode: an LLM call, a tool call, an environment step and a nested span.
inline void run_episode(st::SessionTracer& tracer, const std::string& id) {
  auto session = tracer.start_session(id);
  auto step = tracer.timestep(0);
  {
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "planner", .tracer = &tracer});
    call.request({{"model", "gpt-4o-mini"}, {"temperature", 0.2}, {"max_tokens", 64}, {"messages", json::array()}});
    {
      auto parse = st::trace_span("parse", {{"format", "json"}}, {.tracer = &tracer});
    }
    call.response({{"content", "go north"}, {"finish_reason", "stop"}, {"response_id", "chatcmpl-1"}});
    call.usage({.prompt_tokens = 1000, .completion_tokens = 200, .cached_tokens = 100});
  }
  {
    auto tool = st::runtime_operation("search", {.system_id = "planner", .tracer = &tracer});
    tool.actions({{"query", "weather"}});
  }
  {
    auto env = st::environment_step("move", {.system_id = "gridworld", .tracer = &tracer});
    env.action("north").reward(1.5).terminated(true);
  }
}

class SpanExport : public ::testing::Test {
 protected:
  OtlpReceiver receiver;
};

}  // namespace span_export_fixture
