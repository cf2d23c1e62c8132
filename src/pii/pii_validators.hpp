// Internal: the validators of the numeric PII detectors. Each sees the full text and a
// candidate [s, e) that its detector's RE2 pattern matched, pushes the accepted span(s) to `out`
// (detector index `det`) and returns where the next search starts (always > s).
#pragma once

#include <cstddef>
#include <cstdint>

#include "pii/pii_spans.hpp"
#include "pii/pii_text.hpp"

namespace synth::tracing::pii_detail {

/// Cards: contiguous ranges of a digit run's groups with 13-19 digits, a plausible issuer and a
/// valid Luhn checksum (every such range: their union is masked).
std::size_t validate_card(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out);
/// US social security numbers (area, group and serial rules; nine bare digits after "SSN").
std::size_t validate_ssn(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out);
/// Phone numbers: US forms not touching other digits, +CC with 8-15 digits (E.164).
std::size_t validate_phone(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out);
/// IPv4 addresses: octets up to 255, not part of a longer dotted number or a version.
std::size_t validate_ip(Text t, std::size_t s, std::size_t e, std::uint32_t det, SpanList& out);

}  // namespace synth::tracing::pii_detail
