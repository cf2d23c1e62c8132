// What the recording benchmarks share: the two tracers each of them runs with, sessions that end
// regularly, calibrated CPU work, and timing a traced call side by side with the same call
// untraced.
//
// Every recording benchmark runs twice:
//   .../bare           a tracer without sinks (TracingConfig{.max_finished_sessions = 0}): the
//                      recording path alone, as the benchmarks measured it before;
//   .../default_sinks  the default configuration (masking, truncation and pricing on, a queue of
//                      1024 sessions) with a DuckDBSink and a JsonFileSink (TracingConfig::save_dir)
//                      in a temporary folder: what users run. The sinks work during the
//                      measurement, on the tracer's background thread, competing with the agent,
//                      and the spill checkpoints active sessions on its own thread.
// and BM_RolloutStep also as
//   .../no_checkpoint  default_sinks with TracingConfig::checkpoint = false: what checkpointing
//                      costs the agent is the difference.
// and the scope microbenchmarks also as
//   .../sinks_kept_up  default_sinks, but at each session's end the benchmark waits, untimed,
//                      until at most one session is queued for the sinks. These loops end a
//                      session every ~0.1-0.3 ms, ten times faster than the sinks store one, so
//                      in .../default_sinks the backlog (and the fresh memory it holds) grows all
//                      run long, which no agent that the sinks keep up with pays; here the sinks
//                      still work on the other core while the agent records.
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <synth/tracing.hpp>

namespace synth_bench {

namespace st = synth::tracing;

enum class Setup { bare, default_sinks, no_checkpoint, sinks_kept_up };

/// Records (events, messages, timesteps) per session where a benchmark records single items: an
/// episode of 100 steps of 3 events, the size of the DuckDB benchmarks' realistic session.
inline constexpr std::int64_t kRecordsPerSession = 300;

/// The tracer of one benchmark run, in its Setup, with its own temporary folder for the sinks.
class BenchTracer {
 public:
  /// With an `otel_endpoint`, the tracer also exports spans there (TracingConfig::otel_endpoint,
  /// the rest of the span export in its default configuration).
  explicit BenchTracer(Setup setup, std::string otel_endpoint = {});
  /// Waits for the sinks to store every session (so that none of their work spills into the
  /// next benchmark), destroys the tracer, then removes the folder.
  ~BenchTracer();
  BenchTracer(const BenchTracer&) = delete;
  BenchTracer& operator=(const BenchTracer&) = delete;

  st::SessionTracer& tracer() noexcept { return *tracer_; }

  /// Sets the run's counters: `dropped_pct`, sessions the full sink queue dropped per session
  /// ended (the sinks could not keep up); `queued`, sessions waiting for the sinks when the
  /// measurement ended; `faults`, page faults the reporting thread took per iteration since the
  /// tracer was made; with span export, `spans_dropped_pct`, spans the full export queue dropped
  /// per span ended. Call after the timing loop; only thread 0 reports.
  void report(benchmark::State& state) const;
  /// Waits for the sinks to store the run's sessions, then sets `sink_cpu_us`: the CPU time the
  /// process spent on other threads than this one since the tracer was made (the tracer's sink
  /// thread, DuckDB's threads), per iteration. For runs of one thread, after report().
  void report_sink_cpu(benchmark::State& state);

 private:
  std::filesystem::path dir_;
  std::optional<st::SessionTracer> tracer_;
  std::chrono::nanoseconds process_cpu_at_start_{0};
  std::chrono::nanoseconds thread_cpu_at_start_{0};
  std::int64_t thread_faults_at_start_ = 0;
};

/// The BenchTracer of the current run, shared by its threads: the first thread to ask makes it,
/// the last to let go destroys it (after the loop, so its flush is never timed). Call before the
/// timing loop, whose start waits for every thread.
std::shared_ptr<BenchTracer> run_tracer(Setup setup);

/// Keeps a session (and, if asked, a timestep) of `tracer` open on this thread and ends it and
/// starts the next every kRecordsPerSession calls to next(). Inside the timed region: ending a
/// session (handing it to the sinks) is part of what the agent pays, amortized over its records.
/// With `keep_up` (Setup::sinks_kept_up), after ending a session it waits with the timing paused
/// until the sinks have at most one session queued.
class RotatingSession {
 public:
  RotatingSession(st::SessionTracer& tracer, bool with_timestep, benchmark::State* keep_up = nullptr);
  void next() {
    if (++count_ % kRecordsPerSession == 0) rotate();
  }

 private:
  void open();
  void rotate();
  void wait_for_sinks();

  st::SessionTracer& tracer_;
  const bool with_timestep_;
  benchmark::State* const keep_up_;
  std::int64_t count_ = 0;
  std::optional<st::SessionScope> session_;
  std::optional<st::TimestepScope> step_;
};

/// A 200-byte prompt with one email address in it (masked on the sink thread).
extern const std::string kPrompt;

/// A complete ai_call scope as an agent pays for it on its own thread (open, request with
/// kPrompt, usage, response, record) in the current session, then session.next(). Out of line,
/// so that callgrind counts its instructions per call (BENCHMARKS.md).
void ai_call_once(RotatingSession& session);

/// A fixed amount of CPU work: a busy loop of a set number of rounds, calibrated once per process
/// to take `duration` on an otherwise idle core. Unlike waiting for a deadline, it takes longer
/// when something else takes the core, as an agent's own computation does.
class BusyWork {
 public:
  explicit BusyWork(std::chrono::nanoseconds duration);
  void operator()() const noexcept;

 private:
  std::uint64_t rounds_;
};

/// CPU time this thread has used (CLOCK_THREAD_CPUTIME_ID: user and system time, page faults
/// included; time waiting for the core excluded).
std::chrono::nanoseconds thread_cpu_time() noexcept;
/// Page faults this thread has taken (minor ones: first touches of memory, ~15 us each here).
std::int64_t thread_page_faults() noexcept;

namespace detail {
/// Wall-clock time, CPU time and page faults of one side of run_paired().
struct PairedTotals {
  std::chrono::nanoseconds wall{0};
  std::chrono::nanoseconds cpu{0};
  std::int64_t page_faults = 0;
};
void report_paired(benchmark::State& state, const PairedTotals& plain, const PairedTotals& traced,
                   std::chrono::nanoseconds nominal);
}  // namespace detail

/// Runs `plain` and `traced` (the same work without and with tracing) once each per iteration,
/// in alternating order, and times each, so that the machine's load weighs on both alike. The
/// iteration's time is the traced one's wall-clock time (register with UseManualTime());
/// counters give the untraced time (`untraced_us`), what tracing adds (`tracing_ns`) and that as
/// a percentage of `nominal`, the work's intended duration (`tracing_pct`); and the same in this
/// thread's CPU time (`untraced_cpu_us`, `tracing_cpu_ns`, `tracing_cpu_pct`), which time spent
/// waiting for a core on a loaded machine does not blur, and the page faults tracing adds on this
/// thread (`tracing_faults`).
template <class Plain, class Traced>
void run_paired(benchmark::State& state, Plain&& plain, Traced&& traced, std::chrono::nanoseconds nominal) {
  using clock = std::chrono::steady_clock;
  detail::PairedTotals plain_totals;
  detail::PairedTotals traced_totals;
  bool plain_first = true;
  for (auto _ : state) {
    clock::duration traced_wall{0};
    for (int half = 0; half < 2; ++half) {
      const bool run_plain = (half == 0) == plain_first;
      const std::int64_t faults_start = thread_page_faults();
      const auto cpu_start = thread_cpu_time();
      const auto start = clock::now();
      if (run_plain) {
        plain();
      } else {
        traced();
      }
      const auto wall = clock::now() - start;
      const auto cpu = thread_cpu_time() - cpu_start;
      detail::PairedTotals& totals = run_plain ? plain_totals : traced_totals;
      totals.wall += std::chrono::duration_cast<std::chrono::nanoseconds>(wall);
      totals.cpu += cpu;
      totals.page_faults += thread_page_faults() - faults_start;
      if (!run_plain) traced_wall = wall;
    }
    plain_first = !plain_first;
    state.SetIterationTime(std::chrono::duration<double>(traced_wall).count());
  }
  detail::report_paired(state, plain_totals, traced_totals, nominal);
}

}  // namespace synth_bench
