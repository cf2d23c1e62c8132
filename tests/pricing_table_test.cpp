// Pricing tables: the shipped one (required models, date, ordering, one instance, the file it
// comes from) and user tables (files overriding and adding, bad files and tables named, copies).
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

// The TraceFormatError from_json throws for `json`, or fails the test.
st::TraceFormatError parse_error(const std::string& json, const std::string& source = "prices.json") {
  try {
    (void)st::PricingTable::from_json(json, source);
  } catch (const st::TraceFormatError& e) {
    return e;
  }
  ADD_FAILURE() << "no error for " << json;
  return st::TraceFormatError(source, 0, 0, 0, "none");
}

std::string today() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

class TempFile {
 public:
  explicit TempFile(const std::string& text) {
    path_ = std::filesystem::temp_directory_path() /
            ("cost_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter_++) + ".json");
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::filesystem::remove(path_); }
  const std::filesystem::path& path() const { return path_; }

 private:
  static inline int counter_ = 0;
  std::filesystem::path path_;
};


}  // namespace

// ---- the shipped table ----

TEST(BuiltinTable, LoadsWithEveryRequiredModel) {
  const auto& t = st::PricingTable::builtin();
  EXPECT_GE(t.models().size(), 60u);
  for (const char* id : {"gpt-4o",
                         "gpt-4o-mini",
                         "gpt-4.1",
                         "gpt-4.1-mini",
                         "gpt-4.1-nano",
                         "o1",
                         "o1-mini",
                         "o3",
                         "o3-mini",
                         "o4-mini",
                         "gpt-4",
                         "gpt-4-turbo",
                         "gpt-3.5-turbo",
                         "gpt-5",
                         "gpt-5-mini",
                         "gpt-5-nano",
                         "claude-3-haiku",
                         "claude-3-sonnet",
                         "claude-3-opus",
                         "claude-3-5-haiku",
                         "claude-3-5-sonnet",
                         "claude-3-7-sonnet",
                         "claude-sonnet-4",
                         "claude-opus-4",
                         "gemini-1.5-flash",
                         "gemini-1.5-pro",
                         "gemini-2.0-flash",
                         "gemini-2.5-flash",
                         "gemini-2.5-pro",
                         "llama-3.1-8b-instant",
                         "llama-3.3-70b-versatile",
                         "deepseek-chat",
                         "deepseek-reasoner",
                         "mistral-large",
                         "mistral-small",
                         "codestral",
                         "grok-2",
                         "grok-3",
                         "grok-3-mini",
                         "grok-4"}) {
    const auto* p = t.find(id);
    ASSERT_NE(p, nullptr) << id;
    EXPECT_EQ(p->model, id);
  }
  // Anthropic models with prompt caching carry both cache prices.
  for (const char* id : {"claude-3-haiku", "claude-3-opus", "claude-3-5-haiku", "claude-3-5-sonnet",
                         "claude-3-7-sonnet", "claude-sonnet-4", "claude-opus-4"}) {
    const auto* p = t.find(id);
    EXPECT_TRUE(p->cached_input.has_value()) << id;
    EXPECT_TRUE(p->cache_write.has_value()) << id;
  }
}

TEST(BuiltinTable, AsOfIsARealPastDate) {
  const std::string& d = st::PricingTable::builtin().as_of();
  ASSERT_EQ(d.size(), 10u);
  EXPECT_NO_THROW((void)st::PricingTable::from_json(R"({"as_of": ")" + d + R"(", "models": {}})"));
  EXPECT_GE(d, std::string("2025-01-01"));
  EXPECT_LE(d, today());
}

TEST(BuiltinTable, PricesAreOrdered) {
  // output >= input >= cached_input, and cache writes cost at least the input rate. No exceptions.
  const auto& t = st::PricingTable::builtin();
  for (const auto& id : t.models()) {
    const auto* p = t.find(id);
    EXPECT_GT(p->input, 0) << id;
    EXPECT_GE(p->output, p->input) << id;
    if (p->cached_input) EXPECT_LE(*p->cached_input, p->input) << id;
    if (p->cache_write) EXPECT_GE(*p->cache_write, p->input) << id;
    for (char c : id) EXPECT_FALSE((c >= 'A' && c <= 'Z') || c == ' ') << id;  // keys are normalized
  }
}

TEST(BuiltinTable, IsOneInstanceAcrossThreads) {
  std::vector<const st::PricingTable*> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i) {
    threads.emplace_back([&seen, i] { seen[i] = &st::PricingTable::builtin(); });
  }
  for (auto& th : threads) th.join();
  for (const auto* p : seen) EXPECT_EQ(p, &st::PricingTable::builtin());
}

TEST(BuiltinTable, ShippedFileParsesAsTheBuiltin) {
  const auto file =
      st::PricingTable::load_file(std::filesystem::path(SYNTH_TEST_DATA_DIR) / ".." / ".." / "data" / "pricing.json");
  EXPECT_EQ(file.models(), st::PricingTable::builtin().models());
  EXPECT_EQ(file.as_of(), st::PricingTable::builtin().as_of());
}

// ---- user tables ----

TEST(UserTable, FileOverridesAndAdds) {
  TempFile f(R"({
    "as_of": "2025-06-01",
    "currency": "USD",
    "unit": "per_million_tokens",
    "models": {
      "GPT-4o": {"input": 1.0, "output": 2.0, "cached_input": 0.5},
      "acme-llm-7b": {"input": 0.2, "output": 0.4, "note": "self-hosted"}
    }
  })");
  const auto user = st::PricingTable::load_file(f.path());
  EXPECT_EQ(user.as_of(), "2025-06-01");
  EXPECT_EQ(user.models(), (std::vector<std::string>{"acme-llm-7b", "gpt-4o"}));

  const auto merged = st::PricingTable::builtin().merged_with(user);
  // Overridden: 1,000 x 1.0 + 1,000 x 0.5 + 1,000 x 2.0 = 3,500 per million.
  EXPECT_DOUBLE_EQ(*merged.cost("gpt-4o-2024-08-06", usage(2000, 1000, 1000)), 0.0035);
  // Added, with its snapshots and prefixes.
  EXPECT_DOUBLE_EQ(*merged.cost("acme-llm-7b-instruct", usage(1000, 1000)), 0.0006);
  // Everything else still there, the builtin untouched.
  EXPECT_EQ(*merged.cost("gpt-4", usage(100, 200)), 0.015);
  EXPECT_EQ(merged.models().size(), st::PricingTable::builtin().models().size() + 1);
  EXPECT_EQ(st::PricingTable::builtin().find("gpt-4o")->input, 2.5);
  EXPECT_EQ(st::PricingTable::builtin().find("acme-llm-7b"), nullptr);
  // The merged prices were all checked by the earlier date.
  EXPECT_EQ(merged.as_of(), std::min(user.as_of(), st::PricingTable::builtin().as_of()));
  EXPECT_EQ(st::PricingTable().merged_with(user).as_of(), "2025-06-01");
}

TEST(UserTable, NullCacheRatesAreAbsent) {
  const auto t = st::PricingTable::from_json(
      R"({"as_of": "2025-01-01", "models": {"m": {"input": 2, "output": 4, "cached_input": null, )"
      R"("cache_write": null}}})");
  const auto* p = t.find("m");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->cached_input.has_value());
  EXPECT_FALSE(p->cache_write.has_value());
  EXPECT_EQ(*t.cost("m", usage(1000, 0, 1000)), 0.002);
  // Integers, zero prices and unknown top-level members are fine.
  const auto z = st::PricingTable::from_json(
      R"({"source": "ours", "as_of": "2024-02-29", "models": {"free": {"input": 0, "output": 0}}})");
  EXPECT_EQ(z.cost("free", usage(10, 10)), std::optional<double>(0.0));
}

TEST(UserTable, MissingFileNamesIt) {
  try {
    (void)st::PricingTable::load_file("/nonexistent/dir/prices.json");
    FAIL();
  } catch (const st::TraceFormatError& e) {
    EXPECT_EQ(e.source(), "/nonexistent/dir/prices.json");
  }
}

TEST(UserTable, BadFileNamesTheFileAndTheModel) {
  TempFile f(R"({"as_of": "2025-01-01", "models": {"gpt-4o": {"input": 1.0}}})");
  try {
    (void)st::PricingTable::load_file(f.path());
    FAIL();
  } catch (const st::TraceFormatError& e) {
    EXPECT_EQ(e.source(), f.path().string());
    EXPECT_NE(std::string(e.what()).find(f.path().string()), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find("gpt-4o"), std::string::npos) << e.what();
    EXPECT_NE(e.problem().find("output"), std::string::npos) << e.what();
    EXPECT_EQ(e.line(), 1u);
  }
}

TEST(UserTable, BadTablesThrowTraceFormatError) {
  struct Case {
    const char* json;
    const char* expected;  // in problem()
  };
  const std::vector<Case> cases = {
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1, "output": 2}})", "truncated"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1 "output": 2}}})", ""},
      {"", "empty"},
      {"[]", "object"},
      {R"({"models": {"m": {"input": 1, "output": 2}}})", "as_of"},
      {R"({"as_of": "2025-01-01"})", "models"},
      {R"({"as_of": "2025-13-01", "models": {}})", "YYYY-MM-DD"},
      {R"({"as_of": "2025-02-30", "models": {}})", "YYYY-MM-DD"},
      {R"({"as_of": "25-01-01", "models": {}})", "YYYY-MM-DD"},
      {R"({"as_of": 20250101, "models": {}})", "as_of"},
      {R"({"as_of": "2025-01-01", "currency": "EUR", "models": {}})", "EUR"},
      {R"({"as_of": "2025-01-01", "unit": "per_token", "models": {}})", "per_token"},
      {R"({"as_of": "2025-01-01", "models": []})", "models"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"output": 2}}})", "models.m: model \"m\" has no \"input\""},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 2}}})", "models.m: model \"m\" has no \"output\""},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": -1, "output": 2}}})",
       "models.m.input: a price must not be negative, found -1"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1, "output": 2, "cached_input": -0.5}}})",
       "models.m.cached_input"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": "1", "output": 2}}})",
       "models.m.input: expected a price (a number of USD per million tokens), found a string"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": null, "output": 2}}})", "models.m.input"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1, "output": true}}})", "models.m.output"},
      {R"({"as_of": "2025-01-01", "models": {"m": 3}})", "models.m: expected an object"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1, "output": 2, "cached": 0.1}}})",
       "unknown field \"cached\""},
      {R"({"as_of": "2025-01-01", "models": {"M": {"input": 1, "output": 2}, "m": {"input": 1, "output": 2}}})",
       "listed twice"},
      {R"({"as_of": "2025-01-01", "models": {" ": {"input": 1, "output": 2}}})", "empty model id"},
      {R"({"as_of": "2025-01-01", "models": {"m": {"input": 1e999, "output": 2}}})", ""},
      {R"({"as_of": "2025-01-01", "models": {}} trailing)", ""},
  };
  for (const auto& c : cases) {
    const auto e = parse_error(c.json, "user-prices.json");
    EXPECT_EQ(e.source(), "user-prices.json") << c.json;
    EXPECT_NE(e.problem().find(c.expected), std::string::npos) << c.json << "\n  -> " << e.what();
  }
}

TEST(UserTable, CopiesAndMovesAreIndependent) {
  auto a = table_of({"x"});
  st::PricingTable b = a;
  auto c = std::move(a);
  EXPECT_NE(b.find("x"), nullptr);
  EXPECT_NE(c.find("x"), nullptr);
  EXPECT_NE(b.find("x"), c.find("x"));
  // A moved-from table is empty but usable.
  EXPECT_EQ(a.find("x"), nullptr);  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(a.models().empty());
  EXPECT_EQ(a.as_of(), "");
  st::PricingTable d = a;  // NOLINT(bugprone-use-after-move)
  EXPECT_TRUE(d.models().empty());
  a = b;
  EXPECT_NE(a.find("x"), nullptr);
  EXPECT_EQ(a.merged_with(st::PricingTable()).as_of(), "2025-01-01");
}
