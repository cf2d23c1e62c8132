// Issue 10, "Soak": 8 threads run sessions continuously for SYNTH_SOAK_SECONDS (default 60) with
// every sink on (DuckDB, JSON files, OTLP protobuf to the real receiver), in the default
// configuration otherwise. Memory (RSS) stays flat after warm-up, and every session is accounted
// for: stored by each sink, or counted (dropped, lost); every span exported or counted.
//
// BENCHMARKS.md ("Soak") records a 30-minute run: SYNTH_SOAK_SECONDS=1800 build/tests/soak_test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "otel/otlp_receiver.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace st = synth::tracing;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::chrono::seconds soak_duration() {
  const char* raw = std::getenv("SYNTH_SOAK_SECONDS");
  const long seconds = raw != nullptr ? std::strtol(raw, nullptr, 10) : 60;
  return std::chrono::seconds(std::max(5L, seconds));
}

// Resident set size of this process, in bytes.
std::size_t rss_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::size_t pages_total = 0, pages_resident = 0;
  statm >> pages_total >> pages_resident;
  return pages_resident * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

// One episode as an agent records it: ten steps, each a policy call with usage, a tool check, an
// environment step with reward, and messages; 20 ms of the agent's own work per step (a fast
// simulator: up to 40 episodes a second from 8 threads, 1,600 events and spans a second).
void run_episode(st::SessionTracer& tracer, const std::string& session_id, int worker) {
  auto session = tracer.start_session(session_id, {{"worker", worker}, {"experiment", "soak"}});
  for (int step = 0; step < 10; ++step) {
    auto timestep = tracer.timestep(step);
    {
      auto call = st::ai_call("policy", {.model = "gpt-4o-mini"});
      call.request({{"prompt", "observe " + std::to_string(step)}});
      call.response({{"content", "move north"}});
      call.usage({.prompt_tokens = 420 + step, .completion_tokens = 12});
    }
    {
      auto tool = st::runtime_operation("check_path");
      tool.state_after({{"clear", step % 3 != 0}});
    }
    {
      auto env = st::environment_step("grid");
      env.action("north").observation({{"position", step + 1}});
      env.reward(step == 9 ? 1.0 : 0.0);
      env.terminated(step == 9);
    }
    tracer.add_message(st::make_message("environment", {{"position", step + 1}}, "observation", step));
    const auto until = std::chrono::steady_clock::now() + 20ms;
    std::this_thread::sleep_until(until);
  }
}

}  // namespace

TEST(Soak, EightThreadsWithEverySinkKeepMemoryFlatAndAccountForEverySession) {
  st::testing::TempDir dir("soak");
  // It keeps only counts: the 30-minute soak's 2 M spans filled a receiver that kept them all.
  st::testing::OtlpReceiver receiver(st::testing::OtlpReceiver::Keep::counts);
  const auto duration = soak_duration();
  const fs::path json_dir = dir.file("json");
  const fs::path db = dir.file("traces.duckdb");

  std::atomic<std::uint64_t> started{0};
  std::vector<std::size_t> rss;  // one sample a second
  st::TracerStats stats;
  {
    st::TracingConfig config;
    config.save_dir = json_dir;
    config.otel_endpoint = receiver.endpoint();
    st::SessionTracer tracer(config);
    tracer.add_sink(std::make_shared<st::DuckDBSink>(db));

    std::atomic<bool> stop{false};
    std::vector<std::thread> workers;
    for (int w = 0; w < 8; ++w) {
      workers.emplace_back([&, w] {
        for (int n = 0; !stop.load(std::memory_order_relaxed); ++n) {
          run_episode(tracer, "soak-" + std::to_string(w) + "-" + std::to_string(n), w);
          started.fetch_add(1, std::memory_order_relaxed);
        }
      });
    }
    const auto begin = std::chrono::steady_clock::now();
    while (std::chrono::steady_clock::now() - begin < duration) {
      std::this_thread::sleep_for(1s);
      rss.push_back(rss_bytes());
    }
    stop = true;
    for (auto& t : workers) t.join();
    EXPECT_TRUE(tracer.flush());
    stats = tracer.stats();
  }

  // Memory: after warm-up (the first third: DuckDB's caches, the queues, the allocator's arenas
  // fill), the resident size grows by less than 128 MiB (the sink queue, DuckDB's buffer manager
  // and the allocator's arenas vary with the machine's load; a leak of every session shows).
  ASSERT_GE(rss.size(), 3u);
  const std::size_t warm = rss[rss.size() / 3];
  const std::size_t peak = *std::max_element(rss.begin() + static_cast<std::ptrdiff_t>(rss.size() / 3), rss.end());
  std::printf(
      "soak: %llu sessions in %lld s (dropped %llu, lost %llu; spans %llu, dropped %llu, failed %llu); RSS after "
      "warm-up %.1f MiB, peak %.1f MiB, end %.1f MiB\n",
      static_cast<unsigned long long>(started.load()), static_cast<long long>(duration.count()),
      static_cast<unsigned long long>(stats.sessions_dropped), static_cast<unsigned long long>(stats.sessions_lost),
      static_cast<unsigned long long>(stats.spans_ended), static_cast<unsigned long long>(stats.spans_dropped),
      static_cast<unsigned long long>(stats.spans_failed), static_cast<double>(warm) / (1 << 20),
      static_cast<double>(peak) / (1 << 20), static_cast<double>(rss.back()) / (1 << 20));
  EXPECT_LT(peak - std::min(peak, warm), std::size_t{128} << 20) << "memory kept growing";

  // Every session: ended, then stored by both sinks or counted.
  const std::uint64_t sessions = started.load();
  ASSERT_GT(sessions, 0u);
  EXPECT_EQ(stats.sessions_started, sessions);
  EXPECT_EQ(stats.sessions_ended, sessions);
  EXPECT_EQ(stats.sessions_pending, 0u);
  std::uint64_t files = 0;
  for (const auto& entry : fs::directory_iterator(json_dir)) files += entry.is_regular_file() ? 1 : 0;
  std::uint64_t rows = 0;
  {
    st::DuckDBTraceManager manager(db, {.read_only = true});
    rows = static_cast<std::uint64_t>(manager.query("SELECT count(*) FROM session_traces").rows.at(0).at(0).as_int());
  }
  // Each of the two sinks stores every session that was neither dropped before the sinks nor
  // lost by that sink.
  EXPECT_EQ(rows + files + 2 * stats.sessions_dropped + stats.sessions_lost, 2 * sessions)
      << "a session neither stored nor counted";

  // Every span: exported, or counted as dropped or failed; nothing left in the queue.
  EXPECT_GT(stats.spans_ended, 0u);
  EXPECT_EQ(stats.spans_queued, 0u);
  EXPECT_EQ(stats.spans_exported + stats.spans_dropped + stats.spans_failed, stats.spans_ended);
  EXPECT_EQ(receiver.span_count(), stats.spans_exported) << "the receiver decoded every span counted as exported";
}
