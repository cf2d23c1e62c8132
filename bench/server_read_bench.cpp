// `synth-trace serve`'s reads, part of server_bench: targets (b)-(d) of server_bench.cpp, wall
// times of the whole request seen by a keep-alive client.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <synth/tracing/duckdb.hpp>

#include "server_bench.hpp"
#include "server/server.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;

namespace {

using synth_bench::client_of;
using synth_bench::server_bench_session;

// (b)-(d) share one file of 100 k sessions (3 timesteps each) and one of 10 k events.
constexpr int kListSessions = 100'000;
// SYNTH_SERVER_BENCH_DB names another file (benchmarks run side by side cannot share one).
const fs::path kListDb = std::getenv("SYNTH_SERVER_BENCH_DB") != nullptr
                             ? fs::path(std::getenv("SYNTH_SERVER_BENCH_DB"))
                             : fs::temp_directory_path() / "synth_server_bench_100k.duckdb";

void build_list_database() {
  if (fs::exists(kListDb)) return;
  st::DuckDBTraceManager db(kListDb);
  std::vector<st::SessionTrace> batch;
  for (int i = 0; i < kListSessions; ++i) {
    batch.push_back(server_bench_session("s-" + std::to_string(i), 3, i));
    if (batch.size() == 5000) {
      db.insert_traces(batch, 5000);
      batch.clear();
    }
  }
  db.insert_trace(server_bench_session("big", 3334, 1));  // 10,002 events
}

struct ListServer {
  ListServer() {
    build_list_database();
    server = std::make_unique<st::server::Server>(st::server::ServerOptions{.db = kListDb, .port = 0, .max_page = 20000});
    client = client_of(*server);
  }
  std::unique_ptr<st::server::Server> server;
  std::unique_ptr<httplib::Client> client;
};

ListServer& list_server() {
  static ListServer s;
  return s;
}

void get_benchmark(benchmark::State& state, const std::string& path) {
  httplib::Client& client = *list_server().client;
  std::size_t bytes = 0;
  for (auto _ : state) {
    const auto r = client.Get(path);
    if (!r || r->status != 200) {
      state.SkipWithError(("GET " + path + " failed").c_str());
      break;
    }
    bytes = r->body.size();
  }
  state.counters["answer_KB"] = static_cast<double>(bytes) / 1e3;
}

void BM_SessionsFirstPage(benchmark::State& state) { get_benchmark(state, "/api/v1/sessions?limit=50"); }
void BM_SessionsFirstPageByReward(benchmark::State& state) { get_benchmark(state, "/api/v1/sessions?limit=50&sort=reward"); }
void BM_SessionsFiltered(benchmark::State& state) {
  get_benchmark(state, "/api/v1/sessions?limit=50&filter=" +
                           httplib::detail::encode_query_param("reward > 0.5 and model == \"gpt-4o\" and errors == 0"));
}
void BM_SessionEventsPage(benchmark::State& state) { get_benchmark(state, "/api/v1/sessions/s-54321/events?limit=100"); }
void BM_OneSession(benchmark::State& state) { get_benchmark(state, "/api/v1/sessions/s-54321"); }
void BM_TenThousandEvents(benchmark::State& state) { get_benchmark(state, "/api/v1/sessions/big/events?limit=20000"); }
BENCHMARK(BM_SessionsFirstPage)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SessionsFirstPageByReward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SessionsFiltered)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_OneSession)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SessionEventsPage)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_TenThousandEvents)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
