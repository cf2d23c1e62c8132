// What the SessionTrace <-> JSON tests share (trace_json_*_test.cpp): readable failure output,
// the model's names, test data paths, calendar timestamps and the lossless round-trip check.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "json/calendar.hpp"
#include "json/trace_random.hpp"
#include "support.hpp"
#include "synth/tracing/model.hpp"

namespace trace_json_support {

using synth::tracing::CAISEvent;
using synth::tracing::EnvironmentEvent;
using synth::tracing::Event;
using synth::tracing::EventType;
using synth::tracing::JsonFormat;
using synth::tracing::RuntimeEvent;
using synth::tracing::SessionEventMessage;
using synth::tracing::SessionMetadataEntry;
using synth::tracing::SessionTimeStep;
using synth::tracing::SessionTrace;
using synth::tracing::TimeRecord;
using synth::tracing::Timestamp;
using synth::tracing::TraceFormatError;
using synth::tracing::Value;
using synth_test::Rng;

namespace fs = std::filesystem;

// The seed of the random traces (and of the mutation fuzzer, which starts from them).
inline constexpr std::uint64_t kBaseSeed = 0x5eed'2025'0101ULL;

inline fs::path data_path(std::string_view relative) { return fs::path(SYNTH_TEST_DATA_DIR) / relative; }

using synth_test::utc;

inline std::int64_t ns_of(Timestamp t) { return t.time_since_epoch().count(); }

// Writes `t` compactly and indented, reads it back, and checks nothing changed: the model
// (operator==) and the text (which also catches 3.0 turning into 3, or -0.0 into 0.0).
inline void expect_lossless(const SessionTrace& t, const std::string& context) {
  for (const int indent : {-1, 2}) {
    const std::string json = t.to_json(JsonFormat{indent});
    SessionTrace back;
    try {
      back = SessionTrace::from_json(json);
    } catch (const std::exception& e) {
      ADD_FAILURE() << context << " (indent " << indent << "): cannot read our own output: " << e.what();
      continue;
    }
    EXPECT_TRUE(back == t) << context << " (indent " << indent << "): the trace changed";
    EXPECT_EQ(back.to_json(JsonFormat{indent}), json) << context << " (indent " << indent << ")";
  }
}

// A text's reading: the trace, or the error that rejected it (tests that two texts read alike).
struct Reading {
  std::optional<SessionTrace> trace;
  std::optional<TraceFormatError> error;
};
inline Reading read_trace(std::string_view json) {
  Reading r;
  try {
    r.trace = SessionTrace::from_json(json, "t.json");
  } catch (const TraceFormatError& e) {
    r.error = e;
  }
  return r;
}

template <class E>
const E& as(const Event& e) {
  const E* p = std::get_if<E>(&e);
  if (p == nullptr) throw std::runtime_error("event is of another kind (index " + std::to_string(e.index()) + ")");
  return *p;
}
}  // namespace trace_json_support
