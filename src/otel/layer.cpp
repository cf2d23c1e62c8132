// synth::tracing_otel's entry point (tracer/layers.hpp): the tracer's span export and the
// collector sink.
#include <memory>

#include "otel/pipeline.hpp"
#include "synth/tracing/collector.hpp"
#include "tracer/layers.hpp"

namespace synth::tracing::detail {
namespace {

std::unique_ptr<SpanProcessor> make_span_processor(const TracingConfig& config,
                                                   std::shared_ptr<const OutgoingPolicy> policy) {
  return SpanPipeline::from_config(config, std::move(policy));
}

std::shared_ptr<SessionSink> make_collector_sink(const TracingConfig& config) {
  return std::make_shared<CollectorSink>(CollectorOptions::from_config(config));
}

bool add_collector_stats(const SessionSink& sink, TracerStats& stats) {
  const auto* collector = dynamic_cast<const CollectorSink*>(&sink);
  if (collector == nullptr) return false;
  const CollectorStats c = collector->stats();
  stats.collector_sessions_sent += c.sessions_sent;
  stats.collector_sessions_in_fallback += c.sessions_in_fallback;
  stats.collector_retries += c.retries;
  stats.collector_throttled += c.throttled;
  return true;
}

}  // namespace
}  // namespace synth::tracing::detail

extern "C" const synth::tracing::detail::OtelLayer* synth_tracing_otel_layer() noexcept {
  static const synth::tracing::detail::OtelLayer layer{
      .make_span_processor = synth::tracing::detail::make_span_processor,
      .make_collector_sink = synth::tracing::detail::make_collector_sink,
      .add_collector_stats = synth::tracing::detail::add_collector_stats,
  };
  return &layer;
}
