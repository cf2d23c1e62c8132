// Internal: the settings of `synth-trace serve`, every limit among them.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace synth::tracing::server {

struct ServerOptions {
  /// The DuckDB file the server owns (created or migrated when opened).
  std::filesystem::path db = "traces.duckdb";
  /// The address to listen on. Anything but a loopback address needs a token.
  std::string host = "127.0.0.1";
  /// 0 picks a free port.
  int port = 4319;
  /// A second port on `host` that answers the same routes, so that OpenTelemetry SDKs left at
  /// their default endpoint (http://localhost:4318) reach the server; 0: none.
  int otlp_port = 0;
  /// When the OTLP port is taken: false goes on without it (a note on stderr), true fails.
  bool otlp_port_required = false;
  /// When set, every /api/ and /v1/ request must carry "Authorization: Bearer <token>".
  std::string token;
  /// Host header names accepted besides localhost, 127.0.0.1 and [::1] (with our port).
  std::vector<std::string> allowed_hosts;

  /// The largest request body, after gzip decompression (413 beyond).
  std::size_t max_body_bytes = std::size_t{64} << 20;
  /// The ingest queue: sessions waiting for the writer, and their JSON size together (503 with
  /// Retry-After when a request does not fit).
  std::size_t queue_sessions = 10000;
  std::size_t queue_bytes = std::size_t{512} << 20;
  /// And in time: what the writer would not store within this long, at the pace it has kept
  /// lately, after what it took last and is still storing, is refused the same way (an empty
  /// queue takes any request). A request acknowledged before its commit (--otlp-ack journal or
  /// queue, POST /api/v1/sessions without wait=commit) is then committed within about this long
  /// after, however fast clients send; under a second with its own batch's commit, DuckDB's
  /// checkpoints included (BENCHMARKS.md, "Checkpoints without vacuum"). 0: no bound in time.
  std::chrono::milliseconds queue_delay{250};
  /// The writer commits every this many sessions, or once the first uncommitted one waited
  /// commit_interval, and whenever the queue runs empty.
  std::size_t commit_sessions = 1000;
  std::chrono::milliseconds commit_interval{1000};
  /// When the writer is busy (items came while its last commit ran, or that commit
  /// answered several requests, and it ended less than this long ago), it keeps taking queued
  /// items up to this long before committing, so that clients each waiting for their commit
  /// share one (a commit costs about the same for one request as for several); it commits
  /// sooner once the batch answers as many requests as the last. A request to an idle writer is
  /// committed at once. 0: off.
  std::chrono::milliseconds commit_group{5};
  /// Read-only SQL (POST /api/v1/query): rows returned at most, and time allowed.
  std::size_t query_max_rows = 10000;
  std::chrono::milliseconds query_timeout{10000};
  /// The most rows one page of a list route returns.
  std::size_t max_page = 1000;
  /// What an event's payloads may take together (as JSON): beyond, the largest are returned cut
  /// (an equal share each), named in cut_payloads.
  std::size_t max_event_bytes = std::size_t{8} << 20;
  /// How long stopping may take: what the writer has not stored by then is counted lost.
  std::chrono::milliseconds shutdown_timeout{30000};
  /// When set, the viewer's files are read from this folder at each request (development: the
  /// output of web/build.mjs) instead of the copy built into the binary.
  std::filesystem::path ui_dir;
  /// HTTP worker threads (each keep-alive connection holds one while it is open).
  std::size_t http_threads = 16;
  /// DuckDB's worker threads for the database; 0: one per core. Each request and the writer
  /// already run on threads of their own: with workers too, a query on 2 busy cores waits for
  /// a descheduled worker (BENCHMARKS.md, issue 12: reads twice as fast with 1).
  std::size_t db_threads = 1;
  /// GenAI log records (prompt and completion content) whose span has not arrived yet are held
  /// for it up to log_hold, to join its LLM call event; then, or when the hold is full (records
  /// or bytes), or at shutdown, they are stored as messages of their trace's session. 0: none held.
  std::chrono::milliseconds log_hold{60000};
  std::size_t log_hold_bytes = std::size_t{64} << 20;
  std::size_t log_hold_records = 100000;
  /// An LLM call span with no content of its own, whose log records have not come, waits this
  /// long for them (an SDK may send them just after the spans); at most span_hold_spans wait.
  /// 0: none waits.
  std::chrono::milliseconds span_hold{500};
  std::size_t span_hold_spans = 10000;
  /// When OTLP requests (/v1/traces, /v1/logs) are answered, and sessions posted without
  /// ?wait=commit with on_existing skip (with commit, those are answered once queued).
  enum class OtlpAck : std::uint8_t {
    /// Once what they brought is committed (held spans and records included, in otlp_pending),
    /// so a server killed afterwards loses none of it; each request waits for a commit.
    commit,
    /// Once written to the ingest journal beside the database and synced (server/journal.hpp):
    /// a server killed before the commit stores them at its next start. The writer commits in
    /// large batches, as with `queue`, and what it refuses is not reported to the client.
    journal,
    /// Once queued: a kill loses what was not committed yet (at most about queue_delay of work).
    queue,
  };
  OtlpAck otlp_ack = OtlpAck::journal;
  /// With commit or journal, spans of a trace that has not named its session yet (a GenAI agent's
  /// calls, exported before the invoke_agent span naming the conversation) are kept in
  /// otlp_pending up to this long for the span naming it, then stored under their trace id.
  std::chrono::milliseconds otlp_part_wait{10000};
  /// When set, every stored session is also exported as OTLP spans to this OTLP/HTTP traces
  /// endpoint (a further collector: an OpenTelemetry Collector, Jaeger, Tempo, ...).
  std::string forward_otlp;
};

}  // namespace synth::tracing::server
