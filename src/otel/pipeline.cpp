// The tracer's span export (synth::tracing_otel): spans the core builds are masked and priced on
// the export thread, then exported in batches over OTLP/HTTP or to a file.
#include "otel/pipeline.hpp"

#include <algorithm>

#include "diagnostics.hpp"
#include "synth/tracing/version.hpp"
#include "tracer/outgoing.hpp"

namespace synth::tracing::detail {

namespace {

// Masks and prices spans on the export thread, then hands them to the real exporter.
class PolicyExporter : public SpanExporter {
 public:
  PolicyExporter(std::unique_ptr<SpanExporter> next, std::shared_ptr<const OutgoingPolicy> policy)
      : next_(std::move(next)), policy_(std::move(policy)) {}

  ExportResult export_spans(std::span<SpanData> spans) override {
    if (policy_) {
      for (SpanData& span : spans) policy_->apply(span);
    }
    return next_->export_spans(spans);
  }
  void shutdown() noexcept override { next_->shutdown(); }
  bool concurrent_exports() const noexcept override { return next_->concurrent_exports(); }

 private:
  std::unique_ptr<SpanExporter> next_;
  std::shared_ptr<const OutgoingPolicy> policy_;
};

OtlpResource resource_of(const TracingConfig& config) {
  OtlpResource r;
  for (const auto& [key, value] : *config.otel_resource_attributes) r.attributes.set(key, value);
  r.attributes.set("service.name", *config.service_name);
  r.attributes.set("service.version", *config.service_version);
  r.attributes.set("deployment.environment", *config.deployment_environment);
  r.attributes.set("telemetry.sdk.name", "synth-tracing");
  r.attributes.set("telemetry.sdk.language", "cpp");
  r.attributes.set("telemetry.sdk.version", kVersion);
  r.scope_name = "synth-tracing";
  r.scope_version = kVersion;
  return r;
}

}  // namespace

std::unique_ptr<SpanPipeline> SpanPipeline::from_config(const TracingConfig& config,
                                                        std::shared_ptr<const OutgoingPolicy> policy) {
  if (!config.enabled || (*config.mode != TracingMode::dual && *config.mode != TracingMode::otel)) return nullptr;
  const std::string& endpoint = *config.otel_endpoint;
  if (endpoint.empty()) return nullptr;
  std::unique_ptr<SpanExporter> exporter;
  if (endpoint.starts_with("file://")) {
    exporter = std::make_unique<OtlpFileExporter>(endpoint.substr(7), resource_of(config));
  } else {
    OtlpHttpOptions options;
    options.endpoint = endpoint;
    options.headers = *config.otel_headers;
    options.json = *config.otel_protocol == OtlpProtocol::http_json;
    options.gzip = *config.otel_gzip;
    options.timeout = std::chrono::milliseconds(*config.otel_timeout_ms);
    options.max_retries = static_cast<int>(std::min<std::size_t>(*config.otel_max_retries, 1000));
    options.resource = resource_of(config);
    options.connections = *config.otel_max_concurrent_exports;
    exporter = std::make_unique<OtlpHttpExporter>(std::move(options));
  }
  return std::make_unique<SpanPipeline>(std::move(exporter), config, std::move(policy));
}

SpanPipeline::SpanPipeline(std::unique_ptr<SpanExporter> exporter, const TracingConfig& config,
                           std::shared_ptr<const OutgoingPolicy> policy)
    : processor_(std::make_unique<PolicyExporter>(std::move(exporter), std::move(policy)),
                 BatchOptions{.max_queue_size = *config.otel_max_queue_size,
                              .max_export_batch_size = *config.otel_max_export_batch_size,
                              .schedule_delay = std::chrono::milliseconds(*config.otel_schedule_delay_ms),
                              .max_concurrent_exports = *config.otel_max_concurrent_exports,
                              .shutdown_timeout = std::chrono::milliseconds(*config.shutdown_timeout_ms)}) {}

bool SpanPipeline::shutdown(std::chrono::steady_clock::time_point deadline) noexcept {
  try {
    return processor_.shutdown(std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()),
                                        std::chrono::milliseconds(0)));
  } catch (...) {
    report("span export could not shut down: " + current_exception_text());
    return false;
  }
}

void SpanPipeline::export_soon() noexcept {
  try {
    processor_.force_flush(std::chrono::milliseconds(0));
  } catch (...) {
    // Only a failing mutex could get here; the timer exports the spans anyway.
  }
}

}  // namespace synth::tracing::detail
