// JSON text output through the public API (Value::dump, SessionTrace::to_json): string escaping,
// UTF-8 repair, numbers, key order and indentation. Timestamps, written and parsed, are in
// timestamp_text_test.cpp.
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

const std::string kFffd = "\xEF\xBF\xBD";

std::string dump_string(std::string_view s) { return Value(std::string(s)).dump(); }

// ---- a reference escaper, written from RFC 8259 and Unicode Table 3-7 ----

// Length of the well-formed UTF-8 sequence at s[i], or 0.
std::size_t well_formed_length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const auto in = [](unsigned char c, unsigned lo, unsigned hi) { return c >= lo && c <= hi; };
  const std::size_t left = s.size() - i;
  const unsigned char c = b(0);
  if (c <= 0x7F) return 1;
  if (in(c, 0xC2, 0xDF)) return left >= 2 && in(b(1), 0x80, 0xBF) ? 2 : 0;
  if (c == 0xE0) return left >= 3 && in(b(1), 0xA0, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (in(c, 0xE1, 0xEC) || in(c, 0xEE, 0xEF)) return left >= 3 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xED) return left >= 3 && in(b(1), 0x80, 0x9F) && in(b(2), 0x80, 0xBF) ? 3 : 0;
  if (c == 0xF0) {
    return left >= 4 && in(b(1), 0x90, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (in(c, 0xF1, 0xF3)) {
    return left >= 4 && in(b(1), 0x80, 0xBF) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  if (c == 0xF4) {
    return left >= 4 && in(b(1), 0x80, 0x8F) && in(b(2), 0x80, 0xBF) && in(b(3), 0x80, 0xBF) ? 4 : 0;
  }
  return 0;
}

// Each byte that does not start a well-formed sequence becomes one U+FFFD.
std::string sanitize(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = well_formed_length(s, i);
    if (n == 0) {
      out += kFffd;
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string reference_escape(std::string_view raw) {
  const std::string s = sanitize(raw);
  std::string out = "\"";
  for (const char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          static const char* hex = "0123456789abcdef";
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += ch;
        }
    }
  }
  return out + "\"";
}

// ------------------------------------------------------------------------------------------
// Strings
// ------------------------------------------------------------------------------------------

TEST(WriterStrings, EveryControlCharacterIsEscaped) {
  const char* const expected[0x20] = {
      "\\u0000", "\\u0001", "\\u0002", "\\u0003", "\\u0004", "\\u0005", "\\u0006", "\\u0007",
      "\\b",     "\\t",     "\\n",     "\\u000b", "\\f",     "\\r",     "\\u000e", "\\u000f",
      "\\u0010", "\\u0011", "\\u0012", "\\u0013", "\\u0014", "\\u0015", "\\u0016", "\\u0017",
      "\\u0018", "\\u0019", "\\u001a", "\\u001b", "\\u001c", "\\u001d", "\\u001e", "\\u001f",
  };
  for (int c = 0; c < 0x20; ++c) {
    const std::string raw(1, static_cast<char>(c));
    EXPECT_EQ(dump_string(raw), "\"" + std::string(expected[c]) + "\"") << "byte " << c;
    // Also in the middle of longer text (the writer scans 8 bytes at a time).
    EXPECT_EQ(dump_string("abcdefghij" + raw + "klmnopqrs"), "\"abcdefghij" + std::string(expected[c]) + "klmnopqrs\"")
        << "byte " << c;
  }
  // DEL and '/' need no escape.
  EXPECT_EQ(dump_string("\x7F/"), "\"\x7F/\"");
}

TEST(WriterStrings, QuotesAndBackslashes) {
  EXPECT_EQ(dump_string("say \"hi\""), R"("say \"hi\"")");
  EXPECT_EQ(dump_string("C:\\path\\file"), R"("C:\\path\\file")");
  EXPECT_EQ(dump_string("\\\""), R"("\\\"")");
  EXPECT_EQ(dump_string(""), R"("")");
  // Keys are escaped the same way.
  EXPECT_EQ(Value::object({{"k\"\\\n", 1}}).dump(), R"({"k\"\\\n":1})");
}

TEST(WriterStrings, ValidMultiByteUtf8PassesThroughUnchanged) {
  const std::string samples[] = {
      "caf\xC3\xA9",                         // é (2 bytes)
      "\xE2\x82\xAC 100",                    // € (3 bytes)
      "\xF0\x9F\x98\x80",                    // 😀 (4 bytes)
      "\xE2\x80\xA8\xE2\x80\xA9",            // U+2028, U+2029
      "\xEF\xBB\xBF\xEF\xBF\xBF",            // U+FEFF, U+FFFF
      "\xF4\x8F\xBF\xBF",                    // U+10FFFF
      "\xC2\x80\xDF\xBF\xE0\xA0\x80\xED\x9F\xBF\xEE\x80\x80\xF0\x90\x80\x80",  // range edges
      "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E and ASCII mixed \xD0\xBF\xD1\x80\xD0\xB8",
  };
  for (const std::string& s : samples) {
    EXPECT_EQ(dump_string(s), "\"" + s + "\"");
    EXPECT_EQ(Value::object({{s, s}}).dump(), "{\"" + s + "\":\"" + s + "\"}");
  }
}

TEST(WriterStrings, InvalidUtf8BecomesReplacementCharacters) {
  struct Case {
    std::string input;
    std::string expected;  // inside the quotes
  };
  const std::string r = kFffd;
  const Case cases[] = {
      {"\x80", r},                                // lone continuation byte
      {"a\xBF" "b", "a" + r + "b"},
      {"ab\xE2\x82", "ab" + r + r},               // sequence truncated at the end
      {"\xE2\x82" "ab", r + r + "ab"},            // ... and in the middle
      {"\xF0\x9F\x98", r + r + r},
      {"\xC2", r},
      {"\xC0\xAF", r + r},                        // overlong '/'
      {"\xC1\xBF", r + r},
      {"\xE0\x80\xAF", r + r + r},                // overlong, 3 bytes
      {"\xF0\x80\x80\xAF", r + r + r + r},        // overlong, 4 bytes
      {"\xED\xA0\x80", r + r + r},                // UTF-8-encoded surrogate U+D800
      {"\xED\xBF\xBF", r + r + r},                // U+DFFF
      {"\xF4\x90\x80\x80", r + r + r + r},        // U+110000, beyond Unicode
      {"\xF5\x80\x80\x80", r + r + r + r},
      {"\xFE\xFF", r + r},
      {"\xFF\xC3\xA9", r + "\xC3\xA9"},            // valid text right after a bad byte survives
      {"ok\xC3", "ok" + r},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(dump_string(c.input), "\"" + c.expected + "\"") << "input bytes: " << c.input.size();
    // Keys are repaired too.
    EXPECT_EQ(Value::object({{c.input, 1}}).dump(), "{\"" + c.expected + "\":1}");
  }
}

TEST(WriterStrings, MatchesReferenceEscaperAtEveryAlignment) {
  const std::string specials[] = {"\"", "\\", "\n", std::string(1, '\0'), "\x1F", "\x7F", "\xC3\xA9",
                                  "\xF0\x9F\x98\x80", "\x80", "\xE2\x82", "\xED\xA0\x80", "\xF4\x90\x80\x80"};
  for (const std::string& special : specials) {
    for (std::size_t before = 0; before <= 17; ++before) {
      for (std::size_t after : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{9}}) {
        const std::string s = std::string(before, 'a') + special + std::string(after, 'z');
        EXPECT_EQ(dump_string(s), reference_escape(s)) << "before " << before << " after " << after;
      }
    }
  }
}

TEST(WriterStrings, RandomBytesMatchReferenceAndDecodeBack) {
  std::mt19937_64 rng(20250101);
  const unsigned char interesting[] = {'"', '\\', 0, 0x1F, 0x20, 0x7F, 0x80, 0xBF, 0xC0, 0xC2, 0xDF,
                                       0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 'a', 0xA0, 0x9F, 0x90};
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng() % 24, '\0');
    for (char& c : s) {
      c = static_cast<char>(rng() % 3 == 0 ? interesting[rng() % std::size(interesting)] : rng() % 256);
    }
    const std::string out = dump_string(s);
    ASSERT_EQ(out, reference_escape(s)) << "iteration " << i;
    // An independent parser reads the output back as the sanitized text.
    const nlohmann::json j = nlohmann::json::parse(out);
    ASSERT_EQ(j.get<std::string>(), sanitize(s)) << "iteration " << i;
  }
}

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
