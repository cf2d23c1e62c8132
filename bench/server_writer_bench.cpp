// (e'''') serve's store writer alone, draining a full queue: what bounds OTLP ingest once the
// handlers are done (BM_OtlpIngest's drain_ms). Part of server_bench.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <synth/tracing/duckdb.hpp>

#include "otlp_workload.hpp"
#include "scratch_database.hpp"
#include "server/held_stats.hpp"
#include "server/http.hpp"
#include "server/routes.hpp"
#include "server/server.hpp"
#include "server/writer.hpp"
#include "thread_use.hpp"

namespace {

namespace sv = synth::tracing::server;

// BM_OtlpIngest's protobuf bodies (4 clients, `conversations` each; foreign or ours), all mapped by
// the OTLP routes (real HTTP, answered once queued, the bodies of the clients taken in turns)
// before the writer starts; then one StoreWriter, as serve's, commits them. The time and the
// counters are the writer's alone (items = spans; writer_cpu_ms and writer_page_faults: its
// thread's; commits). The queue never runs empty before the end, so the batches are the same from
// run to run: under callgrind (--separate-threads=yes) the serve-writer thread's instructions compare two
// builds (`conversations:500`, a quarter of the spans, keeps that run short). `commit_sessions`:
// serve's --commit-sessions; 60 makes commits of about three requests' spans (~1,600 of ours),
// as serve's commit mode gets from four clients each waiting for its commit, so that the two
// sizes give the writer's cost per commit (ours only: a foreign conversation's unnamed parts are
// parked by commit mode's routes, and without them small batches store them under their trace id
// and move them, which serve does not). Merged sessions' aggregates are held between folds as
// in serve; a fold comes at least once a second, so under valgrind at nearly every commit.
void BM_OtlpWriterDrain(benchmark::State& state) {
  const auto shape = state.range(0) != 0 ? synth_bench::OtlpShape::foreign : synth_bench::OtlpShape::ours;
  const int conversations = static_cast<int>(state.range(1));
  const auto commit_sessions = static_cast<std::size_t>(state.range(2));
  std::vector<std::vector<std::string>> clients;
  std::size_t longest = 0;
  for (int c = 0; c < 4; ++c) {
    clients.push_back(synth_bench::otlp_client_bodies(shape, false, c, conversations).bodies);
    longest = std::max(longest, clients.back().size());
  }
  const std::filesystem::path path = synth_bench::scratch_database("server_writer_drain.duckdb");
  std::int64_t spans = 0;
  double writer_cpu_ms = 0;
  double writer_page_faults = 0;
  double commits = 0;
  for (auto _ : state) {
    state.PauseTiming();
    synth_bench::remove_database(path);
    std::string error;
    {
      sv::ServerOptions options{.db = path, .port = 0};
      options.otlp_ack = sv::ServerOptions::OtlpAck::queue;
      options.queue_sessions = 1'000'000;  // all of it queued before the writer starts
      options.queue_bytes = std::size_t{16} << 30;
      // Batches of commit_sessions only (and the last), as natively, however slow the run (valgrind).
      options.commit_interval = std::chrono::hours(1);
      options.commit_sessions = commit_sessions;
      // As serve opens it: DuckDB's work on the calling thread (the writer's), no workers.
      synth::tracing::DuckDBTraceManager store(path, synth::tracing::DuckDBOptions{.threads = options.db_threads});
      // Not an empty file: DuckDB moves a first commit's rows into an empty table whole, and
      // copies (and logs) the rows of every later one.
      store.insert_trace(synth_bench::bench_session("preloaded", 3, 0, synth::tracing::Timestamp(std::chrono::seconds(1'735'000'000))));
      sv::IngestQueue queue(options.queue_sessions, options.queue_bytes);
      sv::IngestCounters counters;
      sv::ServerContext ctx{options, store, queue, counters, "", path.parent_path()};
      httplib::Server http;
      sv::add_otlp_routes(http, ctx);
      const int port = http.bind_to_any_port("127.0.0.1");
      std::thread serving([&] { http.listen_after_bind(); });
      while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      {
        httplib::Client client("127.0.0.1", port);
        client.set_keep_alive(true);
        client.set_read_timeout(std::chrono::seconds(600));
        client.set_write_timeout(std::chrono::seconds(600));
        for (std::size_t i = 0; i < longest && error.empty(); ++i) {
          for (const auto& bodies : clients) {
            if (i >= bodies.size()) continue;
            const auto r = client.Post("/v1/traces", bodies[i], "application/x-protobuf");
            if (!r || r->status != 200) error = "a request was not queued";
          }
        }
      }
      http.stop();
      serving.join();
      if (error.empty() && !sv::release_held_spans(ctx, true)) error = "the held spans could not be queued";
      if (error.empty()) {
        state.ResumeTiming();
        // Merged sessions' aggregates held between folds, as serve's writer does.
        sv::StoreWriter writer(store, queue, counters, options, {}, nullptr, std::make_shared<sv::HeldStats>());
        const auto done = [&] {
          return counters.inserted + counters.replaced + counters.merged + counters.skipped + counters.refused +
                     counters.lost >=
                 counters.accepted;
        };
        while (queue.depth() > 0 || !done()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
        const synth_bench::ThreadUse used = synth_bench::thread_use("serve-writer");  // before it ends
        state.PauseTiming();
        writer_cpu_ms += used.cpu_ms;
        writer_page_faults += used.page_faults;
        writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(600));
        if (counters.lost + counters.refused > 0) error = "sessions were not stored";
        spans += static_cast<std::int64_t>(counters.otlp_spans.load());
        commits += static_cast<double>(counters.commits.load());
      }
    }
    if (!error.empty()) {
      state.SkipWithError(error.c_str());  // Google Benchmark aborts on ResumeTiming() after it
      break;
    }
    state.ResumeTiming();
  }
  synth_bench::remove_database(path);
  state.SetItemsProcessed(spans);
  state.counters["writer_cpu_ms"] = writer_cpu_ms / static_cast<double>(state.iterations());
  state.counters["writer_page_faults"] = writer_page_faults / static_cast<double>(state.iterations());
  state.counters["commits"] = commits / static_cast<double>(state.iterations());
}
BENCHMARK(BM_OtlpWriterDrain)
    ->ArgsProduct({{1, 0}, {2000, 500}, {1000}})
    ->Args({0, 500, 60})
    ->ArgNames({"foreign", "conversations", "commit_sessions"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// A session of two timesteps with an LLM call each, the `n`th of a run.
synth::tracing::SessionTrace small_session(const std::string& id, int n) {
  namespace st = synth::tracing;
  st::SessionTrace t;
  t.session_id = id;
  t.created_at = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 20000) + std::chrono::seconds(n);
  for (int s = 0; s < 2; ++s) {
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.timestamp = t.created_at + std::chrono::milliseconds(100 * s);
    st::CAISEvent call{.time_record = st::TimeRecord{step.timestamp, s},
                       .system_instance_id = "agent",
                       .model_name = n % 2 == 0 ? "gpt-4o-mini" : "claude-3-5-haiku",
                       .provider = "openai",
                       .prompt_tokens = 100 + n % 50,
                       .completion_tokens = 20,
                       .total_tokens = 120 + n % 50,
                       .cost = 0.001,
                       .latency_ms = 200.0};
    step.events = {call};
    t.event_history.push_back(call);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

// The database serve owns (configure_served_store), filled with many small sessions in commits of
// 1,000, as serve's writer commits them. Its checkpoints come every 32 MiB of log, without
// vacuum; the tables with keys (session_traces, session_stats) still rewrite their last row group
// (up to 122,880 rows) at each one, so their cost grows with the sessions stored until a row group
// fills. Counters: the longest commit (one with a checkpoint), the median, the file's size.
// `served:0` opens the file as the library does (256 MB, vacuum) for comparison.
void BM_ServedStoreCheckpoints(benchmark::State& state) {
  const bool served = state.range(0) != 0;
  const int sessions = static_cast<int>(state.range(1));
  constexpr int kBatch = 1000;
  const std::filesystem::path path = synth_bench::scratch_database("served_checkpoints.duckdb");
  std::vector<double> commit_ms;
  double file_mb = 0;
  for (auto _ : state) {
    state.PauseTiming();
    synth_bench::remove_database(path);
    commit_ms.clear();
    {
      synth::tracing::DuckDBTraceManager store(path);
      if (served) sv::configure_served_store(store, path.parent_path());
      for (int first = 0; first < sessions; first += kBatch) {
        std::vector<synth::tracing::SessionTrace> batch;
        for (int n = first; n < first + kBatch; ++n) batch.push_back(small_session("s" + std::to_string(n), n));
        state.ResumeTiming();
        const auto start = std::chrono::steady_clock::now();
        store.insert_traces(batch, kBatch);
        commit_ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
        state.PauseTiming();
      }
    }
    file_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    state.ResumeTiming();
  }
  synth_bench::remove_database(path);
  std::sort(commit_ms.begin(), commit_ms.end());
  state.SetItemsProcessed(static_cast<std::int64_t>(sessions) * state.iterations());
  state.counters["longest_commit_ms"] = commit_ms.back();
  state.counters["median_commit_ms"] = commit_ms[commit_ms.size() / 2];
  state.counters["file_mb"] = file_mb;
}
BENCHMARK(BM_ServedStoreCheckpoints)
    ->ArgsProduct({{1, 0}, {300000}})
    ->ArgNames({"served", "sessions"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
