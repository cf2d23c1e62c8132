// Shared by the config harnesses: the environment variables TracingConfig::load reads, and one
// run of a config file's text through the file reader and the loader.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "config/config_file.hpp"
#include "fuzz_check.hpp"
#include "synth/tracing/error.hpp"

namespace synth::tracing::fuzz {

/// Every variable TracingConfig::load reads (SYNTH_TRACING_CONFIG_FILE aside: a harness never
/// lets the input name a file to read).
inline constexpr const char* kConfigVariables[] = {
    "SYNTH_TRACING_ENABLED", "SYNTH_TRACING_MODE", "SYNTH_TRACING_SAMPLING_RATE", "SYNTH_TRACING_MAX_PAYLOAD_BYTES",
    "SYNTH_TRACING_TRUNCATE_PAYLOADS", "SYNTH_TRACING_MASK_PII", "SYNTH_TRACING_PII_PATTERNS",
    "SYNTH_TRACING_TRACK_COSTS", "SYNTH_TRACING_PRICING_FILE", "SYNTH_TRACING_SAVE_DIR", "SYNTH_TRACING_DB_PATH",
    "SYNTH_TRACING_DB", "SYNTH_TRACING_MAX_FINISHED_SESSIONS", "SYNTH_TRACING_MAX_FINISHED_BYTES",
    "SYNTH_TRACING_SINK_QUEUE_CAPACITY", "SYNTH_TRACING_SERVICE_NAME", "OTEL_SERVICE_NAME",
    "SYNTH_TRACING_SERVICE_VERSION", "SYNTH_TRACING_DEPLOYMENT_ENVIRONMENT", "DEPLOYMENT_ENV",
    "SYNTH_TRACING_OTEL_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT",
    "SYNTH_TRACING_OTEL_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
    "SYNTH_TRACING_OTEL_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL",
    "SYNTH_TRACING_OTEL_TIMEOUT_MS", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
    "SYNTH_TRACING_OTEL_MAX_RETRIES", "SYNTH_TRACING_OTEL_GZIP", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
    "OTEL_EXPORTER_OTLP_COMPRESSION", "SYNTH_TRACING_OTEL_MAX_QUEUE_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE",
    "SYNTH_TRACING_OTEL_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    "SYNTH_TRACING_OTEL_SCHEDULE_DELAY_MS", "OTEL_BSP_SCHEDULE_DELAY", "SYNTH_TRACING_OTEL_FLUSH_ON_SESSION_END",
    "SYNTH_TRACING_OTEL_RESOURCE_ATTRIBUTES", "OTEL_RESOURCE_ATTRIBUTES", "SYNTH_TRACING_SHUTDOWN_TIMEOUT_MS",
};

/// Removes every variable the loader reads, and the config file variable.
inline void clear_config_environment() {
  for (const char* name : kConfigVariables) unsetenv(name);
  unsetenv("SYNTH_TRACING_CONFIG_FILE");
}

/// The input as the text of a config file in `format`. Promises: bad text or settings raise
/// synth::tracing::Error (nothing else) naming the file, or the field for a setting that fails
/// validation; a configuration that loads is valid.
inline void run_config_file(const std::uint8_t* data, std::size_t size, detail::ConfigFormat format) {
  static const bool cleared = (clear_config_environment(), true);
  (void)cleared;
  const std::string file_name = "fuzz-config-file";
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    const TracingConfig config = detail::apply_config(TracingConfig{}, detail::parse_config(text, format, file_name),
                                                      file_name);
    config.validate();
  } catch (const Error& e) {
    const std::string_view message = e.what();
    check(message.find(file_name) != std::string_view::npos || message.starts_with("TracingConfig: "),
          "a config error names the file (or the field that fails validation)");
  }
}

}  // namespace synth::tracing::fuzz
