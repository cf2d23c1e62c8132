// Internal: the registry of exact secret strings (register_secret() in pii.hpp), and the
// redaction of credentials from text shown outside traces (diagnostics, errors).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "tracer/layers.hpp"

namespace synth::tracing::detail {

/// One registered secret. The list only grows and its nodes live as long as the process, so
/// readers walk it without a lock.
struct RegisteredSecret {
  std::string text;
  const RegisteredSecret* next;
};

/// The most recently registered secret (follow `next` for the others), or null.
const RegisteredSecret* registered_secrets() noexcept;

/// Calls `found(start, end)` for every occurrence of every registered secret in `text`;
/// overlapping occurrences of one secret make one call (those of different secrets may overlap).
template <class Found>
void find_registered_secrets(std::string_view text, Found&& found) {
  for (const RegisteredSecret* secret = registered_secrets(); secret != nullptr; secret = secret->next) {
    const std::size_t length = secret->text.size();
    std::size_t start = text.find(secret->text);
    while (start != std::string_view::npos) {
      std::size_t end = start + length;
      std::size_t next = text.find(secret->text, start + 1);
      while (next != std::string_view::npos && next <= end) {
        end = next + length;
        next = text.find(secret->text, next + 1);
      }
      found(start, end);
      start = next;
    }
  }
}

/// What a registered secret becomes wherever it is masked.
inline constexpr std::string_view kSecretToken = "[SECRET]";

/// `text` without credentials: registered secrets and, when synth::tracing_policy is linked,
/// whatever its "api_key" detector finds (keys, tokens, credentials in URLs). For text that leaves
/// the process outside a trace: diagnostics, exception messages.
std::string redact_credentials(std::string_view text);

/// Every occurrence of every registered secret in `text` becomes kSecretToken (overlapping ones
/// make one); true when `text` changed.
bool mask_registered_secrets(std::string& text);

/// The masker of a tracer without PII detectors: registered secrets only.
class RegisteredSecretsMasker final : public TextMasker {
 public:
  bool mask_in_place(std::string& text) const override { return mask_registered_secrets(text); }
  void mask_in_place(Value& value) const override;
};

}  // namespace synth::tracing::detail
