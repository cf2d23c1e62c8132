#include "bench_support.hpp"

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include <synth/tracing/duckdb.hpp>

namespace synth_bench {

namespace fs = std::filesystem;

namespace {
std::chrono::nanoseconds cpu_time(clockid_t clock) noexcept {
  timespec now{};
  ::clock_gettime(clock, &now);
  return std::chrono::seconds(now.tv_sec) + std::chrono::nanoseconds(now.tv_nsec);
}

fs::path new_temporary_folder() {
  static std::atomic<int> next{0};
  return fs::temp_directory_path() /
         ("synth_bench_" + std::to_string(::getpid()) + "_" + std::to_string(next.fetch_add(1)));
}
}  // namespace

BenchTracer::BenchTracer(Setup setup, std::string otel_endpoint) : dir_(new_temporary_folder()) {
  if (setup == Setup::bare) {
    tracer_.emplace(st::TracingConfig{.max_finished_sessions = 0, .otel_endpoint = std::move(otel_endpoint)});
  } else {
    // As the README tells users: save_dir adds the JSON file sink, db_path names the database.
    fs::create_directories(dir_);
    st::TracingConfig config{
        .save_dir = dir_ / "json", .db_path = dir_ / "traces.duckdb", .otel_endpoint = std::move(otel_endpoint)};
    config.spill_dir = dir_ / "spill";
    if (setup == Setup::no_checkpoint) config.checkpoint = false;
    tracer_.emplace(std::move(config));
    tracer_->add_sink(st::DuckDBSink::from_config(tracer_->config()));
  }
  process_cpu_at_start_ = cpu_time(CLOCK_PROCESS_CPUTIME_ID);
  thread_cpu_at_start_ = thread_cpu_time();
  thread_faults_at_start_ = thread_page_faults();
}

BenchTracer::~BenchTracer() {
  // Let the sinks store everything first: destroying the tracer at once would leave a busy sink
  // working in the background into the next benchmark (and drop what is still queued).
  tracer_->flush(std::chrono::minutes(5));
  tracer_.reset();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void BenchTracer::report(benchmark::State& state) const {
  if (state.thread_index() != 0) return;
  const st::TracerStats stats = tracer_->stats();
  const double ended = static_cast<double>(std::max<std::uint64_t>(stats.sessions_ended, 1));
  state.counters["dropped_pct"] = 100.0 * static_cast<double>(stats.sessions_dropped) / ended;
  state.counters["queued"] = static_cast<double>(stats.sessions_pending);
  state.counters["faults"] = benchmark::Counter(static_cast<double>(thread_page_faults() - thread_faults_at_start_),
                                                benchmark::Counter::kAvgIterations);
  if (stats.spans_ended != 0) {
    state.counters["spans_dropped_pct"] =
        100.0 * static_cast<double>(stats.spans_dropped) / static_cast<double>(stats.spans_ended);
  }
}

void BenchTracer::report_sink_cpu(benchmark::State& state) {
  if (!tracer_->flush(std::chrono::minutes(5))) {
    state.SkipWithError("the sinks did not finish within 5 minutes");
    return;
  }
  const auto elsewhere =
      (cpu_time(CLOCK_PROCESS_CPUTIME_ID) - process_cpu_at_start_) - (thread_cpu_time() - thread_cpu_at_start_);
  state.counters["sink_cpu_us"] = benchmark::Counter(
      std::chrono::duration<double, std::micro>(elsewhere).count(), benchmark::Counter::kAvgIterations);
}

std::shared_ptr<BenchTracer> run_tracer(Setup setup) {
  static std::mutex mutex;
  static std::weak_ptr<BenchTracer> current[4];
  std::lock_guard lock(mutex);
  std::weak_ptr<BenchTracer>& slot = current[static_cast<int>(setup)];
  if (auto existing = slot.lock()) return existing;
  auto made = std::make_shared<BenchTracer>(setup);
  slot = made;
  return made;
}

RotatingSession::RotatingSession(st::SessionTracer& tracer, bool with_timestep, benchmark::State* keep_up)
    : tracer_(tracer), with_timestep_(with_timestep), keep_up_(keep_up) {
  open();
}

void RotatingSession::open() {
  session_.emplace(tracer_.start_session());
  if (with_timestep_) step_.emplace(tracer_.timestep(0));
}

void RotatingSession::rotate() {
  step_.reset();
  session_.reset();
  if (keep_up_ != nullptr) wait_for_sinks();
  open();
}

void RotatingSession::wait_for_sinks() {
  constexpr std::uint64_t kQueued = 1;
  if (tracer_.stats().sessions_pending <= kQueued) return;
  keep_up_->PauseTiming();
  while (tracer_.stats().sessions_pending > kQueued) std::this_thread::sleep_for(std::chrono::microseconds(200));
  keep_up_->ResumeTiming();
}

const std::string kPrompt =
    "You are at (2, 3) in a 6x6 grid. The treasure is at (5, 5). Walls block north and west. "
    "Reply to ops-team@example.com with JSON {\"action\": north|south|west|east} and a short reason ok";

void ai_call_once(RotatingSession& session) {
  {
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent"});
    call.request({{"prompt", kPrompt}}).usage({.prompt_tokens = 60, .completion_tokens = 12}).response({{"content", "north"}});
  }
  session.next();
}

namespace {
std::uint64_t spin(std::uint64_t rounds) noexcept {
  std::uint64_t x = rounds;
  for (std::uint64_t i = 0; i < rounds; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    asm volatile("" : "+r"(x));  // one multiply-add per round, never folded
  }
  return x;
}

// The fastest of several timed runs: the speed of a core nobody else uses.
double nanoseconds_per_round() {
  static const double value = [] {
    constexpr std::uint64_t kRounds = 100'000;
    double best = std::numeric_limits<double>::infinity();
    for (int trial = 0; trial < 30; ++trial) {
      const auto start = std::chrono::steady_clock::now();
      benchmark::DoNotOptimize(spin(kRounds));
      const std::chrono::duration<double, std::nano> took = std::chrono::steady_clock::now() - start;
      best = std::min(best, took.count() / static_cast<double>(kRounds));
    }
    return best;
  }();
  return value;
}
}  // namespace

BusyWork::BusyWork(std::chrono::nanoseconds duration)
    : rounds_(static_cast<std::uint64_t>(static_cast<double>(duration.count()) / nanoseconds_per_round())) {}

void BusyWork::operator()() const noexcept { benchmark::DoNotOptimize(spin(rounds_)); }

std::chrono::nanoseconds thread_cpu_time() noexcept { return cpu_time(CLOCK_THREAD_CPUTIME_ID); }

std::int64_t thread_page_faults() noexcept {
  rusage usage{};
  ::getrusage(RUSAGE_THREAD, &usage);
  return usage.ru_minflt + usage.ru_majflt;
}

namespace detail {
void report_paired(benchmark::State& state, const PairedTotals& plain, const PairedTotals& traced,
                   std::chrono::nanoseconds nominal) {
  using benchmark::Counter;
  const auto per_iteration = [](std::chrono::nanoseconds total, double scale) {
    return Counter(static_cast<double>(total.count()) * scale, Counter::kAvgIterations);
  };
  const double percent_of_nominal = 100.0 / static_cast<double>(nominal.count());
  state.counters["untraced_us"] = per_iteration(plain.wall, 1e-3);
  state.counters["tracing_ns"] = per_iteration(traced.wall - plain.wall, 1.0);
  state.counters["tracing_pct"] = per_iteration(traced.wall - plain.wall, percent_of_nominal);
  state.counters["untraced_cpu_us"] = per_iteration(plain.cpu, 1e-3);
  state.counters["tracing_cpu_ns"] = per_iteration(traced.cpu - plain.cpu, 1.0);
  state.counters["tracing_cpu_pct"] = per_iteration(traced.cpu - plain.cpu, percent_of_nominal);
  state.counters["tracing_faults"] =
      Counter(static_cast<double>(traced.page_faults - plain.page_faults), Counter::kAvgIterations);
}
}  // namespace detail

}  // namespace synth_bench
