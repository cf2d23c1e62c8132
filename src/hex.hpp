// Internal: trace and span ids as lower-case hex (W3C traceparent, OTLP/JSON, scope identities).
#pragma once

#include <cstdint>
#include <string>

namespace synth::tracing::detail {

/// Writes `v` as 16 lower-case hex digits at `out`.
inline void write_hex(char* out, std::uint64_t v) noexcept {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, v >>= 4) out[i] = kHex[v & 0xF];
}

/// Appends `v` as 16 lower-case hex digits (one append: scopes format three ids each).
inline void append_hex(std::string& out, std::uint64_t v) {
  char digits[16];
  write_hex(digits, v);
  out.append(digits, sizeof digits);
}

}  // namespace synth::tracing::detail
