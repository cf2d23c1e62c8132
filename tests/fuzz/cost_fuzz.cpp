// Model ids and token counts as providers report them, priced with the built-in table (every LLM
// call's cost). The input is a usage (five counts, any values) and a model id. Promises: no crash
// and no undefined behaviour (no overflow, whatever the counts); a cost is never negative or NaN.
#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.hpp"
#include "synth/tracing/cost.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  st::TokenUsage usage;
  usage.prompt_tokens = input.ConsumeIntegral<std::int64_t>();
  usage.completion_tokens = input.ConsumeIntegral<std::int64_t>();
  usage.cached_tokens = input.ConsumeIntegral<std::int64_t>();
  usage.reasoning_tokens = input.ConsumeIntegral<std::int64_t>();
  usage.cache_write_tokens = input.ConsumeIntegral<std::int64_t>();
  const std::string model = input.ConsumeRemainingBytesAsString();
  if (const auto cost = st::calculate_cost(model, usage)) {
    st::fuzz::check(!std::isnan(*cost) && *cost >= 0, "a cost is never negative or NaN");
  }
  return 0;
}
