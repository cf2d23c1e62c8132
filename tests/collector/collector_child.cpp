// A traced program sending its sessions to a collector, run by collector_test as a child process.
//
//   collector_child PREFIX SESSIONS EVENTS
//
// The collector comes from the environment (SYNTH_TRACING_COLLECTOR and friends: the path a user
// takes). It records SESSIONS sessions "<PREFIX>-<n>" of EVENTS events each (one message carrying
// an email address, which must not leave the process), flushes, prints the tracer's counters
// ("stats name=value ...") and exits.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "synth/tracing.hpp"

namespace st = synth::tracing;

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: collector_child PREFIX SESSIONS EVENTS\n");
    return 2;
  }
  const std::string prefix = argv[1];
  const int sessions = std::atoi(argv[2]);
  const int events = std::atoi(argv[3]);
  st::SessionTracer tracer;
  for (int i = 0; i < sessions; ++i) {
    auto session = tracer.start_session(prefix + "-" + std::to_string(i), {{"experiment", "collector-child"}});
    auto step = tracer.timestep(0);
    for (int e = 0; e < events; ++e) {
      tracer.add_event(st::EnvironmentEvent{.system_instance_id = "env", .reward = 1.0});
    }
    tracer.add_message(st::SessionEventMessage{.content = st::Value("mail alice.child@example.com please"),
                                               .message_type = "user"});
  }
  const bool flushed = tracer.flush(std::chrono::seconds(120));
  const st::TracerStats s = tracer.stats();
  std::printf("stats flushed=%d ended=%llu sent=%llu fallback=%llu lost=%llu dropped=%llu retries=%llu throttled=%llu "
              "spans_exported=%llu spans_failed=%llu spans_dropped=%llu\n",
              flushed ? 1 : 0, static_cast<unsigned long long>(s.sessions_ended),
              static_cast<unsigned long long>(s.collector_sessions_sent),
              static_cast<unsigned long long>(s.collector_sessions_in_fallback),
              static_cast<unsigned long long>(s.sessions_lost), static_cast<unsigned long long>(s.sessions_dropped),
              static_cast<unsigned long long>(s.collector_retries), static_cast<unsigned long long>(s.collector_throttled),
              static_cast<unsigned long long>(s.spans_exported), static_cast<unsigned long long>(s.spans_failed),
              static_cast<unsigned long long>(s.spans_dropped));
  std::fflush(stdout);
  return 0;
}
