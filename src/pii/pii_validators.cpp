// The validators of the numeric PII detectors (card, SSN, phone, IP): see pii_validators.hpp.
#include "pii/pii_validators.hpp"

namespace synth::tracing::pii_detail {

namespace {

bool luhn(const unsigned char* digits, std::size_t n) {
  unsigned sum = 0;
  bool twice = false;
  for (std::size_t i = n; i-- > 0;) {
    unsigned d = digits[i];
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

// Issuer rule: 2-6 (Mastercard/Mir, Amex/Diners/JCB, Visa, Mastercard/Maestro, Discover/UnionPay/
// Maestro/RuPay) at any length, 1 only for 15-digit UATP cards, 8 only for 16-19-digit
// UnionPay/RuPay. Keeps millisecond timestamps (13 digits, "17...") and snowflake ids out.
bool plausible_issuer(unsigned char first, std::size_t n) {
  if (first >= 2 && first <= 6) return true;
  if (first == 1) return n == 15;
  if (first == 8) return n >= 16;
  return false;
}

}  // namespace

// [s, e) is a maximal run of digits joined by single spaces or dashes. A card is a contiguous
// range of its groups: one group of 13-19 digits, or a group of 4-6 digits, then groups of 3-6
// and possibly a last one of 1-2; 13-19 digits in all, from a plausible issuer, passing Luhn.
// Every such range is accepted (their union is masked).
std::size_t validate_card(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out) {
  std::size_t g = s;  // start of the first group of the candidate
  while (g < e) {
    std::size_t g_end = g;
    while (g_end < e && is_digit(at(t, g_end))) ++g_end;
    const std::size_t first_len = g_end - g;
    const bool start_ok = g == 0 || !is_digit(at(t, g - 1));
    if (start_ok) {
      std::array<unsigned char, 19> digits{};
      std::size_t n = 0;
      std::size_t h = g;  // start of the current group
      while (h < e) {
        std::size_t h_end = h;
        while (h_end < e && is_digit(at(t, h_end))) ++h_end;
        const std::size_t len = h_end - h;
        if (n + len > 19) break;
        if (h != g && (first_len < 4 || first_len > 6 || len > 6)) break;
        for (std::size_t k = h; k < h_end; ++k) digits[n++] = static_cast<unsigned char>(at(t, k) - '0');
        const bool end_ok = h_end >= t.size() || !is_digit(at(t, h_end));
        if (n >= 13 && end_ok && plausible_issuer(digits[0], n) && luhn(digits.data(), n)) out.push(g, h_end, det);
        if (h == g && (first_len < 4 || first_len > 6)) break;  // only a single long group
        if (h != g && len < 3) break;  // a short group ends a card (4111 1111 1111 1)
        if (h_end >= e) break;
        h = h_end + 1;  // skip the separator
      }
    }
    if (g_end >= e) break;
    g = g_end + 1;
  }
  return e;
}

std::size_t validate_ssn(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out) {
  std::array<int, 9> d{};
  std::size_t n = 0;
  for (std::size_t k = s; k < e && n <= 9; ++k) {
    if (is_digit(at(t, k))) {
      if (n < 9) d[n] = at(t, k) - '0';
      ++n;
    }
  }
  const std::size_t start = is_digit(at(t, s)) ? s : e - 9;  // "SSN: 123456789": keep the label
  if (n != 9 || (start > 0 && is_digit(at(t, start - 1))) || (e < t.size() && is_digit(at(t, e)))) return s + 1;
  const int area = d[0] * 100 + d[1] * 10 + d[2];
  const int group = d[3] * 10 + d[4];
  const int serial = d[5] * 1000 + d[6] * 100 + d[7] * 10 + d[8];
  if (area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0) return s + 1;
  out.push(start, e, det);
  return e;
}

std::size_t validate_phone(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out) {
  if (at(t, s) != '+') {  // US forms: 10 or 11 digits, fixed by the regex
    if ((s > 0 && is_digit(at(t, s - 1))) || (e < t.size() && is_digit(at(t, e)))) return s + 1;
    out.push(s, e, det);
    return e;
  }
  // +CC: 8-15 digits (E.164). A longer match swallowed following numbers: keep the longest prefix
  // ending at a group end with at most 15 digits.
  std::size_t digits = 0, best_end = 0, best_digits = 0;
  for (std::size_t k = s; k < e; ++k) {
    if (!is_digit(at(t, k))) continue;
    if (++digits <= 15 && (k + 1 >= t.size() || !is_digit(at(t, k + 1)))) {
      best_end = k + 1;
      best_digits = digits;
    }
  }
  if (best_digits < 8) return s + 1;
  out.push(s, best_end, det);
  // The groups may have run into another number ("+1.1.10.0.0.11-800-555-0199"): search again
  // from inside the match.
  return s + 1;
}

std::size_t validate_ip(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out) {
  unsigned octet = 0;
  for (std::size_t k = s; k < e; ++k) {
    const unsigned char c = at(t, k);
    if (c == '.') {
      octet = 0;
    } else if ((octet = octet * 10 + (c - '0')) > 255) {
      return s + 1;
    }
  }
  // Part of a longer dotted number (1.2.3.4.5)?
  if (s >= 2 && at(t, s - 1) == '.' && is_digit(at(t, s - 2))) return s + 1;
  if (e + 1 < t.size() && at(t, e) == '.' && is_digit(at(t, e + 1))) return s + 1;
  // A version: "version 1.2.3.4", "ver 1.2.3.4", "v 1.2.3.4" ("v1.2.3.4" fails \b already).
  std::size_t k = s;
  while (k > 0 && k + 2 > s && at(t, k - 1) == ' ') --k;
  if (k < s) {
    std::size_t w = k;
    while (w > 0 && k - w < 8 && (cls(at(t, w - 1)) & kWord)) --w;
    std::string_view word = t.substr(w, k - w);
    auto is = [&](std::string_view v) {
      if (word.size() != v.size()) return false;
      for (std::size_t i = 0; i < v.size(); ++i)
        if (lower(static_cast<unsigned char>(word[i])) != static_cast<unsigned char>(v[i])) return false;
      return true;
    };
    if ((w == 0 || !(cls(at(t, w - 1)) & kWord)) && (is("version") || is("ver") || is("v"))) return s + 1;
  }
  out.push(s, e, det);
  return e;
}

}  // namespace synth::tracing::pii_detail
