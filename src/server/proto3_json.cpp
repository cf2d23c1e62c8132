// The proto3 JSON mapping's scalar forms, read exactly (proto3_json.hpp).
#include "server/proto3_json.hpp"

#include <algorithm>
#include <limits>

namespace synth::tracing::server {

std::optional<std::string> base64_bytes(std::string_view text) {
  const auto sextet = [](char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
  };
  std::string_view digits = text;
  std::size_t padding = 0;
  while (padding < 2 && digits.ends_with('=')) {
    digits.remove_suffix(1);
    ++padding;
  }
  // One digit left over holds no whole byte; padding only completes a last group of four.
  if (digits.size() % 4 == 1 || (padding > 0 && text.size() % 4 != 0)) return std::nullopt;
  std::string out;
  out.reserve(digits.size() / 4 * 3 + 2);
  std::uint32_t bits = 0;
  int pending = 0;  // bits read but not yet written out
  for (const char c : digits) {
    const int v = sextet(c);
    if (v < 0) return std::nullopt;
    bits = (bits << 6) | static_cast<std::uint32_t>(v);
    pending += 6;
    if (pending >= 8) {
      pending -= 8;
      out.push_back(static_cast<char>((bits >> pending) & 0xFF));
    }
  }
  return out;
}

std::optional<Integer> exact_integer(std::string_view text) noexcept {
  Integer out;
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t begin = i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    return text.substr(begin, i - begin);
  };
  if (i < text.size() && text[i] == '-') {
    out.negative = true;
    ++i;
  }
  const std::string_view whole = digits();
  std::string_view fraction;
  if (i < text.size() && text[i] == '.') {
    ++i;
    fraction = digits();
    if (fraction.empty()) return std::nullopt;
  }
  if (whole.empty()) return std::nullopt;
  std::int64_t exponent = 0;
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    const bool below = i < text.size() && text[i] == '-';
    if (i < text.size() && (text[i] == '-' || text[i] == '+')) ++i;
    const std::string_view e = digits();
    if (e.empty()) return std::nullopt;
    // Capped so that it cannot overflow: that far out, digits are beyond 64 bits or a fraction
    // (short of a million of them).
    for (const char c : e) exponent = std::min<std::int64_t>(exponent * 10 + (c - '0'), 1'000'000);
    if (below) exponent = -exponent;
  }
  if (i != text.size()) return std::nullopt;
  // The digits of whole and fraction, the point moved by the exponent: those before it make the
  // integer, those after it must be zeros.
  const auto total = static_cast<std::int64_t>(whole.size() + fraction.size());
  const std::int64_t point = static_cast<std::int64_t>(whole.size()) + exponent;
  const auto times_ten_plus = [&](unsigned digit) {
    if (out.magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) return false;
    out.magnitude = out.magnitude * 10 + digit;
    return true;
  };
  for (std::int64_t k = 0; k < total; ++k) {
    const auto at = static_cast<std::size_t>(k);
    const char c = at < whole.size() ? whole[at] : fraction[at - whole.size()];
    if (k >= point) {
      if (c != '0') return std::nullopt;
    } else if (!times_ten_plus(static_cast<unsigned>(c - '0'))) {
      return std::nullopt;
    }
  }
  for (std::int64_t k = total; k < point && out.magnitude != 0; ++k) {
    if (!times_ten_plus(0)) return std::nullopt;
  }
  return out;
}

}  // namespace synth::tracing::server
