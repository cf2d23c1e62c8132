// TracingConfig: how a tracer behaves, from code, the environment and a file. Target
// synth::tracing_core (YAML and TOML files: synth::tracing_config_files).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

namespace synth::tracing {

/// A named detector: an RE2 pattern whose matches become `replacement`.
struct PiiPattern {
  std::string name;
  /// RE2 syntax (linear-time matching: no pattern can hang the caller).
  std::string regex;
  std::string replacement;
};

/// One configuration value that knows whether code set it. A value given in code (a designated
/// initializer, an assignment) is "set" and wins over the environment and files; a field left
/// alone keeps its default until TracingConfig::load fills it. Reads like the value itself.
template <class T>
class Setting {
 public:
  /// The default of a field (not "set").
  struct Default {
    T value;
  };
  Setting(Default d) : value_(std::move(d.value)) {}
  /// A value given in code ("set").
  template <class U>
    requires std::is_constructible_v<T, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Setting>) &&
             (!std::is_same_v<std::remove_cvref_t<U>, Default>)
  Setting(U&& value) : value_(std::forward<U>(value)), set_(true) {}

  template <class U>
    requires std::is_assignable_v<T&, U&&> && (!std::is_same_v<std::remove_cvref_t<U>, Setting>)
  Setting& operator=(U&& value) {
    value_ = std::forward<U>(value);
    set_ = true;
    return *this;
  }

  const T& value() const noexcept { return value_; }
  operator const T&() const noexcept { return value_; }
  const T& operator*() const noexcept { return value_; }
  const T* operator->() const noexcept { return &value_; }
  /// True when the value came from code (or from a source already applied by load()).
  bool is_set() const noexcept { return set_; }

 private:
  T value_;
  bool set_ = false;
};

/// Which signals a tracer produces: trace events (the v2 SessionTrace), OpenTelemetry spans, both,
/// or nothing.
enum class TracingMode : std::uint8_t { dual, v2, otel, disabled };

/// What happens to a finished session when the sink queue (TracingConfig::sink_queue_capacity)
/// is full: `spill`: it goes to the spill on disk and reaches the sinks as they catch up (needs
/// checkpoint); `block`: the thread ending it waits for room, up to overflow_timeout_ms; `drop`:
/// it is dropped and counted. When spill or block cannot take it in time, it is dropped and
/// counted (TracerStats::sessions_dropped).
enum class OverflowPolicy : std::uint8_t { spill, block, drop };

/// Wire format of the OTLP exporter.
enum class OtlpProtocol : std::uint8_t { http_protobuf, http_json };

/// Settings of a SessionTracer and its instrumentation. Give fields in code with designated
/// initializers; TracingConfig::load() (and the tracer's constructors) fill every field not given
/// in code from, in order of precedence: the environment (`SYNTH_TRACING_<FIELD>`, upper-cased),
/// a config file (JSON, YAML or TOML; `SYNTH_TRACING_CONFIG_FILE`), the defaults below.
///
///     SessionTracer tracer(TracingConfig{.sampling_rate = 0.25, .save_dir = "traces"});
struct TracingConfig {
  /// false makes every tracer call a no-op costing about a branch.
  Setting<bool> enabled = Setting<bool>::Default{true};
  Setting<TracingMode> mode = Setting<TracingMode>::Default{TracingMode::dual};
  /// Fraction of sessions recorded, decided per session id (so processes agree), in [0, 1].
  Setting<double> sampling_rate = Setting<double>::Default{1.0};
  /// Strings in states and payloads longer than this are cut (when truncate_payloads).
  Setting<std::size_t> max_payload_bytes = Setting<std::size_t>::Default{10240};
  Setting<bool> truncate_payloads = Setting<bool>::Default{true};
  /// Mask personal data before anything leaves the process.
  Setting<bool> mask_pii = Setting<bool>::Default{true};
  /// Extra detectors, or replacements of built-ins by name. Env/file: {"name": "regex", ...}
  /// (replacement token "[NAME]") or {"name": {"regex": .., "replacement": ..}}.
  Setting<std::vector<PiiPattern>> pii_patterns = Setting<std::vector<PiiPattern>>::Default{{}};
  /// Compute the cost of LLM calls from their usage.
  Setting<bool> track_costs = Setting<bool>::Default{true};
  /// A pricing table adding to / overriding the built-in one.
  Setting<std::filesystem::path> pricing_file = Setting<std::filesystem::path>::Default{{}};
  /// When set, each finished session is written as JSON into this folder in the background.
  Setting<std::filesystem::path> save_dir = Setting<std::filesystem::path>::Default{{}};
  /// The DuckDB trace database used by synth-trace and DuckDBSink::from_config.
  Setting<std::filesystem::path> db_path = Setting<std::filesystem::path>::Default{"traces.duckdb"};
  /// How many finished sessions stay in memory for get_session_trace().
  Setting<std::size_t> max_finished_sessions = Setting<std::size_t>::Default{100};
  /// And how much memory they may take together (an estimate of their size in bytes); the
  /// oldest go first when either bound is passed.
  Setting<std::size_t> max_finished_bytes = Setting<std::size_t>::Default{64u << 20};
  /// Finished sessions waiting in memory for the sinks; beyond that, `overflow` decides.
  Setting<std::size_t> sink_queue_capacity = Setting<std::size_t>::Default{1024};
  Setting<OverflowPolicy> overflow = Setting<OverflowPolicy>::Default{OverflowPolicy::spill};
  /// How long a thread ending a session may wait when the queue (overflow block) or the spill's
  /// backlog (overflow spill) is full.
  Setting<std::size_t> overflow_timeout_ms = Setting<std::size_t>::Default{5000};
  /// Keep sessions on disk while they are recorded (synth/tracing/spill.hpp), so a crash loses at
  /// most checkpoint_interval_ms of recording. Active once the tracer has a sink.
  Setting<bool> checkpoint = Setting<bool>::Default{true};
  /// Where the spill lives: one folder per tracer inside it.
  Setting<std::filesystem::path> spill_dir = Setting<std::filesystem::path>::Default{".synth-tracing/spill"};
  /// Active sessions are written to the spill this often, and soon after each timestep ends.
  Setting<std::size_t> checkpoint_interval_ms = Setting<std::size_t>::Default{100};
  /// Bytes the tracer's spill files may take; what would exceed it is not written (counted in
  /// TracerStats::records_not_checkpointed, or a dropped session for an overflow).
  Setting<std::size_t> spill_max_bytes = Setting<std::size_t>::Default{std::size_t{1} << 30};
  /// When the tracer starts its spill, hand sessions left in spill_dir by tracers that are gone
  /// (a crash, a kill) to the sinks, marked aborted.
  Setting<bool> recover_spill = Setting<bool>::Default{true};
  /// On SIGTERM and SIGINT, end every active session (as aborted) and deliver within
  /// shutdown_timeout_ms, then let the signal proceed (see handle_termination_signals()).
  Setting<bool> handle_signals = Setting<bool>::Default{false};
  /// Resource attributes of exported telemetry (also OTEL_SERVICE_NAME).
  Setting<std::string> service_name = Setting<std::string>::Default{"synth-tracing"};
  Setting<std::string> service_version = Setting<std::string>::Default{"0.1.0"};
  Setting<std::string> deployment_environment = Setting<std::string>::Default{"development"};
  /// OTLP/HTTP endpoint; empty means no export (also OTEL_EXPORTER_OTLP_ENDPOINT).
  /// OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none empty it, even when set in code.
  Setting<std::string> otel_endpoint = Setting<std::string>::Default{{}};
  /// Headers sent with every export (env/file: "k1=v1,k2=v2"; also OTEL_EXPORTER_OTLP_HEADERS).
  Setting<std::map<std::string, std::string>> otel_headers = Setting<std::map<std::string, std::string>>::Default{{}};
  Setting<OtlpProtocol> otel_protocol = Setting<OtlpProtocol>::Default{OtlpProtocol::http_protobuf};
  /// Bounds one whole export, retries and their waits included (OTEL_EXPORTER_OTLP_TIMEOUT).
  Setting<std::size_t> otel_timeout_ms = Setting<std::size_t>::Default{10000};
  /// Retries of one export after a retryable failure (429, 502, 503, 504, connection failures).
  Setting<std::size_t> otel_max_retries = Setting<std::size_t>::Default{5};
  Setting<bool> otel_gzip = Setting<bool>::Default{false};
  Setting<std::size_t> otel_max_queue_size = Setting<std::size_t>::Default{2048};
  Setting<std::size_t> otel_max_export_batch_size = Setting<std::size_t>::Default{512};
  Setting<std::size_t> otel_schedule_delay_ms = Setting<std::size_t>::Default{5000};
  /// Batches exported at once over OTLP/HTTP, each on its own connection (BatchOptions'
  /// max_concurrent_exports): above 1 the next batch is collected, encoded and sent while the
  /// receiver still works on the previous one, and batches may arrive out of order. Every
  /// connection is opened when the tracer starts. At least 1; 2 by default.
  Setting<std::size_t> otel_max_concurrent_exports = Setting<std::size_t>::Default{2};
  /// More resource attributes of exported spans (env/file: "k1=v1,k2=v2"; also
  /// OTEL_RESOURCE_ATTRIBUTES). service_name, service_version and deployment_environment win.
  Setting<std::map<std::string, std::string>> otel_resource_attributes =
      Setting<std::map<std::string, std::string>>::Default{{}};
  /// Start exporting a session's spans as soon as it ends, instead of after
  /// otel_schedule_delay_ms (for short-lived processes). Never waits.
  Setting<bool> otel_flush_on_session_end = Setting<bool>::Default{false};
  /// A running `synth-trace serve` ("http://127.0.0.1:4319") that finished sessions are sent to
  /// in the background (a CollectorSink, synth/tracing/collector.hpp); empty means none.
  Setting<std::string> collector = Setting<std::string>::Default{{}};
  /// The server's token, when it was started with --token.
  Setting<std::string> collector_token = Setting<std::string>::Default{{}};
  /// Where sessions go as JSON files when the collector cannot take them (unreachable, or still
  /// down at shutdown); `synth-trace import <folder>` stores them later.
  Setting<std::filesystem::path> collector_fallback_dir =
      Setting<std::filesystem::path>::Default{".synth-tracing/unsent"};
  /// Sessions per request to the collector, at most.
  Setting<std::size_t> collector_batch_sessions = Setting<std::size_t>::Default{500};
  /// How long one batch is retried before it goes to collector_fallback_dir.
  Setting<std::size_t> collector_timeout_ms = Setting<std::size_t>::Default{30000};
  /// How long the tracer's destructor and process exit wait for the sinks and the span export
  /// together; what is still queued after that is dropped and counted.
  Setting<std::size_t> shutdown_timeout_ms = Setting<std::size_t>::Default{5000};

  /// This configuration with every field not set in code filled from the environment, then the
  /// file (`config_file`, else SYNTH_TRACING_CONFIG_FILE, else none), then the defaults; validated.
  /// Throws Error naming the variable, file, key or field and the bad value. A standard OTEL_*
  /// variable (often meant for another SDK) with a value that cannot be used is reported once and
  /// ignored instead.
  TracingConfig load(const std::optional<std::filesystem::path>& config_file = std::nullopt) const;
  /// Throws Error describing the first invalid setting.
  void validate() const;
};

/// Names used in files and environment variables: "spill", "block", "drop".
std::string_view overflow_name(OverflowPolicy policy) noexcept;

/// Names used in files and environment variables: "dual", "v2", "otel", "disabled".
std::string_view mode_name(TracingMode mode) noexcept;

}  // namespace synth::tracing
