// Environment values as TracingConfig::load reads them (SYNTH_TRACING_*, OTEL_*): the input sets
// fuzzer-chosen variables to fuzzer-chosen values. Promises: a bad value raises
// synth::tracing::Error (nothing else) naming the variable, or the field that fails validation; a
// configuration that loads is valid.
#include <fuzzer/FuzzedDataProvider.h>

#include <iterator>
#include <set>
#include <string>

#include "config_fuzz.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  st::fuzz::clear_config_environment();
  FuzzedDataProvider input(data, size);
  constexpr std::size_t kVariables = std::size(st::fuzz::kConfigVariables);
  std::set<std::string, std::less<>> names;  // the variables set, for the check below
  while (input.remaining_bytes() > 0) {
    const char* name = st::fuzz::kConfigVariables[input.ConsumeIntegralInRange<std::size_t>(0, kVariables - 1)];
    const std::string value = input.ConsumeRandomLengthString(256);
    setenv(name, value.c_str(), 1);
    names.emplace(name);
  }
  try {
    st::TracingConfig{}.load().validate();
  } catch (const st::Error& e) {
    const std::string_view message = e.what();
    constexpr std::string_view kVariable = "environment variable ";
    bool names_a_set_variable = false;
    if (message.starts_with(kVariable)) {
      const std::string_view rest = message.substr(kVariable.size());
      names_a_set_variable = names.contains(rest.substr(0, rest.find('=')));
    }
    st::fuzz::check(names_a_set_variable || message.starts_with("TracingConfig: "),
                    "a config error names the variable (or the field that fails validation)");
  }
  return 0;
}
