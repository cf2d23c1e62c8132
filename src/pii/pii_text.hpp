// Internal: byte classes shared by the PII detectors (src/pii/pii.cpp) and the key and credential
// detector (src/pii/pii_keys.cpp).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synth::tracing::pii_detail {

using Text = std::string_view;

enum : std::uint8_t {
  kDigit = 1,     // 0-9
  kNumeric = 2,   // may sit inside a numeric item: digits, space, ( ) + . -
  kWord = 4,      // \w: [A-Za-z0-9_]
  kLocal = 8,     // email local part: alnum . _ % + - and non-ASCII bytes
  kDomain = 16,   // email domain: alnum . - and non-ASCII bytes
  kToken = 32,    // key / bearer token: alnum . _ ~ + / = -
  kKeyStart = 64  // bytes at which a key or credential check starts: - _ A J b B = (and '@', see pii.cpp)
};

constexpr std::array<std::uint8_t, 256> make_classes() {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool digit = c >= '0' && c <= '9';
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    std::uint8_t v = 0;
    if (digit) v |= kDigit | kNumeric;
    if (c == ' ' || c == '(' || c == ')' || c == '+' || c == '.' || c == '-') v |= kNumeric;
    if (digit || alpha || c == '_') v |= kWord;
    if (digit || alpha || c >= 0x80 || c == '.' || c == '_' || c == '%' || c == '+' || c == '-') v |= kLocal;
    if (digit || alpha || c >= 0x80 || c == '.' || c == '-') v |= kDomain;
    if (digit || alpha || c == '.' || c == '_' || c == '~' || c == '+' || c == '/' || c == '=' || c == '-') v |= kToken;
    if (c == '-' || c == '_' || c == 'A' || c == 'J' || c == 'b' || c == 'B' || c == '=') v |= kKeyStart;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}
inline constexpr std::array<std::uint8_t, 256> kClass = make_classes();

inline std::uint8_t cls(unsigned char c) { return kClass[c]; }
inline bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
inline bool is_upper(unsigned char c) { return c >= 'A' && c <= 'Z'; }
inline bool is_alnum(unsigned char c) { return (cls(c) & kWord) && c != '_'; }
inline unsigned char lower(unsigned char c) { return is_upper(c) ? static_cast<unsigned char>(c + 32) : c; }
inline unsigned char at(Text t, std::size_t i) { return static_cast<unsigned char>(t[i]); }
/// No word character ([A-Za-z0-9_]) right before position `k`.
inline bool word_start(Text t, std::size_t k) { return k == 0 || !(cls(at(t, k - 1)) & kWord); }

}  // namespace synth::tracing::pii_detail
