// Scalars as the proto3 JSON mapping writes them (OTLP/JSON adopts it): bytes in base64, 64-bit
// integers as decimal text, possibly with an exponent.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace synth::tracing::server {

/// The bytes that base64 `text` holds, in the standard or the URL-safe alphabet, padded or not,
/// as proto3 JSON parsers read bytes fields; nullopt when it is not base64.
std::optional<std::string> base64_bytes(std::string_view text);

/// A 64-bit integer's magnitude and sign.
struct Integer {
  std::uint64_t magnitude = 0;
  bool negative = false;
};

/// The integer that the decimal `text` (a JSON number's text, or a string in its place) denotes,
/// read exactly: "1e3" and "1.50e1" are integers, "1.5" is not. nullopt when it is not one, or
/// beyond 64 bits.
std::optional<Integer> exact_integer(std::string_view text) noexcept;

}  // namespace synth::tracing::server
