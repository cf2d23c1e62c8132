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

/// Calls `each(item)` for each item of a comma-separated list, without its blanks; empty items
/// are skipped.
template <class Each>
void for_each_listed(std::string_view list, Each each) {
  while (!list.empty()) {
    const auto comma = list.find(',');
    const std::string_view item = trim_blanks(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (!item.empty()) each(item);
  }
}

}  // namespace synth::tracing::detail
