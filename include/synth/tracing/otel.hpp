// OpenTelemetry export: spans' OTLP encoding, exporters and the batching processor.
// Target synth::tracing_otel (libcurl, zlib). Spans themselves and W3C trace context: span.hpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/context.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/span.hpp"

namespace synth::tracing {

/// Attributes describing the producer (service.name, service.version, deployment.environment,
/// telemetry.sdk.*), and the instrumentation scope name and version.
struct OtlpResource {
  Value attributes = Value::object();
  std::string scope_name = "synth-tracing";
  std::string scope_version;
};

/// An ExportTraceServiceRequest in OTLP's binary protobuf encoding.
std::string encode_otlp_protobuf(std::span<const SpanData> spans, const OtlpResource& resource);
/// The same request in OTLP/JSON (hex ids, decimal-string 64-bit integers, integer enums).
std::string encode_otlp_json(std::span<const SpanData> spans, const OtlpResource& resource);
/// encode_otlp_protobuf() into `out`, replacing its contents and reusing its capacity (a buffer
/// kept from request to request is not fresh memory each time).
void encode_otlp_protobuf(std::span<const SpanData> spans, const OtlpResource& resource, std::string& out);
/// encode_otlp_json() into `out`, likewise.
void encode_otlp_json(std::span<const SpanData> spans, const OtlpResource& resource, std::string& out);

// ---- export ----

/// How an export went: every span accepted (`ExportResult::success`), every span refused
/// (`ExportResult::failure`), or accepted but for `rejected` of them (an OTLP partial success).
struct ExportResult {
  enum Status : std::uint8_t {
    success,
    /// Refused for good (a 400, another non-retryable status, retries exhausted, the export
    /// timeout passed, shut down): all the spans are dropped.
    failure,
  };
  ExportResult(Status result = success, std::size_t rejected_spans = 0) noexcept
      : status(result), rejected(rejected_spans) {}

  Status status;
  /// With `success`: how many of the spans the receiver refused all the same (counted failed).
  std::size_t rejected;

  friend bool operator==(const ExportResult&, const ExportResult&) = default;
};

/// Sends finished spans somewhere. export_spans() is called from one background thread at a
/// time; shutdown() may come from another thread while an export runs.
class SpanExporter {
 public:
  virtual ~SpanExporter() = default;
  virtual ExportResult export_spans(std::span<SpanData> spans) = 0;
  /// The processor's shutdown deadline passed: an export in progress should give up as soon
  /// as it can (returning failure), and later exports fail at once. Called at most once.
  virtual void shutdown() noexcept {}
  /// True when export_spans() may run on several threads at once (then BatchOptions'
  /// max_concurrent_exports applies). False by default: one export at a time.
  virtual bool concurrent_exports() const noexcept { return false; }
};

/// Counters of an OtlpHttpExporter.
struct OtlpExporterStats {
  std::uint64_t requests = 0;       ///< HTTP requests sent, retries included
  std::uint64_t retries = 0;        ///< of which retries (429/502/503/504, connection failures)
  std::uint64_t spans_sent = 0;     ///< spans accepted by the receiver
  std::uint64_t spans_rejected = 0; ///< spans refused (non-retryable status, retries exhausted, partial success)
};

/// Options of OtlpHttpExporter; TracingConfig's otel_* settings fill them for a tracer.
struct OtlpHttpOptions {
  /// The full URL spans are POSTed to, e.g. "http://localhost:4318/v1/traces".
  std::string endpoint;
  std::map<std::string, std::string> headers;
  bool json = false;  ///< OTLP/JSON instead of binary protobuf
  bool gzip = false;
  /// Bounds one whole export: every attempt and every wait between attempts. A retry that
  /// could not start before it passes is not attempted.
  std::chrono::milliseconds timeout{10000};
  /// Retries of a retryable failure, with exponential backoff and jitter between them
  /// (a Retry-After header takes precedence).
  int max_retries = 5;
  std::chrono::milliseconds initial_backoff{1000};
  std::chrono::milliseconds max_backoff{5000};
  OtlpResource resource;
  /// Connections opened by the constructor, on the constructing thread: one per export in
  /// flight, so set it to the processor's BatchOptions::max_concurrent_exports. (More exports at
  /// once than this open further connections on the export threads, where libcurl's and
  /// OpenSSL's set-up can race their teardown at process exit.) At least 1; 2, as BatchOptions.
  std::size_t connections = 2;
};

/// OTLP/HTTP exporter (libcurl, keep-alive). Retries exactly as the OTLP specification says:
/// 429, 502, 503, 504 and connection failures, honouring Retry-After; never a 400, another
/// status, or a partial success.
class OtlpHttpExporter : public SpanExporter {
 public:
  /// Throws Error when the endpoint is not an http(s) URL.
  explicit OtlpHttpExporter(OtlpHttpOptions options);
  ~OtlpHttpExporter() override;
  ExportResult export_spans(std::span<SpanData> spans) override;
  /// Cancels the request or wait in progress at once; later exports fail without a request.
  void shutdown() noexcept override;
  /// True: each export in progress has its own connection.
  bool concurrent_exports() const noexcept override;
  OtlpExporterStats stats() const;
  const OtlpHttpOptions& options() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Appends each export as one OTLP/JSON ExportTraceServiceRequest line to a file (offline use).
class OtlpFileExporter : public SpanExporter {
 public:
  /// Throws Error naming the file when it cannot be opened for appending.
  OtlpFileExporter(std::filesystem::path path, OtlpResource resource);
  ~OtlpFileExporter() override;
  ExportResult export_spans(std::span<SpanData> spans) override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Options of BatchSpanProcessor (TracingConfig's otel_max_queue_size, otel_max_export_batch_size,
/// otel_schedule_delay_ms, shutdown_timeout_ms).
struct BatchOptions {
  std::size_t max_queue_size = 2048;
  std::size_t max_export_batch_size = 512;
  std::chrono::milliseconds schedule_delay{5000};
  /// Batches in flight at once (each export on its own thread), so that the next batch is
  /// collected, encoded and sent while the receiver still works on the previous one. Applies only
  /// to an exporter whose concurrent_exports() is true (OtlpHttpExporter); 1 for the others.
  /// Above 1, batches may arrive out of order (OTLP receivers accept that). 2 by default: one
  /// more thread and connection than 1, for up to ~30 % more spans per second when the receiver
  /// is the bottleneck (BENCHMARKS.md, "OTLP export").
  std::size_t max_concurrent_exports = 2;
  /// How long destruction waits for what is queued to be exported.
  std::chrono::milliseconds shutdown_timeout{5000};
};

/// Batches finished spans for an exporter on a background thread. end() never blocks: a span
/// goes into a bounded lock-free queue or is dropped and counted. A batch is exported as soon as
/// `max_export_batch_size` spans are waiting; the rest goes on a `schedule_delay` timer, so no span
/// waits much longer than that. Nothing but the timer, a flush or the end sends a partial batch.
/// Safe to destroy from any thread, the export thread included (from inside export_spans()).
class BatchSpanProcessor {
 public:
  BatchSpanProcessor(std::unique_ptr<SpanExporter> exporter, BatchOptions options = {});
  /// shutdown(options.shutdown_timeout).
  ~BatchSpanProcessor();
  BatchSpanProcessor(const BatchSpanProcessor&) = delete;
  BatchSpanProcessor& operator=(const BatchSpanProcessor&) = delete;

  /// Queues a finished span; false (and counted dropped) when the queue is full or the
  /// processor is shut down.
  bool end(SpanData&& span) noexcept;
  /// Queues a span built later, on the export thread (PendingSpan::build); likewise false when
  /// it is dropped, which releases it at once.
  bool end(PendingSpanPtr&& span) noexcept;
  /// Exports everything queued before the call; false when `timeout` passed first.
  bool force_flush(std::chrono::milliseconds timeout = std::chrono::seconds(30));
  /// Stops taking spans and exports what is queued for up to `timeout`; then the export in
  /// progress is abandoned (SpanExporter::shutdown()) and the rest dropped, counted and
  /// reported. True when everything was exported in time. Only the first call does anything;
  /// later ones return its result. Called from the export thread (by an exporter destroying
  /// its processor), it only stops taking spans: the thread exports the rest and ends.
  bool shutdown(std::chrono::milliseconds timeout);
  BatchStats stats() const;
  SpanExporter& exporter() noexcept;

 private:
  struct Impl;
  // Shared with the export thread, which may outlive this object (see shutdown()).
  std::shared_ptr<Impl> impl_;
};

}  // namespace synth::tracing
