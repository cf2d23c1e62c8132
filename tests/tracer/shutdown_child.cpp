// A traced program that ends with work still queued, run by shutdown_test as a child process.
//
//   shutdown_child spans ENDPOINT destroy|exit   spans for a collector (one that never answers)
//   shutdown_child sink destroy|exit             sessions for a sink that never returns
//
// It records three sessions, prints "ending", then leaves main: "destroy" destroys its tracer
// there, "exit" leaves it to the library's exit handler and prints the tracer's counters after
// it ("stats name=value ..."). The shutdown deadline comes from the environment the test sets.
#include <cstdio>
#include <cstdlib>
#include <future>
#include <memory>
#include <string>

#include "synth/tracing.hpp"

namespace st = synth::tracing;

namespace {

st::SessionTracer* kept_until_exit = nullptr;  // reachable: not a leak

void print_stats() {
  const st::TracerStats s = kept_until_exit->stats();
  std::printf("stats spans_ended=%llu spans_exported=%llu spans_dropped=%llu spans_failed=%llu spans_queued=%llu "
              "sessions_dropped=%llu sessions_pending=%llu\n",
              static_cast<unsigned long long>(s.spans_ended), static_cast<unsigned long long>(s.spans_exported),
              static_cast<unsigned long long>(s.spans_dropped), static_cast<unsigned long long>(s.spans_failed),
              static_cast<unsigned long long>(s.spans_queued), static_cast<unsigned long long>(s.sessions_dropped),
              static_cast<unsigned long long>(s.sessions_pending));
  std::fflush(stdout);
}

// A sink stuck for good: a disk that never comes back.
class StuckSink : public st::SessionSink {
 public:
  void write(const st::SessionTrace&) override { never_.get_future().wait(); }

 private:
  std::promise<void> never_;
};

int usage() {
  std::fprintf(stderr, "usage: shutdown_child spans ENDPOINT destroy|exit | shutdown_child sink destroy|exit\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return usage();
  const std::string mode = argv[1];
  if ((mode == "spans" && argc != 4) || (mode == "sink" && argc != 3) || (mode != "spans" && mode != "sink")) {
    return usage();
  }
  const std::string ending = argv[argc - 1];
  if (ending == "exit") {
    std::atexit(print_stats);  // registered before the tracer's handler, so it runs after it
  } else if (ending != "destroy") {
    return usage();
  }
  st::TracingConfig config;
  if (mode == "spans") config.otel_endpoint = std::string(argv[2]);
  auto tracer = std::make_unique<st::SessionTracer>(config);
  if (mode == "sink") tracer->add_sink(std::make_shared<StuckSink>());
  for (int i = 0; i < 3; ++i) {
    auto session = tracer->start_session("child-" + std::to_string(i));
    for (int j = 0; j < 20; ++j) auto span = st::trace_span("work", {}, {.tracer = tracer.get()});
  }
  std::printf("ending\n");
  std::fflush(stdout);
  if (ending == "exit") kept_until_exit = tracer.release();
  return 0;
}
