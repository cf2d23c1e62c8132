// A pricing file (the pricing_file setting). Promises: bad input raises TraceFormatError and
// nothing else; every model of a table that loads is found by its own id, also once merged
// over the built-in table, and priced for an ordinary call (a cost that is neither negative nor
// NaN; absurd prices may make it infinite).
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "synth/tracing/cost.hpp"
#include "synth/tracing/error.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  st::PricingTable table;
  try {
    table = st::PricingTable::from_json(text, "fuzz-pricing.json");
  } catch (const st::TraceFormatError&) {
    return 0;
  }
  const st::PricingTable merged = st::PricingTable::builtin().merged_with(table);
  const st::TokenUsage usage{.prompt_tokens = 1200, .completion_tokens = 300, .cached_tokens = 200,
                             .reasoning_tokens = 100, .cache_write_tokens = 50};
  for (const std::string& model : table.models()) {
    const st::ModelPrice* own = table.find(model);
    st::fuzz::check(own != nullptr, "a model of the table is found by its id");
    st::fuzz::check(merged.find(model) != nullptr, "a model of the table is found once merged over the built-in one");
    const auto cost = table.cost(model, usage);
    st::fuzz::check(cost.has_value() && !std::isnan(*cost) && *cost >= 0, "an ordinary call has a cost");
  }
  return 0;
}
