// Shared by the harnesses: a broken promise stops the run as a crash, so libFuzzer keeps the input.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace synth::tracing::fuzz {

/// Aborts with `promise` on stderr when `holds` is false.
inline void check(bool holds, std::string_view promise) {
  if (holds) return;
  std::fprintf(stderr, "broken promise: %.*s\n", static_cast<int>(promise.size()), promise.data());
  std::abort();
}

}  // namespace synth::tracing::fuzz
