// Internal: what happens to recorded data before it leaves the process (sinks, files, the
// database, exports): PII masking, truncation of long strings, and the cost of LLM calls.
// Applied once per item where a finished session is assembled, off the agent's thread.
// Registered secrets are masked even when PII masking is off. PII detectors and prices come from
// synth::tracing_policy when it is linked (tracer/layers.hpp); without it, registered secrets are
// masked and calls keep the cost their provider reported.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "synth/tracing/config.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/span.hpp"
#include "tracer/layers.hpp"

namespace synth::tracing::detail {

class OutgoingPolicy {
 public:
  /// Throws Error for a PII pattern that does not compile or a pricing file that cannot be read,
  /// and for either when synth::tracing_policy is not linked.
  explicit OutgoingPolicy(const TracingConfig& config);

  void apply(Event& event) const;
  void apply(SessionEventMessage& message) const;
  /// The entry's data.
  void apply(SessionMetadataEntry& entry) const;
  /// The timestep's step_metadata (its events and messages are applied one by one).
  void apply(SessionTimeStep& step) const;
  /// Masks then truncates every string in `value` (masking first, so a cut never splits an item
  /// and leaves part of it readable).
  void apply(Value& value) const;
  /// Masks and truncates a span's name, attributes, events and status message, and adds
  /// `synth.cost_usd` to an LLM call's span from its model and usage (or `synth.cost_status`).
  void apply(SpanData& span) const;

 private:
  /// Masks then truncates one string.
  void mask_and_cut(std::string& text) const;
  void truncate(Value& value) const;
  /// Sets `cost` from the model's price and `usage` (nullopt: the provider reported none), or
  /// returns why there is none: "no_usage" or "unknown_model" ("" when priced).
  std::string_view price(const std::string* model, const std::optional<TokenUsage>& usage,
                         std::optional<double>& cost) const;
  /// An LLM call's cost from its tokens, or metadata.cost_status.
  void price(CAISEvent& call) const;
  /// The same for an LLM call's span, from its gen_ai.usage.* attributes.
  void price(SpanData& span) const;

  std::shared_ptr<const TextMasker> masker_;  // with mask_pii off: registered secrets only
  std::size_t max_bytes_ = 0;  // 0: no truncation
  std::shared_ptr<const CallPricer> pricer_;  // null: no pricing
};

}  // namespace synth::tracing::detail
