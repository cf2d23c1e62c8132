// `synth-trace serve` (issue 12): an in-process Server on 127.0.0.1, a file database, real HTTP.
// Targets (this 2-core machine):
//   (a) native ingest (POST /api/v1/sessions, NDJSON) end to end into the file: >= 100 k events/s,
//       with a reader listing sessions meanwhile; acknowledged-to-committed delay < 1 s;
//   (b) the sessions list, first page, 100 k sessions stored: <= 50 ms;
//   (c) one session's events page (100 events): <= 20 ms;
//   (d) a 10 k-event session's full event list: <= 100 ms;
//   (e) OTLP ingest (POST /v1/traces, protobuf and JSON) end to end into the file: >= 100 k
//       spans/s, with a reader meanwhile; acknowledged-to-committed delay < 1 s.
// Times of (b)-(d) are wall times of the whole request seen by a keep-alive client.
// (a) is here; (b)-(d) in server_read_bench.cpp, (e) in server_otlp_bench.cpp, the store writer
// alone in server_writer_bench.cpp (one executable: they run in this order).
//
// Run (medians over repetitions):
//   server_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
// The 100 k-session database of (b)-(d) is built once into /tmp/synth_server_bench_100k.duckdb and
// reused by later runs (delete the file to rebuild it).
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <synth/tracing/collector.hpp>
#include <synth/tracing/duckdb.hpp>

#include "otlp_workload.hpp"
#include "scratch_database.hpp"
#include "server_bench.hpp"
#include "server/server.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::Value;

namespace {

using synth_bench::client_of;
using synth_bench::remove_database;
using synth_bench::server_bench_session;

std::int64_t inserted(httplib::Client& client) {
  const auto r = client.Get("/api/v1/health");
  return r && r->status == 200 ? Value::parse(r->body)["ingest"]["inserted"].as_int() : -1;
}

// (a) Two client threads POST NDJSON batches of 20 sessions x 10 timesteps (600 events) without
// waiting for their commit; a third lists sessions every 50 ms meanwhile. The time runs until the
// server has committed every session (health's inserted count), so it is end to end into the file.
// `journal:1`: answered once written to the ingest journal (serve's default); `journal:0`: once
// queued (--otlp-ack queue).
void BM_NativeIngest(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("server_ingest.duckdb");
  constexpr int kBatches = 100;  // per client
  constexpr int kSessionsPerBatch = 20;
  constexpr int kSteps = 10;
  std::vector<std::string> bodies(2 * kBatches);
  for (int b = 0; b < 2 * kBatches; ++b) {
    for (int i = 0; i < kSessionsPerBatch; ++i) {
      bodies[static_cast<std::size_t>(b)] += server_bench_session("b" + std::to_string(b) + "-" + std::to_string(i), kSteps, i).to_json() + "\n";
    }
  }
  std::int64_t events = 0;
  std::int64_t lists = 0;
  std::int64_t commits = 0;
  for (auto _ : state) {
    state.PauseTiming();
    remove_database(path);
    {
      st::server::ServerOptions options{.db = path, .port = 0};
      if (state.range(0) == 0) options.otlp_ack = st::server::ServerOptions::OtlpAck::queue;
      st::server::Server server(options);
      const std::int64_t expected = 2 * kBatches * kSessionsPerBatch;
      std::atomic<bool> done{false};
      state.ResumeTiming();
      std::vector<std::thread> senders;
      for (int c = 0; c < 2; ++c) {
        senders.emplace_back([&, c] {
          auto client = client_of(server);
          for (int b = c; b < 2 * kBatches; b += 2) {
            for (;;) {
              const auto r = client->Post("/api/v1/sessions", bodies[static_cast<std::size_t>(b)], "application/x-ndjson");
              if (r && r->status == 200) break;
              if (!r || r->status != 503) return;  // 503: the queue is full, send it again
            }
          }
        });
      }
      std::thread reader([&] {
        auto client = client_of(server);
        while (!done.load()) {  // a viewer refreshing its list 20 times a second
          if (client->Get("/api/v1/sessions?limit=50")) ++lists;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      });
      for (auto& t : senders) t.join();
      auto client = client_of(server);
      // Polled every 10 ms: health is a query, and polling every 1 ms took a fifth of the CPU.
      while (inserted(*client) < expected) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      state.PauseTiming();
      done = true;
      reader.join();
      events += expected * kSteps * 3;
      if (const auto health = client->Get("/api/v1/health")) commits += Value::parse(health->body)["ingest"]["commits"].as_int();
    }
    state.ResumeTiming();
  }
  remove_database(path);
  state.SetItemsProcessed(events);  // items = events
  state.counters["lists_during_ingest"] = static_cast<double>(lists);
  state.counters["commits"] = static_cast<double>(commits);
}
BENCHMARK(BM_NativeIngest)->ArgName("journal")->Arg(1)->Arg(0)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// (a'') The same sessions through the library's collector sink, as a traced process sends them:
// two sinks (two processes' worth) write 2,000 sessions each (600 events per 20) and flush; the
// sink batches them (500 per request), gzips NDJSON and posts with ?wait=commit, so flush returns
// once every session is committed in the file. A reader lists sessions every 50 ms meanwhile.
void BM_CollectorSinkIngest(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("server_collector.duckdb");
  constexpr int kSessionsPerSink = 2000;
  constexpr int kSteps = 10;
  std::vector<std::vector<st::SessionTrace>> traces(2);
  for (int c = 0; c < 2; ++c) {
    for (int i = 0; i < kSessionsPerSink; ++i) {
      traces[static_cast<std::size_t>(c)].push_back(server_bench_session("k" + std::to_string(c) + "-" + std::to_string(i), kSteps, i));
    }
  }
  std::int64_t events = 0;
  std::int64_t lists = 0;
  std::atomic<std::uint64_t> retries{0};
  for (auto _ : state) {
    state.PauseTiming();
    remove_database(path);
    const char* error = nullptr;
    {
      st::server::Server server(st::server::ServerOptions{.db = path, .port = 0});
      std::atomic<bool> done{false};
      std::atomic<int> failures{0};
      state.ResumeTiming();
      std::vector<std::thread> senders;
      for (int c = 0; c < 2; ++c) {
        senders.emplace_back([&, c] {
          st::CollectorSink sink(st::CollectorOptions{.url = server.url(), .fallback_dir = path.string() + ".unsent"});
          try {
            for (const st::SessionTrace& t : traces[static_cast<std::size_t>(c)]) sink.write(t);
            sink.flush();
          } catch (...) {
            failures.fetch_add(1);
          }
          const st::CollectorStats s = sink.stats();
          if (s.sessions_sent != kSessionsPerSink) failures.fetch_add(1);
          retries += s.retries;
        });
      }
      std::thread reader([&] {
        auto client = client_of(server);
        while (!done.load()) {
          if (client->Get("/api/v1/sessions?limit=50")) ++lists;
          std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
      });
      for (auto& t : senders) t.join();
      state.PauseTiming();
      done = true;
      reader.join();
      if (failures.load() > 0) error = "the collector sink did not deliver every session";
      events += 2 * kSessionsPerSink * kSteps * 3;
    }
    // Google Benchmark aborts the process on ResumeTiming() after SkipWithError().
    if (error != nullptr) {
      state.SkipWithError(error);
      break;
    }
    state.ResumeTiming();
  }
  remove_database(path);
  std::error_code ec;
  fs::remove_all(path.string() + ".unsent", ec);
  state.SetItemsProcessed(events);  // items = events
  state.counters["lists_during_ingest"] = static_cast<double>(lists);
  state.counters["retries"] = static_cast<double>(retries.load());
}
BENCHMARK(BM_CollectorSinkIngest)->Iterations(1)->Unit(benchmark::kMillisecond)->UseRealTime();

// (a') The acknowledged-to-committed delay of one session posted while the server is idle:
// POST ... ?wait=commit answers once its commit is done.
void BM_AcknowledgedToCommitted(benchmark::State& state) {
  const fs::path path = synth_bench::scratch_database("server_commit.duckdb");
  remove_database(path);
  {
    st::server::Server server(st::server::ServerOptions{.db = path, .port = 0});
    auto client = client_of(server);
    std::int64_t n = 0;
    for (auto _ : state) {
      const auto r = client->Post("/api/v1/sessions?wait=commit", server_bench_session("c" + std::to_string(n++), 10, n).to_json(),
                                  "application/json");
      if (!r || r->status != 200) state.SkipWithError("not stored");
    }
  }
  remove_database(path);
}
BENCHMARK(BM_AcknowledgedToCommitted)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
