// Timestamps as JSON text: format_timestamp, timestamps inside a trace's JSON, and
// parse_timestamp (valid and invalid forms, leap years, exact round trips over the whole range).
#include <gtest/gtest.h>

#include <bit>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "json/calendar.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace {

using synth::tracing::format_timestamp;
using synth::tracing::parse_timestamp;
using synth::tracing::SessionEventMessage;
using synth::tracing::SessionTrace;
using synth::tracing::TimeRecord;
using synth::tracing::Timestamp;
using synth_test::from_ns;
using synth_test::utc;

// ------------------------------------------------------------------------------------------
// Timestamps
// ------------------------------------------------------------------------------------------

TEST(WriterTimestamps, Format) {
  EXPECT_EQ(format_timestamp(utc(2025, 1, 1, 10, 0, 1, 123'456'000)), "2025-01-01T10:00:01.123456Z");
  EXPECT_EQ(format_timestamp(utc(2025, 1, 1, 10, 0, 1)), "2025-01-01T10:00:01.000000Z");
  EXPECT_EQ(format_timestamp(utc(2025, 1, 1, 10, 0, 1, 123'456'789)), "2025-01-01T10:00:01.123456789Z");
  EXPECT_EQ(format_timestamp(utc(2025, 1, 1, 10, 0, 1, 1)), "2025-01-01T10:00:01.000000001Z");
  EXPECT_EQ(format_timestamp(utc(2024, 2, 29, 23, 59, 59, 999'999'000)), "2024-02-29T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(from_ns(-1)), "1969-12-31T23:59:59.999999999Z");
  EXPECT_EQ(format_timestamp(from_ns(-1000)), "1969-12-31T23:59:59.999999Z");
  EXPECT_EQ(format_timestamp(from_ns(std::numeric_limits<std::int64_t>::max())), "2262-04-11T23:47:16.854775807Z");
  EXPECT_EQ(format_timestamp(from_ns(std::numeric_limits<std::int64_t>::min())), "1677-09-21T00:12:43.145224192Z");
}

TEST(WriterTimestamps, InTraceJson) {
  SessionTrace t;
  t.session_id = "s";
  t.created_at = utc(2025, 1, 1, 10, 0, 1, 123'456'000);
  SessionEventMessage m;
  m.timestamp = utc(2025, 1, 1, 10, 0, 1, 123'456'789);
  m.time_record = TimeRecord{Timestamp{}, 3};  // unset event time
  t.message_history = {m};
  const auto j = nlohmann::json::parse(t.to_json());
  EXPECT_EQ(j["created_at"], "2025-01-01T10:00:01.123456Z");
  EXPECT_EQ(j["message_history"][0]["timestamp"], "2025-01-01T10:00:01.123456789Z");
  EXPECT_TRUE(j["message_history"][0]["time_record"]["event_time"].is_null());
  EXPECT_EQ(j["message_history"][0]["time_record"]["message_time"], 3);
  t.created_at = Timestamp{};
  EXPECT_TRUE(nlohmann::json::parse(t.to_json())["created_at"].is_null());
}

// A trace's writer keeps the text of the last timestamp's second and writes only the fraction
// for the next one in the same second: every timestamp, in runs within one second, across
// seconds, back to an earlier second, before 1970, at the range's ends, with whole seconds,
// microseconds and nanoseconds, and unset ones in between, reads as format_timestamp writes it.
TEST(WriterTimestamps, RunsInOneSecondAsFormatted) {
  constexpr std::int64_t kSecond = 1'000'000'000;
  std::vector<Timestamp> times = {
      utc(2025, 1, 1, 10, 0, 1, 123'456'000), utc(2025, 1, 1, 10, 0, 1, 123'456'789), utc(2025, 1, 1, 10, 0, 1),
      utc(2025, 1, 1, 10, 0, 1, 999'999'999), utc(2025, 1, 1, 10, 0, 2), utc(2025, 1, 1, 10, 0, 1, 5),
      Timestamp{}, utc(2025, 1, 1, 10, 0, 1, 6'000), utc(2024, 12, 31, 23, 59, 59, 999'999'000),
      utc(2025, 1, 1), from_ns(1), from_ns(-1), from_ns(-1000), from_ns(-kSecond), from_ns(-kSecond + 1),
      from_ns(-kSecond - 1), from_ns(kSecond - 1), from_ns(kSecond),
      from_ns(std::numeric_limits<std::int64_t>::max()), from_ns(std::numeric_limits<std::int64_t>::max() - 1),
      from_ns(std::numeric_limits<std::int64_t>::min()), from_ns(std::numeric_limits<std::int64_t>::min() + 1)};
  std::mt19937_64 rng(42);
  for (int run = 0; run < 2000; ++run) {
    const std::int64_t second = static_cast<std::int64_t>(rng() % 18'000'000'000) - 9'000'000'000;
    const int count = static_cast<int>(rng() % 5) + 1;
    for (int i = 0; i < count; ++i) {
      std::int64_t nanos = static_cast<std::int64_t>(rng() % kSecond);
      if (rng() % 2) nanos -= nanos % 1000;  // whole microseconds, as now() gives
      if (rng() % 8 == 0) nanos = 0;
      times.push_back(from_ns(second * kSecond + nanos));
    }
  }
  SessionTrace t;
  t.session_id = "s";
  for (const Timestamp time : times) {
    SessionEventMessage m;
    m.timestamp = time;
    m.time_record = TimeRecord{time, 0};
    t.message_history.push_back(m);
  }
  const auto j = nlohmann::json::parse(t.to_json());
  ASSERT_EQ(j["message_history"].size(), times.size());
  for (std::size_t i = 0; i < times.size(); ++i) {
    const auto& m = j["message_history"][i];
    if (times[i] == Timestamp{}) {
      EXPECT_TRUE(m["timestamp"].is_null()) << i;
      EXPECT_TRUE(m["time_record"]["event_time"].is_null()) << i;
      continue;
    }
    ASSERT_EQ(m["timestamp"], format_timestamp(times[i])) << i;
    ASSERT_EQ(m["time_record"]["event_time"], format_timestamp(times[i])) << i;
  }
}

TEST(WriterTimestamps, FormatThenParseIsExactOverTheWholeRange) {
  std::mt19937_64 rng(99);
  std::vector<std::int64_t> samples = {std::numeric_limits<std::int64_t>::min(),
                                       std::numeric_limits<std::int64_t>::min() + 1,
                                       std::numeric_limits<std::int64_t>::min() + 999'999'999,
                                       std::numeric_limits<std::int64_t>::max(),
                                       -1,
                                       1,
                                       -1'000'000'000,
                                       951'782'400'000'000'000};
  for (int i = 0; i < 20000; ++i) {
    auto ns = static_cast<std::int64_t>(rng());
    if (i % 2 == 0) ns -= ns % 1000;  // microsecond precision too
    samples.push_back(ns);
  }
  for (const std::int64_t ns : samples) {
    const std::string text = format_timestamp(from_ns(ns));
    const auto back = parse_timestamp(text);
    ASSERT_TRUE(back.has_value()) << text << " (" << ns << " ns) does not parse";
    ASSERT_EQ(back->time_since_epoch().count(), ns) << text;
  }
}

// ------------------------------------------------------------------------------------------
// parse_timestamp
// ------------------------------------------------------------------------------------------

TEST(ParseTimestamp, ValidForms) {
  const Timestamp ten = utc(2025, 1, 1, 10, 0, 1);
  const struct {
    const char* text;
    Timestamp expected;
  } cases[] = {
      {"2025-01-01T10:00:01Z", ten},
      {"2025-01-01T10:00:01z", ten},
      {"2025-01-01t10:00:01Z", ten},
      {"2025-01-01T10:00:01", ten},  // naive: UTC
      {"2025-01-01 10:00:01", ten},  // Python's str(datetime)
      {"2025-01-01T15:30:01+05:30", ten},
      {"2025-01-01T15:30:01+0530", ten},
      {"2025-01-01T02:00:01-0800", ten},
      {"2025-01-01T02:00:01-08:00", ten},
      {"2025-01-01T10:00:01+00:00", ten},
      {"2025-01-01T10:00:01-00:00", ten},
      {"2025-01-01T15:00:01+05", ten},
      {"2025-01-01T10:00Z", utc(2025, 1, 1, 10, 0, 0)},
      {"2025-01-01", utc(2025, 1, 1)},
      {"2025-01-01T00:30:00+01:00", utc(2024, 12, 31, 23, 30)},  // offset crosses a year
      {"2025-01-01T10:00:01,5", utc(2025, 1, 1, 10, 0, 1, 500'000'000)},
      {"2025-01-01T10:00:01.1", utc(2025, 1, 1, 10, 0, 1, 100'000'000)},
      {"2025-01-01T10:00:01.12", utc(2025, 1, 1, 10, 0, 1, 120'000'000)},
      {"2025-01-01T10:00:01.123", utc(2025, 1, 1, 10, 0, 1, 123'000'000)},
      {"2025-01-01T10:00:01.1234", utc(2025, 1, 1, 10, 0, 1, 123'400'000)},
      {"2025-01-01T10:00:01.12345", utc(2025, 1, 1, 10, 0, 1, 123'450'000)},
      {"2025-01-01T10:00:01.123456", utc(2025, 1, 1, 10, 0, 1, 123'456'000)},
      {"2025-01-01T10:00:01.1234567", utc(2025, 1, 1, 10, 0, 1, 123'456'700)},
      {"2025-01-01T10:00:01.12345678", utc(2025, 1, 1, 10, 0, 1, 123'456'780)},
      {"2025-01-01T10:00:01.123456789Z", utc(2025, 1, 1, 10, 0, 1, 123'456'789)},
      {"2025-01-01T10:00:01.123456789999Z", utc(2025, 1, 1, 10, 0, 1, 123'456'789)},  // extra digits dropped
      {"2025-01-01T10:00:01.000001+01:00", utc(2025, 1, 1, 9, 0, 1, 1'000)},
      {"2025-12-31T23:59:59.999999999Z", utc(2025, 12, 31, 23, 59, 59, 999'999'999)},
      {"1970-01-01T00:00:00Z", Timestamp{}},
      {"1969-12-31T23:59:59.5Z", from_ns(-500'000'000)},
      {"2262-04-11T23:47:16.854775807Z", from_ns(std::numeric_limits<std::int64_t>::max())},
      {"1677-09-21T00:12:43.145224192Z", from_ns(std::numeric_limits<std::int64_t>::min())},
  };
  for (const auto& c : cases) {
    const auto t = parse_timestamp(c.text);
    ASSERT_TRUE(t.has_value()) << c.text;
    EXPECT_EQ(*t, c.expected) << c.text << " parsed as " << format_timestamp(*t);
  }
}

TEST(ParseTimestamp, InvalidForms) {
  for (const char* text : {
           "", "garbage", "2025", "2025-01", "2025-1-01", "2025-01-1", "25-01-01", "2025/01/01",
           "2025-13-01", "2025-00-10", "2025-01-00", "2025-01-32", "2025-02-30", "2025-04-31", "2025-06-31",
           "2025-01-01T24:00:00", "2025-01-01T23:60:00", "2025-01-01T23:59:60", "2025-01-01T10",
           "2025-01-01T1:00:00", "2025-01-01T10:00:01.", "2025-01-01T10:00:01.Z", "2025-01-01T10:00:01Zjunk",
           "2025-01-01T10:00:01 ", " 2025-01-01T10:00:01", "2025-01-01T10:00:01+25:00", "2025-01-01T10:00:01+05:60",
           "2025-01-01T10:00:01+5", "2025-01-01T10:00:01+05:3", "2025-01-01T10:00:01UTC", "2025-01-01X10:00:01",
           "2025-01-01Z", "2025-01-01T10:00:01.12a", "2262-04-11T23:47:16.854775808Z", "1677-09-21T00:12:43.145224191Z",
           "9999-12-31T23:59:59Z", "0001-01-01", "２０２５-01-01",
       }) {
    EXPECT_FALSE(parse_timestamp(text).has_value()) << "accepted: \"" << text << "\"";
  }
}

TEST(ParseTimestamp, LeapYears) {
  EXPECT_TRUE(parse_timestamp("2024-02-29").has_value());
  EXPECT_TRUE(parse_timestamp("2000-02-29T12:00:00Z").has_value());  // divisible by 400
  EXPECT_TRUE(parse_timestamp("1904-02-29").has_value());
  EXPECT_FALSE(parse_timestamp("2023-02-29").has_value());
  EXPECT_FALSE(parse_timestamp("1900-02-29").has_value());  // divisible by 100, not 400
  EXPECT_FALSE(parse_timestamp("2100-02-29").has_value());
  EXPECT_EQ(*parse_timestamp("2024-02-29"), utc(2024, 2, 29));
  EXPECT_EQ(*parse_timestamp("2024-03-01") - *parse_timestamp("2024-02-28"), std::chrono::hours(48));
  EXPECT_EQ(*parse_timestamp("2023-03-01") - *parse_timestamp("2023-02-28"), std::chrono::hours(24));
  EXPECT_EQ(*parse_timestamp("2000-02-29"), utc(2000, 2, 29));
  EXPECT_EQ(parse_timestamp("2000-02-29")->time_since_epoch().count(), 951'782'400'000'000'000);
}

}  // namespace
