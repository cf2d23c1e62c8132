// Uses the installed library the way a user would: record a session, serialize it, read it back.
#include <synth/tracing.hpp>

#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#ifndef SYNTH_EXPECTED_VERSION
#error "build with -DSYNTH_EXPECTED_VERSION=\"<version the package declares>\""
#endif

namespace st = synth::tracing;

int main() try {
  std::printf("synth-tracing %s\n", st::kVersion);
  if (std::string_view(st::kVersion) != SYNTH_EXPECTED_VERSION) {
    std::fprintf(stderr, "header version %s, package version %s\n", st::kVersion, SYNTH_EXPECTED_VERSION);
    return 1;
  }

  st::SessionTracer tracer(st::TracingConfig{});
  {
    auto session = tracer.start_session("consumer-session", {{"from", "install test"}});
    auto step = tracer.timestep(0);
    tracer.add_event(st::CAISEvent{.system_instance_id = "agent", .model_name = "test-model", .prompt_tokens = 3});
    tracer.add_message(st::SessionEventMessage{.content = "write to a@example.com", .message_type = "user"});
  }

  const auto trace = tracer.get_session_trace("consumer-session");
  if (!trace) {
    std::fprintf(stderr, "get_session_trace returned nothing\n");
    return 1;
  }
  const std::string json = trace->to_json();
  const st::SessionTrace parsed = st::SessionTrace::from_json(json);
  if (!(parsed == *trace)) {
    std::fprintf(stderr, "round trip changed the trace:\n%s\n", json.c_str());
    return 1;
  }
  // synth::tracing links the policy layer: the PII detectors run.
  if (json.find("a@example.com") != std::string::npos || json.find("[EMAIL]") == std::string::npos) {
    std::fprintf(stderr, "the email was not masked: is synth::tracing_policy linked?\n%s\n", json.c_str());
    return 1;
  }
  if (parsed.event_history.size() != 1 || parsed.session_time_steps.size() != 1 ||
      parsed.session_time_steps[0].events.size() != 1) {
    std::fprintf(stderr, "expected exactly one event in one timestep:\n%s\n", json.c_str());
    return 1;
  }
  std::printf("round trip ok: %zu bytes of JSON, 1 event\n", json.size());
  return 0;
} catch (const std::exception& e) {
  std::fprintf(stderr, "error: %s\n", e.what());
  return 1;
}
