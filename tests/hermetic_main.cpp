// main() of every test program: removes SYNTH_TRACING_* and OTEL_* variables (and DEPLOYMENT_ENV,
// which the configuration also reads) before any test runs, so that settings of the developer's
// shell or of CI never change what a test sees. Tests set what they need with ScopedEnv.
// It also runs the program in a fresh working folder of its own, removed at the end: what a
// tracer leaves relative to it (the default spill folder, .synth-tracing/spill) never reaches
// another test program's tracers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

extern char** environ;

int main(int argc, char** argv) {
  std::vector<std::string> names;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    const std::string_view name = variable.substr(0, variable.find('='));
    if (name.starts_with("SYNTH_TRACING_") || name.starts_with("OTEL_") || name == "DEPLOYMENT_ENV") {
      names.emplace_back(name);
    }
  }
  for (const std::string& name : names) ::unsetenv(name.c_str());
  const std::filesystem::path folder =
      std::filesystem::temp_directory_path() / ("synth_test_cwd_" + std::to_string(::getpid()));
  std::filesystem::create_directories(folder);
  std::filesystem::current_path(folder);
  ::testing::InitGoogleTest(&argc, argv);
  const int result = RUN_ALL_TESTS();
  std::error_code ec;
  std::filesystem::current_path(std::filesystem::temp_directory_path(), ec);
  std::filesystem::remove_all(folder, ec);
  return result;
}
