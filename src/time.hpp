// Internal: timestamp formatting without allocation.
#pragma once

#include <string>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

/// Longest text write_timestamp produces.
inline constexpr std::size_t kMaxTimestampChars = 30;

/// Writes ISO-8601 UTC ("2025-01-01T10:00:01.123456Z") at `out`; returns the end.
char* write_timestamp(char* out, Timestamp t) noexcept;

/// Appends "YYYYmmdd_HHMMSS" (UTC), as used in trace file names.
void append_compact_timestamp(std::string& out, Timestamp t);

}  // namespace synth::tracing::detail
