#include "tracer/outgoing.hpp"

#include <atomic>
#include <variant>

#include "diagnostics.hpp"
#include "secrets/secrets.hpp"
#include "synth/tracing/error.hpp"

namespace synth::tracing::detail {

namespace {
constexpr std::string_view kTruncationMark = "... [truncated]";

// Cuts `s` to at most `max` bytes on a UTF-8 character boundary and marks the cut.
void cut(std::string& s, std::size_t max) {
  if (s.size() <= max) return;
  std::size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(s[end]) & 0xC0) == 0x80) --end;
  s.resize(end);
  s += kTruncationMark;
}
}  // namespace

OutgoingPolicy::OutgoingPolicy(const TracingConfig& config) {
  const PolicyLayer* layer = policy_layer();
  // What the user asked for explicitly is never dropped silently.
  if (layer == nullptr && (!config.pii_patterns->empty() || !config.pricing_file->empty())) {
    throw Error(std::string("TracingConfig: ") + (config.pii_patterns->empty() ? "pricing_file" : "pii_patterns") +
                " needs synth::tracing_policy, which this program does not link: link synth::tracing_policy "
                "(or synth::tracing)");
  }
  if (config.mask_pii && layer != nullptr) {
    masker_ = layer->make_pii_masker(config);
  } else {
    static std::atomic<std::uint64_t> unmasked{0};
    if (config.mask_pii && config.mask_pii.is_set() && unmasked.fetch_add(1) == 0) {
      report("mask_pii is on, but synth::tracing_policy (the PII detectors) is not linked: only registered "
                  "secrets are masked; link synth::tracing_policy or synth::tracing");
    }
    static const auto secrets_only = std::make_shared<const RegisteredSecretsMasker>();
    masker_ = secrets_only;
  }
  if (config.truncate_payloads) max_bytes_ = config.max_payload_bytes;
  if (config.track_costs && layer != nullptr) pricer_ = layer->make_pricer(config);
}

void OutgoingPolicy::truncate(Value& value) const {
  switch (value.kind()) {
    case Value::Kind::string:
      cut(value.as_string(), max_bytes_);
      break;
    case Value::Kind::array:
      for (Value& v : value.as_array()) truncate(v);
      break;
    case Value::Kind::object:
      for (auto& [key, v] : value.as_object()) truncate(v);
      break;
    default:
      break;
  }
}

void OutgoingPolicy::mask_and_cut(std::string& text) const {
  if (text.empty()) return;
  masker_->mask_in_place(text);
  if (max_bytes_ > 0) cut(text, max_bytes_);
}

void OutgoingPolicy::apply(Value& value) const {
  if (value.is_null()) return;
  masker_->mask_in_place(value);
  if (max_bytes_ > 0) truncate(value);
}

std::string_view OutgoingPolicy::price(const std::string* model, const std::optional<TokenUsage>& usage,
                                       std::optional<double>& cost) const {
  // Never a silent 0: a call without usage, or of an unknown model, keeps no cost and says why.
  if (!usage) return "no_usage";
  if (model != nullptr) cost = pricer_->cost(*model, *usage);
  return cost ? std::string_view() : "unknown_model";
}

void OutgoingPolicy::price(CAISEvent& call) const {
  if (call.cost) return;
  std::optional<TokenUsage> usage;
  if (call.prompt_tokens || call.completion_tokens) {
    usage = TokenUsage{.prompt_tokens = call.prompt_tokens.value_or(0),
                       .completion_tokens = call.completion_tokens.value_or(0),
                       .cached_tokens = call.cached_tokens.value_or(0),
                       .reasoning_tokens = call.reasoning_tokens.value_or(0),
                       .cache_write_tokens = call.cache_write_tokens.value_or(0)};
  }
  const std::string_view status = price(call.model_name ? &*call.model_name : nullptr, usage, call.cost);
  if (!call.metadata.is_object() && !call.metadata.is_null()) return;
  // Readers (the viewer's event detail) say which table and which date a cost comes from, or why
  // there is none.
  if (status.empty()) call.metadata.set("cost_source", "price_table");
  if (status.empty() || status == "unknown_model") call.metadata.set("price_table_as_of", pricer_->as_of());
  if (!status.empty()) call.metadata.set("cost_status", status);
}

void OutgoingPolicy::price(SpanData& span) const {
  const Value* model = span.attributes.find("gen_ai.response.model");
  if (model == nullptr) model = span.attributes.find("gen_ai.request.model");
  const auto tokens = [&](std::string_view key) -> std::optional<std::int64_t> {
    const Value* v = span.attributes.find(key);
    return v != nullptr && v->is_integer() ? std::optional<std::int64_t>(v->as_int()) : std::nullopt;
  };
  const auto input = tokens("gen_ai.usage.input_tokens");
  const auto output = tokens("gen_ai.usage.output_tokens");
  std::optional<TokenUsage> usage;
  if (input || output) {
    usage = TokenUsage{.prompt_tokens = input.value_or(0),
                       .completion_tokens = output.value_or(0),
                       .cached_tokens = tokens("gen_ai.usage.cache_read.input_tokens").value_or(0),
                       .reasoning_tokens = tokens("gen_ai.usage.reasoning.output_tokens").value_or(0),
                       .cache_write_tokens = tokens("gen_ai.usage.cache_creation.input_tokens").value_or(0)};
  }
  std::optional<double> cost;
  const std::string_view status =
      price(model != nullptr && model->is_string() ? &model->as_string() : nullptr, usage, cost);
  if (cost) span.attributes.set("synth.cost_usd", *cost);
  if (!status.empty()) span.attributes.set("synth.cost_status", status);
}

void OutgoingPolicy::apply(Event& event) const {
  std::visit(
      [this](auto& e) {
        apply(e.system_state_before);
        apply(e.system_state_after);
        // The scopes' ids in it are ours, never content (a hex id whose digits pass Luhn is no card):
        // left out of the masking, which, like truncation, takes an object member by member.
        if (e.metadata.is_object()) {
          for (auto& [key, v] : e.metadata.as_object()) {
            if (!(v.is_string() && (key == "span_id" || key == "parent_span_id" || key == "trace_id"))) apply(v);
          }
        } else {
          apply(e.metadata);
        }
        for (Value& v : e.event_metadata) apply(v);
        using E = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<E, CAISEvent>) {
          for (Value& v : e.llm_call_records) apply(v);
          if (!e.provider && e.model_name) e.provider = detect_provider(*e.model_name);
          if (pricer_) price(e);
        } else if constexpr (std::is_same_v<E, EnvironmentEvent>) {
          apply(e.observation_diff);
        } else {
          apply(e.actions);
        }
      },
      event);
}

void OutgoingPolicy::apply(SessionEventMessage& message) const { apply(message.content); }

void OutgoingPolicy::apply(SessionMetadataEntry& entry) const { apply(entry.data); }

void OutgoingPolicy::apply(SessionTimeStep& step) const { apply(step.step_metadata); }

void OutgoingPolicy::apply(SpanData& span) const {
  if (pricer_ && span.kind == SpanKind::client && !span.attributes.contains("synth.cost_usd")) price(span);
  apply(span.attributes);
  for (SpanEvent& e : span.events) apply(e.attributes);
  mask_and_cut(span.name);
  mask_and_cut(span.status_message);
}

}  // namespace synth::tracing::detail
