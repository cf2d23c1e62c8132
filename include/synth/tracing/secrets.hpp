// Secrets that never leave the process: API keys, passwords and tokens registered here become
// [SECRET] in everything a tracer's sinks and exporters receive, in diagnostics and in errors.
// Target synth::tracing_core (masking them needs no PII detector).
#pragma once

#include <cstddef>
#include <string_view>

namespace synth::tracing {

/// Secrets shorter than this are not registered: they could not be told from ordinary text.
inline constexpr std::size_t kMinSecretBytes = 8;

/// Registers `secret` (an API key, a password, a token) as text that never leaves the process:
/// from then on it becomes [SECRET] in every PiiMasker, in what every tracer's sinks and span
/// exporters receive (also with mask_pii off), in diagnostics and in the LM client's errors. The
/// LM client registers the keys it uses. Process-wide and permanent; registering a secret again,
/// or one shorter than kMinSecretBytes, does nothing. Thread-safe; masking reads the registry
/// without a lock.
void register_secret(std::string_view secret);

}  // namespace synth::tracing
