// Internal: timestamp formatting without allocation.
#pragma once

#include <string>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

/// Appends ISO-8601 UTC ("2025-01-01T10:00:01.123456Z") to `out`.
void append_timestamp(std::string& out, Timestamp t);

/// Appends "YYYYmmdd_HHMMSS" (UTC), as used in trace file names.
void append_compact_timestamp(std::string& out, Timestamp t);

}  // namespace synth::tracing::detail
