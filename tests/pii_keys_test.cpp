// The "api_key" detector graded on keys it was not written from: samples are generated (seeded)
// from the providers' documented formats (prefix, length, alphabet), placed in the contexts keys
// show up in (headers, JSON, environment lines, URLs, prose), plus look-alikes that must stay
// readable (hashes, UUIDs, model names, identifiers). Also: credentials inside URLs, and the
// registry of exact secrets (register_secret()).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "synth/tracing/pii.hpp"

namespace synth::tracing {
namespace {

const PiiMasker& masker() {
  static const PiiMasker m;
  return m;
}
std::string mask(std::string_view text) { return masker().mask(text); }

const std::string kUpper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const std::string kLower = "abcdefghijklmnopqrstuvwxyz";
const std::string kDigits = "0123456789";
const std::string kHex = "0123456789abcdef";
const std::string kAlnum = kUpper + kLower + kDigits;
const std::string kLetters = kUpper + kLower;
const std::string kUrlSafe = kAlnum + "-_";

// A key format as its provider documents it.
struct KeyFormat {
  std::string provider;
  // Builds one key from the random source.
  std::string (*make)(std::mt19937_64&);
  // False for formats with no recognisable shape (a bare random string): they are covered by
  // registering the key (the LM client does), not by the detector.
  bool has_shape = true;
};

std::string chars(std::mt19937_64& rng, std::size_t n, const std::string& alphabet) {
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  std::string s;
  for (std::size_t i = 0; i < n; ++i) s.push_back(alphabet[pick(rng)]);
  return s;
}

std::vector<KeyFormat> formats() {
  return {
      // OpenAI: legacy user keys (sk- 20 chars, the marker T3BlbkFJ, 20 chars), project, service
      // account and admin keys (prefix, then a long url-safe string).
      {"openai legacy", [](auto& r) { return "sk-" + chars(r, 20, kAlnum) + "T3BlbkFJ" + chars(r, 20, kAlnum); }},
      {"openai project", [](auto& r) { return "sk-proj-" + chars(r, 156, kUrlSafe); }},
      {"openai service account", [](auto& r) { return "sk-svcacct-" + chars(r, 156, kUrlSafe); }},
      {"openai admin", [](auto& r) { return "sk-admin-" + chars(r, 120, kUrlSafe); }},
      // Anthropic: sk-ant-api03- + 93 url-safe + "AA"; admin keys sk-ant-admin01-.
      {"anthropic", [](auto& r) { return "sk-ant-api03-" + chars(r, 93, kUrlSafe) + "AA"; }},
      {"anthropic admin", [](auto& r) { return "sk-ant-admin01-" + chars(r, 93, kUrlSafe) + "AA"; }},
      // OpenRouter: sk-or-v1- + 64 hex. DeepSeek: sk- + 32 hex.
      {"openrouter", [](auto& r) { return "sk-or-v1-" + chars(r, 64, kHex); }},
      {"deepseek", [](auto& r) { return "sk-" + chars(r, 32, kHex); }},
      // Groq: gsk_ + 52 alphanumerics. xAI: xai- + 80 alphanumerics.
      {"groq", [](auto& r) { return "gsk_" + chars(r, 52, kAlnum); }},
      {"xai", [](auto& r) { return "xai-" + chars(r, 80, kAlnum); }},
      // Google AI Studio / Gemini: AIza + 35 url-safe.
      {"google", [](auto& r) { return "AIza" + chars(r, 35, kUrlSafe); }},
      // Hugging Face user tokens hf_ + 34 letters; organisation tokens api_org_ + 34 letters.
      {"hugging face", [](auto& r) { return "hf_" + chars(r, 34, kLetters); }},
      {"hugging face org", [](auto& r) { return "api_org_" + chars(r, 34, kLetters); }},
      // Together's current keys: tgp_v1_ + 43 url-safe.
      {"together", [](auto& r) { return "tgp_v1_" + chars(r, 43, kUrlSafe); }},
      // Perplexity pplx- + 48, Cerebras csk- + 48, Replicate r8_ + 37, NVIDIA nvapi- + 64.
      {"perplexity", [](auto& r) { return "pplx-" + chars(r, 48, kAlnum); }},
      {"cerebras", [](auto& r) { return "csk-" + chars(r, 48, kLower + kDigits); }},
      {"replicate", [](auto& r) { return "r8_" + chars(r, 37, kAlnum); }},
      {"nvidia", [](auto& r) { return "nvapi-" + chars(r, 64, kUrlSafe); }},
      // LangSmith personal tokens: lsv2_pt_ + 32 hex + _ + 10 hex.
      {"langsmith", [](auto& r) { return "lsv2_pt_" + chars(r, 32, kHex) + "_" + chars(r, 10, kHex); }},
      // GitHub classic tokens gh[pousr]_ + 36 alphanumerics; fine-grained github_pat_ 22 + _ + 59.
      {"github classic", [](auto& r) { return "ghp_" + chars(r, 36, kAlnum); }},
      {"github oauth", [](auto& r) { return "gho_" + chars(r, 36, kAlnum); }},
      {"github fine-grained", [](auto& r) { return "github_pat_" + chars(r, 22, kAlnum) + "_" + chars(r, 59, kAlnum); }},
      // GitLab glpat- + 20 url-safe; npm npm_ + 36.
      {"gitlab", [](auto& r) { return "glpat-" + chars(r, 20, kUrlSafe); }},
      {"npm", [](auto& r) { return "npm_" + chars(r, 36, kAlnum); }},
      // AWS access key ids: AKIA (long-term) or ASIA (temporary) + 16 of A-Z2-7.
      {"aws", [](auto& r) { return std::string(r() % 2 ? "AKIA" : "ASIA") + chars(r, 16, kUpper + "234567"); }},
      // Slack bot / user tokens: xoxb-<team digits>-<digits>-<24 alphanumerics>.
      {"slack bot", [](auto& r) { return "xoxb-" + chars(r, 12, kDigits) + "-" + chars(r, 13, kDigits) + "-" + chars(r, 24, kAlnum); }},
      {"slack user", [](auto& r) { return "xoxp-" + chars(r, 12, kDigits) + "-" + chars(r, 12, kDigits) + "-" + chars(r, 13, kDigits) + "-" + chars(r, 32, kHex); }},
      // Stripe secret and restricted keys.
      {"stripe secret", [](auto& r) { return "sk_live_" + chars(r, 99, kAlnum); }},
      {"stripe restricted", [](auto& r) { return "rk_live_" + chars(r, 24, kAlnum); }},
      // JWTs: base64url header and payload (both start with eyJ, the encoding of '{"'), signature.
      {"jwt", [](auto& r) { return "eyJ" + chars(r, 33, kUrlSafe) + ".eyJ" + chars(r, 120, kUrlSafe) + "." + chars(r, 43, kUrlSafe); }},
      // No recognisable shape: registration covers these (the LM client registers its key).
      {"mistral", [](auto& r) { return chars(r, 32, kAlnum); }, false},
      {"azure openai", [](auto& r) { return chars(r, 32, kHex); }, false},
      {"together legacy", [](auto& r) { return chars(r, 64, kHex); }, false},
  };
}

// Where keys appear; {} is the key.
const std::vector<std::pair<std::string, std::string>> kContexts{
    {"Authorization: Bearer ", ""},
    {"x-api-key: ", ""},
    {R"({"api_key": ")", R"("})"},
    {"export PROVIDER_API_KEY=", "\n"},
    {"my key is ", ", keep it safe."},
    {"'", "'"},
    {"key=", " end"},
    {"(", ")"},
};

struct Tally {
  int items = 0, recalled = 0;
};

TEST(PiiKeys, DocumentedFormatsAreMaskedWhole) {
  std::mt19937_64 rng(20260412);
  std::map<std::string, Tally> per_format;
  int shaped = 0, shaped_recalled = 0, collateral = 0;
  std::vector<std::string> failures;
  for (const KeyFormat& format : formats()) {
    for (int i = 0; i < 60; ++i) {
      const std::string key = format.make(rng);
      const auto& [before, after] = kContexts[static_cast<std::size_t>(i) % kContexts.size()];
      const std::string text = before + key + after;
      const std::string out = mask(text);
      Tally& t = per_format[format.provider];
      ++t.items;
      // Recalled: nothing of the key is left, and the text around it is intact.
      bool whole = out.find(key.substr(0, key.size() / 2)) == std::string::npos &&
                   out.find(key.substr(key.size() / 2)) == std::string::npos;
      const bool context_kept = out.rfind(before, 0) == 0 && out.size() >= after.size() &&
                                out.compare(out.size() - after.size(), after.size(), after) == 0;
      if (!context_kept) ++collateral;
      if (whole) ++t.recalled;
      if (format.has_shape) {
        ++shaped;
        shaped_recalled += whole;
        if (!whole && failures.size() < 20) failures.push_back(format.provider + ": " + text + " -> " + out);
      }
    }
  }
  std::printf("\n%-24s %6s %9s %8s\n", "format", "items", "recalled", "recall");
  for (const auto& [name, t] : per_format) {
    std::printf("%-24s %6d %9d %8.4f\n", name.c_str(), t.items, t.recalled, double(t.recalled) / t.items);
  }
  std::printf("formats with a shape: %d items, recall %.4f; context bytes masked in %d samples\n", shaped,
              double(shaped_recalled) / shaped, collateral);
  for (const auto& f : failures) std::printf("  missed %s\n", f.c_str());
  EXPECT_EQ(shaped_recalled, shaped);
  EXPECT_EQ(collateral, 0);
  // Every provider the LM client speaks to that documents a key shape is recognised.
  for (const char* p : {"openai project", "anthropic", "google", "groq", "deepseek", "xai", "together", "openrouter"}) {
    EXPECT_EQ(per_format[p].recalled, per_format[p].items) << p;
  }
}

TEST(PiiKeys, LookAlikesStayReadable) {
  std::mt19937_64 rng(7);
  std::vector<std::string> negatives{
      "sk-learn is a library", "sk-learn-compatible-estimator-wrapper-for-pipelines", "the bearer of bad news",
      "Bearer responsibilities", "hf_hub_download", "hf_transfer_enabled_for_large_files", "gsk_config",
      "xai-grok-beta", "xai-grok-2-vision-1212", "gpt-4o-mini-2024-07-18", "claude-3-5-sonnet-20241022",
      "meta-llama/Llama-3.3-70B-Instruct-Turbo", "api_org_name", "api_key_name_for_the_service",
      "github_actions_workflow_file", "AKIA1234", "AIza", "eyJ", "token=5", "max_tokens=64 temperature=0.2",
      "https://api.openai.com/v1/chat/completions?stream=true&n=2", "https://example.com/search?q=keys&page=2",
      "https://medium.com/@author/post-title", "see https://github.com/org/repo/blob/main/README.md",
      "?token_count=3", "pip install sk-video", "r8_", "npm_config_cache", "task_sk-1", "whsec_", "glpat-short",
      "The key=value pairs are separated by &", "lsv2_pt_short"};
  for (int i = 0; i < 50; ++i) {
    negatives.push_back(chars(rng, 40, kHex));                       // SHA-1 / git commit
    negatives.push_back("sha256:" + chars(rng, 64, kHex));           // digest
    negatives.push_back(chars(rng, 8, kHex) + "-" + chars(rng, 4, kHex) + "-4" + chars(rng, 3, kHex) + "-a" +
                        chars(rng, 3, kHex) + "-" + chars(rng, 12, kHex));  // UUID
    negatives.push_back("chatcmpl-" + chars(rng, 29, kAlnum));      // response ids are not secrets
    negatives.push_back("msg_" + chars(rng, 24, kAlnum));
    negatives.push_back("call_" + chars(rng, 24, kAlnum));
  }
  int masked = 0;
  for (const std::string& s : negatives) {
    const std::string out = mask(s);
    if (out.find("[API_KEY]") != std::string::npos) {
      ++masked;
      ADD_FAILURE() << s << " -> " << out;
    }
  }
  std::printf("look-alikes: %zu, masked as keys: %d\n", negatives.size(), masked);
}

TEST(PiiKeys, CredentialsInUrlsAreMaskedKeepingTheUrlReadable) {
  EXPECT_EQ(mask("could not reach https://admin:hunter2-Pw@10.0.0.5:8080/v1: refused"),
            "could not reach https://[API_KEY]@[IP]:8080/v1: refused");
  EXPECT_EQ(mask("http://user:pa55word@localhost:8000/v1"), "http://[API_KEY]@localhost:8000/v1");
  EXPECT_EQ(mask("https://ghs_token@github.com/org/repo.git"), "https://[API_KEY]@github.com/org/repo.git");
  EXPECT_EQ(mask("GET https://generativelanguage.googleapis.com/v1beta/models?key=secret-value-1&alt=sse"),
            "GET https://generativelanguage.googleapis.com/v1beta/models?key=[API_KEY]&alt=sse");
  EXPECT_EQ(mask("https://h/x?a=1&access_token=abc.def&b=2"), "https://h/x?a=1&access_token=[API_KEY]&b=2");
  EXPECT_EQ(mask("https://h/x?API_KEY=zzz"), "https://h/x?API_KEY=[API_KEY]");
  // "api_" also starts a Hugging Face organisation token: both checks run.
  EXPECT_EQ(mask("https://h/v1?api_key=pa55-Word-77 end"), "https://h/v1?api_key=[API_KEY] end");
  EXPECT_EQ(mask("postgres://app:s3cr3t@db.internal:5432/app"), "postgres://[API_KEY]@db.internal:5432/app");
}

// Found by tests/fuzz/pii_fuzz: an '@' that only looks like the end of a URL's userinfo (the
// credential pattern then rejects the URL) still ends an email, which is masked.
TEST(PiiKeys, AnEmailAfterAUrlLookAlikeIsMasked) {
  EXPECT_EQ(mask("B://\x94<ops+alerts@mail.example.org "), "B://\x94<[EMAIL] ");  // invalid UTF-8 in the userinfo
  EXPECT_EQ(mask("1://x(jane.doe@example.com)"), "1://x([EMAIL])");                 // a scheme cannot start with a digit
  // A real userinfo is still the credential, and the host stays readable.
  EXPECT_EQ(mask("https://jane.doe@example.com/x"), "https://[API_KEY]@example.com/x");
}

TEST(PiiKeys, LinearOnPathologicalInput) {
  const std::size_t n = 1 << 20;
  const auto repeat = [&](const std::string& unit) {
    std::string s;
    while (s.size() < n) s += unit;
    return s;
  };
  for (const std::string& in : {repeat("gsk_"), repeat("eyJ"), repeat("?key="), repeat("&key=a"), repeat("://a@"),
                                "http://" + std::string(n, 'a') + "@", std::string(n, 'a') + "://a@", repeat("a=")}) {
    const auto t0 = std::chrono::steady_clock::now();
    (void)mask(in);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    EXPECT_LT(seconds, 5.0) << in.substr(0, 20);  // ~ms in Release; generous for sanitizers
  }
}

// ---- registered secrets ----

TEST(RegisteredSecrets, MaskedByEveryMaskerWhateverItsShape) {
  const std::string secret = "mistral-0f3Kq8ZrT5wYp2Lx";  // no known prefix
  EXPECT_EQ(mask("key " + secret + " used"), "key " + secret + " used");
  register_secret(secret);
  EXPECT_EQ(mask("key " + secret + " used"), "key [SECRET] used");
  const PiiMasker no_detectors(std::vector<PiiPattern>{}, false);
  EXPECT_EQ(no_detectors.mask(std::string_view("a" + secret + secret + "b")), "a[SECRET]b");
  // Overlapping occurrences and neighbouring items leak nothing.
  register_secret("aaaa-bbbb-aaaa");
  EXPECT_EQ(no_detectors.mask(std::string_view("x aaaa-bbbb-aaaa-bbbb-aaaa y")), "x [SECRET] y");
  EXPECT_EQ(mask("alice@example.com:" + secret), "[EMAIL]:[SECRET]");
  EXPECT_EQ(mask("alice@example.com" + secret), "[EMAIL]");  // the email's domain runs into it: one span
  // Registering again changes nothing; short strings are not registered.
  register_secret(secret);
  register_secret("short");
  EXPECT_EQ(mask("a short word"), "a short word");
}

}  // namespace
}  // namespace synth::tracing
