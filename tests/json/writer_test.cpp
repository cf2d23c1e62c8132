// JSON text output through the public API (Value::dump, SessionTrace::to_json): numbers, key
// order and indentation. Strings (escaping, UTF-8 repair) are in writer_strings_test.cpp;
// timestamps, written and parsed, in timestamp_text_test.cpp.
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

using synth::tracing::CAISEvent;
using synth::tracing::EnvironmentEvent;
using synth::tracing::JsonFormat;
using synth::tracing::RuntimeEvent;
using synth::tracing::SessionEventMessage;
using synth::tracing::SessionMetadataEntry;
using synth::tracing::SessionTimeStep;
using synth::tracing::SessionTrace;
using synth::tracing::TimeRecord;
using synth::tracing::Value;
using synth_test::utc;

// ------------------------------------------------------------------------------------------
// Numbers
// ------------------------------------------------------------------------------------------

TEST(WriterNumbers, DoublesUseShortestRoundTripForm) {
  EXPECT_EQ(Value(0.1).dump(), "0.1");
  EXPECT_EQ(Value(1e-05).dump(), "1e-05");
  EXPECT_EQ(Value(1e300).dump(), "1e+300");
  EXPECT_EQ(Value(-1e-300).dump(), "-1e-300");
  EXPECT_EQ(Value(1.5).dump(), "1.5");
  EXPECT_EQ(Value(123456.789).dump(), "123456.789");
  EXPECT_EQ(Value(0.00054).dump(), "0.00054");
  EXPECT_EQ(Value(std::numeric_limits<double>::denorm_min()).dump(), "5e-324");
  EXPECT_EQ(Value(std::numeric_limits<double>::max()).dump(), "1.7976931348623157e+308");
  EXPECT_EQ(Value(1e21).dump(), "1e+21");
}

TEST(WriterNumbers, IntegralDoublesKeepAFractionOrExponent) {
  EXPECT_EQ(Value(3.0).dump(), "3.0");
  EXPECT_EQ(Value(-3.0).dump(), "-3.0");
  EXPECT_EQ(Value(0.0).dump(), "0.0");
  EXPECT_EQ(Value(-0.0).dump(), "-0.0");
  EXPECT_EQ(Value(420.0).dump(), "420.0");
  EXPECT_EQ(Value(9007199254740992.0).dump(), "9007199254740992.0");
  // Written as doubles, they read back as doubles (not integers), negative zero included.
  for (const double d : {3.0, -0.0, 420.0, 1e21, 1e5}) {
    const Value back = Value::parse(Value(d).dump());
    EXPECT_EQ(back.kind(), Value::Kind::floating) << d;
    EXPECT_EQ(std::bit_cast<std::uint64_t>(back.as_double()), std::bit_cast<std::uint64_t>(d)) << d;
  }
}

TEST(WriterNumbers, RandomDoublesRoundTripExactly) {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 20000; ++i) {
    const double d = std::bit_cast<double>(rng());
    if (!std::isfinite(d)) continue;
    const std::string text = Value(d).dump();
    // Whatever std::to_chars gives, with ".0" added when it looks like an integer.
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string expected(buf, r.ptr);
    if (expected.find_first_of(".e") == std::string::npos) expected += ".0";
    ASSERT_EQ(text, expected);
    double parsed = 0;
    const auto pr = std::from_chars(text.data(), text.data() + text.size(), parsed);
    ASSERT_EQ(pr.ec, std::errc());
    ASSERT_EQ(std::bit_cast<std::uint64_t>(parsed), std::bit_cast<std::uint64_t>(d)) << text;
    ASSERT_EQ(std::bit_cast<std::uint64_t>(Value::parse(text).as_double()), std::bit_cast<std::uint64_t>(d)) << text;
  }
}

// Doubles with a few decimals (costs, latencies, rewards) take a direct path; it must write
// exactly what std::to_chars writes: decimals of every length, their neighbours (which need
// 16-17 digits), both notations' boundaries (0.0001 vs 1e-05, 100000 vs 1e+15), signs.
TEST(WriterNumbers, ShortDecimalsAreWrittenAsToChars) {
  const auto reference = [](double d) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d);
    std::string expected(buf, r.ptr);
    if (expected.find_first_of(".e") == std::string::npos) expected += ".0";
    return expected;
  };
  std::mt19937_64 rng(11);
  std::vector<double> values = {1e-5,  1.5e-5, 0.0001, 0.00012, 0.000144, 0.001, 0.1,   0.5,
                                1,     10,     1200,   100000,  1e6,      1e14,  1e15,  999999999999999.0,
                                412.5, 0.3,    2.675,  1e-4,    9.5e-5,   123456789012345.0};
  for (int i = 0; i < 200000; ++i) {
    const int k = static_cast<int>(rng() % 17);
    const double m = static_cast<double>(rng() % 1'000'000'000'000'000ull) / static_cast<double>(1ull << (rng() % 50));
    double d = std::nearbyint(m) / std::pow(10.0, k);
    if (rng() % 2) d = -d;
    values.push_back(d);
  }
  for (const double base : std::vector<double>(values)) {
    values.push_back(std::nextafter(base, 0.0));
    values.push_back(std::nextafter(base, 1e300));
  }
  for (const double d : values) {
    if (!std::isfinite(d)) continue;
    ASSERT_EQ(Value(d).dump(), reference(d)) << std::bit_cast<std::uint64_t>(d);
    ASSERT_EQ(Value(-d).dump(), reference(-d)) << std::bit_cast<std::uint64_t>(d);
  }
}

TEST(WriterNumbers, NonFiniteDoublesAreNull) {
  EXPECT_EQ(Value(std::numeric_limits<double>::quiet_NaN()).dump(), "null");
  EXPECT_EQ(Value(std::numeric_limits<double>::infinity()).dump(), "null");
  EXPECT_EQ(Value(-std::numeric_limits<double>::infinity()).dump(), "null");
  EXPECT_EQ(Value::array({1.0, std::numeric_limits<double>::quiet_NaN()}).dump(), "[1.0,null]");
}

TEST(WriterNumbers, IntegerExtremes) {
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::min()).dump(), "-9223372036854775808");
  EXPECT_EQ(Value(std::numeric_limits<std::int64_t>::max()).dump(), "9223372036854775807");
  EXPECT_EQ(Value(std::numeric_limits<std::uint64_t>::max()).dump(), "18446744073709551615");
  EXPECT_EQ(Value(std::uint64_t{1} << 63).dump(), "9223372036854775808");
  EXPECT_EQ(Value(0).dump(), "0");
  EXPECT_EQ(Value(-1).dump(), "-1");
  EXPECT_EQ(Value(true).dump(), "true");
  EXPECT_EQ(Value(false).dump(), "false");
  EXPECT_EQ(Value().dump(), "null");
  // and read back with their kinds
  EXPECT_EQ(Value::parse("18446744073709551615").kind(), Value::Kind::unsigned_integer);
  EXPECT_EQ(Value::parse("-9223372036854775808").as_int(), std::numeric_limits<std::int64_t>::min());
}

// ------------------------------------------------------------------------------------------
// Layout
// ------------------------------------------------------------------------------------------

TEST(WriterLayout, IndentedValue) {
  const Value v = {{"a", 1}, {"b", {1, "x"}}, {"c", Value::object()}, {"d", Value::array()}, {"e", {{"f", nullptr}}}};
  EXPECT_EQ(v.dump(), R"({"a":1,"b":[1,"x"],"c":{},"d":[],"e":{"f":null}})");
  EXPECT_EQ(v.dump(JsonFormat{2}),
            "{\n"
            "  \"a\": 1,\n"
            "  \"b\": [\n"
            "    1,\n"
            "    \"x\"\n"
            "  ],\n"
            "  \"c\": {},\n"
            "  \"d\": [],\n"
            "  \"e\": {\n"
            "    \"f\": null\n"
            "  }\n"
            "}");
  EXPECT_EQ(Value::array({1, 2}).dump(JsonFormat{0}), "[\n1,\n2\n]");
  EXPECT_EQ(Value(5).dump(JsonFormat{4}), "5");
}

TEST(WriterLayout, EmptyTrace) {
  SessionTrace t;
  t.session_id = "s";
  EXPECT_EQ(t.to_json(),
            R"({"session_id":"s","session_time_steps":[],"session_metadata":[],"message_history":[],)"
            R"("event_history":[],"created_at":null})");
  EXPECT_EQ(t.to_json(JsonFormat{2}),
            "{\n"
            "  \"session_id\": \"s\",\n"
            "  \"session_time_steps\": [],\n"
            "  \"session_metadata\": [],\n"
            "  \"message_history\": [],\n"
            "  \"event_history\": [],\n"
            "  \"created_at\": null\n"
            "}");
}

std::vector<std::string> keys_of(const nlohmann::ordered_json& j) {
  std::vector<std::string> out;
  for (const auto& item : j.items()) out.push_back(item.key());
  return out;
}

// `sub` appears in `all` in the same relative order.
bool is_subsequence(const std::vector<std::string>& sub, const std::vector<std::string>& all) {
  std::size_t i = 0;
  for (const auto& k : all) {
    if (i < sub.size() && sub[i] == k) ++i;
  }
  return i == sub.size();
}

SessionTrace full_trace() {
  SessionTrace t;
  t.session_id = "order";
  t.created_at = utc(2025, 1, 1, 9, 59, 59);
  const TimeRecord tr{utc(2025, 1, 1, 10, 0, 1), 0};
  CAISEvent c;
  c.time_record = tr;
  c.model_name = "gpt-4";
  EnvironmentEvent e;
  e.time_record = tr;
  e.reward = 1.0;
  RuntimeEvent r;
  r.actions = Value::array({"move"});
  SessionEventMessage m;
  m.content = "hi";
  m.timestamp = utc(2025, 1, 1, 10);
  m.time_record = tr;
  SessionTimeStep s;
  s.step_id = "step_0";
  s.events = {c, e, r};
  s.step_messages = {m};
  s.timestamp = utc(2025, 1, 1, 10);
  t.session_time_steps = {s};
  t.session_metadata = {SessionMetadataEntry{"run", Value::object({{"seed", 1}}), utc(2025, 1, 1, 10)}};
  t.event_history = {c, e, r};
  t.message_history = {m};
  return t;
}

TEST(WriterLayout, KeyOrderFollowsTheOriginal) {
  const auto j = nlohmann::ordered_json::parse(full_trace().to_json());
  using V = std::vector<std::string>;
  EXPECT_EQ(keys_of(j), (V{"session_id", "session_time_steps", "session_metadata", "message_history",
                           "event_history", "created_at"}));
  const auto& step = j["session_time_steps"][0];
  EXPECT_EQ(keys_of(step), (V{"step_id", "step_index", "turn_number", "events", "step_messages", "timestamp",
                              "step_metadata"}));
  EXPECT_TRUE(is_subsequence({"step_id", "events", "step_messages", "timestamp", "step_metadata"}, keys_of(step)));

  const V cais_keys = {"event_type",        "time_record",      "system_instance_id", "system_state_before",
                       "system_state_after", "llm_call_records", "span_id",            "trace_id",
                       "model_name",         "provider",         "prompt_tokens",      "completion_tokens",
                       "total_tokens",       "cached_tokens",    "cache_write_tokens", "reasoning_tokens",
                       "cost",               "latency_ms",       "metadata",           "event_metadata"};
  const V env_keys = {"event_type", "time_record", "system_instance_id", "system_state_before", "system_state_after",
                      "reward",     "terminated",  "truncated",          "observation_diff",    "metadata",
                      "event_metadata"};
  const V runtime_keys = {"event_type",         "time_record", "system_instance_id", "system_state_before",
                          "system_state_after", "actions",     "metadata",           "event_metadata"};
  for (const auto* events : {&step["events"], &j["event_history"]}) {
    ASSERT_EQ(events->size(), 3u);
    EXPECT_EQ(keys_of((*events)[0]), cais_keys);
    EXPECT_EQ(keys_of((*events)[1]), env_keys);
    EXPECT_EQ(keys_of((*events)[2]), runtime_keys);
    EXPECT_EQ((*events)[0]["event_type"], "cais");
    EXPECT_EQ((*events)[1]["event_type"], "environment");
    EXPECT_EQ((*events)[2]["event_type"], "runtime");
  }
  // The original's own keys keep their relative order (session_tracer.py declaration order).
  EXPECT_TRUE(is_subsequence({"time_record", "system_instance_id", "system_state_before", "system_state_after",
                              "llm_call_records", "span_id", "trace_id", "model_name", "prompt_tokens",
                              "completion_tokens", "total_tokens", "cost", "latency_ms", "metadata", "event_metadata"},
                             cais_keys));
  EXPECT_TRUE(is_subsequence({"time_record", "system_instance_id", "system_state_before", "system_state_after",
                              "reward", "terminated", "observation_diff", "metadata", "event_metadata"},
                             env_keys));
  EXPECT_EQ(keys_of(step["events"][0]["time_record"]), (V{"event_time", "message_time"}));
  EXPECT_EQ(keys_of(step["step_messages"][0]), (V{"content", "timestamp", "message_type", "time_record"}));
  EXPECT_EQ(keys_of(j["message_history"][0]), (V{"content", "timestamp", "message_type", "time_record"}));
  EXPECT_EQ(keys_of(j["session_metadata"][0]), (V{"metadata_type", "data", "timestamp"}));
}

TEST(WriterLayout, FreeFormObjectsKeepInsertionOrder) {
  SessionTrace t;
  t.session_id = "s";
  CAISEvent c;
  c.metadata = Value::object({{"zeta", 1}, {"alpha", 2}, {"mid", 3}});
  t.event_history = {c};
  const auto j = nlohmann::ordered_json::parse(t.to_json());
  EXPECT_EQ(keys_of(j["event_history"][0]["metadata"]), (std::vector<std::string>{"zeta", "alpha", "mid"}));
}

}  // namespace
