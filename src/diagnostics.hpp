// Internal: reporting problems found off the agent's thread.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <typeinfo>

namespace synth::tracing::detail {

/// Passes a message to the diagnostic handler (stderr by default), credentials redacted
/// (redact_credentials()). Never throws.
void report(std::string_view message) noexcept;

/// True for the 1st, 10th, 100th, ... occurrence: repeated problems are reported, not flooded.
constexpr bool is_report_worthy(std::uint64_t count) noexcept {
  while (count >= 10 && count % 10 == 0) count /= 10;
  return count == 1;
}

/// what() of the exception being handled, or a placeholder for non-std exceptions.
/// Call only inside a catch block.
std::string current_exception_text();

/// A type's name as written in C++ (demangled), for messages: "synth::tracing::JsonFileSink".
std::string type_name(const std::type_info& type);

}  // namespace synth::tracing::detail
