// PiiMasker: every detector with positive and negative examples, the overlap/adjacency cases of
// dependencies.md §2, custom patterns, Value masking, allocation-free clean scans and
// concurrency. The labelled corpus scored for precision and recall is in pii_corpus_test.cpp.
#include "synth/tracing/pii.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "pii_fixture.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"

// ---- allocation counter (for "mask_in_place does not allocate when nothing is found") ----
namespace {
std::atomic<long> g_allocations{0};
}
void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace synth::tracing {
namespace {

using namespace pii_fixture;

// ---- built-ins ----

TEST(PiiBuiltins, NamesAndPatterns) {
  const std::vector<std::string> expected{"email", "phone", "ssn", "credit_card", "api_key", "ip"};
  EXPECT_EQ(masker().pattern_names(), expected);
  const auto& b = PiiMasker::builtin_patterns();
  ASSERT_EQ(b.size(), 6u);
  EXPECT_EQ(b[0].replacement, "[EMAIL]");
  EXPECT_EQ(b[1].replacement, "[PHONE]");
  EXPECT_EQ(b[2].replacement, "[SSN]");
  EXPECT_EQ(b[3].replacement, "[CREDIT_CARD]");
  EXPECT_EQ(b[4].replacement, "[API_KEY]");
  EXPECT_EQ(b[5].replacement, "[IP]");
}

// The original project's expectations (tests/test_decorators mask_pii, otel "PII comprehensive").
TEST(PiiBuiltins, OriginalExpectations) {
  EXPECT_EQ(mask("My SSN is 123-45-6789"), "My SSN is [SSN]");
  EXPECT_EQ(mask("Card: 4111-1111-1111-1111"), "Card: [CREDIT_CARD]");
  EXPECT_EQ(mask("Email me at john.doe@example.com"), "Email me at [EMAIL]");
  EXPECT_EQ(mask("Call 555-123-4567 now"), "Call [PHONE] now");
  EXPECT_EQ(mask("SSN 123-45-6789, card 4111 1111 1111 1111, mail a@b.co, phone 555.123.4567"),
            "SSN [SSN], card [CREDIT_CARD], mail [EMAIL], phone [PHONE]");
}

TEST(PiiBuiltins, NothingToMask) {
  for (const char* s : {"", "plain words only", "version v1.2.3 at 12:34 on 2024-01-15", "price $1,234.56",
                        "order #12345678", "3 apples and 42 pears"}) {
    EXPECT_EQ(mask(s), s);
    std::string copy = s;
    EXPECT_FALSE(masker().mask_in_place(copy));
    EXPECT_EQ(copy, s);
  }
}

TEST(PiiEmail, Positives) {
  EXPECT_EQ(mask("john.doe@example.com"), "[EMAIL]");
  EXPECT_EQ(mask("a.b-c_d+tag%x@mail.sub.example.co.uk"), "[EMAIL]");
  EXPECT_EQ(mask("Mixed.Case@Example.ORG"), "[EMAIL]");
  EXPECT_EQ(mask("<alice@corp.io>"), "<[EMAIL]>");
  EXPECT_EQ(mask("mailto:bob2024@x-y.net."), "mailto:[EMAIL].");
  EXPECT_EQ(mask("user123@host42.com,"), "[EMAIL],");
  EXPECT_EQ(mask("josé.müller@beispiel.de"), "[EMAIL]");
  EXPECT_EQ(mask("two: a@b.com c@d.org"), "two: [EMAIL] [EMAIL]");
}

TEST(PiiEmail, Negatives) {
  EXPECT_EQ(mask("@username"), "@username");
  EXPECT_EQ(mask("user@localhost"), "user@localhost");
  EXPECT_EQ(mask("a@b"), "a@b");
  EXPECT_EQ(mask("x@y.c"), "x@y.c");  // one-letter TLD
  // The original's TLD class [A-Z|a-z] admitted '|': the TLD here is letters only.
  EXPECT_EQ(mask("a@b.|c"), "a@b.|c");
  EXPECT_EQ(mask("@decorator def f(): pass"), "@decorator def f(): pass");
}

TEST(PiiPhone, UsAndInternationalForms) {
  for (const char* p : {"(555) 987-6543", "(555)987-6543", "555.987.6543", "555-987-6543", "555 987 6543",
                        "+1-555-987-6543", "+1 555 987 6543", "+1 (555) 987-6543", "+15559876543", "1-800-555-0199",
                        "+44 20 7946 0958", "+33 1 23 45 67 89", "+49 30 1234567", "+91 98765 43210", "+81 3-1234-5678",
                        "+61 2 9876 5432", "+8613812345678", "+44 (0)20 7946 0958"}) {
    EXPECT_EQ(mask(std::string("call ") + p + " today"), "call [PHONE] today") << p;
    EXPECT_EQ(mask(p), "[PHONE]") << p;
  }
}

TEST(PiiPhone, Negatives) {
  // 7-digit local numbers, bare 10-digit numbers (unix timestamps, ids) and short +numbers are
  // not phones here.
  for (const char* s : {"555-1234", "ext. 4021", "1718035200", "5559876543", "+20%", "+1234", "12-34-56",
                        "555-987-65432", "1555-987-6543", "555-12", "1-800"}) {
    EXPECT_EQ(mask(s), s) << s;
  }
  // Letters may touch a number (digits may not): "tel555-987-6543" is masked.
  EXPECT_EQ(mask("tel555-987-6543"), "tel[PHONE]");
}

TEST(PiiSsn, ValidAndInvalid) {
  EXPECT_EQ(mask("123-45-6789"), "[SSN]");
  EXPECT_EQ(mask("123 45 6789"), "[SSN]");
  EXPECT_EQ(mask("ssn=078-05-1120;"), "ssn=[SSN];");
  EXPECT_EQ(mask("899-99-9999"), "[SSN]");
  // Area 000, 666, 9xx; group 00; serial 0000; mixed separators.
  for (const char* s : {"000-12-3456", "666-12-3456", "900-12-3456", "999-12-3456", "123-00-4567", "123-45-0000",
                        "123-45 6789", "123 45-6789", "1234-56-7890", "123-45-67890", "123-456-789"}) {
    EXPECT_EQ(mask(s), s) << s;
  }
  EXPECT_EQ(mask("ssn123-45-6789"), "ssn[SSN]");
}

TEST(PiiSsn, BareNineDigitsOnlyAfterALabel) {
  EXPECT_EQ(mask("order 123456789 shipped"), "order 123456789 shipped");
  EXPECT_EQ(mask("SSN: 123456789"), "SSN: [SSN]");
  EXPECT_EQ(mask("ssn 123456789."), "ssn [SSN].");
  EXPECT_EQ(mask("Her SSN is 234567890"), "Her SSN is [SSN]");
  EXPECT_EQ(mask("social security number: 345678901"), "social security number: [SSN]");
  EXPECT_EQ(mask("SSN: 000123456"), "SSN: 000123456");  // area 000
  EXPECT_EQ(mask("SSN: 1234567890"), "SSN: 1234567890");  // ten digits
}

TEST(PiiCard, LuhnValidFormats) {
  for (const char* c : {"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "378282246310005",
                        "3782 822463 10005", "5555555555554444", "6011111111111117", "4222222222222",
                        "3530111333300000", "4532-0151-1283-0366", "4111 1111 1111 1111 003"}) {
    EXPECT_EQ(mask(std::string("card ") + c + " ok"), "card [CREDIT_CARD] ok") << c;
  }
}

TEST(PiiCard, Negatives) {
  // Not Luhn-valid (a 16-digit id), too short/long, timestamps, glued to letters.
  for (const char* s : {"1234567890123456", "4111 1111 1111 1112", "4111-1111-1111-1112", "411111111111",
                        "41111111111111111111", "1718035200123", "1718035200123456", "94111111111111111",
                        "41111111111111111 2", "7111111111111114"}) {
    EXPECT_EQ(mask(s), s) << s;
  }
  EXPECT_EQ(mask("cc4111111111111111x"), "cc[CREDIT_CARD]x");  // letters may touch it
}

TEST(PiiCard, IdGluedBeforeTheCard) {
  // dependencies.md §2: a leftmost-first card regex starts inside the id and leaks "-2830-5087".
  EXPECT_EQ(mask("id-25869129 4483-2621-2830-5087"), "id-25869129 [CREDIT_CARD]");
  EXPECT_EQ(mask("ref 12 4111 1111 1111 1111"), "ref 12 [CREDIT_CARD]");
  EXPECT_EQ(mask("2024-01-15 4111-1111-1111-1111"), "2024-01-15 [CREDIT_CARD]");
}

TEST(PiiApiKey, Forms) {
  const std::string openai = "sk-" + std::string(48, 'a') + "1B";
  const std::string project = "sk-proj-Ab3_dE-" + std::string(40, 'x');
  const std::string anthropic = "sk-ant-api03-" + std::string(80, 'Z') + "-9AA";
  for (const std::string& k : {openai, project, anthropic, std::string("ghp_") + std::string(36, 'b'),
                               std::string("github_pat_11ABCDEFG0") + std::string(60, 'c'),
                               std::string("AKIAIOSFODNN7EXAMPLE"), std::string("xoxb-123456789012-abcdefABCDEF"),
                               std::string("sk_live_") + std::string(24, '4'),
                               std::string("AIzaSyA-") + std::string(31, 'q')}) {
    EXPECT_EQ(mask("key=" + k + " end"), "key=[API_KEY] end") << k;
  }
}

TEST(PiiApiKey, BearerKeepsTheWord) {
  EXPECT_EQ(mask("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abcDEF123"),
            "Authorization: Bearer [API_KEY]");
  EXPECT_EQ(mask("authorization: bearer 0123456789abcdef0123"), "authorization: bearer [API_KEY]");
  EXPECT_EQ(mask("Authorization: Bearer sk-proj-" + std::string(30, 'k')), "Authorization: Bearer [API_KEY]");
}

TEST(PiiApiKey, Negatives) {
  for (const char* s : {"sk-learn is a library", "the bearer of bad news", "Bearer responsibilities",
                        "sk-short1234", "ghp_short", "AKIA1234", "taskkill_sk-" /* not at a word start */}) {
    EXPECT_EQ(mask(s), s) << s;
  }
}

TEST(PiiIp, Ipv4) {
  EXPECT_EQ(mask("host 192.168.1.10 up"), "host [IP] up");
  EXPECT_EQ(mask("10.0.0.1:8080"), "[IP]:8080");
  EXPECT_EQ(mask("from 255.255.255.255."), "from [IP].");
  EXPECT_EQ(mask("0.0.0.0"), "[IP]");
  for (const char* s : {"999.1.1.1", "256.1.2.3", "1.2.3.256", "v1.2.3.4", "1.2.3", "1.2.3.4.5", "version 1.2.3.4",
                        "Version 10.0.0.1"}) {
    EXPECT_EQ(mask(s), s) << s;
  }
}

// ---- union of all matches ----

TEST(PiiUnion, AdjacentAndOverlappingItemsNeverLeak) {
  // dependencies.md §2: the phone swallows the card's first group; everything stays masked.
  const std::string s = masked(masker(), "+1 251 988 4163 4168-3763-0530-6916");
  EXPECT_EQ(s.find_first_of("0123456789"), std::string::npos) << s;
  // Back to back, with a single separator or none.
  for (const char* text : {"4111111111111111 555-987-6543 123-45-6789 a@b.com 10.0.0.1",
                           "555-987-6543,123-45-6789;4111-1111-1111-1111",
                           "a@b.com555-987-6543", "123-45-6789 4111 1111 1111 1111",
                           "+1 555 987 6543 555 987 6543", "+44 20 7946 0958 1234 5678 9012 3456 7890",
                           "id-25869129 4483-2621-2830-5087 id-1 4168-3763-0530-6916"}) {
    const std::string out = masked(masker(), text);
    for (const char* part : {"4111", "1111", "6543", "6789", "987", "5087", "6916", "2830", "0958", "7946"}) {
      EXPECT_EQ(out.find(part), std::string::npos) << text << " -> " << out;
    }
  }
}

TEST(PiiMasker, ItemsAtEveryOffset) {
  // The pre-scan reads 16 bytes at a time: put items across every block boundary and at the end.
  for (const char* item : {"a@b.com", "555-987-6543", "123-45-6789", "4111 1111 1111 1111", "10.0.0.1",
                           "sk-abcdefghijklmnopqrstuvwxyz", "Bearer abcdef0123456789xyz"}) {
    const std::string expected_token = masker().mask(std::string_view(item));
    ASSERT_NE(expected_token, item);
    for (std::size_t pad = 0; pad < 40; ++pad) {
      const std::string text = std::string(pad, 'z') + " " + item;
      EXPECT_EQ(mask(text), std::string(pad, 'z') + " " + expected_token) << pad << " " << item;
      const std::string text2 = std::string(item) + " " + std::string(pad, 'z');
      EXPECT_EQ(mask(text2), expected_token + " " + std::string(pad, 'z')) << pad << " " << item;
    }
  }
}

TEST(PiiUnion, TouchingSpansKeepTheirTokensAndOverlapsMerge) {
  EXPECT_EQ(mask("a@b.com555-987-6543"), "[EMAIL][PHONE]");
  // Overlap: the leftmost span gives the token of the merged span.
  PiiMasker m({{"word", "secret-\\d+", "[W]"}});
  EXPECT_EQ(masked(m, "x secret-555-987-6543 y"), "x [W] y");
  EXPECT_EQ(masked(m, "x 555-987-6543-secret-1 y"), "x [PHONE]-[W] y");
}

// ---- custom patterns ----

TEST(PiiCustom, AddedPatternsAndOrder) {
  PiiMasker m({{"employee_id", "E\\d{6}", "[EMPLOYEE_ID]"}, {"project", "Project-[A-Z]+", "[PROJECT]"}});
  EXPECT_EQ(masked(m, "E123456 on Project-ZEUS mailed a@b.com"), "[EMPLOYEE_ID] on [PROJECT] mailed [EMAIL]");
  const std::vector<std::string> names{"email", "phone", "ssn", "credit_card", "api_key", "ip", "employee_id", "project"};
  EXPECT_EQ(m.pattern_names(), names);
  EXPECT_EQ(masked(m, "nothing here"), "nothing here");
}

TEST(PiiCustom, OverrideBuiltinByName) {
  // A new regex replaces the built-in (and its validation).
  PiiMasker m({{"credit_card", "\\b\\d{4}-\\d{4}-\\d{4}-\\d{4}\\b", "[CARD]"}});
  EXPECT_EQ(masked(m, "1234-5678-9012-3456"), "[CARD]");          // no Luhn any more
  EXPECT_EQ(masked(m, "4111111111111111"), "4111111111111111");   // nor other shapes
  EXPECT_EQ(m.pattern_names()[3], "credit_card");
  // An empty regex (or the built-in's own) keeps the built-in detector and changes the token.
  PiiMasker token_only({{"credit_card", "", "[CARD]"}, {"email", PiiMasker::builtin_patterns()[0].regex, "<e>"}});
  EXPECT_EQ(masked(token_only, "4111 1111 1111 1111 / 1234-5678-9012-3456 / a@b.com"),
            "[CARD] / 1234-5678-9012-3456 / <e>");
}

TEST(PiiCustom, WithoutBuiltins) {
  PiiMasker m({{"name", "(?i)alice|bob", "[NAME]"}}, false);
  EXPECT_EQ(masked(m, "Alice met bob at a@b.com, 555-987-6543"), "[NAME] met [NAME] at a@b.com, 555-987-6543");
  EXPECT_EQ(m.pattern_names(), std::vector<std::string>{"name"});
  PiiMasker only_ssn({{"ssn", "", ""}}, false);
  EXPECT_EQ(masked(only_ssn, "123-45-6789 a@b.com"), "[SSN] a@b.com");
  PiiMasker none({}, false);
  EXPECT_EQ(masked(none, "123-45-6789"), "123-45-6789");
}

TEST(PiiCustom, LaterPatternWithTheSameNameWins) {
  PiiMasker m({{"tag", "foo", "[A]"}, {"tag", "bar", "[B]"}});
  EXPECT_EQ(masked(m, "foo bar"), "foo [B]");
}

TEST(PiiCustom, EmptyMatchesAreIgnored) {
  PiiMasker m({{"maybe", "x*", "[X]"}, {"other", "y?", "[Y]"}});
  EXPECT_EQ(masked(m, "abc xx y"), "abc [X] [Y]");
}

TEST(PiiCustom, BadRegexThrowsNamingThePattern) {
  try {
    PiiMasker m({{"broken", "(unclosed", "[B]"}});
    FAIL() << "no exception";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("broken"), std::string::npos) << what;
    EXPECT_NE(what.find("(unclosed"), std::string::npos) << what;
    EXPECT_NE(what.find("missing )"), std::string::npos) << what;  // RE2's own message
  }
  EXPECT_THROW(PiiMasker({{"x", "a{2,1}", "[X]"}}), Error);
  EXPECT_THROW(PiiMasker({{"x", "(?<=a)b", "[X]"}}), Error);  // no lookbehind in RE2
  EXPECT_THROW(PiiMasker({{"", "a", "[X]"}}), Error);
  EXPECT_THROW(PiiMasker({{"custom", "", "[X]"}}), Error);
}

TEST(PiiMasker, MovedFromThrows) {
  PiiMasker a;
  PiiMasker b = std::move(a);
  EXPECT_EQ(masked(b, "a@b.com"), "[EMAIL]");
  EXPECT_THROW((void)masked(a, "a@b.com"), Error);  // NOLINT(bugprone-use-after-move)
  a = std::move(b);
  EXPECT_EQ(masked(a, "a@b.com"), "[EMAIL]");
}

// ---- Value ----

TEST(PiiValue, MasksStringsRecursivelyKeepsKeysAndNumbers) {
  Value v = {{"user", {{"email", "a@b.com"}, {"a@b.com", "key kept"}}},
             {"messages", {"call 555-987-6543", {{"content", "ssn 123-45-6789"}}, 42, true, nullptr}},
             {"count", 4111111111111111},
             {"score", 1.5},
             {"note", "nothing"}};
  const Value masked = masker().mask(v);
  EXPECT_EQ(masked["user"]["email"].as_string(), "[EMAIL]");
  ASSERT_NE(masked["user"].find("a@b.com"), nullptr);
  EXPECT_EQ(masked["user"]["a@b.com"].as_string(), "key kept");
  EXPECT_EQ(masked["messages"][0].as_string(), "call [PHONE]");
  EXPECT_EQ(masked["messages"][1]["content"].as_string(), "ssn [SSN]");
  EXPECT_EQ(masked["messages"][2].as_int(), 42);
  EXPECT_TRUE(masked["messages"][3].as_bool());
  EXPECT_TRUE(masked["messages"][4].is_null());
  EXPECT_EQ(masked["count"].as_int(), 4111111111111111);  // numbers are not text
  EXPECT_EQ(masked["score"].as_double(), 1.5);
  EXPECT_EQ(masked["note"].as_string(), "nothing");
  // The original is untouched; in place gives the same.
  EXPECT_EQ(v["user"]["email"].as_string(), "a@b.com");
  masker().mask_in_place(v);
  EXPECT_EQ(v, masked);
  Value s = "4111 1111 1111 1111";
  masker().mask_in_place(s);
  EXPECT_EQ(s.as_string(), "[CREDIT_CARD]");
}

// Span and trace ids are lower-case hex, several per event: the pre-scan passes over such a string
// when no built-in can match it, which leaves a card number (13 digits in a row) as the only one.
// Registered secrets and user patterns still see every string.
TEST(PiiMasker, LowerCaseHexIsLeftAloneUnlessItHoldsACardASecretOrAUserPattern) {
  for (const char* id : {"8f3a1c2b4d5e6f70", "0123456789abcdef0123456789abcdef", "a123456789012b", "deadbeef",
                         "1234567890123456" /* not Luhn-valid */, "bea4e5e7"}) {
    EXPECT_EQ(mask(id), id);
  }
  EXPECT_EQ(mask("4111111111111111"), "[CREDIT_CARD]");
  EXPECT_EQ(mask("ab4111111111111111cd"), "ab[CREDIT_CARD]cd");
  EXPECT_EQ(mask("0e4222222222222f"), "0e[CREDIT_CARD]f");  // 13 digits
  register_secret("c0ffee15deadbeef");
  EXPECT_EQ(mask("00c0ffee15deadbeef00"), "00[SECRET]00");
  const PiiMasker commits({{"commit", "\\b[0-9a-f]{7}\\b", "[COMMIT]"}});
  EXPECT_EQ(masked(commits, "1a2b3c4"), "[COMMIT]");
  EXPECT_EQ(masked(commits, "1a2b3c4d"), "1a2b3c4d");
}

// ---- cost properties ----

TEST(PiiMasker, CleanTextDoesNotAllocate) {
  std::string clean = "The agent moved north, found 3 keys at 12:34 on 2024-01-15 (v1.2.3), paid $1,234.56 for "
                      "order #123456789012 and 4111 1111 1111 1112; see 999.1.1.1 and @someone.";
  clean += std::string(300, 'z');  // longer than any small-string buffer
  const std::string before = clean;
  EXPECT_FALSE(masker().mask_in_place(clean));  // warm RE2's lazily built automata
  const long start = g_allocations.load();
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(masker().mask_in_place(clean));
  EXPECT_EQ(g_allocations.load() - start, 0);
  EXPECT_EQ(clean, before);
}

TEST(PiiMasker, LinearOnPathologicalInput) {
  // Long runs that every detector's candidate search walks: must stay linear.
  const std::size_t n = 1 << 20;
  std::vector<std::string> inputs{std::string(n, '1'),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "1 ";
                                    return s;
                                  }(),
                                  std::string(n, 'a') + "@",
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "a@";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "+1 ";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "1.2.3.4.";
                                    return s;
                                  }(),
                                  "Bearer " + std::string(n, 'a'),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "bearer ";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "sk-";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "xoxb-a-";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "+1-2-3-";
                                    return s;
                                  }(),
                                  [&] {
                                    std::string s;
                                    while (s.size() < n) s += "SSN: 123456789 ";
                                    return s;
                                  }()};
  for (const std::string& in : inputs) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)masked(masker(), in);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(seconds, 5.0) << in.substr(0, 20);  // ~ms in Release; generous for sanitizers
  }
}

TEST(PiiMasker, ConcurrentUseGivesTheSameResults) {
  std::vector<std::string> texts;
  for (int i = 0; i < 200; ++i) {
    texts.push_back("user" + std::to_string(i) + "@example.com called 555-987-" + std::to_string(1000 + i) +
                    " from 10.0." + std::to_string(i % 256) + ".1 with 4111 1111 1111 1111 and some prose " +
                    std::to_string(i * 7919));
  }
  std::vector<std::string> expected;
  for (const auto& t : texts) expected.push_back(masked(masker(), t));
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&] {
      for (int round = 0; round < 20; ++round)
        for (std::size_t i = 0; i < texts.size(); ++i)
          if (masked(masker(), texts[i]) != expected[i]) ++mismatches;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

}  // namespace
}  // namespace synth::tracing
