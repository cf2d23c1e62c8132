// Internal: the ASCII text helpers that header names, media types, configuration words, model
// and provider ids need (all ASCII by their specifications; other bytes pass unchanged).
#pragma once

#include <string>
#include <string_view>

namespace synth::tracing::detail {

/// `s` with ASCII capitals lowered.
inline std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
constexpr std::string_view trim_blanks(std::string_view s) noexcept {
  constexpr auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!s.empty() && blank(s.front())) s.remove_prefix(1);
  while (!s.empty() && blank(s.back())) s.remove_suffix(1);
  return s;
}

}  // namespace synth::tracing::detail
