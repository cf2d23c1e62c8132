// Anthropic Messages answers, whole and streamed (see provider_fuzz.hpp).
#include "provider_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace lm = synth::tracing::lm_detail;
  synth::tracing::fuzz::run_provider(data, size, &lm::anthropic_parse, &lm::anthropic_stream);
  return 0;
}
