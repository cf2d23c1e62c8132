#include "server/server.hpp"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <mutex>

#include "diagnostics.hpp"
#include "duckdb/access.hpp"
#include "server/forward.hpp"
#include "server/lock_file.hpp"
#include "server/routes.hpp"
#include "server/writer.hpp"
#include "worker_thread.hpp"

namespace synth::tracing::server {

namespace {

bool is_loopback(const std::string& host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

std::string sql_text(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::filesystem::path make_export_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "synth-trace-serve-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a temporary folder under " + pattern);
  return pattern;
}

ServerOptions checked(ServerOptions options) {
  // Before the database is opened: DuckDB's own refusal would not say which server holds it.
  if (const auto other = find_server(options.db)) {
    throw Error("a synth-trace serve (pid " + std::to_string(other->pid) + ", " + other->url + ") already owns '" +
                options.db.string() + "': send to it (synth-trace --server " + other->url +
                " ...), or stop it first");
  }
  if (!is_loopback(options.host) && options.token.empty()) {
    throw Error("serving on '" + options.host +
                "' lets other machines reach the traces: give a token (--token SECRET; clients send "
                "\"Authorization: Bearer SECRET\"), or serve on 127.0.0.1");
  }
  if (options.port < 0 || options.port > 65535) throw Error("--port " + std::to_string(options.port) + " is not a port");
  return options;
}

// Every route and setting of a listening server (the main one and the OTLP one).
void serve_routes(httplib::Server& http, ServerContext& ctx) {
  const ServerOptions& options = ctx.options;
  // Nagle + delayed ACK would stall small answers; each keep-alive connection holds a worker.
  http.set_tcp_nodelay(true);
  // SO_REUSEADDR only: httplib's default SO_REUSEPORT would let a second server bind the same
  // port (4318 above all) and take half of the connections.
  http.set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  http.new_task_queue = [n = options.http_threads] { return new httplib::ThreadPool(std::max<std::size_t>(n, 2)); };
  http.set_payload_max_length(options.max_body_bytes);
  http.set_keep_alive_max_count(1000);
  // An idle keep-alive connection (a browser keeps them) holds its worker, and stop(), until this
  // timeout: 1 s instead of httplib's 5 (clients reconnect at no cost on loopback).
  http.set_keep_alive_timeout(1);
  http.set_error_handler(httplib::Server::HandlerWithResponse([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
    if (res.status == 404) {
      send_error(req, res, 404, "no route " + req.method + " " + req.path + " (the API is under /api/v1/: see the README)");
    } else if (res.status == 413) {
      send_error(req, res, 413, "the body is too large (serve --max-body-bytes)");
    } else {
      send_error(req, res, res.status, "the request could not be served (HTTP " + std::to_string(res.status) + ")");
    }
    return httplib::Server::HandlerResponse::Handled;
  }));
  add_ingest_routes(http, ctx);
  add_otlp_routes(http, ctx);
  add_read_routes(http, ctx);
  add_stats_routes(http, ctx);
  add_export_routes(http, ctx);
  add_query_routes(http, ctx);
  add_ui_routes(http, ctx);
}

}  // namespace

struct Server::Parts {
  explicit Parts(ServerOptions o)
      : options(checked(std::move(o))),
        store(std::make_unique<DuckDBTraceManager>(options.db, DuckDBOptions{.threads = options.db_threads})),
        queue(options.queue_sessions, options.queue_bytes, options.queue_delay),
        export_dir(make_export_dir()),
        ctx{options, *store, queue, counters, "", export_dir} {}

  ServerOptions options;
  std::unique_ptr<DuckDBTraceManager> store;
  IngestQueue queue;
  IngestCounters counters;
  std::filesystem::path export_dir;
  ServerContext ctx;
  std::unique_ptr<OtlpForwarder> forwarder;  // serve --forward-otlp; before the writer, which feeds it
  std::unique_ptr<StoreWriter> writer;
  httplib::Server http;
  int port = 0;
  // The optional OTLP port: the same routes on a server of their own.
  std::unique_ptr<httplib::Server> otlp_http;
  int otlp_port = 0;
  std::string otlp_url;
  std::thread otlp_serving;
  std::unique_ptr<ServerLock> lock;
  std::thread serving;
  // Stores held GenAI log records whose span did not come in time.
  std::mutex releasing_mutex;
  std::condition_variable releasing_stop;
  bool releasing_done = false;
  std::thread releasing;
  std::optional<StopReport> stopped;
};

void configure_served_store(DuckDBTraceManager& store, const std::filesystem::path& export_dir) {
  // SQL of the query route reaches no file but the database (and the export folder).
  // A DuckDB checkpoint holds every commit back while it runs. Its vacuum merges the partly filled
  // row group a checkpoint left with the rows come since, rewriting rows written before (most of
  // a checkpoint under sustained ingest); without it a checkpoint writes what was committed since
  // the last (tables with keys, the sessions', still rewrite their last row group), so frequent
  // checkpoints are short (BENCHMARKS.md, "Checkpoints without vacuum"). Row groups whose rows
  // are all deleted are still dropped.
  detail::duck::StoreAccess::configure(store, {"SET allowed_directories = [" + sql_text(export_dir.string()) + "]",
                                               "SET enable_external_access = false", "SET max_vacuum_tasks = 0",
                                               std::string("SET checkpoint_threshold = '") + kServeCheckpointThreshold + "'",
                                               "SET lock_configuration = true"});
}

Server::Server(ServerOptions options) : parts_(std::make_unique<Parts>(std::move(options))) {
  Parts& p = *parts_;
  configure_served_store(*p.store, p.export_dir);
  std::function<void(const SessionTrace&)> on_stored;
  if (!p.options.forward_otlp.empty()) {
    p.forwarder = std::make_unique<OtlpForwarder>(p.options.forward_otlp);
    on_stored = [forwarder = p.forwarder.get()](const SessionTrace& trace) { forwarder->forward(trace); };
  }
  p.writer = std::make_unique<StoreWriter>(*p.store, p.queue, p.counters, p.options, std::move(on_stored),
                                           p.options.otlp_ack != ServerOptions::OtlpAck::queue ? p.ctx.pending_ids : nullptr,
                                           p.ctx.held_stats);
  // What a server killed earlier had acknowledged and held: waiting again, for what is left of its wait.
  if (const auto [spans, logs] = restore_pending(p.ctx); spans + logs > 0) {
    detail::report("synth-trace serve: " + std::to_string(spans) + " LLM call spans and " + std::to_string(logs) +
                   " GenAI log records left waiting in '" + p.options.db.string() + "' are waiting again");
    // With the holds off now, no release thread would store them: at once.
    if (p.options.log_hold.count() <= 0) {
      release_held_spans(p.ctx, true);
      release_held_logs(p.ctx, true);
    }
  }
  // What a server killed earlier had acknowledged from its journal and not committed: stored
  // again before any new request (what was stored meanwhile is left out as stored, journal.hpp).
  const std::filesystem::path journal = IngestJournal::folder_of(p.options.db);
  if (p.options.otlp_ack == ServerOptions::OtlpAck::journal || std::filesystem::exists(journal)) {
    p.ctx.journal = std::make_shared<IngestJournal>(journal);
    if (const std::size_t replayed = replay_journal(p.ctx); replayed > 0) {
      detail::report("synth-trace serve: " + std::to_string(replayed) + " requests acknowledged from '" +
                     journal.string() + "' and not committed are stored again");
    }
  }

  serve_routes(p.http, p.ctx);
  p.port = p.options.port == 0 ? p.http.bind_to_any_port(p.options.host)
                               : (p.http.bind_to_port(p.options.host, p.options.port) ? p.options.port : -1);
  if (p.port <= 0) {
    p.writer->stop(std::chrono::steady_clock::now() + p.options.shutdown_timeout);
    throw Error("cannot listen on " + p.options.host + ":" + std::to_string(p.options.port) +
                ": the port is in use or the address is not this machine's (choose another with --port, or --port 0)");
  }
  const std::string host = is_loopback(p.options.host) || p.options.host == "0.0.0.0" ? "127.0.0.1"
                           : p.options.host.find(':') != std::string::npos          ? "[" + p.options.host + "]"
                                                                                     : p.options.host;
  p.ctx.url = "http://" + host + ":" + std::to_string(p.port);
  install_guards(p.http, p.options, p.port);
  if (p.options.otlp_port > 0 && p.options.otlp_port != p.port) {
    p.otlp_http = std::make_unique<httplib::Server>();
    serve_routes(*p.otlp_http, p.ctx);
    if (p.otlp_http->bind_to_port(p.options.host, p.options.otlp_port)) {
      p.otlp_port = p.options.otlp_port;
      p.otlp_url = "http://" + host + ":" + std::to_string(p.otlp_port);
      install_guards(*p.otlp_http, p.options, p.otlp_port);
    } else {
      p.otlp_http.reset();
      if (p.options.otlp_port_required) {
        p.writer->stop(std::chrono::steady_clock::now() + p.options.shutdown_timeout);
        throw Error("cannot listen for OTLP on " + p.options.host + ":" + std::to_string(p.options.otlp_port) +
                    ": the port is in use (another collector?): choose another with --otlp-port, or --otlp-port 0 "
                    "to take OTLP on the main port only");
      }
    }
  }
  p.lock = std::make_unique<ServerLock>(p.options.db, p.ctx.url);
  if (p.options.log_hold.count() > 0) {
    p.releasing = std::thread([&p] {
      detail::name_this_thread("serve-held");
      // A record or span leaves at most this late after its due time.
      const auto shortest = p.options.span_hold.count() > 0 ? std::min(p.options.log_hold, p.options.span_hold)
                                                             : p.options.log_hold;
      const auto tick = std::clamp<std::chrono::milliseconds>(shortest / 4, std::chrono::milliseconds(10),
                                                              std::chrono::milliseconds(250));
      std::unique_lock lock(p.releasing_mutex);
      while (!p.releasing_stop.wait_for(lock, tick, [&p] { return p.releasing_done; })) {
        lock.unlock();
        try {
          release_held_spans(p.ctx, false);
          release_held_logs(p.ctx, false);
        } catch (...) {
          detail::report("synth-trace serve: storing held log records: " + detail::current_exception_text());
        }
        lock.lock();
      }
    });
  }
  // The accept loop makes its worker pool when it starts: the pool's threads inherit the name.
  p.serving = std::thread([&p] {
    detail::name_this_thread("serve-http");
    p.http.listen_after_bind();
  });
  // stop() is a no-op until the accept loop runs.
  while (!p.http.is_running()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  if (p.otlp_http) {
    p.otlp_serving = std::thread([&p] {
      detail::name_this_thread("serve-otlp");
      p.otlp_http->listen_after_bind();
    });
    while (!p.otlp_http->is_running()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }
}

Server::~Server() { stop(); }

const std::string& Server::url() const noexcept { return parts_->ctx.url; }
int Server::port() const noexcept { return parts_->port; }
int Server::otlp_port() const noexcept { return parts_->otlp_port; }
const std::string& Server::otlp_url() const noexcept { return parts_->otlp_url; }

StopReport Server::stop() {
  Parts& p = *parts_;
  if (p.stopped) return *p.stopped;
  p.http.stop();
  if (p.otlp_http) p.otlp_http->stop();
  if (p.serving.joinable()) p.serving.join();
  if (p.otlp_serving.joinable()) p.otlp_serving.join();  // requests in progress have finished
  if (p.releasing.joinable()) {
    {
      std::lock_guard lock(p.releasing_mutex);
      p.releasing_done = true;
    }
    p.releasing_stop.notify_all();
    p.releasing.join();
  }
  // Spans still waiting for their log records are stored (with those that came), then records
  // still waiting for their spans as messages, before the writer's last batch (a full queue
  // drains meanwhile), within the same bounded close.
  const auto deadline = std::chrono::steady_clock::now() + p.options.shutdown_timeout;
  try {
    while (!release_held_spans(p.ctx, true) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    while (!release_held_logs(p.ctx, true) && p.ctx.log_hold->size() > 0 &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  } catch (...) {
    detail::report("synth-trace serve: storing held log records: " + detail::current_exception_text());
  }
  if (const std::size_t spans = p.ctx.span_hold->take_due(std::chrono::steady_clock::time_point::max()).size(); spans > 0) {
    p.counters.otlp_spans_lost.fetch_add(spans, std::memory_order_relaxed);
    detail::report("synth-trace serve: " + std::to_string(spans) +
                   " LLM call spans waiting for their log records were not stored before the shutdown deadline; "
                   "they wait in '" + p.options.db.string() + "' for the next start");
  }
  if (const std::size_t left = p.ctx.log_hold->take_due(std::chrono::steady_clock::time_point::max()).size(); left > 0) {
    p.counters.otlp_logs_lost.fetch_add(left, std::memory_order_relaxed);
    detail::report("synth-trace serve: " + std::to_string(left) +
                   " held GenAI log records were not stored before the shutdown deadline; they wait in '" +
                   p.options.db.string() + "' for the next start");
  }
  StopReport report;
  report.finished = p.writer->stop(deadline);
  report.stored = p.counters.inserted + p.counters.replaced + p.counters.merged;
  report.lost = p.counters.lost;
  p.stopped = report;
  if (!report.finished) return report;  // the writer still holds the database: leave it open
  p.writer.reset();
  // Its folder goes (when nothing waits in it) while the lock file still keeps a next server out.
  p.ctx.journal.reset();
  if (p.forwarder) p.forwarder->stop(p.options.shutdown_timeout);
  p.store.reset();  // closed before the lock file goes: a CLI that finds no server can open it
  p.lock.reset();
  std::error_code ec;
  std::filesystem::remove_all(p.export_dir, ec);
  return report;
}

}  // namespace synth::tracing::server
