// Timestamps for tests, built from the calendar with <chrono> (independent of the library's
// parse_timestamp and format_timestamp, which the tests check against them).
#pragma once

#include <chrono>
#include <cstdint>

#include "synth/tracing/model.hpp"

namespace synth_test {

inline synth::tracing::Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
                                     std::int64_t ns = 0) {
  using namespace std::chrono;
  synth::tracing::Timestamp t = sys_days(year(y) / month(mo) / day(d));
  return t + hours(h) + minutes(mi) + seconds(s) + nanoseconds(ns);
}

inline synth::tracing::Timestamp from_ns(std::int64_t ns) {
  return synth::tracing::Timestamp(std::chrono::nanoseconds(ns));
}

}  // namespace synth_test
