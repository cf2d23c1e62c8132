// The OTLP routes of `synth-trace serve` in-process on a free port of 127.0.0.1, with the real
// queue, writer and DuckDB file: for the tests that look at the server's parts after a request.
#pragma once

#include <httplib.h>

#include <memory>
#include <thread>

#include "http/client.hpp"
#include "server/routes.hpp"
#include "server/writer.hpp"
#include "support.hpp"

namespace synth_test {

namespace sv = synth::tracing::server;

// The routes on a free port of 127.0.0.1; the writer starts when asked (to be "behind").
struct Routes {
  explicit Routes(sv::ServerOptions o)
      : options(std::move(o)), store(options.db), queue(options.queue_sessions, options.queue_bytes), ctx{options, store, queue, counters, "", options.db.parent_path()} {
    // Answered once queued: these tests start the writer late, to have it "behind" (waiting for
    // the commit is serve_otlp_durable_test's).
    options.otlp_ack = sv::ServerOptions::OtlpAck::queue;
    sv::add_otlp_routes(http, ctx);
    sv::add_ingest_routes(http, ctx);
    port = http.bind_to_any_port("127.0.0.1");
    serving = std::thread([this] { http.listen_after_bind(); });
    while (!http.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Routes() {
    http.stop();
    serving.join();
    if (writer) writer->stop(std::chrono::steady_clock::now() + std::chrono::seconds(30));
  }
  void start_writer() { writer = std::make_unique<sv::StoreWriter>(store, queue, counters, options); }
  /// Waits until everything queued is committed (LLM calls waiting for their log records are
  /// queued first: no release thread runs here).
  void drain() {
    ASSERT_TRUE(sv::release_held_spans(ctx, true));
    ASSERT_TRUE(synth::tracing::testing::wait_until([&] {
      return queue.depth() == 0 && counters.inserted + counters.merged + counters.refused >= counters.accepted;
    }));
    writer->stop(std::chrono::steady_clock::now() + std::chrono::seconds(30));
    writer.reset();
  }
  httplib::Result post(const char* path, const std::string& body, const char* type, bool gzip = false,
                       const char* gzip_name = "gzip") {
    httplib::Client client("127.0.0.1", port);
    httplib::Headers headers;
    if (gzip) headers.emplace("Content-Encoding", gzip_name);
    return client.Post(path, headers, gzip ? synth::tracing::http::gzip_compress(body) : body, type);
  }

  sv::ServerOptions options;
  synth::tracing::DuckDBTraceManager store;
  sv::IngestQueue queue;
  sv::IngestCounters counters;
  sv::ServerContext ctx;
  httplib::Server http;
  int port = 0;
  std::thread serving;
  std::unique_ptr<sv::StoreWriter> writer;
};

}  // namespace synth_test
