#include "synth/tracing/config.hpp"


#include <charconv>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "config/config_file.hpp"
#include "config/config_values.hpp"
#include "diagnostics.hpp"
#include "environment.hpp"
#include "file_io.hpp"
#include "http/url.hpp"
#include "tracer/layers.hpp"
#include "synth/tracing/error.hpp"
#include "text.hpp"

namespace synth::tracing {

namespace {

using detail::ascii_lower;
using detail::env_text;
using detail::env_value;
using detail::for_each_listed;
using detail::BadValue;
using detail::from_value;
using detail::parse_text;
using detail::trim_blanks;


// Reports `message` the first time this process sees it (configuration is loaded per tracer).
void warn_once(const std::string& message) {
  static auto* mutex = new std::mutex;  // never destroyed: a tracer may be made during exit
  static auto* seen = new std::set<std::string>;
  {
    std::lock_guard lock(*mutex);
    if (!seen->insert(message).second) return;
  }
  detail::report(message);
}

// Variables of the OpenTelemetry specification, often set for other SDKs in the same
// environment: a value we cannot use is warned about and ignored, never an error.
bool is_standard(std::string_view variable) { return variable.starts_with("OTEL_"); }

// A standard variable's value that parses but cannot be used: what is expected instead, or "".
template <class T>
std::string unusable(std::string_view field, const T& value) {
  if constexpr (std::is_same_v<T, std::size_t>) {
    if (value == 0) return "a positive integer";
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (field == "otel_endpoint" && !value.starts_with("http://") && !value.starts_with("https://") &&
        !value.starts_with("file://")) {
      return "an http:// or https:// URL (OTLP/HTTP)";
    }
    if (field == "service_name" && trim_blanks(value).empty()) return "a name";
  }
  return {};
}

// Fills one field not set in code: environment variables (first usable one wins), then the file.
struct Loader {
  const Value& file;
  const std::string& file_name;
  std::vector<std::string> known;
  // Fields filled from a standard (OTEL_*) variable.
  std::set<std::string> from_standard;

  template <class T>
  void field(const char* name, Setting<T>& setting, std::initializer_list<const char*> env_names = {},
             const std::function<std::string(std::string_view)>& env_adjust = {}) {
    known.emplace_back(name);
    if (setting.is_set()) return;
    std::string variable = "SYNTH_TRACING_" + std::string(name);
    for (char& c : variable) c = static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    std::vector<std::string> names{variable};
    for (const char* n : env_names) names.emplace_back(n);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (const char* raw = env_value(names[i].c_str())) {
        T value{};
        std::string expected;
        try {
          // A standard variable may need adapting (OTEL_EXPORTER_OTLP_ENDPOINT is a base URL).
          parse_text(i > 0 && env_adjust ? env_adjust(names[i]) : std::string(raw), value);
          if (is_standard(names[i])) expected = unusable(name, value);
        } catch (const BadValue& bad) {
          expected = bad.expected;
        }
        if (!expected.empty()) {
          const std::string problem = "environment variable " + names[i] + "=\"" + std::string(raw) + "\"";
          if (!is_standard(names[i])) throw Error(problem + " is invalid: expected " + expected);
          warn_once(problem + " is ignored: expected " + expected + "; using the next setting or the default");
          continue;
        }
        if (is_standard(names[i])) from_standard.insert(name);
        setting = std::move(value);
        return;
      }
    }
    if (const Value* v = file.find(name)) {
      T value{};
      try {
        from_value(*v, value);
      } catch (const BadValue& bad) {
        throw Error("config file '" + file_name + "': setting '" + std::string(name) + "' = " + v->dump() +
                    " is invalid: expected " + bad.expected);
      }
      setting = std::move(value);
    }
  }
};

// OTEL_RESOURCE_ATTRIBUTES: "service.version=1.2,deployment.environment=prod".
std::optional<std::string> resource_attribute(std::string_view key) {
  const char* raw = env_value("OTEL_RESOURCE_ATTRIBUTES");
  if (raw == nullptr) return std::nullopt;
  std::map<std::string, std::string> attributes;
  try {
    parse_text(raw, attributes);
  } catch (const BadValue& bad) {
    warn_once("environment variable OTEL_RESOURCE_ATTRIBUTES=\"" + std::string(raw) + "\" is ignored: expected " +
              bad.expected + "; using the next setting or the default");
    return std::nullopt;
  }
  const auto it = attributes.find(std::string(key));
  if (it == attributes.end()) return std::nullopt;
  return it->second;
}

// OTEL_SDK_DISABLED=true, or OTEL_TRACES_EXPORTER without "otlp" but with "none".
bool spans_switched_off() {
  bool off = false;
  if (const char* raw = env_value("OTEL_SDK_DISABLED")) {
    const std::string v = ascii_lower(trim_blanks(raw));
    if (v == "true") {
      off = true;
    } else if (v != "false") {
      warn_once("environment variable OTEL_SDK_DISABLED=\"" + std::string(raw) + "\" is ignored: expected true or false");
    }
  }
  if (const char* raw = env_value("OTEL_TRACES_EXPORTER")) {
    bool otlp = false;
    bool none = false;
    for_each_listed(raw, [&](std::string_view item) {
      const std::string name = ascii_lower(item);
      if (name == "otlp") {
        otlp = true;
      } else if (name == "none") {
        none = true;
      } else {
        warn_once("environment variable OTEL_TRACES_EXPORTER=\"" + std::string(raw) + "\": exporter '" + name +
                  "' is not supported (only otlp and none); ignored");
      }
    });
    off = off || (none && !otlp);
  }
  return off;
}

}  // namespace

std::string_view overflow_name(OverflowPolicy policy) noexcept {
  switch (policy) {
    case OverflowPolicy::spill:
      return "spill";
    case OverflowPolicy::block:
      return "block";
    case OverflowPolicy::drop:
      return "drop";
  }
  return "spill";
}

std::string_view mode_name(TracingMode mode) noexcept {
  switch (mode) {
    case TracingMode::dual:
      return "dual";
    case TracingMode::v2:
      return "v2";
    case TracingMode::otel:
      return "otel";
    case TracingMode::disabled:
      return "disabled";
  }
  return "dual";
}

TracingConfig TracingConfig::load(const std::optional<std::filesystem::path>& config_file) const {
  std::filesystem::path file_path;
  if (config_file) {
    file_path = *config_file;
  } else if (const char* f = env_value("SYNTH_TRACING_CONFIG_FILE")) {
    file_path = f;
  }
  const std::string file_name = file_path.string();
  if (file_path.empty()) return detail::apply_config(*this, Value::object(), file_name);
  const std::string ext = ascii_lower(file_path.extension().string());
  detail::ConfigFormat format = detail::ConfigFormat::json;
  if (ext == ".yaml" || ext == ".yml") {
    format = detail::ConfigFormat::yaml;
  } else if (ext == ".toml") {
    format = detail::ConfigFormat::toml;
  } else if (ext != ".json") {
    throw Error("config file '" + file_name + "': unknown format (use .json, .yaml, .yml or .toml)");
  }
  return detail::apply_config(*this, detail::parse_config(detail::read_whole_file(file_path), format, file_name),
                              file_name);
}

namespace detail {

Value parse_config(std::string_view text, ConfigFormat format, const std::string& file_name) {
  Value v;
  if (format == ConfigFormat::json) {
    v = Value::parse(text, file_name);  // TraceFormatError names file, line and column
  } else if (const ConfigFilesLayer* files = config_files_layer()) {
    v = files->parse(text, format, file_name);
  } else {
    throw Error("config file '" + file_name + "': YAML and TOML files need synth::tracing_config_files, which this "
                "program does not link: link synth::tracing_config_files (or synth::tracing), or use a .json file");
  }
  if (v.is_null()) return Value::object();  // an empty YAML file
  if (!v.is_object()) throw Error("config file '" + file_name + "' must hold a mapping of settings");
  return v;
}

TracingConfig apply_config(const TracingConfig& config, const Value& file, const std::string& file_name) {
  TracingConfig c = config;
  Loader l{file, file_name, {}};
  l.field("enabled", c.enabled);
  l.field("mode", c.mode);
  l.field("sampling_rate", c.sampling_rate);
  l.field("max_payload_bytes", c.max_payload_bytes);
  l.field("truncate_payloads", c.truncate_payloads);
  l.field("mask_pii", c.mask_pii);
  l.field("pii_patterns", c.pii_patterns);
  l.field("track_costs", c.track_costs);
  l.field("pricing_file", c.pricing_file);
  l.field("save_dir", c.save_dir);
  l.field("db_path", c.db_path, {"SYNTH_TRACING_DB"});
  l.field("max_finished_sessions", c.max_finished_sessions);
  l.field("max_finished_bytes", c.max_finished_bytes);
  l.field("sink_queue_capacity", c.sink_queue_capacity);
  l.field("overflow", c.overflow);
  l.field("overflow_timeout_ms", c.overflow_timeout_ms);
  l.field("checkpoint", c.checkpoint);
  l.field("spill_dir", c.spill_dir);
  l.field("checkpoint_interval_ms", c.checkpoint_interval_ms);
  l.field("spill_max_bytes", c.spill_max_bytes);
  l.field("recover_spill", c.recover_spill);
  l.field("handle_signals", c.handle_signals);
  l.field("service_name", c.service_name, {"OTEL_SERVICE_NAME"});
  l.field("service_version", c.service_version);
  l.field("deployment_environment", c.deployment_environment, {"DEPLOYMENT_ENV"});
  // The spec's base URL gets the traces path; the traces-specific variable is used as given.
  l.field("otel_endpoint", c.otel_endpoint, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"},
          [](std::string_view variable) {
            std::string url = env_text(std::string(variable).c_str());
            if (variable == "OTEL_EXPORTER_OTLP_ENDPOINT") {
              while (!url.empty() && url.back() == '/') url.pop_back();
              url += "/v1/traces";
            }
            return url;
          });
  l.field("otel_headers", c.otel_headers, {"OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS"});
  l.field("otel_protocol", c.otel_protocol, {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"});
  l.field("otel_timeout_ms", c.otel_timeout_ms, {"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"});
  l.field("otel_max_retries", c.otel_max_retries);
  l.field("otel_gzip", c.otel_gzip, {"OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "OTEL_EXPORTER_OTLP_COMPRESSION"},
          [](std::string_view variable) {
            const std::string v = ascii_lower(trim_blanks(env_text(std::string(variable).c_str())));
            if (v != "gzip" && v != "none") throw BadValue{"gzip or none"};
            return std::string(v == "gzip" ? "true" : "false");
          });
  l.field("otel_max_queue_size", c.otel_max_queue_size, {"OTEL_BSP_MAX_QUEUE_SIZE"});
  l.field("otel_max_export_batch_size", c.otel_max_export_batch_size, {"OTEL_BSP_MAX_EXPORT_BATCH_SIZE"});
  l.field("otel_schedule_delay_ms", c.otel_schedule_delay_ms, {"OTEL_BSP_SCHEDULE_DELAY"});
  l.field("otel_max_concurrent_exports", c.otel_max_concurrent_exports);
  l.field("otel_flush_on_session_end", c.otel_flush_on_session_end);
  l.field("otel_resource_attributes", c.otel_resource_attributes, {"OTEL_RESOURCE_ATTRIBUTES"});
  l.field("collector", c.collector);
  l.field("collector_token", c.collector_token);
  l.field("collector_fallback_dir", c.collector_fallback_dir);
  l.field("collector_batch_sessions", c.collector_batch_sessions);
  l.field("collector_timeout_ms", c.collector_timeout_ms);
  l.field("shutdown_timeout_ms", c.shutdown_timeout_ms);
  // Resource attributes from OTEL_RESOURCE_ATTRIBUTES, below the specific variables.
  if (!c.service_version.is_set()) {
    if (auto v = resource_attribute("service.version")) c.service_version = *v;
  }
  if (!c.deployment_environment.is_set()) {
    if (auto v = resource_attribute("deployment.environment")) c.deployment_environment = *v;
  }
  if (!c.service_name.is_set()) {
    if (auto v = resource_attribute("service.name")) c.service_name = *v;
  }
  // The specification's off switches, for spans only (trace events are ours). They win even
  // over an endpoint given in code: they are how an operator turns OpenTelemetry off.
  if (spans_switched_off()) c.otel_endpoint = std::string();
  // Batch and queue sizes meant for another SDK need not agree with ours: the batch is cut.
  if (*c.otel_max_export_batch_size > *c.otel_max_queue_size &&
      (l.from_standard.contains("otel_max_export_batch_size") || l.from_standard.contains("otel_max_queue_size"))) {
    warn_once("OTEL_BSP_MAX_EXPORT_BATCH_SIZE (" + std::to_string(*c.otel_max_export_batch_size) +
              ") exceeds the span queue size (" + std::to_string(*c.otel_max_queue_size) + "): batches of " +
              std::to_string(*c.otel_max_queue_size) + " are used");
    c.otel_max_export_batch_size = *c.otel_max_queue_size;
  }
  for (const auto& [key, value] : file.as_object()) {
    if (std::find(l.known.begin(), l.known.end(), key) == l.known.end()) {
      std::string names;
      for (const auto& k : l.known) names += (names.empty() ? "" : ", ") + k;
      throw Error("config file '" + file_name + "': unknown setting '" + key + "' (known settings: " + names + ")");
    }
  }
  c.validate();
  return c;
}

}  // namespace detail

void TracingConfig::validate() const {
  if (!(*sampling_rate >= 0.0 && *sampling_rate <= 1.0)) {
    throw Error("TracingConfig: sampling_rate must be between 0.0 and 1.0 (got " + std::to_string(*sampling_rate) + ")");
  }
  const auto positive = [](const char* name, std::size_t v) {
    if (v == 0) throw Error(std::string("TracingConfig: ") + name + " must be positive");
  };
  positive("max_payload_bytes", max_payload_bytes);
  positive("sink_queue_capacity", sink_queue_capacity);
  positive("otel_timeout_ms", otel_timeout_ms);
  positive("otel_schedule_delay_ms", otel_schedule_delay_ms);
  positive("shutdown_timeout_ms", shutdown_timeout_ms);
  positive("checkpoint_interval_ms", checkpoint_interval_ms);
  if (*checkpoint && spill_dir->empty()) {
    throw Error("TracingConfig: spill_dir cannot be empty while checkpoint is on (name a folder, or set checkpoint = false)");
  }
  positive("otel_max_queue_size", otel_max_queue_size);
  positive("otel_max_export_batch_size", otel_max_export_batch_size);
  positive("otel_max_concurrent_exports", otel_max_concurrent_exports);
  if (*otel_max_export_batch_size > *otel_max_queue_size) {
    throw Error("TracingConfig: otel_max_export_batch_size (" + std::to_string(*otel_max_export_batch_size) +
                ") must not exceed otel_max_queue_size (" + std::to_string(*otel_max_queue_size) + ")");
  }
  if (trim_blanks(*service_name).empty()) throw Error("TracingConfig: service_name cannot be empty");
  if (!collector->empty()) http::require_http_url("TracingConfig: collector", *collector, "use the address `synth-trace serve` prints, for example http://127.0.0.1:4319");
  if (!collector->empty() && collector_fallback_dir->empty()) {
    throw Error("TracingConfig: collector_fallback_dir cannot be empty while a collector is set (name a folder)");
  }
  positive("collector_batch_sessions", collector_batch_sessions);
  positive("collector_timeout_ms", collector_timeout_ms);
}

}  // namespace synth::tracing
