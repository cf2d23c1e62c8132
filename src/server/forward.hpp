// Internal: `serve --forward-otlp URL`: every session the server stores is also exported as OTLP
// spans to a further collector, through the library's batch processor and OTLP/HTTP exporter
// (their retries, Retry-After and counts).
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "synth/tracing/model.hpp"
#include "synth/tracing/otel.hpp"

namespace synth::tracing::server {

class OtlpForwarder {
 public:
  /// `url`: the OTLP/HTTP traces endpoint ("http://collector:4318/v1/traces"); a URL with no
  /// path gets /v1/traces. Throws Error when it is not an http(s) URL.
  explicit OtlpForwarder(std::string url);
  /// stop() with a 5 s deadline.
  ~OtlpForwarder();
  OtlpForwarder(const OtlpForwarder&) = delete;
  OtlpForwarder& operator=(const OtlpForwarder&) = delete;

  /// Queues the session's spans (as the session export shapes them); never blocks or throws:
  /// spans that do not fit the queue are dropped and counted.
  void forward(const SessionTrace& trace) noexcept;
  /// Exports what is queued for up to `timeout`; true when everything went.
  bool stop(std::chrono::milliseconds timeout);
  const std::string& endpoint() const noexcept { return endpoint_; }
  BatchStats stats() const;

 private:
  std::string endpoint_;
  std::unique_ptr<BatchSpanProcessor> processor_;
};

}  // namespace synth::tracing::server
