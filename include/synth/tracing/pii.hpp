// PII masking: emails, phone numbers, SSNs, payment cards, API keys and IP addresses in text
// (and in the strings of JSON values) are replaced by tokens before data leaves the process.
// Target synth::tracing_policy (RE2). User patterns (PiiPattern): config.hpp; register_secret:
// secrets.hpp.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/config.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/secrets.hpp"

namespace synth::tracing {

/// Masks personal data. Built-in detectors, by name: "email" -> [EMAIL], "phone" -> [PHONE]
/// (US and international forms), "ssn" -> [SSN] (US rules: no area 000/666/9xx, no group 00, no
/// serial 0000, consistent separators), "credit_card" -> [CREDIT_CARD] (13-19 digits, spaces or
/// dashes, Luhn-checked), "api_key" -> [API_KEY] (keys with a known prefix: OpenAI, Anthropic,
/// OpenRouter, DeepSeek sk-, Groq gsk_, xAI xai-, Google AIza, Hugging Face hf_, Together tgp_v1_,
/// GitHub, AWS, Slack, Stripe, ...; JWTs; bearer tokens; the userinfo of a URL and the value of
/// its key/token/secret/password query parameters), "ip" -> [IP] (IPv4). Registered secrets
/// (register_secret()) become [SECRET] whatever the detectors. Matches of all detectors are
/// unioned, so overlapping or adjacent items never leak a part. Immutable after construction
/// and thread-safe.
class PiiMasker {
 public:
  /// The built-in detectors.
  PiiMasker();
  /// The built-ins (when `builtins`) plus `patterns`; a pattern named like a built-in replaces it.
  /// Throws Error naming the pattern when its regex does not compile.
  explicit PiiMasker(std::vector<PiiPattern> patterns, bool builtins = true);
  ~PiiMasker();
  PiiMasker(PiiMasker&&) noexcept;
  PiiMasker& operator=(PiiMasker&&) noexcept;

  /// `text` with every detected item replaced by its token.
  std::string mask(std::string_view text) const;
  /// Masks `text` in place; false (and no allocation) when nothing was found.
  bool mask_in_place(std::string& text) const;
  /// Masks every string inside `value` (object keys are kept); numbers, booleans untouched.
  void mask_in_place(Value& value) const;
  /// A masked copy of `value`.
  Value mask(const Value& value) const;

  /// Names of the active detectors, built-ins first.
  std::vector<std::string> pattern_names() const;

  /// The built-in detectors' patterns (their extra validation, such as Luhn, is not in the regex).
  static const std::vector<PiiPattern>& builtin_patterns();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synth::tracing
