// CRC-32 (IEEE 802.3, the polynomial of zlib, gzip and PNG) of the spill's records. Our own so
// that the core library links no zlib; files written with zlib's crc32 read back unchanged.
#pragma once

#include <cstdint>
#include <string_view>

namespace synth::tracing::detail {

/// The CRC-32 of `bytes` continued from `crc` (0 to start), equal to zlib's crc32(crc, bytes).
std::uint32_t crc32(std::string_view bytes, std::uint32_t crc = 0) noexcept;

}  // namespace synth::tracing::detail
