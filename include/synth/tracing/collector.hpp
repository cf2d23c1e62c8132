// CollectorSink: sends finished sessions to a running `synth-trace serve` (the local collector
// that owns the trace database), so that any number of processes can record into one database.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "synth/tracing/config.hpp"
#include "synth/tracing/sinks.hpp"

namespace synth::tracing {

/// Settings of a CollectorSink. TracingConfig's collector_* fields give the same from the
/// environment and config files (CollectorOptions::from_config).
struct CollectorOptions {
  /// The server's base URL, "http://127.0.0.1:4319" (the address `synth-trace serve` prints).
  std::string url;
  /// Sent as "Authorization: Bearer <token>" when the server was started with --token.
  std::string token;
  /// Where sessions go as JSON trace files when the server cannot take them (unreachable, or it
  /// refuses the whole request): nothing is lost, `synth-trace import <folder>` stores them later.
  std::filesystem::path fallback_dir = ".synth-tracing/unsent";
  /// A request carries up to this many sessions, or this many bytes of JSON (before gzip).
  std::size_t batch_sessions = 500;
  std::size_t batch_bytes = std::size_t{8} << 20;
  /// How long one batch is retried (connection failures, 429, 502, 503, 504; Retry-After is
  /// honoured) before it goes to fallback_dir. The shutdown deadline cuts it shorter.
  std::chrono::milliseconds retry_timeout{30000};
  /// Bounds one request, answer included (the server answers once the sessions are committed).
  std::chrono::milliseconds request_timeout{30000};
  /// Backoff between retries: doubles from initial_backoff up to max_backoff, with jitter.
  std::chrono::milliseconds initial_backoff{100};
  std::chrono::milliseconds max_backoff{5000};
  /// After a batch could not be delivered, later batches go straight to fallback_dir, and the
  /// server is tried again this often; once it answers, the files this sink left there are sent
  /// and removed.
  std::chrono::milliseconds probe_interval{2000};
  /// gzip request bodies.
  bool gzip = true;

  /// The options a TracingConfig gives (collector, collector_token, collector_fallback_dir,
  /// collector_batch_sessions, collector_timeout_ms), after TracingConfig::load().
  static CollectorOptions from_config(const TracingConfig& config);
};

/// Exact counts of a CollectorSink since it was made. Every session written ends up in exactly
/// one of sent, in_fallback (still in fallback_dir), rejected or lost, or is still batched.
struct CollectorStats {
  /// Acknowledged by the server (stored, or already stored: the server is idempotent on
  /// session_id), including those first written to fallback_dir and sent later.
  std::uint64_t sessions_sent = 0;
  /// Written to fallback_dir and not (yet) sent: `synth-trace import <fallback_dir>` stores them.
  std::uint64_t sessions_in_fallback = 0;
  /// Refused one by one by the server (its answer says why; reported). Counted in
  /// TracerStats::sessions_lost too.
  std::uint64_t sessions_rejected = 0;
  /// Could not even be written to fallback_dir (disk full). Counted in TracerStats::sessions_lost.
  std::uint64_t sessions_lost = 0;
  /// HTTP requests made, and how many of them were retries.
  std::uint64_t requests = 0;
  std::uint64_t retries = 0;
  /// Answers 503 (the server's ingest queue was full) or 429.
  std::uint64_t throttled = 0;
};

/// A SessionSink that sends finished sessions to `synth-trace serve` (POST /api/v1/sessions, NDJSON,
/// gzip, keep-alive), in batches: a batch is sent once it is full and whenever the tracer's queue
/// runs empty or is flushed, and acknowledged once the server has committed it (so a server killed
/// afterwards loses nothing). It runs on the tracer's background thread; the tracer's sink queue
/// (TracingConfig::sink_queue_capacity and overflow) bounds what waits for it. Failures are
/// retried with exponential backoff, honouring Retry-After; a batch the server cannot take in
/// CollectorOptions::retry_timeout, or by the tracer's shutdown deadline, is written to
/// CollectorOptions::fallback_dir as JSON trace files, and a warning names the folder and the
/// `synth-trace import` command that stores them. Sessions reach it after the tracer's outgoing
/// policy: PII and registered secrets are masked, long strings cut.
///
///     tracer.add_sink(std::make_shared<CollectorSink>(CollectorOptions{.url = "http://127.0.0.1:4319"}));
///
/// TracingConfig::collector (SYNTH_TRACING_COLLECTOR) makes the tracer add one by itself.
class CollectorSink : public SessionSink {
 public:
  /// Throws Error when the URL is not http:// or https://, or a batch bound is 0.
  explicit CollectorSink(CollectorOptions options);
  /// Sessions still batched (none after the tracer's shutdown or flush) go to fallback_dir.
  ~CollectorSink() override;
  CollectorSink(const CollectorSink&) = delete;
  CollectorSink& operator=(const CollectorSink&) = delete;

  /// Adds the session to the batch; sends the batch when it is full. Throws SessionsLost for
  /// sessions of that batch the server refused.
  void write(const SessionTrace& trace) override;
  /// Sends what is batched; returns once it is acknowledged or in fallback_dir. Throws
  /// SessionsLost as write().
  void flush() override;
  /// Retries stop in time for the deadline; what cannot be sent by then goes to fallback_dir.
  void shutdown_by(std::chrono::steady_clock::time_point deadline) noexcept override;

  /// The options it was made with.
  const CollectorOptions& options() const noexcept;
  /// Its counts so far (thread-safe).
  CollectorStats stats() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synth::tracing
