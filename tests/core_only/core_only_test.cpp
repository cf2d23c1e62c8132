// A program that links synth::tracing_core alone, as a user who only opens scopes would: it
// records, writes JSON traces and masks registered secrets, and every setting that needs a layer
// it does not link fails with an error naming the target to link (never a silent no-op).
// core_only_links_no_layer (tests/CMakeLists.txt) checks that the binary needs none of RE2,
// libcurl, zlib, yaml-cpp, toml++ or DuckDB.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include <unistd.h>

#include "synth/tracing/error.hpp"
#include "synth/tracing/instrument.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/secrets.hpp"
#include "synth/tracing/sinks.hpp"
#include "synth/tracing/tracer.hpp"

namespace st = synth::tracing;

namespace {

std::filesystem::path fresh_folder(const std::string& name) {
  const auto folder = std::filesystem::temp_directory_path() / ("synth_core_only_" + name + "_" + std::to_string(::getpid()));
  std::filesystem::remove_all(folder);
  std::filesystem::create_directories(folder);
  return folder;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The message of the st::Error that `make` throws, or "" when it throws none.
template <class Make>
std::string error_of(Make&& make) {
  try {
    make();
  } catch (const st::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(CoreOnly, RecordsScopesIntoJsonFilesWithRegisteredSecretsMaskedAndNoPrice) {
  const auto folder = fresh_folder("record");
  st::register_secret("core-only-secret-123456");
  {
    st::SessionTracer tracer(st::TracingConfig{.save_dir = folder, .checkpoint = false});
    auto session = tracer.start_session("core-only-session");
    auto step = tracer.timestep(1);
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .provider = "openai", .tracer = &tracer});
      call.request({{"prompt", "my key is core-only-secret-123456, mail me at a@example.com"}});
      call.response({{"text", "ok"}});
      call.usage({.prompt_tokens = 10, .completion_tokens = 5});
    }
    step.end();
    session.end();
    ASSERT_TRUE(tracer.flush());
    EXPECT_EQ(tracer.stats().sessions_ended, 1u);
  }
  // The JSON file sink names files session_<id>_<time>.json.
  std::string trace;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    if (entry.path().filename().string().starts_with("session_core-only-session_")) trace = read_file(entry.path());
  }
  ASSERT_FALSE(trace.empty()) << "no trace file in " << folder;
  EXPECT_EQ(trace.find("core-only-secret-123456"), std::string::npos) << trace;
  EXPECT_NE(trace.find("[SECRET]"), std::string::npos) << trace;
  // Without synth::tracing_policy there are no PII detectors and no price table.
  EXPECT_NE(trace.find("a@example.com"), std::string::npos) << trace;
  EXPECT_NE(trace.find("\"prompt_tokens\":10"), std::string::npos) << trace;
  EXPECT_NE(trace.find("\"cost\":null"), std::string::npos) << trace;
  EXPECT_EQ(trace.find("price_table"), std::string::npos) << trace;
}

TEST(CoreOnly, AnOtlpEndpointWithoutTheOtelLayerIsReportedAndRecordingGoesOn) {
  std::string reported;
  st::set_diagnostic_handler([&](std::string_view message) { reported += std::string(message) + "\n"; });
  {
    st::SessionTracer tracer(st::TracingConfig{.mode = st::TracingMode::dual, .otel_endpoint = "http://127.0.0.1:9/v1/traces"});
    auto session = tracer.start_session("spans-wanted");
    session.end();
    EXPECT_EQ(tracer.stats().sessions_ended, 1u);
  }
  st::set_diagnostic_handler({});
  EXPECT_NE(reported.find("synth::tracing_otel (span export) is not linked"), std::string::npos) << reported;
}

TEST(CoreOnly, SettingsThatNeedALayerNameTheTargetToLink) {
  EXPECT_NE(error_of([] { st::SessionTracer t(st::TracingConfig{.pii_patterns = std::vector<st::PiiPattern>{{"id", "ID-[0-9]+", "[ID]"}}}); })
                .find("needs synth::tracing_policy"),
            std::string::npos);
  EXPECT_NE(error_of([] { st::SessionTracer t(st::TracingConfig{.pricing_file = "prices.json"}); })
                .find("needs synth::tracing_policy"),
            std::string::npos);
  EXPECT_NE(error_of([] { st::SessionTracer t(st::TracingConfig{.collector = "http://127.0.0.1:9"}); })
                .find("needs synth::tracing_otel"),
            std::string::npos);
  const auto folder = fresh_folder("config");
  std::ofstream(folder / "tracing.yaml") << "mask_pii: false\n";
  const std::string yaml = error_of([&] { st::TracingConfig{}.load(folder / "tracing.yaml"); });
  EXPECT_NE(yaml.find("need synth::tracing_config_files"), std::string::npos) << yaml;
  std::ofstream(folder / "tracing.json") << R"({"mask_pii": false})";
  EXPECT_FALSE(*st::TracingConfig{}.load(folder / "tracing.json").mask_pii);  // JSON files are the core's
}
