// What the pricing tests share (cost_test.cpp, pricing_table_test.cpp): token usages and small
// tables.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "synth/tracing/cost.hpp"

namespace cost_fixture {

namespace st = synth::tracing;

inline st::TokenUsage usage(std::int64_t prompt, std::int64_t completion, std::int64_t cached = 0,
                            std::int64_t reasoning = 0, std::int64_t cache_write = 0) {
  st::TokenUsage u;
  u.prompt_tokens = prompt;
  u.completion_tokens = completion;
  u.cached_tokens = cached;
  u.reasoning_tokens = reasoning;
  u.cache_write_tokens = cache_write;
  return u;
}

// A table of the given ids, each priced 1/2.
inline st::PricingTable table_of(const std::vector<std::string>& ids) {
  std::string json = R"({"as_of": "2025-01-01", "models": {)";
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0) json += ',';
    json += '"' + ids[i] + R"(": {"input": 1, "output": 2})";
  }
  json += "}}";
  return st::PricingTable::from_json(json, "test-table");
}

}  // namespace cost_fixture
