// Internal: the registry of exact secret strings (register_secret() in pii.hpp), and the
// redaction of credentials from text shown outside traces (diagnostics, errors).
#pragma once

#include <string>
#include <string_view>

namespace synth::tracing::detail {

/// One registered secret. The list only grows and its nodes live as long as the process, so
/// readers walk it without a lock.
struct RegisteredSecret {
  std::string text;
  const RegisteredSecret* next;
};

/// The most recently registered secret (follow `next` for the others), or null.
const RegisteredSecret* registered_secrets() noexcept;

/// What a registered secret becomes wherever it is masked.
inline constexpr std::string_view kSecretToken = "[SECRET]";

/// `text` without credentials: registered secrets and whatever the built-in "api_key" detector
/// finds (keys, tokens, credentials in URLs). For text that leaves the process outside a trace:
/// diagnostics, exception messages.
std::string redact_credentials(std::string_view text);

}  // namespace synth::tracing::detail
