// `synth-trace serve`'s OTLP ingest, part of server_bench: target (e) of server_bench.cpp (end to
// end into the file under load, and the acknowledged-to-committed delay), and the handler's and
// the store's shares of one request alone (stable under callgrind).
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <filesystem>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <synth/tracing/duckdb.hpp>

#include "otlp_workload.hpp"
#include "scratch_database.hpp"
#include "server_bench.hpp"
#include "thread_use.hpp"
#include "duckdb/access.hpp"
#include "server/otlp_decode.hpp"
#include "server/otlp_map.hpp"
#include "server/server.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::Value;

namespace {

using synth_bench::client_of;
using synth_bench::remove_database;

// What health says of ingest: sessions accepted, and those the writer is done with (committed,
// or refused / lost), spans mapped, spans waiting in the span hold.
struct IngestCounts {
  std::int64_t accepted = -1;
  std::int64_t done = -1;
  std::int64_t otlp_spans = -1;
  std::int64_t waiting = -1;
  std::int64_t merged = 0;
  std::int64_t renamed = 0;
  std::int64_t throttled = 0;
  std::int64_t commits = 0;
  std::int64_t longest_commit_wait_ms = 0;
  bool all_committed() const { return accepted >= 0 && waiting == 0 && done >= accepted; }
};

IngestCounts ingest_counts(httplib::Client& client) {
  const auto r = client.Get("/api/v1/health");
  IngestCounts c;
  if (!r || r->status != 200) return c;
  const Value i = Value::parse(r->body)["ingest"];
  c.accepted = i["accepted"].as_int();
  c.done = i["inserted"].as_int() + i["replaced"].as_int() + i["merged"].as_int() + i["skipped"].as_int() +
           i["refused"].as_int() + i["lost"].as_int();
  c.otlp_spans = i["otlp_spans"].as_int();
  c.waiting = i["otlp_spans_waiting"].as_int();
  c.merged = i["merged"].as_int();
  c.renamed = i["otlp_sessions_renamed"].as_int();
  c.throttled = i["throttled_requests"].as_int();
  c.commits = i["commits"].as_int();
  c.longest_commit_wait_ms = i["longest_commit_wait_ms"].as_int();
  return c;
}

// (e) OTLP ingest (POST /v1/traces) end to end into the file: >= 100 k spans/s, readers querying
// meanwhile. Four clients (`clients:4`), each an SDK's BatchSpanProcessor exporting 512 spans per request with
// keep-alive, sessions of the client in progress 8 at a time (so a session's spans often come in
// two requests, which the writer merges). Shapes (otlp_workload.hpp): ours (session, timestep and
// event spans, synth.*; 1,000 sessions of 41 spans per client) or a foreign GenAI
// instrumentation's (agent turns of invoke_agent, 2 chat spans with messages, execute_tool, only
// the root naming the conversation; 2,000 conversations of 5 turns, 20 spans, per client);
// protobuf or OTLP/JSON; answered once committed (`ack:1`), once queued
// (`ack:0`, --otlp-ack queue) or once journaled (`ack:2`, serve's default); `group_ms`: serve's --commit-group-ms (0: off, 5: the
// default). `clients:12` sends the same spans from 12 clients (a third
// as many sessions each): answered after commit, each client waits for its commit before it
// sends on, so the rate there is set by how many requests share a commit (12 HTTP workers of
// serve's 16 are busy with them). Bodies are built before the clock starts. The time runs until health
// says every accepted session is committed; items = spans as the server counts them
// (health's otlp_spans). drain_ms: from the last acknowledgement to everything committed (the
// acknowledged-to-committed delay of the last request under load). writer_cpu_ms and
// writer_page_faults: those of the store's writer thread (serve-writer), which bounds the rate
// once the handlers are done; handler_cpu_ms: the HTTP threads' (serve-http: the requests,
// refused ones too, and the reader's lists); commits: the writer's (health's ingest.commits).
// `rounds:4` sends four times as many sessions (another client's ids each round), so that DuckDB's
// write-ahead log passes its checkpoint threshold while the clients send: a checkpoint holds
// every commit back, which longest_commit_wait_ms (health's: a session's longest wait from its
// queueing to its commit) shows. close_ms: the server's stop after the drain (its last
// checkpoint, the work deferred past the clock); wal_mb: the log's size before that stop.
void BM_OtlpIngest(benchmark::State& state) {
  const bool json = state.range(0) != 0;
  const auto shape = state.range(1) != 0 ? synth_bench::OtlpShape::foreign : synth_bench::OtlpShape::ours;
  // serve --otlp-ack queue, commit (the default) or journal
  const auto ack = std::array{st::server::ServerOptions::OtlpAck::queue, st::server::ServerOptions::OtlpAck::commit,
                              st::server::ServerOptions::OtlpAck::journal}
      .at(static_cast<std::size_t>(state.range(2)));
  const fs::path path = synth_bench::scratch_database("server_otlp.duckdb");
  const int kClients = static_cast<int>(state.range(3));
  const int sessions = (shape == synth_bench::OtlpShape::ours ? 1000 : 2000) * 4 / kClients;
  std::vector<synth_bench::OtlpClientBodies> clients;
  std::uint64_t sent_spans = 0;
  const int rounds = static_cast<int>(state.range(5));
  for (int c = 0; c < kClients; ++c) {
    clients.push_back(synth_bench::otlp_client_bodies(shape, json, c, sessions));
    for (int r = 1; r < rounds; ++r) {  // as many other sessions again, ids and names of another client
      synth_bench::OtlpClientBodies more = synth_bench::otlp_client_bodies(shape, json, c + kClients * r, sessions);
      clients.back().spans += more.spans;
      std::move(more.bodies.begin(), more.bodies.end(), std::back_inserter(clients.back().bodies));
    }
    sent_spans += clients.back().spans;
  }
  const char* type = json ? "application/json" : "application/x-protobuf";
  std::int64_t spans = 0;
  std::int64_t lists = 0;
  double drain_ms = 0;
  double writer_cpu_ms = 0;
  double handler_cpu_ms = 0;
  double writer_page_faults = 0;
  double close_ms = 0;
  double wal_mb = 0;
  IngestCounts last;
  for (auto _ : state) {
    state.PauseTiming();
    remove_database(path);
    std::chrono::steady_clock::time_point closing;
    std::string error;
    {
      st::server::ServerOptions options{.db = path, .port = 0};
      options.otlp_ack = ack;
      options.commit_group = std::chrono::milliseconds(state.range(4));
      st::server::Server server(options);
      std::atomic<bool> done{false};
      std::atomic<int> failures{0};
      std::mutex failure_mutex;
      std::string failure;  // the last failed request's status or client error
      state.ResumeTiming();
      std::vector<std::thread> senders;
      for (int c = 0; c < kClients; ++c) {
        senders.emplace_back([&, c] {
          auto client = client_of(server);
          for (const std::string& body : clients[static_cast<std::size_t>(c)].bodies) {
            for (;;) {
              const auto r = client->Post("/v1/traces", body, type);
              if (r && r->status == 200) break;
              if (!r || r->status != 503) {
                std::lock_guard lock(failure_mutex);
                failure = r ? "status " + std::to_string(r->status) : "client error " + httplib::to_string(r.error());
                failures.fetch_add(1);
                return;
              }
              std::this_thread::sleep_for(std::chrono::milliseconds(10));  // the queue is full: Retry-After
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
      const auto acked = std::chrono::steady_clock::now();
      auto client = client_of(server);
      for (;;) {  // polled every 10 ms, as BM_NativeIngest
        last = ingest_counts(*client);
        if (last.all_committed() || failures.load() > 0) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      drain_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - acked).count();
      const synth_bench::ThreadUse writer = synth_bench::thread_use("serve-writer");
      handler_cpu_ms += synth_bench::thread_use("serve-http").cpu_ms;
      writer_cpu_ms += writer.cpu_ms;
      writer_page_faults += writer.page_faults;
      state.PauseTiming();
      done = true;
      reader.join();
      if (failures.load() > 0) {
        error = "a client's request failed (neither 200 nor 503: " + failure + ")";
      } else if (last.otlp_spans != static_cast<std::int64_t>(sent_spans)) {
        error = "the server did not map every span";
      }
      spans += last.otlp_spans;
      std::error_code ec;
      const std::uintmax_t wal = fs::file_size(fs::path(path.string() + ".wal"), ec);
      if (!ec) wal_mb += static_cast<double>(wal) / 1e6;  // none: DuckDB checkpointed it away
      closing = std::chrono::steady_clock::now();
    }
    close_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - closing).count();
    // Google Benchmark aborts the process on ResumeTiming() after SkipWithError().
    if (!error.empty()) {
      state.SkipWithError(error.c_str());
      break;
    }
    state.ResumeTiming();
  }
  remove_database(path);
  state.SetLabel(std::string(json ? "json" : "protobuf") + "/" + (shape == synth_bench::OtlpShape::ours ? "ours" : "foreign") +
                 std::array{"/ack-queue", "/ack-commit", "/ack-journal"}.at(static_cast<std::size_t>(state.range(2))));
  state.SetItemsProcessed(spans);  // items = spans (health's otlp_spans)
  state.counters["lists_during_ingest"] = static_cast<double>(lists);
  state.counters["drain_ms"] = drain_ms / static_cast<double>(state.iterations());
  state.counters["writer_cpu_ms"] = writer_cpu_ms / static_cast<double>(state.iterations());
  state.counters["handler_cpu_ms"] = handler_cpu_ms / static_cast<double>(state.iterations());
  state.counters["writer_page_faults"] = writer_page_faults / static_cast<double>(state.iterations());
  state.counters["sessions_merged"] = static_cast<double>(last.merged);
  state.counters["sessions_renamed"] = static_cast<double>(last.renamed);
  state.counters["throttled"] = static_cast<double>(last.throttled);
  state.counters["commits"] = static_cast<double>(last.commits);
  state.counters["longest_commit_wait_ms"] = static_cast<double>(last.longest_commit_wait_ms);  // Iterations(1)
  state.counters["close_ms"] = close_ms / static_cast<double>(state.iterations());
  state.counters["wal_mb"] = wal_mb / static_cast<double>(state.iterations());
}
BENCHMARK(BM_OtlpIngest)
    ->ArgsProduct({{0, 1}, {0, 1}, {1, 2, 0}, {4}, {5}, {1}})
    ->Args({0, 0, 1, 12, 5, 1})
    ->Args({0, 1, 1, 12, 5, 1})
    ->ArgsProduct({{0}, {0, 1}, {1}, {4, 12}, {0}, {1}})
    ->Args({0, 0, 2, 4, 5, 8})
    ->Args({0, 1, 2, 4, 5, 4})
    ->ArgNames({"json", "foreign", "ack", "clients", "group_ms", "rounds"})
    ->Iterations(1)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

// (e'') The OTLP handler's own work on one request, without HTTP or the writer: the first body of
// BM_OtlpIngest's first client (512 spans) decoded and mapped to sessions, which are then freed
// (the writer frees them in the server). Stable under callgrind, where the whole ingest is too
// long; items = spans.
// One request's decoding and mapping; its own function so that callgrind counts it per call
// (bench/callgrind_per_call.py ... otlp_decode_and_map_once). Returns the spans decoded.
[[gnu::noinline]] std::size_t otlp_decode_and_map_once(const std::string& body, bool json) {
  st::server::OtlpTraces traces =
      json ? st::server::decode_otlp_traces_json(body) : st::server::decode_otlp_traces_protobuf(body);
  const std::size_t spans = traces.spans.size();
  st::server::OtlpMapped mapped =
      st::server::map_otlp_spans(std::move(traces), nullptr, st::server::TimestepCopies::left_out);  // as the server maps
  benchmark::DoNotOptimize(mapped.sessions.data());
  return spans;
}

void BM_OtlpDecodeAndMap(benchmark::State& state) {
  const bool json = state.range(0) != 0;
  const auto shape = state.range(1) != 0 ? synth_bench::OtlpShape::foreign : synth_bench::OtlpShape::ours;
  const std::string body = synth_bench::otlp_client_bodies(shape, json, 0, 40).bodies.at(0);
  std::size_t spans = 0;
  for (auto _ : state) spans = otlp_decode_and_map_once(body, json);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * spans));
  state.counters["spans_per_body"] = static_cast<double>(spans);
}
BENCHMARK(BM_OtlpDecodeAndMap)->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"json", "foreign"});

// (e'''') One POST /v1/traces as the server's handler thread does it: the body read, decoded,
// mapped, the log hold asked and the sessions queued (the writer stores them meanwhile); acked
// once queued. 40 bodies of 512 spans of one client, each sent once, on one connection: one
// handler thread. Under callgrind (--separate-threads=yes), its
// thread's file holds the 40 requests whole (instructions per request: its total / 40).
void BM_OtlpRouteRequest(benchmark::State& state) {
  const bool json = state.range(0) != 0;
  const auto shape = state.range(1) != 0 ? synth_bench::OtlpShape::foreign : synth_bench::OtlpShape::ours;
  // Enough sessions (20 spans a foreign one, 41 one of ours) for 40 bodies of 512 spans.
  const int sessions = shape == synth_bench::OtlpShape::foreign ? 1100 : 520;
  const std::vector<std::string> bodies = synth_bench::otlp_client_bodies(shape, json, 0, sessions).bodies;
  const fs::path path = synth_bench::scratch_database("server_otlp_route.duckdb");
  remove_database(path);
  std::size_t sent = 0;
  {
    st::server::ServerOptions options{.db = path, .port = 0};
    options.otlp_ack = st::server::ServerOptions::OtlpAck::queue;
    options.queue_delay = std::chrono::milliseconds(0);  // every request queued, however slow the writer (valgrind)
    st::server::Server server(options);
    auto client = client_of(server);
    for (auto _ : state) {
      const auto r = client->Post("/v1/traces", bodies[sent++], json ? "application/json" : "application/x-protobuf");
      if (!r || r->status != 200) {
        state.SkipWithError("a request failed");
        break;
      }
    }
  }
  remove_database(path);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * 512);  // items = spans (512 a body)
}
BENCHMARK(BM_OtlpRouteRequest)->ArgsProduct({{0, 1}, {0, 1}})->ArgNames({"json", "foreign"})->Iterations(40)->UseRealTime();

// (e''') The writer's store side of OTLP requests, without HTTP or the queue: the bodies of a client
// of 40 conversations (foreign: GenAI agents'; 2 requests of 512 spans, a conversation's parts merged
// across them), mapped as the server maps them, each request's sessions appended (merged) and committed. placed:1
// is the server's path (the timesteps' copies left out, the store told each item's timestep);
// placed:0 makes the copies and the store pairs them with the history by deep comparison (the
// server before wp-place15; any user's trace). Under callgrind: store_request_once per request.
struct MappedRequest {
  std::vector<st::SessionTrace> sessions;
  std::vector<st::server::SpanOrigins> origins;
};

[[gnu::noinline]] void store_request_once(st::DuckDBTraceManager& store, const MappedRequest& request) {
  for (std::size_t i = 0; i < request.sessions.size(); ++i) {
    const std::optional<st::detail::duck::ItemSteps> steps = st::server::item_steps(request.origins[i]);
    st::detail::duck::StoreAccess::batch_append(store, request.sessions[i], st::OnExistingSession::merge, nullptr,
                                                steps ? &*steps : nullptr);
  }
  st::detail::duck::StoreAccess::batch_commit(store);
}

void BM_OtlpStoreMapped(benchmark::State& state) {
  const bool placed = state.range(0) != 0;
  const auto bodies = synth_bench::otlp_client_bodies(synth_bench::OtlpShape::foreign, false, 0, 40).bodies;
  const fs::path path = synth_bench::scratch_database("server_otlp_store.duckdb");
  std::int64_t spans = 0;
  for (auto _ : state) {
    state.PauseTiming();
    remove_database(path);
    std::vector<MappedRequest> requests;
    st::server::TraceSessions memory;
    for (const std::string& body : bodies) {
      st::server::OtlpMapped m = st::server::map_otlp_spans(
          st::server::decode_otlp_traces_protobuf(body), &memory,
          placed ? st::server::TimestepCopies::left_out : st::server::TimestepCopies::made);
      spans += static_cast<std::int64_t>(m.spans);
      requests.push_back(MappedRequest{std::move(m.sessions), std::move(m.origins)});
    }
    {
      st::DuckDBTraceManager store(path);
      state.ResumeTiming();
      for (const MappedRequest& request : requests) store_request_once(store, request);
      state.PauseTiming();
    }
    state.ResumeTiming();
  }
  remove_database(path);
  state.SetItemsProcessed(spans);
}
BENCHMARK(BM_OtlpStoreMapped)->Arg(0)->Arg(1)->ArgName("placed")->Iterations(3)->Unit(benchmark::kMillisecond);

// (e') The acknowledged-to-committed delay of OTLP: one session's spans (41, ours) in one request
// while the server is idle; the time runs from the POST until health shows it committed (polled
// every 1 ms). ack_ms: the POST's answer; committed_after_ack_ms: the rest.
void BM_OtlpAcknowledgedToCommitted(benchmark::State& state) {
  const bool json = state.range(0) != 0;
  const fs::path path = synth_bench::scratch_database("server_otlp_commit.duckdb");
  remove_database(path);
  {
    st::server::Server server(st::server::ServerOptions{.db = path, .port = 0});
    auto client = client_of(server);
    auto health = client_of(server);
    std::vector<std::string> bodies;
    for (int i = 0; i < 2000; ++i) bodies.push_back(synth_bench::otlp_one_session_body("oc" + std::to_string(i), json));
    std::size_t n = 0;
    double ack_ms = 0, after_ms = 0;
    for (auto _ : state) {
      if (n == bodies.size()) {
        state.SkipWithError("more iterations than bodies prepared");
        break;
      }
      const auto start = std::chrono::steady_clock::now();
      const auto r = client->Post("/v1/traces", bodies[n++], json ? "application/json" : "application/x-protobuf");
      const auto acked = std::chrono::steady_clock::now();
      if (!r || r->status != 200) {
        state.SkipWithError("not accepted");
        break;
      }
      while (ingest_counts(*health).done < static_cast<std::int64_t>(n)) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      const auto committed = std::chrono::steady_clock::now();
      ack_ms += std::chrono::duration<double, std::milli>(acked - start).count();
      after_ms += std::chrono::duration<double, std::milli>(committed - acked).count();
    }
    state.SetLabel(json ? "json" : "protobuf");
    state.counters["ack_ms"] = ack_ms / static_cast<double>(std::max<std::size_t>(n, 1));
    state.counters["committed_after_ack_ms"] = after_ms / static_cast<double>(std::max<std::size_t>(n, 1));
  }
  remove_database(path);
}
BENCHMARK(BM_OtlpAcknowledgedToCommitted)->Arg(0)->Arg(1)->ArgName("json")->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
