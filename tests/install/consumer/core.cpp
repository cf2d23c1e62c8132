// A program that links synth::tracing_core alone: records a session with scopes and reads it
// back. Registered secrets are masked; PII detectors (synth::tracing_policy) are not linked.
#include <synth/tracing/instrument.hpp>
#include <synth/tracing/secrets.hpp>
#include <synth/tracing/tracer.hpp>

#include <cstdio>
#include <exception>
#include <string>

namespace st = synth::tracing;

int main() try {
  st::register_secret("consumer-secret-0123456789");
  st::SessionTracer tracer(st::TracingConfig{});
  {
    auto session = tracer.start_session("core-consumer");
    auto step = tracer.timestep(0);
    auto call = st::ai_call("chat", {.model = "test-model"});
    call.request({{"prompt", "key consumer-secret-0123456789, mail a@example.com"}});
    call.usage({.prompt_tokens = 3, .completion_tokens = 1});
  }
  const auto trace = tracer.get_session_trace("core-consumer");
  if (!trace) {
    std::fprintf(stderr, "get_session_trace returned nothing\n");
    return 1;
  }
  const std::string json = trace->to_json();
  if (json.find("consumer-secret-0123456789") != std::string::npos || json.find("a@example.com") == std::string::npos) {
    std::fprintf(stderr, "expected the secret masked and the email kept (no PII detectors):\n%s\n", json.c_str());
    return 1;
  }
  std::printf("core only: 1 call recorded, secret masked\n");
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
