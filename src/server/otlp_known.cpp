// KnownAttributes: the attribute keys the OTLP mapping reads (otlp_events.cpp, otlp_map.cpp),
// found in one pass over a span's attributes through a small open-addressing table.
#include <iterator>

#include "server/otlp_map.hpp"

namespace synth::tracing::server::otlp {

namespace {

using Known = KnownAttributes;

// The names of KnownAttributes' keys, in its order.
constexpr std::string_view kKnownKeys[] = {
    "synth.kind", "synth.step_id", "synth.turn",
    "synth.system_id", "synth.total_tokens", "synth.cost_usd", "synth.reward", "synth.terminated", "synth.truncated",
    "synth.success", "openinference.span.kind", "traceloop.span.kind", "gen_ai.operation.name", "gen_ai.tool.name",
    "tool.name", "gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "llm.request.model_name",
    "llm.response.model_name", "ai.model.id", "gen_ai.agent.name", "error.type", "gen_ai.response.time_to_first_chunk",
    "gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system",
    "gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens", "llm.usage.prompt_tokens",
    "gen_ai.usage.output_tokens", "llm.token_count.completion", "gen_ai.usage.completion_tokens",
    "llm.usage.completion_tokens", "llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens",
    "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read", "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens", "llm.token_count.prompt_details.cache_write",
    "gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning", "llm.cost.total",
    "gen_ai.usage.cost", "llm.invocation_parameters", "gen_ai.request.temperature", "gen_ai.request.max_tokens",
    "gen_ai.request.top_p", "gen_ai.request.top_k", "gen_ai.request.seed", "gen_ai.request.stream",
    "gen_ai.request.stop_sequences", "input.value", "traceloop.entity.input", "output.value", "traceloop.entity.output",
    "gen_ai.response.finish_reasons", "gen_ai.response.id", "gen_ai.tool.call.id", "tool.id",
    "gen_ai.tool.call.arguments", "tool.parameters", "gen_ai.tool.call.result", "gen_ai.input.messages",
    "gen_ai.system_instructions", "llm.input_messages", "gen_ai.prompt", "gen_ai.output.messages",
    "llm.output_messages", "gen_ai.completion"};
static_assert(std::size(kKnownKeys) == Known::kCount);

// The flattened message lists (Known::flattened), in the order of their keys.
constexpr Known::Key kListKeys[] = {Known::gen_ai_input_messages, Known::gen_ai_system_instructions,
                                    Known::llm_input_messages,    Known::gen_ai_prompt,
                                    Known::gen_ai_output_messages, Known::llm_output_messages,
                                    Known::gen_ai_completion};
static_assert(Known::gen_ai_completion - Known::gen_ai_input_messages == 6 && Known::gen_ai_completion + 1 == Known::kCount);

// An open-addressing table from a key's name to its Known::Key: a few of its characters hashed
// (its length and characters spread over it) and the name compared once.
class KnownTable {
 public:
  static constexpr std::uint8_t kEmpty = 0xFF;
  KnownTable() {
    slots_.fill(kEmpty);
    for (std::uint8_t k = 0; k < Known::kCount; ++k) {
      std::size_t at = slot_of(kKnownKeys[k]);
      while (slots_[at] != kEmpty) at = (at + 1) % kSlots;
      slots_[at] = k;
    }
  }
  // The key named `name`, else kEmpty.
  std::uint8_t find(std::string_view name) const noexcept {
    if (name.empty()) return kEmpty;
    for (std::size_t at = slot_of(name);; at = (at + 1) % kSlots) {
      const std::uint8_t k = slots_[at];
      if (k == kEmpty || kKnownKeys[k] == name) return k;
    }
  }

 private:
  static constexpr std::size_t kSlots = 512;
  static std::size_t slot_of(std::string_view name) noexcept {
    const std::size_t n = name.size();
    const auto c = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(name[i])); };
    std::uint32_t h = static_cast<std::uint32_t>(n) * 0x9E3779B1U;
    h ^= c(n - 1) * 0x85EBCA6BU;
    h ^= c(n / 2) * 0xC2B2AE35U;
    h ^= c(n / 4) * 0x27D4EB2FU;
    h ^= c(n * 3 / 4) * 0x165667B1U;
    return (h ^ (h >> 15)) % kSlots;
  }
  std::array<std::uint8_t, kSlots> slots_{};
};

}  // namespace

std::string_view KnownAttributes::name(Key key) noexcept { return kKnownKeys[key]; }

namespace {

const KnownTable& known_table() {
  static const KnownTable table;
  return table;
}

// The message list (its index in kListKeys) that `name` is an attribute of, flattened
// ("gen_ai.prompt.0.content"); -1 for none.
int flattened_list_of(std::string_view name) noexcept {
  if (name.empty() || (name[0] != 'g' && name[0] != 'l')) return -1;
  for (std::size_t i = 0; i < std::size(kListKeys); ++i) {
    const std::string_view list = kKnownKeys[kListKeys[i]];
    if (name.size() > list.size() + 1 && name[list.size()] == '.' && name.starts_with(list)) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

KnownAttributes::KnownAttributes(const Value& attributes) {
  const KnownTable& table = known_table();
  if (!attributes.is_object()) return;
  for (const auto& [name, value] : attributes.as_object()) {
    if (const std::uint8_t k = table.find(name); k != KnownTable::kEmpty) {
      if (found_[k] == nullptr) found_[k] = &value;  // a repeated key: the first, as Value::find
    } else if (const int list = flattened_list_of(name); list >= 0) {
      flattened_ |= 1U << list;
    } else {
      ++unknown_;
    }
  }
}

bool KnownAttributes::is_known(std::string_view name) noexcept {
  return known_table().find(name) != KnownTable::kEmpty || flattened_list_of(name) >= 0;
}

}  // namespace synth::tracing::server::otlp
