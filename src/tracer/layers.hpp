// Internal: the seams between the core (synth::tracing_core) and the layers above it: the
// outgoing policy (synth::tracing_policy: PII detectors with RE2, pricing), OpenTelemetry export
// and the collector sink (synth::tracing_otel: libcurl, zlib) and config files
// (synth::tracing_config_files: YAML, TOML).
//
// Each layer's target defines its entry point (extern "C", at the end). The core refers to the
// entry points weakly (layers.cpp), so linking a layer's target is what wires it in: the target
// and its pkg-config file add `-Wl,--undefined=<entry point>`, so that the linker keeps the layer
// even though no code names it. A layer that is not linked leaves the core's own behaviour:
// registered secrets masked (no PII detectors), no pricing, no span export, JSON config files.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "config/config_file.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/sinks.hpp"
#include "synth/tracing/span.hpp"
#include "synth/tracing/tracer.hpp"

namespace synth::tracing::detail {

class OutgoingPolicy;

/// Masks text leaving the process: PII detectors, user patterns and registered secrets.
class TextMasker {
 public:
  virtual ~TextMasker() = default;
  /// True when `text` changed.
  virtual bool mask_in_place(std::string& text) const = 0;
  /// Every string of `value`, keys excepted.
  virtual void mask_in_place(Value& value) const = 0;
};

/// Prices LLM calls from their tokens.
class CallPricer {
 public:
  virtual ~CallPricer() = default;
  /// Cost in USD, or nullopt for an unknown model.
  virtual std::optional<double> cost(std::string_view model, const TokenUsage& usage) const = 0;
  /// The date the prices were checked ("YYYY-MM-DD").
  virtual const std::string& as_of() const noexcept = 0;
};

/// The tracer's span export: finished spans in, batches out on a background thread.
class SpanProcessor {
 public:
  virtual ~SpanProcessor() = default;
  /// Queues a finished span; never blocks (a full queue drops it, counted).
  virtual void end(SpanData&& span) noexcept = 0;
  /// Queues a span to be built on the export thread; likewise.
  virtual void end(PendingSpanPtr&& span) noexcept = 0;
  /// Starts exporting what is queued now, without waiting for it.
  virtual void export_soon() noexcept = 0;
  virtual bool flush(std::chrono::milliseconds timeout) = 0;
  /// Exports what is queued until `deadline`, then drops (and counts) the rest and stops.
  virtual bool shutdown(std::chrono::steady_clock::time_point deadline) noexcept = 0;
  virtual BatchStats stats() const = 0;
};

/// synth::tracing_policy.
struct PolicyLayer {
  /// The masker of a tracer with mask_pii on: the built-in detectors and `config.pii_patterns`.
  /// Throws Error for a pattern that does not compile.
  std::shared_ptr<const TextMasker> (*make_pii_masker)(const TracingConfig& config);
  /// The built-in price table, merged with `config.pricing_file` when set. Throws Error for a
  /// pricing file that cannot be read.
  std::shared_ptr<const CallPricer> (*make_pricer)(const TracingConfig& config);
  /// `text` without credentials: registered secrets and what the "api_key" detector finds.
  std::string (*redact_credentials)(std::string_view text);
};

/// synth::tracing_otel.
struct OtelLayer {
  /// Null when spans are not wanted (mode v2 or disabled, no endpoint, OTEL_SDK_DISABLED). Throws
  /// Error for an endpoint that is neither http(s):// nor file://.
  std::unique_ptr<SpanProcessor> (*make_span_processor)(const TracingConfig& config,
                                                        std::shared_ptr<const OutgoingPolicy> policy);
  /// The sink sending finished sessions to `config.collector`.
  std::shared_ptr<SessionSink> (*make_collector_sink)(const TracingConfig& config);
  /// Adds `sink`'s counters to `stats` when it is a collector sink; false for any other sink.
  bool (*add_collector_stats)(const SessionSink& sink, TracerStats& stats);
};

/// synth::tracing_config_files.
struct ConfigFilesLayer {
  /// parse_config for YAML and TOML (config_file.hpp).
  Value (*parse)(std::string_view text, ConfigFormat format, const std::string& file_name);
};

/// The linked layers; null for a layer whose target is not linked.
const PolicyLayer* policy_layer() noexcept;
const OtelLayer* otel_layer() noexcept;
const ConfigFilesLayer* config_files_layer() noexcept;

}  // namespace synth::tracing::detail

// The entry points, each defined by its layer's target.
extern "C" {
const synth::tracing::detail::PolicyLayer* synth_tracing_policy_layer() noexcept;
const synth::tracing::detail::OtelLayer* synth_tracing_otel_layer() noexcept;
const synth::tracing::detail::ConfigFilesLayer* synth_tracing_config_files_layer() noexcept;
}
