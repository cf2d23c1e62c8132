// A traced program that dies: crash_test runs it and recovers what it recorded.
//   crash_child <work_dir> <mode> <seed>
// Three threads record sessions "t<thread>-s<k>" of kEventsPerSession numbered events (timesteps
// of 10), each event's metadata {"thread", "session", "n", "t_ns"}; after each event a thread
// publishes what it has recorded in <work_dir>/progress (shared memory: the parent reads it after
// the death). Finished sessions go to JSON files in <work_dir>/json; the spill is
// <work_dir>/spill. Modes: record (until killed), hook-crash (a hook raises SIGSEGV at the
// seed-th event), abort (abort() at the seed-th event), sigterm (handle_signals on; records until
// the parent's SIGTERM).
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "crash_progress.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;

namespace {
std::int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}
}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) return 2;
  const std::filesystem::path work = argv[1];
  const std::string mode = argv[2];
  const long seed = std::atol(argv[3]);

  const int fd = ::open((work / "progress").c_str(), O_RDWR | O_CREAT, 0600);
  if (fd < 0 || ::ftruncate(fd, sizeof(CrashProgress)) != 0) return 3;
  void* mapped = ::mmap(nullptr, sizeof(CrashProgress), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapped == MAP_FAILED) return 3;
  auto* progress = new (mapped) CrashProgress();

  st::SessionTracer tracer(st::TracingConfig{.mode = st::TracingMode::v2,
                                             .save_dir = work / "json",
                                             .checkpoint = true,
                                             .spill_dir = work / "spill",
                                             .handle_signals = mode == "sigterm"});
  std::atomic<long> total{0};
  if (mode == "hook-crash" || mode == "abort") {
    tracer.add_hook({.on_event = [&, mode](std::string_view, const st::Event&) -> std::optional<st::Value> {
      if (total.fetch_add(1) + 1 == seed) {
        if (mode == "abort") std::abort();
        std::raise(SIGSEGV);
      }
      return std::nullopt;
    }});
  }
  progress->ready.store(1);
  std::vector<std::thread> threads;
  for (int t = 0; t < kCrashThreads; ++t) {
    threads.emplace_back([&, t] {
      ThreadProgress& mine = progress->threads[t];
      for (std::int64_t k = 0;; ++k) {
        auto session = tracer.start_session("t" + std::to_string(t) + "-s" + std::to_string(k));
        mine.session.store(k);
        for (std::int64_t n = 0; n < kEventsPerSession; ++n) {
          std::optional<st::TimestepScope> step;
          if (n % 10 == 0) step.emplace(tracer.timestep(n / 10));
          const std::int64_t now = wall_ns();
          tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"thread", t}, {"session", k}, {"n", n}, {"t_ns", now}}});
          mine.recorded.store(n + 1);
          mine.last_ns.store(now);
          std::this_thread::sleep_for(std::chrono::microseconds(300));
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}
