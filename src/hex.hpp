// Internal: trace and span ids as lower-case hex (W3C traceparent, OTLP/JSON, scope identities).
#pragma once

#include <cstdint>
#include <string>

namespace synth::tracing::detail {

/// Appends `v` as 16 lower-case hex digits.
inline void append_hex(std::string& out, std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 0xF]);
}

}  // namespace synth::tracing::detail
