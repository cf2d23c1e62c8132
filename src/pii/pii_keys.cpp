#include "pii/pii_keys.hpp"

#include <algorithm>
#include <string_view>

namespace synth::tracing::pii_detail {

// Prefixes from the providers' documentation: OpenAI sk- / sk-proj- / sk-svcacct- / sk-admin-,
// Anthropic sk-ant-, OpenRouter sk-or-v1-, DeepSeek sk-; Stripe sk_/rk_ live/test; GitHub;
// AWS access key ids; Google AIza; Slack; Groq gsk_; xAI xai-; Perplexity pplx-; Cerebras csk-;
// GitLab glpat-; NVIDIA nvapi-; Hugging Face hf_ and api_org_; Together tgp_v1_; Replicate r8_;
// npm; LangSmith lsv2_; Stripe webhook secrets; PyPI; JWTs; then bearer tokens and URL credentials.
const char* const kApiKeyRegex =
    R"(\bsk-[A-Za-z0-9_-]{20,}|\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,})"
    R"(|\bgh[pousr]_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{22,})"
    R"(|\b(?:AKIA|ASIA)[A-Z0-9]{16}\b|\bAIza[A-Za-z0-9_-]{35})"
    R"(|\bxox[abposre]-[A-Za-z0-9-]{10,}|\bxapp-[A-Za-z0-9-]{10,})"
    R"(|\b(?:gsk|xai|pplx|csk|glpat|nvapi)[_-][A-Za-z0-9_-]{20,})"
    R"(|\bhf_[A-Za-z0-9]{20,}|\bapi_org_[A-Za-z]{30,}|\btgp_v1_[A-Za-z0-9_-]{20,}|\br8_[A-Za-z0-9]{20,})"
    R"(|\bnpm_[A-Za-z0-9]{30,}|\blsv2_(?:pt|sk)_[A-Za-z0-9_]{20,}|\bwhsec_[A-Za-z0-9+/=]{20,})"
    R"(|\bpypi-[A-Za-z0-9_-]{50,})"
    R"(|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*)"
    R"(|(?i:\bbearer)[ \t]+[A-Za-z0-9._~+/-]{16,}=*)"
    R"(|[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@]+@)"
    R"(|[?&](?i:api[_-]?key|key|access[_-]?token|token|auth|secret|client[_-]?secret|password|passwd|pwd|sig|signature))"
    R"(=[^\s&#"'<>]+)";

namespace {

// Words that start a key when followed by '-' or '_' (the regex then decides).
constexpr std::string_view kStems[] = {"sk",   "rk",   "ghp",  "gho",  "ghu",  "ghs", "ghr",   "github", "xoxa",
                                       "xoxb", "xoxp", "xoxo", "xoxs", "xoxr", "xoxe", "xapp", "gsk",   "xai",
                                       "pplx", "csk",  "glpat", "nvapi", "hf",  "api",  "tgp",  "r8",    "npm",
                                       "lsv2", "whsec", "pypi"};
constexpr std::size_t kLongestStem = 6;
// A key window shorter than this holds no key of any known format.
constexpr std::size_t kMinKeyWindow = 15;
// Bearer tokens shorter than this are words ("Bearer of bad news").
constexpr std::size_t kMinBearerToken = 16;
constexpr std::size_t kLongestParameterName = 16;
constexpr std::size_t kLongestScheme = 32;

bool userinfo_char(unsigned char c) { return c > ' ' && c != '/' && c != '?' && c != '#' && c != '@'; }
bool scheme_char(unsigned char c) { return is_alnum(c) || c == '+' || c == '.' || c == '-'; }
bool query_value_char(unsigned char c) {
  return c > ' ' && c != '&' && c != '#' && c != '"' && c != '\'' && c != '<' && c != '>';
}
bool parameter_name_char(unsigned char c) { return is_alnum(c) || c == '_' || c == '-'; }

// The token after a marker at `m`: bytes of a key or bearer token.
std::size_t token_end(Text t, std::size_t from) {
  while (from < t.size() && (cls(at(t, from)) & kToken)) ++from;
  return from;
}

}  // namespace

KeyWindow key_window(Text t, std::size_t i, KeyFloors& floors) {
  const std::size_t n = t.size();
  const unsigned char c = at(t, i);
  switch (c) {
    case '-':
    case '_': {  // a stem right before: sk-, gsk_, github_, xoxb-, ...
      std::size_t w = i;
      while (w > 0 && i - w < kLongestStem && is_alnum(at(t, w - 1))) --w;
      if (w == i || w < floors.key || !word_start(t, w)) return {};
      const Text word = t.substr(w, i - w);
      if (std::find(std::begin(kStems), std::end(kStems), word) == std::end(kStems)) return {};
      const std::size_t b = token_end(t, i);
      floors.key = b;
      return b - w >= kMinKeyWindow ? KeyWindow{w, b} : KeyWindow{};
    }
    case 'A':  // AKIA, ASIA, AIza
      if (i >= floors.key && i + 3 < n && word_start(t, i) &&
          (((at(t, i + 1) == 'K' || at(t, i + 1) == 'S') && at(t, i + 2) == 'I' && at(t, i + 3) == 'A') ||
           (at(t, i + 1) == 'I' && at(t, i + 2) == 'z' && at(t, i + 3) == 'a'))) {
        const std::size_t b = token_end(t, i);
        floors.key = b;
        return b - i >= kMinKeyWindow ? KeyWindow{i, b} : KeyWindow{};
      }
      return {};
    case 'J':  // eyJ: a JWT (base64url of '{"')
      if (i >= 2 && i - 2 >= floors.key && at(t, i - 2) == 'e' && at(t, i - 1) == 'y' && word_start(t, i - 2)) {
        const std::size_t b = token_end(t, i);
        floors.key = b;
        return b - (i - 2) >= kMinKeyWindow ? KeyWindow{i - 2, b} : KeyWindow{};
      }
      return {};
    case 'b':
    case 'B': {  // "Bearer <token>"
      if (i + 6 >= n || !word_start(t, i) || lower(at(t, i + 1)) != 'e' || lower(at(t, i + 2)) != 'a' ||
          lower(at(t, i + 3)) != 'r' || lower(at(t, i + 4)) != 'e' || lower(at(t, i + 5)) != 'r') {
        return {};
      }
      std::size_t token = i + 6;
      while (token < n && (at(t, token) == ' ' || at(t, token) == '\t')) ++token;
      if (token == i + 6) return {};  // "bearer" must be followed by blanks, then the token
      const std::size_t b = token_end(t, token);
      return b - token >= kMinBearerToken ? KeyWindow{i, b} : KeyWindow{};
    }
    case '=': {  // ?name=value or &name=value
      if (i < floors.query) return {};
      std::size_t w = i;
      while (w > 0 && i - w < kLongestParameterName && parameter_name_char(at(t, w - 1))) --w;
      if (w == i || w == 0 || (at(t, w - 1) != '?' && at(t, w - 1) != '&')) return {};
      std::size_t b = i + 1;
      while (b < n && query_value_char(at(t, b))) ++b;
      if (b == i + 1) return {};
      floors.query = b;
      return KeyWindow{w - 1, b};
    }
    case '@': {  // scheme://userinfo@host
      std::size_t u = i;
      while (u > 0 && userinfo_char(at(t, u - 1))) --u;
      if (u == i || u < 3 || at(t, u - 1) != '/' || at(t, u - 2) != '/' || at(t, u - 3) != ':') return {};
      std::size_t s = u - 3;
      while (s > 0 && u - 3 - s < kLongestScheme && scheme_char(at(t, s - 1))) --s;
      return s < u - 3 ? KeyWindow{s, i + 1} : KeyWindow{};
    }
    default:
      return {};
  }
}

KeyVerdict validate_key(Text t, std::size_t s, std::size_t e) {
  const unsigned char first = at(t, s);
  if (first == '?' || first == '&') {  // keep the parameter's name
    return {t.find('=', s) + 1, e, e};
  }
  if (at(t, e - 1) == '@') {  // keep the scheme and the host
    return {t.find("://", s) + 3, e - 1, e};
  }
  if (lower(first) == 'b' && lower(at(t, s + 1)) == 'e') {
    // "Bearer <token>": keep "Bearer" readable, mask the token if it looks like one (not a word:
    // it has a digit, punctuation, or an upper-case letter after its first character).
    std::size_t k = s + 6;
    while (k < e && (at(t, k) == ' ' || at(t, k) == '\t')) ++k;
    while (e > k && at(t, e - 1) == '.') --e;  // the end of a sentence, not of the token
    if (e - k < kMinBearerToken) return {s, s, e};
    bool token_like = false;
    for (std::size_t i = k; i < e && !token_like; ++i) {
      const unsigned char c = at(t, i);
      token_like = is_digit(c) || !(cls(c) & kWord) || c == '_' || (i > k && is_upper(c));
    }
    if (!token_like) return {s, s, e};
    return {k, e, e - s <= 256 ? s + 1 : e};
  }
  // A key with a known prefix. Keys glued together ("xoxb-...ghp_...") overlap: after a key of
  // normal length, search again from inside it so that a key starting inside and running past it
  // is found too. (Past 256 bytes the search resumes after the match, which bounds the work on
  // adversarial runs like "sk-sk-sk-...".)
  const std::size_t next = e - s <= 256 ? s + 1 : e;
  bool random_looking = false;
  std::size_t separators = 0;
  for (std::size_t k = s; k < e; ++k) {
    const unsigned char c = at(t, k);
    random_looking |= is_digit(c) || is_upper(c);
    separators += c == '-' || c == '_';
  }
  // Random characters of a real key include digits or capitals; lower-case words joined by
  // dashes are a name ("sk-learn-compatible-estimator-wrapper").
  if (!random_looking && separators >= 2) return {s, s, next};
  return {s, e, next};
}

}  // namespace synth::tracing::pii_detail
