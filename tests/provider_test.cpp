// The provider vocabulary: detection from model names (the original's table, without its gaps)
// and endpoints, and normalization of other tools' spellings.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "synth/tracing/model.hpp"

namespace st = synth::tracing;

TEST(Provider, DetectFromModelName) {
  const std::vector<std::pair<std::string, std::string>> cases{
      // The original's table (reference §5).
      {"gpt-4", "openai"},
      {"o1-preview", "openai"},
      {"text-embedding-3-small", "openai"},
      {"gpt-35-turbo", "azure_openai"},
      {"claude-3-5-sonnet-20241022", "anthropic"},
      {"llama-2-70b", "unknown"},
      {"", "unknown"},
      // Where the original said nothing.
      {"mistral-large", "mistral"},
      {"gpt-4o-mini", "openai"},
      {"GPT-4o", "openai"},
      {"  gpt-4-turbo  ", "openai"},
      {"o1", "openai"},
      {"o3-mini", "openai"},
      {"o4-mini-2025-04-16", "openai"},
      {"ft:gpt-4o-mini:org::abc", "openai"},
      {"claude-3-opus", "anthropic"},
      {"gemini-1.5-pro", "google"},
      {"gemma-2-9b-it", "google"},
      {"deepseek-chat", "deepseek"},
      {"mixtral-8x7b", "mistral"},
      {"grok-2", "xai"},
      {"openai/gpt-4o", "openai"},
      {"anthropic/claude-3-5-sonnet", "anthropic"},
      {"groq/llama-3.1-70b", "groq"},
      {"openrouter/auto", "openrouter"},
      {"meta-llama/llama-3-8b", "unknown"},
      {"   ", "unknown"},
      {"scripted-policy", "unknown"},
      {"ada-lovelace-bot", "unknown"},  // not an OpenAI model because it contains "ada"
      {"octopus", "unknown"},           // "o" + letter is not the o-series
      {"o1x", "unknown"},
  };
  for (const auto& [model, provider] : cases) {
    EXPECT_EQ(st::detect_provider(model), provider) << "model '" << model << "'";
  }
}

TEST(Provider, TheEndpointDecidesWhenItNamesAServer) {
  const std::vector<std::tuple<std::string, std::string, std::string>> cases{
      {"gpt-4", "https://my-resource.openai.azure.com/openai/deployments/x", "azure_openai"},
      {"gpt-4o", "https://api.openai.com/v1", "openai"},
      {"gpt-4o", "https://openrouter.ai/api/v1", "openrouter"},
      {"llama-3.1-70b-versatile", "https://api.groq.com/openai/v1", "groq"},
      {"meta-llama/Llama-3-70b", "https://api.together.xyz/v1", "together"},
      {"deepseek-chat", "https://api.deepseek.com", "deepseek"},
      {"mistral-small", "https://api.mistral.ai/v1", "mistral"},
      {"grok-2", "https://api.x.ai/v1", "xai"},
      {"claude-3-haiku", "https://api.anthropic.com", "anthropic"},
      {"gemini-2.0-flash", "https://generativelanguage.googleapis.com/v1beta", "google"},
      {"qwen2.5-7b", "http://localhost:8000/v1", "local"},
      {"qwen2.5-7b", "http://127.0.0.1:11434", "local"},
      {"qwen2.5-7b", "http://[::1]:8080/v1", "local"},
      {"qwen2.5-7b", "http://192.168.1.20:8000", "local"},
      {"qwen2.5-7b", "http://172.20.0.3:8000", "local"},
      {"gpt-4o", "http://172.40.0.3:8000", "openai"},        // not a private address: the model decides
      {"gpt-4o", "https://proxy.example.com/v1", "openai"},  // an unknown server: the model decides
      {"gpt-4o", "https://notopenai.com/v1", "openai"},      // a suffix is not a subdomain
      {"qwen", "https://notopenai.com/v1", "unknown"},
      {"gpt-4o", "", "openai"},
  };
  for (const auto& [model, endpoint, provider] : cases) {
    EXPECT_EQ(st::detect_provider(model, endpoint), provider) << "model '" << model << "' at '" << endpoint << "'";
  }
}

TEST(Provider, NormalizeAliases) {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"OpenAI", "openai"},       {"openai", "openai"},        {"open_ai", "openai"},
      {"azure_openai", "azure_openai"}, {"Azure", "azure_openai"}, {"azure.ai.openai", "azure_openai"},
      {"google", "google"},       {"Gemini", "google"},        {"gcp.gemini", "google"},
      {"vertex_ai", "google"},    {"mistral", "mistral"},      {"MistralAI", "mistral"},
      {"mistral_ai", "mistral"},  {"xai", "xai"},              {"x_ai", "xai"},
      {"grok", "xai"},            {"claude", "anthropic"},     {" anthropic ", "anthropic"},
      {"together_ai", "together"}, {"vllm", "local"},          {"Ollama", "local"},
      {"SomethingNew", "somethingnew"}, {"", "unknown"},
  };
  for (const auto& [alias, name] : cases) EXPECT_EQ(st::normalize_provider(alias), name) << "alias '" << alias << "'";
}
