// Internal: trace and span ids as lower-case hex (W3C traceparent, OTLP/JSON, scope identities),
// and OTLP bytes values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

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

/// `bytes` as lower-case hex, two digits a byte: how both OTLP decoders keep ids and bytes values.
inline std::string hex_bytes(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Sized once and written in place: push_back's capacity check per digit made this a twentieth
  // of decoding our spans (three ids each).
  std::string out(bytes.size() * 2, '\0');
  char* digit = out.data();
  for (const unsigned char c : bytes) {
    *digit++ = kHex[c >> 4];
    *digit++ = kHex[c & 0xF];
  }
  return out;
}

}  // namespace synth::tracing::detail
