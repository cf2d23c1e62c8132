// The provider vocabulary: openai, azure_openai, anthropic, google, groq, deepseek, mistral, xai,
// together, openrouter, local, unknown.
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
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 10> kHosts{{
      {"openai.com", "openai"},
      {"anthropic.com", "anthropic"},
      {"googleapis.com", "google"},
      {"groq.com", "groq"},
      {"deepseek.com", "deepseek"},
      {"mistral.ai", "mistral"},
      {"x.ai", "xai"},
      {"together.xyz", "together"},
      {"together.ai", "together"},
      {"openrouter.ai", "openrouter"},
  }};
  for (const auto& [domain, provider] : kHosts) {
    if (host == domain || (host.size() > domain.size() && host.ends_with(domain) &&
                           host[host.size() - domain.size() - 1] == '.')) {
      return std::string(provider);
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
  static constexpr std::array<std::pair<std::string_view, std::string_view>, 30> kAliases{{
      {"open_ai", "openai"},
      {"azure", "azure_openai"},
      {"azure-openai", "azure_openai"},
      {"azure.ai.openai", "azure_openai"},
      {"claude", "anthropic"},
      {"gemini", "google"},
      {"gcp.gemini", "google"},
      {"google_genai", "google"},
      {"google-genai", "google"},
      {"vertex", "google"},
      {"vertex_ai", "google"},
      {"vertexai", "google"},
      {"gcp.vertex_ai", "google"},
      {"mistral_ai", "mistral"},
      {"mistralai", "mistral"},
      {"x_ai", "xai"},
      {"grok", "xai"},
      {"together_ai", "together"},
      {"togetherai", "together"},
      {"deepseek_ai", "deepseek"},
      {"groqcloud", "groq"},
      {"open_router", "openrouter"},
      {"vllm", "local"},
      {"ollama", "local"},
      {"llama.cpp", "local"},
      {"llamacpp", "local"},
      {"llama-cpp", "local"},
      {"lmstudio", "local"},
      {"sglang", "local"},
      {"none", "unknown"},
  }};
  for (const auto& [alias, name] : kAliases) {
    if (p == alias) return std::string(name);
  }
  return p;
}

std::string detect_provider(std::string_view model_name, std::string_view endpoint) {
  // The server decides who answers: gpt-4o through OpenRouter is OpenRouter's.
  if (std::string from_endpoint = provider_of_endpoint(endpoint); !from_endpoint.empty()) return from_endpoint;
  return provider_of_model(model_name);
}

}  // namespace synth::tracing
