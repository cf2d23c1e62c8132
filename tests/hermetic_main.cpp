// main() of every test program: removes SYNTH_TRACING_* and OTEL_* variables (and DEPLOYMENT_ENV,
// which the configuration also reads) before any test runs, so that settings of the developer's
// shell or of CI never change what a test sees. Tests set what they need with ScopedEnv.
#include <gtest/gtest.h>

#include <cstdlib>
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
  ::testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
