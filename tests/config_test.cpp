#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <functional>
#include <filesystem>
#include <fstream>

#include "support.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/instrument.hpp"
#include "synth/tracing/tracer.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;

using EnvGuard = st::testing::ScopedEnv;
using st::testing::CapturedDiagnostics;

namespace {

// A config file in the temp folder, removed afterwards.
struct TempFile {
  TempFile(const std::string& name, const std::string& text)
      : path(fs::temp_directory_path() / (std::to_string(::getpid()) + "_" + name)) {
    std::ofstream(path) << text;
  }
  ~TempFile() { fs::remove(path); }
  fs::path path;
};

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const st::Error& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST(TracingConfig, Defaults) {
  const auto c = st::TracingConfig{}.load();
  EXPECT_TRUE(c.enabled);
  EXPECT_EQ(c.mode, st::TracingMode::dual);
  EXPECT_EQ(c.sampling_rate, 1.0);
  EXPECT_EQ(c.max_payload_bytes, 10240u);
  EXPECT_TRUE(c.truncate_payloads);
  EXPECT_TRUE(c.mask_pii);
  EXPECT_TRUE(c.pii_patterns->empty());
  EXPECT_TRUE(c.track_costs);
  EXPECT_TRUE(c.save_dir->empty());
  EXPECT_EQ(*c.db_path, "traces.duckdb");
  EXPECT_EQ(c.max_finished_sessions, 100u);
  EXPECT_EQ(c.sink_queue_capacity, 1024u);
  EXPECT_EQ(*c.service_name, "synth-tracing");
  EXPECT_EQ(*c.deployment_environment, "development");
  EXPECT_TRUE(c.otel_endpoint->empty());
  EXPECT_EQ(c.otel_protocol, st::OtlpProtocol::http_protobuf);
  EXPECT_EQ(c.otel_max_queue_size, 2048u);
  EXPECT_EQ(c.otel_max_export_batch_size, 512u);
  EXPECT_EQ(c.otel_schedule_delay_ms, 5000u);
  EXPECT_EQ(c.otel_max_concurrent_exports, 2u);
  EXPECT_FALSE(c.otel_flush_on_session_end);
}

TEST(TracingConfig, CodeValuesAreMarkedSet) {
  const st::TracingConfig c{.sampling_rate = 0.25, .save_dir = "traces"};
  EXPECT_TRUE(c.sampling_rate.is_set());
  EXPECT_TRUE(c.save_dir.is_set());
  EXPECT_FALSE(c.enabled.is_set());
  EXPECT_EQ(c.sampling_rate, 0.25);
  EXPECT_EQ(*c.save_dir, "traces");
}

TEST(TracingConfig, BooleansInAnyCase) {
  for (const char* v : {"false", "FALSE", "0", "no", "No", "off"}) {
    EnvGuard g("SYNTH_TRACING_ENABLED", v);
    EXPECT_FALSE(st::TracingConfig{}.load().enabled) << v;
  }
  for (const char* v : {"true", "True", "1", "yes", "YES", "on"}) {
    EnvGuard g("SYNTH_TRACING_ENABLED", v);
    EXPECT_TRUE(st::TracingConfig{}.load().enabled) << v;
  }
}

TEST(TracingConfig, EnvironmentForEveryKind) {
  EnvGuard a("SYNTH_TRACING_SAVE_DIR", "/tmp/traces-here");
  EnvGuard b("SYNTH_TRACING_MAX_FINISHED_SESSIONS", "7");
  EnvGuard c("SYNTH_TRACING_SAMPLING_RATE", "0.5");
  EnvGuard d("SYNTH_TRACING_MODE", "V2");
  EnvGuard e("SYNTH_TRACING_OTEL_PROTOCOL", "http/json");
  EnvGuard f("SYNTH_TRACING_PII_PATTERNS", R"({"employee_id": "E\\d{6}", "ticket": {"regex": "T-\\d+", "replacement": "[T]"}})");
  const auto cfg = st::TracingConfig{}.load();
  EXPECT_EQ(*cfg.save_dir, "/tmp/traces-here");
  EXPECT_EQ(cfg.max_finished_sessions, 7u);
  EXPECT_EQ(cfg.sampling_rate, 0.5);
  EXPECT_EQ(cfg.mode, st::TracingMode::v2);
  EXPECT_EQ(cfg.otel_protocol, st::OtlpProtocol::http_json);
  ASSERT_EQ(cfg.pii_patterns->size(), 2u);
  EXPECT_EQ(cfg.pii_patterns->at(0).name, "employee_id");
  EXPECT_EQ(cfg.pii_patterns->at(0).regex, "E\\d{6}");
  EXPECT_EQ(cfg.pii_patterns->at(0).replacement, "[EMPLOYEE_ID]");
  EXPECT_EQ(cfg.pii_patterns->at(1).replacement, "[T]");
}

TEST(TracingConfig, UnparsableEnvironmentValueNamesVariableAndValue) {
  {
    EnvGuard g("SYNTH_TRACING_ENABLED", "maybe");
    EXPECT_EQ(error_of([] { (void)st::TracingConfig{}.load(); }),
              "environment variable SYNTH_TRACING_ENABLED=\"maybe\" is invalid: expected true/1/yes/on or false/0/no/off");
  }
  {
    EnvGuard g("SYNTH_TRACING_SINK_QUEUE_CAPACITY", "12abc");
    EXPECT_NE(error_of([] { (void)st::TracingConfig{}.load(); }).find("SYNTH_TRACING_SINK_QUEUE_CAPACITY=\"12abc\""),
              std::string::npos);
  }
  {
    EnvGuard g("SYNTH_TRACING_MODE", "verbose");
    EXPECT_NE(error_of([] { (void)st::TracingConfig{}.load(); }).find("dual, v2, otel or disabled"), std::string::npos);
  }
}

TEST(TracingConfig, PrecedenceCodeOverEnvironmentOverFileOverDefaults) {
  TempFile file("precedence.json", R"({"sampling_rate": 0.1, "service_name": "from-file", "max_payload_bytes": 2048})");
  EnvGuard env_rate("SYNTH_TRACING_SAMPLING_RATE", "0.2");
  EnvGuard env_name("SYNTH_TRACING_SERVICE_NAME", "from-env");
  const auto c = st::TracingConfig{.sampling_rate = 0.3}.load(file.path);
  EXPECT_EQ(c.sampling_rate, 0.3);                     // code
  EXPECT_EQ(*c.service_name, "from-env");              // environment over file
  EXPECT_EQ(c.max_payload_bytes, 2048u);               // file over default
  EXPECT_EQ(*c.deployment_environment, "development");  // default
}

TEST(TracingConfig, EnvironmentKillSwitchReachesACodeBuiltConfig) {
  EnvGuard g("SYNTH_TRACING_ENABLED", "false");
  st::SessionTracer off(st::TracingConfig{.save_dir = ""});
  EXPECT_FALSE(off.enabled());
  st::SessionTracer on(st::TracingConfig{.enabled = true});  // set in code: wins
  EXPECT_TRUE(on.enabled());
}

TEST(TracingConfig, DisabledModeDisablesTheTracer) {
  EXPECT_FALSE(st::SessionTracer(st::TracingConfig{.mode = st::TracingMode::disabled}).enabled());
}

TEST(TracingConfig, YamlAndTomlFilesAndTheFileVariable) {
  TempFile yaml("c.yaml", "sampling_rate: 0.5\nmask_pii: false\nservice_name: yaml-svc\notel_headers:\n  x-api-key: abc\n");
  const auto y = st::TracingConfig{}.load(yaml.path);
  EXPECT_EQ(y.sampling_rate, 0.5);
  EXPECT_FALSE(y.mask_pii);
  EXPECT_EQ(*y.service_name, "yaml-svc");
  EXPECT_EQ(y.otel_headers->at("x-api-key"), "abc");

  TempFile toml("c.toml", "sampling_rate = 0.75\ntrack_costs = false\notel_max_queue_size = 4096\n");
  EnvGuard g("SYNTH_TRACING_CONFIG_FILE", toml.path.c_str());
  const auto t = st::TracingConfig{}.load();
  EXPECT_EQ(t.sampling_rate, 0.75);
  EXPECT_FALSE(t.track_costs);
  EXPECT_EQ(t.otel_max_queue_size, 4096u);
}

TEST(TracingConfig, BadFilesAreClearErrors) {
  EXPECT_NE(error_of([] { (void)st::TracingConfig{}.load(fs::path("/nonexistent/config.json")); }).find("/nonexistent/config.json"),
            std::string::npos);
  TempFile bad_json("bad.json", "{\"sampling_rate\": 0.5,,}");
  const std::string json_error = error_of([&] { (void)st::TracingConfig{}.load(bad_json.path); });
  EXPECT_NE(json_error.find(bad_json.path.string() + ":1:"), std::string::npos) << json_error;
  TempFile unknown("unknown.yaml", "samplng_rate: 0.5\n");
  const std::string unknown_error = error_of([&] { (void)st::TracingConfig{}.load(unknown.path); });
  EXPECT_NE(unknown_error.find("unknown setting 'samplng_rate'"), std::string::npos) << unknown_error;
  EXPECT_NE(unknown_error.find("sampling_rate"), std::string::npos) << unknown_error;
  TempFile wrong_type("wrong.json", R"({"max_payload_bytes": "lots"})");
  const std::string type_error = error_of([&] { (void)st::TracingConfig{}.load(wrong_type.path); });
  EXPECT_NE(type_error.find("setting 'max_payload_bytes' = \"lots\" is invalid"), std::string::npos) << type_error;
  TempFile bad_yaml("bad.yaml", "a: [1, 2\n");
  EXPECT_NE(error_of([&] { (void)st::TracingConfig{}.load(bad_yaml.path); }).find("not valid YAML"), std::string::npos);
  // An anchor merged into itself makes a cyclic node graph (found by the config_yaml fuzzer).
  TempFile cyclic_yaml("cyclic.yaml", "base: &b\n  <<: *b\n  y: [a, b]\n");
  const std::string cyclic_error = error_of([&] { (void)st::TracingConfig{}.load(cyclic_yaml.path); });
  EXPECT_NE(cyclic_error.find("nested deeper than"), std::string::npos) << cyclic_error;
  EXPECT_NE(cyclic_error.find("cyclic.yaml"), std::string::npos) << cyclic_error;
  TempFile bad_toml("bad.toml", "a = = 1\n");
  EXPECT_NE(error_of([&] { (void)st::TracingConfig{}.load(bad_toml.path); }).find("not valid TOML"), std::string::npos);
  TempFile txt("c.ini", "x=1");
  EXPECT_NE(error_of([&] { (void)st::TracingConfig{}.load(txt.path); }).find("unknown format"), std::string::npos);
}

TEST(TracingConfig, OpenTelemetryStandardVariables) {
  {
    EnvGuard base("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/");
    EnvGuard headers("OTEL_EXPORTER_OTLP_HEADERS", "api-key=secret%20value, x-tenant = acme");
    EnvGuard name("OTEL_SERVICE_NAME", "agent-svc");
    EnvGuard resource("OTEL_RESOURCE_ATTRIBUTES", "service.version=2.1.0,deployment.environment=staging");
    EnvGuard gzip("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    EnvGuard queue("OTEL_BSP_MAX_QUEUE_SIZE", "8192");
    const auto c = st::TracingConfig{}.load();
    EXPECT_EQ(*c.otel_endpoint, "http://collector:4318/v1/traces");
    EXPECT_EQ(c.otel_headers->at("api-key"), "secret value");
    EXPECT_EQ(c.otel_headers->at("x-tenant"), "acme");
    EXPECT_EQ(*c.service_name, "agent-svc");
    EXPECT_EQ(*c.service_version, "2.1.0");
    EXPECT_EQ(*c.deployment_environment, "staging");
    EXPECT_TRUE(c.otel_gzip);
    EXPECT_EQ(c.otel_max_queue_size, 8192u);
  }
  {
    EnvGuard base("OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:4318");
    EnvGuard traces("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://collector:4318/custom/path");
    EXPECT_EQ(*st::TracingConfig{}.load().otel_endpoint, "http://collector:4318/custom/path");
    EnvGuard ours("SYNTH_TRACING_OTEL_ENDPOINT", "http://ours:4318/v1/traces");
    EXPECT_EQ(*st::TracingConfig{}.load().otel_endpoint, "http://ours:4318/v1/traces");
  }
}

// Exports in flight: from code, the environment, YAML and TOML, like the other OTLP settings.
TEST(TracingConfig, ConcurrentExportsFromEveryPlace) {
  EXPECT_EQ(st::TracingConfig{.otel_max_concurrent_exports = 3}.load().otel_max_concurrent_exports, 3u);
  TempFile yaml("exports.yaml", "otel_max_concurrent_exports: 4\n");
  EXPECT_EQ(st::TracingConfig{}.load(yaml.path).otel_max_concurrent_exports, 4u);
  TempFile toml("exports.toml", "otel_max_concurrent_exports = 2\n");
  EXPECT_EQ(st::TracingConfig{}.load(toml.path).otel_max_concurrent_exports, 2u);
  {
    EnvGuard g("SYNTH_TRACING_OTEL_MAX_CONCURRENT_EXPORTS", "6");
    EXPECT_EQ(st::TracingConfig{}.load(toml.path).otel_max_concurrent_exports, 6u);  // environment over file
  }
  {
    EnvGuard g("SYNTH_TRACING_OTEL_MAX_CONCURRENT_EXPORTS", "many");
    EXPECT_NE(error_of([] { (void)st::TracingConfig{}.load(); }).find("SYNTH_TRACING_OTEL_MAX_CONCURRENT_EXPORTS"),
              std::string::npos);
  }
  EXPECT_NE(error_of([] { st::TracingConfig{.otel_max_concurrent_exports = 0}.validate(); })
                .find("otel_max_concurrent_exports must be positive"),
            std::string::npos);
}

TEST(TracingConfig, ValidationMessages) {
  EXPECT_NE(error_of([] { st::TracingConfig{.sampling_rate = 1.5}.validate(); }).find("sampling_rate must be between 0.0 and 1.0"),
            std::string::npos);
  EXPECT_NE(error_of([] { st::TracingConfig{.sampling_rate = -0.1}.validate(); }).find("sampling_rate"), std::string::npos);
  EXPECT_NE(error_of([] { st::TracingConfig{.max_payload_bytes = 0}.validate(); }).find("max_payload_bytes must be positive"),
            std::string::npos);
  EXPECT_NE(error_of([] { st::TracingConfig{.sink_queue_capacity = 0}.validate(); }).find("must be positive"), std::string::npos);
  // Zero would make the export thread spin.
  EXPECT_NE(error_of([] { st::TracingConfig{.otel_schedule_delay_ms = 0}.validate(); })
                .find("otel_schedule_delay_ms must be positive"),
            std::string::npos);
  EXPECT_NE(error_of([] { st::TracingConfig{.service_name = "   "}.validate(); }).find("service_name cannot be empty"),
            std::string::npos);
  EXPECT_NE(error_of([] {
              st::TracingConfig{.otel_max_queue_size = 100, .otel_max_export_batch_size = 200}.validate();
            }).find("must not exceed"),
            std::string::npos);
  EXPECT_THROW(st::SessionTracer(st::TracingConfig{.sampling_rate = 2.0}), st::Error);
  EXPECT_NO_THROW(st::TracingConfig{}.validate());
}

// ---- OTEL_* variables written for other SDKs ----

namespace {
// The diagnostics mentioning `text`.
std::size_t mentions(CapturedDiagnostics& diagnostics, std::string_view text) {
  std::size_t n = 0;
  for (const auto& m : diagnostics.all()) n += m.find(text) != std::string::npos ? 1 : 0;
  return n;
}

// A file:// span endpoint in a fresh folder: spans are exported without a network.
struct SpanFile {
  st::testing::TempDir dir{"otel_env"};
  std::string endpoint() const { return "file://" + dir.file("spans.jsonl").string(); }
};

// Spans a tracer made for one session with one scope (0 when span export is off).
std::uint64_t spans_of_one_session(st::SessionTracer& tracer) {
  {
    auto session = tracer.start_session("s");
    auto span = st::trace_span("work", {}, {.tracer = &tracer});
  }
  return tracer.stats().spans_ended;
}
}  // namespace

TEST(OtelEnvironment, GrpcProtocolIsWarnedAboutOnceAndFallsBackToHttpProtobuf) {
  CapturedDiagnostics diagnostics;
  SpanFile file;
  EnvGuard endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", file.endpoint().c_str());
  EnvGuard protocol("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc");
  st::SessionTracer first;
  st::SessionTracer second;
  EXPECT_EQ(*first.config().otel_protocol, st::OtlpProtocol::http_protobuf);
  EXPECT_EQ(*second.config().otel_protocol, st::OtlpProtocol::http_protobuf);
  EXPECT_EQ(mentions(diagnostics, "OTEL_EXPORTER_OTLP_PROTOCOL=\"grpc\""), 1u);
  EXPECT_EQ(spans_of_one_session(first), 2u);
  // The traces-specific variable falls back to the general one, then to the default.
  EnvGuard traces_protocol("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc");
  EnvGuard general("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
  EXPECT_EQ(*st::SessionTracer().config().otel_protocol, st::OtlpProtocol::http_json);
}

TEST(OtelEnvironment, OurOwnVariablesStayStrict) {
  EnvGuard protocol("SYNTH_TRACING_OTEL_PROTOCOL", "grpc");
  EXPECT_NE(error_of([] { st::SessionTracer tracer; }).find("SYNTH_TRACING_OTEL_PROTOCOL"), std::string::npos);
}

TEST(OtelEnvironment, SdkDisabledTurnsSpanExportOff) {
  SpanFile file;
  EnvGuard endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", file.endpoint().c_str());
  {
    EnvGuard disabled("OTEL_SDK_DISABLED", "TRUE");
    st::SessionTracer tracer;
    EXPECT_TRUE(tracer.config().otel_endpoint->empty());
    EXPECT_EQ(spans_of_one_session(tracer), 0u);
    // Also over an endpoint given in code: it is the operator's switch.
    st::SessionTracer coded(st::TracingConfig{.otel_endpoint = file.endpoint()});
    EXPECT_EQ(spans_of_one_session(coded), 0u);
    EXPECT_TRUE(tracer.enabled()) << "only OpenTelemetry is off; trace events are still recorded";
  }
  {
    EnvGuard enabled("OTEL_SDK_DISABLED", "false");
    st::SessionTracer tracer;
    EXPECT_EQ(spans_of_one_session(tracer), 2u);
  }
  CapturedDiagnostics diagnostics;
  EnvGuard unclear("OTEL_SDK_DISABLED", "maybe");
  st::SessionTracer tracer;
  EXPECT_EQ(spans_of_one_session(tracer), 2u);
  EXPECT_EQ(mentions(diagnostics, "OTEL_SDK_DISABLED=\"maybe\""), 1u);
}

TEST(OtelEnvironment, TracesExporterNoneTurnsSpanExportOff) {
  SpanFile file;
  EnvGuard endpoint("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", file.endpoint().c_str());
  {
    EnvGuard none("OTEL_TRACES_EXPORTER", "none");
    st::SessionTracer tracer;
    EXPECT_EQ(spans_of_one_session(tracer), 0u);
  }
  {
    EnvGuard otlp("OTEL_TRACES_EXPORTER", "otlp");
    st::SessionTracer tracer;
    EXPECT_EQ(spans_of_one_session(tracer), 2u);
  }
  CapturedDiagnostics diagnostics;
  EnvGuard other("OTEL_TRACES_EXPORTER", "otlp, zipkin");
  st::SessionTracer tracer;
  EXPECT_EQ(spans_of_one_session(tracer), 2u);
  EXPECT_EQ(mentions(diagnostics, "zipkin"), 1u);
}

TEST(OtelEnvironment, UnusableValuesAreWarnedAboutAndIgnored) {
  const std::pair<const char*, const char*> cases[] = {
      {"OTEL_EXPORTER_OTLP_TIMEOUT", "ten seconds"},  {"OTEL_BSP_MAX_QUEUE_SIZE", "0"},
      {"OTEL_BSP_SCHEDULE_DELAY", "-5"},              {"OTEL_EXPORTER_OTLP_HEADERS", "novalue"},
      {"OTEL_EXPORTER_OTLP_COMPRESSION", "zstd"},     {"OTEL_RESOURCE_ATTRIBUTES", "no-equals-sign"},
      {"OTEL_EXPORTER_OTLP_ENDPOINT", "localhost:4318"}, {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "grpc://collector:4317"},
  };
  const st::TracingConfig defaults = st::TracingConfig{}.load();
  for (const auto& [name, value] : cases) {
    CapturedDiagnostics diagnostics;
    EnvGuard variable(name, value);
    std::unique_ptr<st::SessionTracer> tracer;
    ASSERT_NO_THROW(tracer = std::make_unique<st::SessionTracer>()) << name;
    const st::TracingConfig& c = tracer->config();
    EXPECT_EQ(c.otel_timeout_ms, defaults.otel_timeout_ms) << name;
    EXPECT_EQ(c.otel_max_queue_size, defaults.otel_max_queue_size) << name;
    EXPECT_EQ(c.otel_schedule_delay_ms, defaults.otel_schedule_delay_ms) << name;
    EXPECT_TRUE(c.otel_headers->empty()) << name;
    EXPECT_FALSE(c.otel_gzip) << name;
    EXPECT_TRUE(c.otel_resource_attributes->empty()) << name;
    EXPECT_TRUE(c.otel_endpoint->empty()) << name;
    EXPECT_EQ(mentions(diagnostics, name + std::string("=\"") + value + "\""), 1u) << name;
  }
}

TEST(OtelEnvironment, ABatchLargerThanTheQueueIsCutToTheQueue) {
  CapturedDiagnostics diagnostics;
  EnvGuard batch("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "4096");
  st::SessionTracer tracer;
  EXPECT_EQ(tracer.config().otel_max_export_batch_size, 2048u);
  EXPECT_EQ(mentions(diagnostics, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE"), 1u);
  // Given in code, the same setting is a mistake to correct.
  EXPECT_THROW(st::SessionTracer(st::TracingConfig{.otel_max_export_batch_size = 4096}), st::Error);
}

TEST(OtelEnvironment, ModeOtelWithSpanExportTurnedOffIsReported) {
  CapturedDiagnostics diagnostics;
  SpanFile file;
  EnvGuard disabled("OTEL_SDK_DISABLED", "true");
  st::SessionTracer tracer(st::TracingConfig{.mode = st::TracingMode::otel, .otel_endpoint = file.endpoint()});
  EXPECT_EQ(mentions(diagnostics, "mode otel without span export"), 1u);
}
