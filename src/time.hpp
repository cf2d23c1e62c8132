// Internal: timestamp formatting without allocation.
#pragma once

#include <optional>
#include <string>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

/// Longest text write_timestamp produces.
inline constexpr std::size_t kMaxTimestampChars = 30;

/// Characters of write_timestamp's text before its fraction ("2025-01-01T10:00:01").
inline constexpr std::size_t kTimestampSecondChars = 19;

/// Writes ISO-8601 UTC ("2025-01-01T10:00:01.123456Z") at `out`; returns the end.
char* write_timestamp(char* out, Timestamp t) noexcept;

/// Writes the end of write_timestamp's text, its fraction and zone (".123456Z"; nine digits
/// when `nanos`, in [0, 1e9), is not whole microseconds), at `out`; returns the end.
char* write_timestamp_fraction(char* out, unsigned nanos) noexcept;

/// What a Timestamp (int64 nanoseconds since the epoch) can hold, for messages.
inline constexpr const char* kTimestampRange = "1677-09-21 to 2262-04-11";

/// Seconds since the epoch (time.time() of a Python caller, a script's `date +%s`) as a Timestamp,
/// exact to the nanosecond where the double is; nullopt beyond kTimestampRange or not finite.
std::optional<Timestamp> timestamp_from_epoch_seconds(double seconds) noexcept;

/// Appends "YYYYmmdd_HHMMSS" (UTC), as used in trace file names.
void append_compact_timestamp(std::string& out, Timestamp t);

}  // namespace synth::tracing::detail
