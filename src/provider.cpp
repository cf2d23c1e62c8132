// The provider vocabulary: OpenTelemetry GenAI `gen_ai.provider.name` values.
#include <array>
#include <string>

#include "synth/tracing/model.hpp"

namespace synth::tracing {

namespace {
std::string lower_trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    if (s.starts_with(p)) return true;
  }
  return false;
}

// "o1", "o3-mini", "o4-mini-2025-04-16": OpenAI's reasoning series.
bool is_openai_o_series(std::string_view m) {
  return m.size() >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9' && (m.size() == 2 || m[2] == '-');
}
}  // namespace

std::string normalize_provider(std::string_view provider) {
  const std::string p = lower_trimmed(provider);
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 24> kAliases{{
      {"open_ai", "openai"},
      {"azure", "azure.ai.openai"},
      {"azure_openai", "azure.ai.openai"},
      {"azure-openai", "azure.ai.openai"},
      {"claude", "anthropic"},
      {"google", "gcp.gemini"},
      {"gemini", "gcp.gemini"},
      {"google_genai", "gcp.gemini"},
      {"vertex", "gcp.vertex_ai"},
      {"vertex_ai", "gcp.vertex_ai"},
      {"vertexai", "gcp.vertex_ai"},
      {"mistral", "mistral_ai"},
      {"mistralai", "mistral_ai"},
      {"xai", "x_ai"},
      {"grok", "x_ai"},
      {"bedrock", "aws.bedrock"},
      {"aws", "aws.bedrock"},
      {"together_ai", "together"},
      {"togetherai", "together"},
      {"meta-llama", "meta"},
      {"watsonx", "ibm.watsonx.ai"},
      {"perplexity_ai", "perplexity"},
      {"cohere_ai", "cohere"},
      {"deepseek_ai", "deepseek"},
  }};
  for (const auto& [alias, name] : kAliases) {
    if (p == alias) return std::string(name);
  }
  return p;
}

std::optional<std::string> detect_provider(std::string_view model_name) {
  std::string m = lower_trimmed(model_name);
  if (m.empty()) return std::nullopt;
  if (m.starts_with("ft:")) m.erase(0, 3);  // OpenAI fine-tunes: ft:gpt-4o-mini:org::id
  // "openai/gpt-4o", "anthropic/claude-3-5-sonnet": a router's provider prefix.
  if (const auto slash = m.find('/'); slash != std::string::npos) {
    const std::string prefix = normalize_provider(std::string_view(m).substr(0, slash));
    if (prefix == "openrouter" || prefix == "together" || prefix == "groq") return prefix;
    if (auto inner = detect_provider(std::string_view(m).substr(slash + 1))) return inner;
    return prefix;
  }
  if (m.find("claude") != std::string::npos) return "anthropic";
  if (m.starts_with("gpt-35")) return "azure.ai.openai";  // Azure's deployment names
  if (starts_with_any(m, {"gpt-", "gpt4", "chatgpt", "davinci", "babbage", "text-embedding", "whisper", "tts-",
                          "dall-e", "omni-moderation", "text-moderation", "codex-"}) ||
      is_openai_o_series(m)) {
    return "openai";
  }
  if (starts_with_any(m, {"gemini", "gemma"})) return "gcp.gemini";
  if (m.starts_with("deepseek")) return "deepseek";
  if (starts_with_any(m, {"mistral", "mixtral", "codestral", "ministral", "pixtral", "magistral", "devstral"})) {
    return "mistral_ai";
  }
  if (m.starts_with("grok")) return "x_ai";
  if (m.starts_with("command")) return "cohere";
  if (m.starts_with("sonar")) return "perplexity";
  return std::nullopt;
}

}  // namespace synth::tracing
