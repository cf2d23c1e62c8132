// Prices of calls from the pricing table: the original project's expectations, cache and
// reasoning tokens, clamped counts, and how model ids match the table's keys. The tables
// themselves (the shipped one, user files) are tested in pricing_table_test.cpp.
#include "synth/tracing/cost.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "cost_fixture.hpp"
#include "synth/tracing/error.hpp"

namespace st = synth::tracing;

namespace {

using namespace cost_fixture;

// The key `model` resolves to in the built-in table, or "<none>".
std::string resolved(std::string_view model, const st::PricingTable& table = st::PricingTable::builtin()) {
  const st::ModelPrice* p = table.find(model);
  return p == nullptr ? "<none>" : p->model;
}

}  // namespace

// ---- the original project's expectations ----

TEST(Cost, OriginalExpectationsHoldExactly) {
  // tests of synth-ai: decorators (gpt-4, claude-3-opus) and otel_integration (gpt-3.5, sonnet).
  EXPECT_DOUBLE_EQ(*st::calculate_cost("gpt-4", usage(100, 200)), 0.015);
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-3-opus", usage(1000, 500)), 0.0525);
  EXPECT_DOUBLE_EQ(*st::calculate_cost("gpt-3.5-turbo", usage(1000, 1000)), 0.002);
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-3-sonnet", usage(500, 1000)), 0.0165);
  // Not merely within 4 ulps: the same doubles as the literals.
  EXPECT_EQ(*st::calculate_cost("gpt-4", usage(100, 200)), 0.015);
  EXPECT_EQ(*st::calculate_cost("claude-3-opus", usage(1000, 500)), 0.0525);
  EXPECT_EQ(*st::calculate_cost("gpt-3.5-turbo", usage(1000, 1000)), 0.002);
  EXPECT_EQ(*st::calculate_cost("claude-3-sonnet", usage(500, 1000)), 0.0165);
  // The dated ids the APIs actually report.
  EXPECT_EQ(*st::calculate_cost("claude-3-opus-20240229", usage(1000, 500)), 0.0525);
  EXPECT_EQ(*st::calculate_cost("claude-3-sonnet-20240229", usage(500, 1000)), 0.0165);
  EXPECT_EQ(*st::calculate_cost("gpt-4-0613", usage(100, 200)), 0.015);
}

TEST(Cost, OriginalPricesOfTheSixModels) {
  const auto& t = st::PricingTable::builtin();
  const std::vector<std::tuple<std::string, double, double>> expected = {
      {"gpt-4", 30, 60},         {"gpt-4-turbo", 10, 30},    {"gpt-3.5-turbo", 0.5, 1.5},
      {"claude-3-opus", 15, 75}, {"claude-3-sonnet", 3, 15}, {"claude-3-haiku", 0.25, 1.25}};
  for (const auto& [id, in, out] : expected) {
    const auto* p = t.find(id);
    ASSERT_NE(p, nullptr) << id;
    EXPECT_EQ(p->input, in) << id;
    EXPECT_EQ(p->output, out) << id;
  }
}

TEST(Cost, UnknownModelIsNulloptNeverZero) {
  EXPECT_EQ(st::calculate_cost("unknown-model", usage(100, 200)), std::nullopt);
  EXPECT_EQ(st::calculate_cost("", usage(100, 200)), std::nullopt);
  EXPECT_EQ(st::calculate_cost("   ", usage(100, 200)), std::nullopt);
  EXPECT_EQ(st::PricingTable::builtin().find("llama-2-70b"), nullptr);
  EXPECT_EQ(st::PricingTable().cost("gpt-4", usage(1, 1)), std::nullopt);  // an empty table knows nothing
}

TEST(Cost, ZeroTokensCostZeroForKnownModels) {
  EXPECT_EQ(st::calculate_cost("gpt-4o", usage(0, 0)), std::optional<double>(0.0));
}

// ---- cache and reasoning tokens ----

TEST(Cost, OpenAiCachedTokensArePartOfThePromptAndReasoningOfTheCompletion) {
  // gpt-4o: 2.50 in, 1.25 cached, 10 out. 10,000 prompt tokens of which 6,000 cached;
  // 2,000 completion tokens of which 500 reasoning (billed once, as output).
  // 4,000 x 2.50 + 6,000 x 1.25 + 2,000 x 10 = 10,000 + 7,500 + 20,000 = 37,500 per million.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("gpt-4o-2024-08-06", usage(10000, 2000, 6000, 500)), 0.0375);
  // o4-mini: 1.10 in, 0.275 cached, 4.40 out. 5,000 prompt (4,096 cached), 3,000 completion
  // (2,500 reasoning): 904 x 1.10 + 4,096 x 0.275 + 3,000 x 4.40 = 994.4 + 1,126.4 + 13,200.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("o4-mini-2025-04-16", usage(5000, 3000, 4096, 2500)), 0.0153208);
  // Reasoning tokens never add to the bill.
  EXPECT_EQ(*st::calculate_cost("o3", usage(1000, 1000, 0, 900)), *st::calculate_cost("o3", usage(1000, 1000)));
}

TEST(Cost, AnthropicCacheReadsAndWrites) {
  // claude-3-5-sonnet: 3 in, 0.30 cache read, 3.75 cache write, 15 out. 12,000 prompt tokens =
  // 2,000 uncached + 8,000 read from the cache + 2,000 written to it; 1,000 completion tokens.
  // 2,000 x 3 + 8,000 x 0.30 + 2,000 x 3.75 + 1,000 x 15 = 6,000 + 2,400 + 7,500 + 15,000.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-3-5-sonnet-20241022", usage(12000, 1000, 8000, 0, 2000)), 0.0309);
  // claude-3-opus: 15 / 1.50 / 18.75 / 75. 1,000 prompt = 100 uncached + 600 read + 300 written.
  // 100 x 15 + 600 x 1.5 + 300 x 18.75 + 200 x 75 = 1,500 + 900 + 5,625 + 15,000 = 23,025.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-3-opus-20240229", usage(1000, 200, 600, 0, 300)), 0.023025);
  // Extended-thinking tokens are output tokens, counted once.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-sonnet-4-20250514", usage(1000, 2000, 0, 1500)),
                   (1000 * 3.0 + 2000 * 15.0) / 1e6);
}

TEST(Cost, CacheRatesDefaultToTheInputRate) {
  // claude-3-sonnet has no cache prices: cached and written tokens cost the input rate.
  EXPECT_EQ(*st::calculate_cost("claude-3-sonnet", usage(1000, 0, 400, 0, 100)), 0.003);
  // A model with a cached rate but no write rate (OpenAI): written tokens cost the input rate.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("gpt-4o", usage(1000, 0, 0, 0, 1000)), 0.0025);
}

TEST(Cost, NonsenseCountsAreClamped) {
  // Negative counts count as zero.
  EXPECT_EQ(*st::calculate_cost("gpt-4", usage(-100, 200)), *st::calculate_cost("gpt-4", usage(0, 200)));
  EXPECT_EQ(*st::calculate_cost("gpt-4o", usage(1000, 0, -5, -7, -9)), *st::calculate_cost("gpt-4o", usage(1000, 0)));
  EXPECT_EQ(*st::calculate_cost("gpt-4", usage(-1, -1, -1, -1, -1)), 0.0);
  // Cached + written beyond the prompt: the prompt is taken to be their sum, so every reported
  // token is billed once at its own rate and nothing goes negative.
  // claude-3-5-sonnet: prompt 10 (too small), 1,000 read, 100 written -> 1,000 x 0.3 + 100 x 3.75.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("claude-3-5-sonnet", usage(10, 0, 1000, 0, 100)), (300.0 + 375.0) / 1e6);
  // Reasoning beyond completion: the completion is at least the reasoning.
  EXPECT_EQ(*st::calculate_cost("o3", usage(0, 10, 0, 100)), *st::calculate_cost("o3", usage(0, 100)));
  // Huge counts stay finite and positive.
  const auto big = st::calculate_cost("gpt-4", usage(INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX));
  ASSERT_TRUE(big.has_value());
  EXPECT_TRUE(std::isfinite(*big));
  EXPECT_GT(*big, 0);
}

TEST(Cost, NoRoundingOfCheapCalls) {
  // The original rounded to 6 decimals, which turns small calls into 0.
  EXPECT_DOUBLE_EQ(*st::calculate_cost("gpt-5-nano", usage(10, 0)), 5e-7);
}

// ---- matching ----

TEST(Matching, ExactIdsAndCaseAndWhitespace) {
  EXPECT_EQ(resolved("gpt-4o"), "gpt-4o");
  EXPECT_EQ(resolved("GPT-4o"), "gpt-4o");
  EXPECT_EQ(resolved("  Claude-3-5-Sonnet-20241022\n"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("gpt-4o-2024-05-13"), "gpt-4o-2024-05-13");  // an exact snapshot entry beats stripping
  EXPECT_EQ(resolved("gpt-4-0125-preview"), "gpt-4-0125-preview");
  EXPECT_EQ(resolved("chatgpt-4o-latest"), "chatgpt-4o-latest");
}

TEST(Matching, DatedSnapshotSuffixes) {
  EXPECT_EQ(resolved("gpt-4o-2024-08-06"), "gpt-4o");
  EXPECT_EQ(resolved("gpt-4o-2024-11-20"), "gpt-4o");
  EXPECT_EQ(resolved("gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(resolved("claude-3-5-sonnet-20241022"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("claude-3-5-sonnet-latest"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("claude-3-5-sonnet-v2@20241022"), "claude-3-5-sonnet");  // Vertex AI
  EXPECT_EQ(resolved("claude-3-opus@20240229"), "claude-3-opus");
  EXPECT_EQ(resolved("gpt-3.5-turbo-0125"), "gpt-3.5-turbo");
  EXPECT_EQ(resolved("gpt-3.5-turbo-1106"), "gpt-3.5-turbo-1106");  // priced differently, listed
  EXPECT_EQ(resolved("gpt-4-0613"), "gpt-4");
  EXPECT_EQ(resolved("gpt-4.1-2025-04-14"), "gpt-4.1");
  EXPECT_EQ(resolved("gpt-4.1-mini-2025-04-14"), "gpt-4.1-mini");
  EXPECT_EQ(resolved("gpt-4.1-nano-2025-04-14"), "gpt-4.1-nano");
  EXPECT_EQ(resolved("gpt-5-2025-08-07"), "gpt-5");
  EXPECT_EQ(resolved("gpt-5-mini-2025-08-07"), "gpt-5-mini");
  EXPECT_EQ(resolved("o3-mini-2025-01-31"), "o3-mini");
  EXPECT_EQ(resolved("claude-sonnet-4-20250514"), "claude-sonnet-4");
  EXPECT_EQ(resolved("claude-opus-4-1-20250805"), "claude-opus-4-1");
  EXPECT_EQ(resolved("claude-3-7-sonnet-20250219"), "claude-3-7-sonnet");
  EXPECT_EQ(resolved("claude-3-5-haiku-20241022"), "claude-3-5-haiku");
  EXPECT_EQ(resolved("claude-3-haiku-20240307"), "claude-3-haiku");
  EXPECT_EQ(resolved("mistral-large-2411"), "mistral-large");
  EXPECT_EQ(resolved("mistral-large-latest"), "mistral-large");
  EXPECT_EQ(resolved("codestral-2501"), "codestral");
  EXPECT_EQ(resolved("grok-2-1212"), "grok-2");
  EXPECT_EQ(resolved("grok-4-0709"), "grok-4");
}

TEST(Matching, LongestPrefixAtABoundary) {
  EXPECT_EQ(resolved("gpt-4o-mini-search-preview"), "gpt-4o-mini");
  EXPECT_EQ(resolved("gpt-4-turbo-2024-04-09"), "gpt-4-turbo");
  EXPECT_EQ(resolved("gpt-4-turbo-preview"), "gpt-4-turbo");
  EXPECT_EQ(resolved("gpt-5-chat-latest"), "gpt-5");
  EXPECT_EQ(resolved("o1-preview-2024-09-12"), "o1");
  EXPECT_EQ(resolved("gemini-1.5-flash-002"), "gemini-1.5-flash");
  EXPECT_EQ(resolved("gemini-1.5-flash-8b-001"), "gemini-1.5-flash-8b");
  EXPECT_EQ(resolved("gemini-2.5-flash-preview-05-20"), "gemini-2.5-flash");
  EXPECT_EQ(resolved("gemini-2.5-flash-lite"), "gemini-2.5-flash-lite");
  EXPECT_EQ(resolved("gemini-2.0-flash-001"), "gemini-2.0-flash");
  EXPECT_EQ(resolved("grok-4-fast-reasoning"), "grok-4-fast");
  EXPECT_EQ(resolved("grok-3-mini-beta"), "grok-3-mini");
  EXPECT_EQ(resolved("claude-sonnet-4-0"), "claude-sonnet-4");  // Anthropic's "-0" alias: 4.0 is 4
}

TEST(Matching, Gpt4oIsNeverGpt4) {
  EXPECT_EQ(resolved("gpt-4o"), "gpt-4o");
  EXPECT_EQ(resolved("gpt-4o-2024-08-06"), "gpt-4o");
  // With gpt-4 alone in the table, gpt-4o is unknown rather than priced as gpt-4.
  const auto only_gpt4 = table_of({"gpt-4"});
  EXPECT_EQ(resolved("gpt-4o", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-4o-mini", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-40", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-4x", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-4-0613", only_gpt4), "gpt-4");
  EXPECT_EQ(resolved("gpt-4-turbo", only_gpt4), "gpt-4");  // a word boundary: the prefix rule itself
  EXPECT_EQ(only_gpt4.cost("gpt-4o", usage(100, 200)), std::nullopt);
}

TEST(Matching, Gpt41IsNotGpt4) {
  EXPECT_EQ(resolved("gpt-4.1"), "gpt-4.1");
  EXPECT_EQ(resolved("gpt-4.1-mini"), "gpt-4.1-mini");
  // A minor version after a digit is not a boundary.
  const auto only_gpt4 = table_of({"gpt-4", "gpt-5", "claude-opus-4"});
  EXPECT_EQ(resolved("gpt-4.1", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-4.5-preview", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-5.2", only_gpt4), "<none>");
  EXPECT_EQ(resolved("gpt-4-32k", only_gpt4), "<none>");
  EXPECT_EQ(resolved("claude-opus-4-5-20251101", only_gpt4), "<none>");
  EXPECT_EQ(resolved("claude-opus-4-20250514", only_gpt4), "claude-opus-4");
  EXPECT_EQ(resolved("claude-opus-4-0", only_gpt4), "claude-opus-4");
  EXPECT_EQ(resolved("gpt-4-1106-preview", only_gpt4), "gpt-4");  // 4 digits: a snapshot
  // ... and in the built-in table each version has its own entry.
  EXPECT_EQ(resolved("gpt-4-32k-0613"), "gpt-4-32k");
  EXPECT_EQ(resolved("claude-opus-4-5-20251101"), "claude-opus-4-5");
  EXPECT_EQ(resolved("gpt-5.1-2025-11-13"), "gpt-5.1");
}

TEST(Matching, O1MiniIsNotO1) {
  EXPECT_EQ(resolved("o1"), "o1");
  EXPECT_EQ(resolved("o1-2024-12-17"), "o1");
  EXPECT_EQ(resolved("o1-mini"), "o1-mini");
  EXPECT_EQ(resolved("o1-mini-2024-09-12"), "o1-mini");
  EXPECT_EQ(resolved("o1-pro-2025-03-19"), "o1-pro");
  EXPECT_NE(st::PricingTable::builtin().find("o1-mini")->input, st::PricingTable::builtin().find("o1")->input);
  EXPECT_EQ(resolved("o10"), "<none>");
  EXPECT_EQ(resolved("o3-mini"), "o3-mini");
  EXPECT_EQ(resolved("o3"), "o3");
}

TEST(Matching, Claude35SonnetIsNotClaude3Sonnet) {
  EXPECT_EQ(resolved("claude-3-5-sonnet"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("claude-3-sonnet-20240229"), "claude-3-sonnet");
  const auto only_3 = table_of({"claude-3-sonnet", "claude-3"});
  EXPECT_EQ(resolved("claude-3-5-sonnet-20241022", only_3), "<none>");
  EXPECT_EQ(resolved("claude-3-sonnet-20240229", only_3), "claude-3-sonnet");
}

TEST(Matching, ProviderPrefixes) {
  EXPECT_EQ(resolved("openai/gpt-4o"), "gpt-4o");
  EXPECT_EQ(resolved("openai/gpt-4o-mini-2024-07-18"), "gpt-4o-mini");
  EXPECT_EQ(resolved("anthropic/claude-3-5-sonnet"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("models/gemini-2.5-pro"), "gemini-2.5-pro");
  EXPECT_EQ(resolved("groq/llama-3.1-8b-instant"), "llama-3.1-8b-instant");
  EXPECT_EQ(resolved("openrouter/x-ai/grok-3"), "grok-3");
  EXPECT_EQ(resolved("deepseek/deepseek-chat"), "deepseek-chat");
  // AWS Bedrock ids: a region and vendor before '.', a version after.
  EXPECT_EQ(resolved("anthropic.claude-3-5-sonnet-20241022-v2:0"), "claude-3-5-sonnet");
  EXPECT_EQ(resolved("us.anthropic.claude-sonnet-4-20250514-v1:0"), "claude-sonnet-4");
  EXPECT_EQ(resolved("openai/unknown-model"), "<none>");
  EXPECT_EQ(resolved("openai/"), "<none>");
  EXPECT_EQ(resolved("/"), "<none>");
}

TEST(Matching, OpenAiFineTunes) {
  // Fine-tuned inference is billed above the base price: the table's "ft:<base>" entry.
  EXPECT_EQ(resolved("ft:gpt-4o-mini:org:name:id"), "ft:gpt-4o-mini");
  EXPECT_EQ(resolved("ft:gpt-4o-mini-2024-07-18:my-org:custom-suffix:9xyz"), "ft:gpt-4o-mini");
  EXPECT_EQ(resolved("ft:gpt-4o-2024-08-06:org::abc"), "ft:gpt-4o");
  EXPECT_EQ(resolved("FT:GPT-4.1-NANO-2025-04-14:org:x:y"), "ft:gpt-4.1-nano");
  EXPECT_EQ(resolved("openai/ft:gpt-4o-mini:org:name:id"), "ft:gpt-4o-mini");
  // Without an "ft:" entry, the base model's price.
  const auto base_only = table_of({"gpt-4o", "gpt-4o-mini", "ft:gpt-4o"});
  EXPECT_EQ(resolved("ft:gpt-4o-mini:org:name:id", base_only), "gpt-4o-mini");  // not "ft:gpt-4o"
  EXPECT_EQ(resolved("ft:gpt-4o:org:name:id", base_only), "ft:gpt-4o");
  EXPECT_EQ(resolved("ft:unknown-base:org:name:id"), "<none>");
  EXPECT_EQ(resolved("ft:"), "<none>");
  // A user's table may price one fine-tune exactly.
  const auto exact = table_of({"ft:gpt-4o-mini:acme:bot:abc123"});
  EXPECT_EQ(resolved("ft:gpt-4o-mini:acme:bot:abc123", exact), "ft:gpt-4o-mini:acme:bot:abc123");
}

TEST(Matching, PrefixesMustStartTheId) {
  EXPECT_EQ(resolved("my-gpt-4o"), "<none>");
  EXPECT_EQ(resolved("xgpt-4"), "<none>");
  EXPECT_EQ(resolved("gpt"), "<none>");
  EXPECT_EQ(resolved("gpt-"), "<none>");
  EXPECT_EQ(resolved("claude"), "<none>");
  EXPECT_EQ(resolved("gemini"), "<none>");
  EXPECT_EQ(resolved("-latest"), "<none>");
}

TEST(Matching, EveryKeyResolvesToItself) {
  const auto& t = st::PricingTable::builtin();
  for (const auto& id : t.models()) {
    const auto* p = t.find(id);
    ASSERT_NE(p, nullptr) << id;
    EXPECT_EQ(p->model, id);
  }
}
