// Cost of LLM calls from token usage (TokenUsage: model.hpp) and a pricing table shipped with the
// library. Target synth::tracing_policy.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/model.hpp"

namespace synth::tracing {

/// USD per million tokens for one model.
struct ModelPrice {
  std::string model;
  double input = 0;
  double output = 0;
  /// Cached input; when absent, cached tokens cost the input rate.
  std::optional<double> cached_input;
  /// Writing the prompt cache; when absent, those tokens cost the input rate.
  std::optional<double> cache_write;
};

/// Model prices. Lookup: the exact id; else the id without a dated-snapshot suffix
/// ("gpt-4o-2024-08-06" -> "gpt-4o"); else the longest known prefix that ends at a word
/// boundary ("gpt-4o-mini-search" -> "gpt-4o-mini", never "gpt-4o" -> "gpt-4"). Case-insensitive.
class PricingTable {
 public:
  PricingTable();
  ~PricingTable();
  PricingTable(const PricingTable&);
  PricingTable& operator=(const PricingTable&);
  PricingTable(PricingTable&&) noexcept;
  PricingTable& operator=(PricingTable&&) noexcept;

  /// The table shipped with the library (data/pricing.json, compiled in).
  static const PricingTable& builtin();
  /// Reads `{"as_of": "YYYY-MM-DD", "models": {"<id>": {"input": .., "output": .., "cached_input": ..,
  /// "cache_write": ..}}}`. Throws TraceFormatError naming the source and the problem.
  static PricingTable from_json(std::string_view text, std::string_view source = "<string>");
  static PricingTable load_file(const std::filesystem::path& path);

  /// This table with `other`'s models added, replacing same-named ones (a user's file over the
  /// built-in table).
  PricingTable merged_with(const PricingTable& other) const;

  /// The price of `model`, or nullptr when unknown.
  const ModelPrice* find(std::string_view model) const;
  /// Cost in USD, or nullopt for an unknown model (never a silent 0).
  std::optional<double> cost(std::string_view model, const TokenUsage& usage) const;

  /// The date the prices were checked ("YYYY-MM-DD"), as written in the table.
  const std::string& as_of() const noexcept;
  std::vector<std::string> models() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Cost in USD with the built-in table, or nullopt for an unknown model.
std::optional<double> calculate_cost(std::string_view model, const TokenUsage& usage);

}  // namespace synth::tracing
