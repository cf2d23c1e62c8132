// Internal: reading the process environment.
#pragma once

#include <cstdlib>
#include <string>

namespace synth::tracing::detail {

/// The value of the environment variable `name`, or nullptr when it is unset or empty (an empty
/// variable counts as unset, as the OpenTelemetry specification asks of its variables).
inline const char* env_value(const char* name) noexcept {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

/// The same as text: empty when the variable is unset or empty.
inline std::string env_text(const char* name) {
  const char* v = env_value(name);
  return v != nullptr ? std::string(v) : std::string();
}

}  // namespace synth::tracing::detail
