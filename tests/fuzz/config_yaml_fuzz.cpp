// The YAML config file reader and the loader behind TracingConfig::load (see config_fuzz.hpp).
#include "config_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  synth::tracing::fuzz::run_config_file(data, size, synth::tracing::detail::ConfigFormat::yaml);
  return 0;
}
