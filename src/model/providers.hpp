// Internal: the one registry of LLM providers. Provider detection (detect_provider,
// normalize_provider), the LM client (format, endpoint, key, streaming options) and the
// OpenTelemetry attributes all read it.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace synth::tracing::detail {

/// The request and answer format a provider's API speaks.
enum class Wire : std::uint8_t { openai, anthropic, gemini };

/// What synth-tracing knows of one provider.
struct ProviderInfo {
  /// The name in synth-tracing's vocabulary ("openai", "google", "local", "unknown", ...).
  std::string_view name;
  /// OpenTelemetry's `gen_ai.provider.name` for it.
  std::string_view otel_name;
  /// Other tools' spellings of it (lower-case), for normalize_provider().
  std::array<std::string_view, 8> aliases{};
  /// Hosts (and their subdomains) that serve it, for detect_provider().
  std::array<std::string_view, 2> domains{};
  Wire wire = Wire::openai;
  /// The public endpoint the LM sends to; empty when every user has their own (Azure) or there
  /// is none (local and unknown servers).
  std::string_view base_url;
  /// Where the LM reads the key from; empty: it sends a key only when given one.
  std::string_view key_variable;
  /// Accepts `stream_options.include_usage` (OpenAI's way of asking for usage in a stream);
  /// strict servers refuse the unknown field (Mistral answers 422), others send usage anyway.
  bool accepts_stream_options = false;
  /// Wants `max_completion_tokens` rather than `max_tokens` (OpenAI and Azure OpenAI).
  bool max_completion_tokens = false;
};

/// Every known provider.
std::span<const ProviderInfo> providers() noexcept;
/// The provider named `name` (synth-tracing's vocabulary, exact), or nullptr.
const ProviderInfo* find_provider(std::string_view name) noexcept;

}  // namespace synth::tracing::detail
