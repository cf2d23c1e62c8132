// Internal: the tracer's span export (synth::tracing_otel), the SpanProcessor the core calls.
#pragma once

#include <chrono>
#include <memory>

#include "synth/tracing/config.hpp"
#include "synth/tracing/otel.hpp"
#include "tracer/layers.hpp"

namespace synth::tracing::detail {

class OutgoingPolicy;

/// The spans of one tracer: sessions' and timesteps' built on the recording thread, scopes'
/// built on the export thread from their state (PendingSpan), all masked and priced on the
/// export thread and exported in batches.
class SpanPipeline final : public SpanProcessor {
 public:
  /// Null when spans are not wanted: mode v2 or disabled, or no endpoint configured.
  /// Throws Error for an endpoint that is neither http(s):// nor file://.
  static std::unique_ptr<SpanPipeline> from_config(const TracingConfig& config,
                                                   std::shared_ptr<const OutgoingPolicy> policy);

  SpanPipeline(std::unique_ptr<SpanExporter> exporter, const TracingConfig& config,
               std::shared_ptr<const OutgoingPolicy> policy);

  /// Queues a finished span; never blocks (a full queue drops it, counted).
  void end(SpanData&& span) noexcept override { processor_.end(std::move(span)); }
  /// Queues a span built on the export thread (before masking and pricing); likewise.
  void end(PendingSpanPtr&& span) noexcept override { processor_.end(std::move(span)); }
  /// Starts exporting what is queued now, without waiting for it.
  void export_soon() noexcept override;
  bool flush(std::chrono::milliseconds timeout) override { return processor_.force_flush(timeout); }
  /// Exports what is queued until `deadline`, then drops (and counts) the rest and stops;
  /// spans ended later are dropped. True when everything was exported.
  bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept override;
  BatchStats stats() const override { return processor_.stats(); }

 private:
  BatchSpanProcessor processor_;
};

}  // namespace synth::tracing::detail
