// The provider vocabulary: openai, azure_openai, anthropic, google, groq, deepseek, mistral, xai,
// together, openrouter, local, unknown; the registry of what is known of each.
#include <string>

#include "model/providers.hpp"
#include "text.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing {

namespace detail {
namespace {
// stream_options: documented by OpenAI, Azure OpenAI, Groq, DeepSeek and xAI. Mistral refuses it
// (422); Together and OpenRouter send usage in every stream's last chunk without it. Local servers
// differ (LMOptions::stream_usage turns it on).
constexpr ProviderInfo kProviders[] = {
    {.name = "openai", .otel_name = "openai", .aliases = {"open_ai"}, .domains = {"openai.com"},
     .wire = Wire::openai, .base_url = "https://api.openai.com/v1", .key_variable = "OPENAI_API_KEY",
     .accepts_stream_options = true, .max_completion_tokens = true},
    {.name = "azure_openai", .otel_name = "azure.ai.openai", .aliases = {"azure", "azure-openai", "azure.ai.openai"},
     .wire = Wire::openai, .key_variable = "AZURE_OPENAI_API_KEY", .accepts_stream_options = true,
     .max_completion_tokens = true},
    {.name = "anthropic", .otel_name = "anthropic", .aliases = {"claude"}, .domains = {"anthropic.com"},
     .wire = Wire::anthropic, .base_url = "https://api.anthropic.com", .key_variable = "ANTHROPIC_API_KEY"},
    {.name = "google", .otel_name = "gcp.gemini",
     .aliases = {"gemini", "gcp.gemini", "google_genai", "google-genai", "vertex", "vertex_ai", "vertexai",
                 "gcp.vertex_ai"},
     .domains = {"googleapis.com"}, .wire = Wire::gemini, .base_url = "https://generativelanguage.googleapis.com",
     .key_variable = "GEMINI_API_KEY"},
    {.name = "groq", .otel_name = "groq", .aliases = {"groqcloud"}, .domains = {"groq.com"},
     .base_url = "https://api.groq.com/openai/v1", .key_variable = "GROQ_API_KEY", .accepts_stream_options = true},
    {.name = "deepseek", .otel_name = "deepseek", .aliases = {"deepseek_ai"}, .domains = {"deepseek.com"},
     .base_url = "https://api.deepseek.com/v1", .key_variable = "DEEPSEEK_API_KEY", .accepts_stream_options = true},
    {.name = "mistral", .otel_name = "mistral_ai", .aliases = {"mistral_ai", "mistralai"}, .domains = {"mistral.ai"},
     .base_url = "https://api.mistral.ai/v1", .key_variable = "MISTRAL_API_KEY"},
    {.name = "xai", .otel_name = "x_ai", .aliases = {"x_ai", "grok"}, .domains = {"x.ai"},
     .base_url = "https://api.x.ai/v1", .key_variable = "XAI_API_KEY", .accepts_stream_options = true},
    {.name = "together", .otel_name = "together", .aliases = {"together_ai", "togetherai"},
     .domains = {"together.xyz", "together.ai"}, .base_url = "https://api.together.xyz/v1",
     .key_variable = "TOGETHER_API_KEY"},
    {.name = "openrouter", .otel_name = "openrouter", .aliases = {"open_router"}, .domains = {"openrouter.ai"},
     .base_url = "https://openrouter.ai/api/v1", .key_variable = "OPENROUTER_API_KEY"},
    {.name = "local", .otel_name = "local",
     .aliases = {"vllm", "ollama", "llama.cpp", "llamacpp", "llama-cpp", "lmstudio", "sglang"}},
    {.name = "unknown", .otel_name = "unknown", .aliases = {"none"}},
};
}  // namespace

std::span<const ProviderInfo> providers() noexcept { return kProviders; }

const ProviderInfo* find_provider(std::string_view name) noexcept {
  for (const ProviderInfo& p : kProviders) {
    if (p.name == name) return &p;
  }
  return nullptr;
}
}  // namespace detail

namespace {
std::string lower_trimmed(std::string_view s) { return detail::ascii_lower(detail::trim_blanks(s)); }

bool starts_with_any(std::string_view s, std::initializer_list<std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    if (s.starts_with(p)) return true;
  }
  return false;
}

bool ends_with_any(std::string_view s, std::initializer_list<std::string_view> suffixes) {
  for (std::string_view p : suffixes) {
    if (s.ends_with(p)) return true;
  }
  return false;
}

// "o1", "o3-mini", "o4-mini-2025-04-16": OpenAI's reasoning series.
bool is_openai_o_series(std::string_view m) {
  return m.size() >= 2 && m[0] == 'o' && m[1] >= '1' && m[1] <= '9' && (m.size() == 2 || m[2] == '-');
}

// The host of a URL ("https://user@api.openai.com:443/v1" -> "api.openai.com"); the whole text
// when it has no scheme.
std::string_view url_host(std::string_view url) {
  if (const auto scheme = url.find("://"); scheme != std::string_view::npos) url.remove_prefix(scheme + 3);
  url = url.substr(0, url.find_first_of("/?#"));
  if (const auto at = url.rfind('@'); at != std::string_view::npos) url.remove_prefix(at + 1);
  if (url.starts_with('[')) return url.substr(1, url.find(']') - 1);  // [::1]:8000
  return url.substr(0, url.find(':'));
}

bool is_private_ipv4(std::string_view host) {
  if (starts_with_any(host, {"127.", "10.", "192.168.", "0."})) return true;
  if (host.starts_with("172.")) {
    const std::string_view rest = host.substr(4);
    const int second = rest.size() >= 2 && rest[0] >= '0' && rest[0] <= '9' && rest[1] >= '0' && rest[1] <= '9'
                           ? (rest[0] - '0') * 10 + (rest[1] - '0')
                           : -1;
    return second >= 16 && second <= 31 && rest.size() > 2 && rest[2] == '.';
  }
  return false;
}

// The provider a server address names, or "" when the address says nothing.
std::string provider_of_endpoint(std::string_view endpoint) {
  const std::string host = lower_trimmed(url_host(endpoint));
  if (host.empty()) return {};
  if (host == "localhost" || host == "::1" || host == "host.docker.internal" || is_private_ipv4(host) ||
      ends_with_any(host, {".local", ".localhost", ".internal"})) {
    return "local";
  }
  if (host.find("azure") != std::string::npos) return "azure_openai";  // *.openai.azure.com
  for (const detail::ProviderInfo& p : detail::providers()) {
    for (std::string_view domain : p.domains) {
      if (!domain.empty() && (host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                                                 host[host.size() - domain.size() - 1] == '.'))) {
        return std::string(p.name);
      }
    }
  }
  return {};
}

std::string provider_of_model(std::string_view model_name) {
  std::string m = lower_trimmed(model_name);
  if (m.starts_with("ft:")) m.erase(0, 3);  // OpenAI fine-tunes: ft:gpt-4o-mini:org::id
  // "openai/gpt-4o", "anthropic/claude-3-5-sonnet": a router's provider prefix.
  if (const auto slash = m.find('/'); slash != std::string::npos) {
    const std::string prefix = normalize_provider(std::string_view(m).substr(0, slash));
    if (prefix == "openrouter" || prefix == "together" || prefix == "groq") return prefix;
    if (std::string inner = provider_of_model(std::string_view(m).substr(slash + 1)); inner != "unknown") return inner;
    return prefix == "openai" || prefix == "anthropic" || prefix == "google" || prefix == "deepseek" ||
                   prefix == "mistral" || prefix == "xai"
               ? prefix
               : "unknown";
  }
  if (m.find("claude") != std::string::npos) return "anthropic";
  if (m.starts_with("gpt-35")) return "azure_openai";  // Azure's name for gpt-3.5
  if (starts_with_any(m, {"gpt-", "gpt4", "chatgpt", "davinci", "babbage", "text-embedding", "whisper", "tts-",
                          "dall-e", "omni-moderation", "text-moderation", "codex-"}) ||
      is_openai_o_series(m)) {
    return "openai";
  }
  if (starts_with_any(m, {"gemini", "gemma"})) return "google";
  if (m.starts_with("deepseek")) return "deepseek";
  if (starts_with_any(m, {"mistral", "mixtral", "codestral", "ministral", "pixtral", "magistral", "devstral"})) {
    return "mistral";
  }
  if (m.starts_with("grok")) return "xai";
  return "unknown";
}
}  // namespace

std::string normalize_provider(std::string_view provider) {
  const std::string p = lower_trimmed(provider);
  if (p.empty()) return "unknown";
  for (const detail::ProviderInfo& info : detail::providers()) {
    for (std::string_view alias : info.aliases) {
      if (!alias.empty() && p == alias) return std::string(info.name);
    }
  }
  return p;
}

std::string detect_provider(std::string_view model_name, std::string_view endpoint) {
  // The server decides who answers: gpt-4o through OpenRouter is OpenRouter's.
  if (std::string from_endpoint = provider_of_endpoint(endpoint); !from_endpoint.empty()) return from_endpoint;
  return provider_of_model(model_name);
}

}  // namespace synth::tracing
