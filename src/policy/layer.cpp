// synth::tracing_policy's entry point (tracer/layers.hpp): the PII detectors (RE2) and the
// price table behind the core's outgoing policy.
#include <memory>
#include <utility>

#include "synth/tracing/cost.hpp"
#include "synth/tracing/pii.hpp"
#include "tracer/layers.hpp"

namespace synth::tracing::detail {
namespace {

class PiiTextMasker final : public TextMasker {
 public:
  explicit PiiTextMasker(PiiMasker masker) : masker_(std::move(masker)) {}
  bool mask_in_place(std::string& text) const override { return masker_.mask_in_place(text); }
  void mask_in_place(Value& value) const override { masker_.mask_in_place(value); }

 private:
  PiiMasker masker_;
};

class TablePricer final : public CallPricer {
 public:
  explicit TablePricer(PricingTable table) : table_(std::move(table)) {}
  std::optional<double> cost(std::string_view model, const TokenUsage& usage) const override {
    return table_.cost(model, usage);
  }
  const std::string& as_of() const noexcept override { return table_.as_of(); }

 private:
  PricingTable table_;
};

std::shared_ptr<const TextMasker> make_pii_masker(const TracingConfig& config) {
  // Compiling the detectors takes milliseconds: tracers without custom patterns share them.
  static const auto builtin = std::make_shared<const PiiTextMasker>(PiiMasker());
  if (config.pii_patterns->empty()) return builtin;
  return std::make_shared<const PiiTextMasker>(PiiMasker(*config.pii_patterns));
}

std::shared_ptr<const CallPricer> make_pricer(const TracingConfig& config) {
  static const auto builtin = std::make_shared<const TablePricer>(PricingTable::builtin());
  if (config.pricing_file->empty()) return builtin;
  return std::make_shared<const TablePricer>(PricingTable::builtin().merged_with(PricingTable::load_file(config.pricing_file)));
}

std::string redact_credentials(std::string_view text) {
  // Never destroyed: diagnostics may be reported while the process exits.
  static const PiiMasker* const credentials = new PiiMasker({PiiPattern{"api_key", "", ""}}, false);
  return credentials->mask(text);
}

}  // namespace
}  // namespace synth::tracing::detail

extern "C" const synth::tracing::detail::PolicyLayer* synth_tracing_policy_layer() noexcept {
  static const synth::tracing::detail::PolicyLayer layer{
      .make_pii_masker = synth::tracing::detail::make_pii_masker,
      .make_pricer = synth::tracing::detail::make_pricer,
      .redact_credentials = synth::tracing::detail::redact_credentials,
  };
  return &layer;
}
