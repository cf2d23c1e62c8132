// Instructions per ai_call / environment_step scope on the agent's thread when spans are exported
// (TracingConfig::otel_endpoint set, to an unreachable port: exports fail in the background).
// For callgrind (BENCHMARKS.md, bench/callgrind_per_call.py): run twice with different counts,
//   valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.N.out instrument_spans_cg ai|env N [QUEUE [ENDPOINT]]
// then `bench/callgrind_per_call.py /tmp/cg.N1.out /tmp/cg.N2.out spans_ai_call_once` (or
// spans_environment_step_once). Sessions of kRecordsPerSession records with one timestep each,
// as RotatingSession (bench_support.hpp) keeps them; a tracer without sinks that keeps no
// finished sessions (Setup::bare) besides the span export. QUEUE sets otel_max_queue_size
// (default 2048): with the unreachable collector the queue fills and later spans are dropped at
// end(); a queue larger than N keeps every span queued. ENDPOINT replaces the unreachable one
// (e.g. a local receiver that answers 200, so that exported spans are freed and their blocks
// come back to the agent's thread).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include <synth/tracing.hpp>

namespace st = synth::tracing;

namespace {

constexpr std::int64_t kRecordsPerSession = 300;

const std::string kPrompt =
    "You are at (2, 3) in a 6x6 grid. The treasure is at (5, 5). Walls block north and west. "
    "Reply to ops-team@example.com with JSON {\"action\": north|south|west|east} and a short reason ok";

class Rotating {
 public:
  explicit Rotating(st::SessionTracer& tracer) : tracer_(tracer) { open(); }
  void next() {
    if (++count_ % kRecordsPerSession == 0) {
      step_.reset();
      session_.reset();
      open();
    }
  }

 private:
  void open() {
    session_.emplace(tracer_.start_session());
    step_.emplace(tracer_.timestep(0));
  }
  st::SessionTracer& tracer_;
  std::int64_t count_ = 0;
  std::optional<st::SessionScope> session_;
  std::optional<st::TimestepScope> step_;
};

// As bench_support.cpp's ai_call_once.
[[gnu::noinline]] void spans_ai_call_once(Rotating& session) {
  {
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent"});
    call.request({{"prompt", kPrompt}}).usage({.prompt_tokens = 60, .completion_tokens = 12}).response({{"content", "north"}});
  }
  session.next();
}

// As instrument_bench.cpp's environment_step_once.
[[gnu::noinline]] void spans_environment_step_once(Rotating& session, std::int64_t turn) {
  {
    auto step = st::environment_step("move", {.system_id = "gridworld"});
    step.action("north").observation({{"x", turn % 6}, {"y", 3}}).reward(turn % 10 == 9 ? 1.0 : 0.0);
  }
  session.next();
}

}  // namespace

int main(int argc, char** argv) {
  if ((argc < 3 || argc > 5) || (std::strcmp(argv[1], "ai") != 0 && std::strcmp(argv[1], "env") != 0)) {
    std::fprintf(stderr, "usage: %s ai|env CALLS [QUEUE [ENDPOINT]]\n", argv[0]);
    return 2;
  }
  const bool ai = std::strcmp(argv[1], "ai") == 0;
  const std::int64_t calls = std::strtoll(argv[2], nullptr, 10);
  st::TracingConfig config{.max_finished_sessions = 0, .otel_endpoint = "http://127.0.0.1:9/v1/traces"};
  if (argc >= 5) config.otel_endpoint = std::string(argv[4]);
  if (argc >= 4) config.otel_max_queue_size = static_cast<std::size_t>(std::strtoull(argv[3], nullptr, 10));
  std::optional<st::SessionTracer> tracer;
  tracer.emplace(std::move(config));
  {
    Rotating session(*tracer);
    for (std::int64_t i = 0; i < calls; ++i) {
      if (ai) {
        spans_ai_call_once(session);
      } else {
        spans_environment_step_once(session, i);
      }
    }
  }
  const st::TracerStats stats = tracer->stats();
  std::printf("%s calls=%lld sessions_ended=%llu spans_ended=%llu exported=%llu dropped=%llu failed=%llu queued=%llu\n",
              argv[1], static_cast<long long>(calls), static_cast<unsigned long long>(stats.sessions_ended),
              static_cast<unsigned long long>(stats.spans_ended), static_cast<unsigned long long>(stats.spans_exported),
              static_cast<unsigned long long>(stats.spans_dropped), static_cast<unsigned long long>(stats.spans_failed),
              static_cast<unsigned long long>(stats.spans_queued));
  return 0;
}
