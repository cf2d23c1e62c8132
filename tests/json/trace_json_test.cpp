// SessionTrace <-> JSON: randomized lossless round trips, traces written by the Python original,
// the README/test-API shape, a corpus of bad inputs and a mutation fuzzer.
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

#include "json/trace_random.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing {
// Readable gtest output for values and traces.
void PrintTo(const Value& v, std::ostream* os) { *os << v.dump(); }
void PrintTo(const SessionTrace& t, std::ostream* os) {
  const std::string json = t.to_json();
  *os << (json.size() > 4000 ? json.substr(0, 4000) + "..." : json);
}
}  // namespace synth::tracing

namespace {

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

fs::path data_path(std::string_view relative) { return fs::path(SYNTH_TEST_DATA_DIR) / relative; }

std::string read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Independent of parse_timestamp: built from the calendar with <chrono>.
Timestamp utc(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0, std::int64_t ns = 0) {
  using namespace std::chrono;
  Timestamp t = sys_days(year(y) / month(mo) / day(d));
  return t + hours(h) + minutes(mi) + seconds(s) + nanoseconds(ns);
}

std::int64_t ns_of(Timestamp t) { return t.time_since_epoch().count(); }

// Writes `t` compactly and indented, reads it back, and checks nothing changed: the model
// (operator==) and the text (which also catches 3.0 turning into 3, or -0.0 into 0.0).
void expect_lossless(const SessionTrace& t, const std::string& context) {
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

template <class E>
const E& as(const Event& e) {
  const E* p = std::get_if<E>(&e);
  if (p == nullptr) throw std::runtime_error("event is of another kind (index " + std::to_string(e.index()) + ")");
  return *p;
}

// ------------------------------------------------------------------------------------------
// 1. Randomized lossless round trip
// ------------------------------------------------------------------------------------------

constexpr std::uint64_t kBaseSeed = 0x5eed'2025'0101ULL;
constexpr int kRandomTraces = 1200;

TEST(TraceJsonRandom, GeneratorIsDeterministic) {
  for (std::uint64_t i = 0; i < 20; ++i) {
    Rng a(kBaseSeed + i);
    Rng b(kBaseSeed + i);
    const SessionTrace ta = synth_test::random_trace(a);
    const SessionTrace tb = synth_test::random_trace(b);
    EXPECT_EQ(ta.to_json(), tb.to_json()) << "seed " << kBaseSeed + i;
  }
}

TEST(TraceJsonRandom, RoundTripIsLossless) {
  int failures = 0;
  for (int i = 0; i < kRandomTraces && failures < 5; ++i) {
    const std::uint64_t seed = kBaseSeed + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const SessionTrace t = synth_test::random_trace(rng);
    // Compact and indented always; other indents now and then.
    std::vector<int> indents = {-1, 2};
    if (i % 10 == 0) indents.push_back(0);
    if (i % 10 == 5) indents.push_back(7);
    for (const int indent : indents) {
      const std::string json = t.to_json(JsonFormat{indent});
      SessionTrace back;
      try {
        back = SessionTrace::from_json(json);
      } catch (const std::exception& e) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << " (iteration " << i << ", indent " << indent
                      << "): reading our own output failed: " << e.what();
        continue;
      }
      if (!(back == t)) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << " (iteration " << i << ", indent " << indent
                      << "): from_json(to_json(t)) != t\n"
                      << json.substr(0, 3000);
        continue;
      }
      const std::string again = back.to_json(JsonFormat{indent});
      if (again != json) {
        ++failures;
        const auto diff = std::mismatch(json.begin(), json.end(), again.begin(), again.end());
        const auto at = static_cast<std::size_t>(diff.first - json.begin());
        ADD_FAILURE() << "seed " << seed << " (iteration " << i << ", indent " << indent
                      << "): the text changed at byte " << at << ":\n  first:  "
                      << json.substr(at > 60 ? at - 60 : 0, 120) << "\n  second: "
                      << again.substr(at > 60 ? at - 60 : 0, 120);
      }
    }
  }
}

TEST(TraceJsonRandom, OutputIsValidJsonForAnotherParser) {
  // nlohmann::json is an independent, strict parser (it also checks UTF-8 when dumping).
  for (int i = 0; i < kRandomTraces; i += 7) {
    const std::uint64_t seed = kBaseSeed + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const SessionTrace t = synth_test::random_trace(rng);
    const std::string compact = t.to_json();
    const std::string indented = t.to_json(JsonFormat{2});
    nlohmann::json a, b;
    ASSERT_NO_THROW(a = nlohmann::json::parse(compact)) << "seed " << seed;
    ASSERT_NO_THROW(b = nlohmann::json::parse(indented)) << "seed " << seed;
    EXPECT_EQ(a, b) << "seed " << seed << ": indentation changed the content";
    EXPECT_NO_THROW((void)a.dump()) << "seed " << seed << ": output is not valid UTF-8";
    EXPECT_EQ(compact.find('\n'), std::string::npos) << "seed " << seed;
  }
}

// Walks the generated traces and counts the features the property is meant to exercise, so the
// round trip test cannot silently become vacuous if the generator changes.
class Coverage {
 public:
  void value(const Value& v, int depth = 0) {
    max_depth_ = std::max(max_depth_, depth);
    switch (v.kind()) {
      case Value::Kind::null:
        note("value null");
        break;
      case Value::Kind::boolean:
        note("value bool");
        break;
      case Value::Kind::integer:
        note("value int64");
        if (v.as_int() == std::numeric_limits<std::int64_t>::min()) note("value INT64_MIN");
        if (v.as_int() == std::numeric_limits<std::int64_t>::max()) note("value INT64_MAX");
        break;
      case Value::Kind::unsigned_integer:
        note("value uint64 above INT64_MAX");
        if (v.as_uint() == std::numeric_limits<std::uint64_t>::max()) note("value UINT64_MAX");
        break;
      case Value::Kind::floating:
        number(v.as_double());
        break;
      case Value::Kind::string:
        string(v.as_string());
        break;
      case Value::Kind::array:
        note(v.empty() ? "value empty array" : "value array");
        for (const Value& e : v.as_array()) value(e, depth + 1);
        break;
      case Value::Kind::object:
        note(v.empty() ? "value empty object" : "value object");
        for (const auto& [k, m] : v.as_object()) {
          string(k);
          value(m, depth + 1);
        }
        break;
    }
  }
  void number(double d) {
    note("double");
    if (d == 0 && std::signbit(d)) note("double negative zero");
    if (d != 0 && std::fpclassify(d) == FP_SUBNORMAL) note("double subnormal");
    if (d == std::trunc(d) && std::fabs(d) < 1e15) note("double integral");
    if (std::fabs(d) > 1e300 || (d != 0 && std::fabs(d) < 1e-300)) note("double extreme exponent");
  }
  void string(const std::string& s) {
    for (const char ch : s) {
      const auto c = static_cast<unsigned char>(ch);
      if (c < 0x20) note("string control char");
      if (c == 0) note("string NUL");
      if (c == '"') note("string quote");
      if (c == '\\') note("string backslash");
      if (c >= 0xC2 && c <= 0xDF) note("string 2-byte UTF-8");
      if (c >= 0xE0 && c <= 0xEF) note("string 3-byte UTF-8");
      if (c >= 0xF0) note("string 4-byte UTF-8");
    }
  }
  void timestamp(Timestamp t) {
    const std::int64_t ns = ns_of(t);
    if (ns == 0) {
      note("timestamp unset");
    } else if (ns % 1000 != 0) {
      note("timestamp nanosecond precision");
    } else if (ns % 1'000'000'000 != 0) {
      note("timestamp microsecond precision");
    }
    if (ns < 0) note("timestamp before 1970");
  }
  void time_record(const std::optional<TimeRecord>& tr) {
    if (!tr) {
      note("time_record absent");
      return;
    }
    timestamp(tr->event_time);
  }
  void event(const Event& e) {
    std::visit([this](const auto& x) { this->fields(x); }, e);
  }
  void fields(const CAISEvent& e) {
    note("event cais");
    common(e);
    for (const auto& r : e.llm_call_records) value(r);
    if (e.span_id) note("cais span_id");
    if (e.trace_id) note("cais trace_id");
    if (!e.span_id) note("cais no span_id");
    if (e.model_name) note("cais model_name");
    if (e.provider) note("cais provider");
    if (e.prompt_tokens) note("cais prompt_tokens");
    if (e.cached_tokens) note("cais cached_tokens");
    if (!e.cached_tokens) note("cais no cached_tokens");
    if (e.reasoning_tokens) note("cais reasoning_tokens");
    if (!e.reasoning_tokens) note("cais no reasoning_tokens");
    if (e.cost) {
      number(*e.cost);
      note("cais cost");
    }
    if (e.latency_ms) note("cais latency_ms");
  }
  void fields(const EnvironmentEvent& e) {
    note("event environment");
    common(e);
    if (e.reward) {
      number(*e.reward);
      note("env reward");
    }
    if (e.terminated) note("env terminated");
    if (e.truncated) note("env truncated");
    if (!e.truncated) note("env no truncated");
    value(e.observation_diff);
  }
  void fields(const RuntimeEvent& e) {
    note("event runtime");
    common(e);
    value(e.actions);
    if (e.actions.is_null()) note("runtime actions null");
  }
  template <class E>
  void common(const E& e) {
    time_record(e.time_record);
    string(e.system_instance_id);
    value(e.system_state_before);
    value(e.system_state_after);
    value(e.metadata);
    for (const auto& m : e.event_metadata) value(m);
  }
  void message(const SessionEventMessage& m) {
    note("message");
    value(m.content);
    string(m.message_type);
    timestamp(m.timestamp);
    time_record(m.time_record);
  }
  void trace(const SessionTrace& t) {
    note(t.session_time_steps.empty() ? "trace without timesteps" : "trace with timesteps");
    if (t.session_time_steps.size() >= 3) note("trace with 3+ timesteps");
    string(t.session_id);
    timestamp(t.created_at);
    std::size_t step_events = 0;
    std::size_t step_messages = 0;
    for (const auto& s : t.session_time_steps) {
      string(s.step_id);
      timestamp(s.timestamp);
      value(s.step_metadata);
      for (const auto& e : s.events) event(e);
      for (const auto& m : s.step_messages) message(m);
      step_events += s.events.size();
      step_messages += s.step_messages.size();
    }
    if (t.event_history.size() > step_events) note("history-only events");
    if (t.message_history.size() > step_messages) note("history-only messages");
    for (const auto& e : t.event_history) event(e);
    for (const auto& m : t.message_history) message(m);
    for (const auto& m : t.session_metadata) {
      note(m.metadata_type == "session_start" ? "session_start metadata" : "other metadata");
      value(m.data);
      timestamp(m.timestamp);
    }
  }

  int count(const std::string& feature) const {
    const auto it = counts_.find(feature);
    return it == counts_.end() ? 0 : it->second;
  }
  int max_depth() const { return max_depth_; }

 private:
  void note(const std::string& feature) { ++counts_[feature]; }
  std::map<std::string, int> counts_;
  int max_depth_ = 0;
};

TEST(TraceJsonRandom, GeneratorCoversEveryFeature) {
  Coverage c;
  for (int i = 0; i < kRandomTraces; ++i) {
    Rng rng(kBaseSeed + static_cast<std::uint64_t>(i));
    c.trace(synth_test::random_trace(rng));
  }
  for (const char* feature : {
           "trace without timesteps", "trace with timesteps", "trace with 3+ timesteps", "history-only events",
           "history-only messages", "session_start metadata", "other metadata", "event cais",
           "event environment", "event runtime", "message", "time_record absent", "cais span_id", "cais no span_id",
           "cais trace_id", "cais model_name", "cais provider", "cais prompt_tokens", "cais cached_tokens",
           "cais no cached_tokens", "cais reasoning_tokens", "cais no reasoning_tokens", "cais cost",
           "cais latency_ms", "env reward", "env terminated", "env truncated", "env no truncated",
           "runtime actions null", "timestamp unset", "timestamp nanosecond precision",
           "timestamp microsecond precision", "timestamp before 1970", "value null", "value bool", "value int64",
           "value INT64_MIN", "value INT64_MAX", "value uint64 above INT64_MAX", "value UINT64_MAX",
           "value empty array", "value array", "value empty object", "value object", "double",
           "double negative zero", "double subnormal", "double integral", "double extreme exponent",
           "string control char", "string NUL", "string quote", "string backslash", "string 2-byte UTF-8",
           "string 3-byte UTF-8", "string 4-byte UTF-8"}) {
    EXPECT_GT(c.count(feature), 0) << "the random traces never contain: " << feature;
  }
  EXPECT_GE(c.max_depth(), 3);
}

// Non-finite doubles cannot be written as JSON numbers: they become null (by design), so they
// are kept out of the round-trip property and checked here.
TEST(TraceJsonRandom, NonFiniteDoublesBecomeNull) {
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  SessionTrace t;
  t.session_id = "nonfinite";
  CAISEvent c;
  c.cost = nan;
  c.latency_ms = inf;
  c.system_state_before = Value::object({{"x", nan}, {"y", -inf}, {"z", 1.5}});
  EnvironmentEvent env;
  env.reward = -inf;
  t.event_history = {c, env};

  const std::string json = t.to_json();
  EXPECT_EQ(json.find("nan"), std::string::npos) << json;
  EXPECT_EQ(json.find("inf"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("cost":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("latency_ms":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("reward":null)"), std::string::npos) << json;
  EXPECT_NE(json.find(R"({"x":null,"y":null,"z":1.5})"), std::string::npos) << json;

  const SessionTrace back = SessionTrace::from_json(json);
  ASSERT_EQ(back.event_history.size(), 2u);
  const auto& c2 = as<CAISEvent>(back.event_history[0]);
  EXPECT_FALSE(c2.cost.has_value());
  EXPECT_FALSE(c2.latency_ms.has_value());
  EXPECT_TRUE(c2.system_state_before["x"].is_null());
  EXPECT_TRUE(c2.system_state_before["y"].is_null());
  EXPECT_EQ(c2.system_state_before["z"].as_double(), 1.5);
  EXPECT_FALSE(as<EnvironmentEvent>(back.event_history[1]).reward.has_value());
  expect_lossless(back, "non-finite trace after one round trip");
}

// Invalid UTF-8 is written as U+FFFD (by design); the result is then stable.
TEST(TraceJsonRandom, InvalidUtf8BecomesReplacementCharacter) {
  SessionTrace t;
  t.session_id = "bad\xFF";
  CAISEvent c;
  c.model_name = std::string("gpt\xC0\xAF");
  c.metadata = Value::object({{std::string("k\x80"), std::string("v\xED\xA0\x80")}});
  SessionEventMessage m;
  m.content = std::string("\xF4\x90\x80\x80!");
  m.message_type = "obs\xE2\x82";
  t.event_history.push_back(c);
  t.message_history.push_back(m);

  const std::string json = t.to_json();
  EXPECT_NO_THROW((void)nlohmann::json::parse(json).dump()) << "output must be valid UTF-8";
  const SessionTrace back = SessionTrace::from_json(json);
  const std::string fffd = "\xEF\xBF\xBD";
  EXPECT_EQ(back.session_id, "bad" + fffd);
  EXPECT_EQ(as<CAISEvent>(back.event_history[0]).model_name, "gpt" + fffd + fffd);
  const Value& md = as<CAISEvent>(back.event_history[0]).metadata;
  ASSERT_EQ(md.size(), 1u);
  EXPECT_EQ(md.as_object()[0].first, "k" + fffd);
  EXPECT_EQ(md.as_object()[0].second.as_string(), "v" + fffd + fffd + fffd);
  EXPECT_EQ(back.message_history[0].content.as_string(), fffd + fffd + fffd + fffd + "!");
  EXPECT_EQ(back.message_history[0].message_type, "obs" + fffd + fffd);
  expect_lossless(back, "invalid UTF-8 trace after one round trip");
}

TEST(TraceJsonRandom, TimestampPrecisionSurvives) {
  SessionTrace t;
  t.session_id = "times";
  t.created_at = utc(2025, 1, 1, 10, 0, 1, 123'456'000);  // microseconds
  SessionMetadataEntry m{"run", Value::object(), utc(2025, 1, 1, 10, 0, 1, 123'456'789)};  // nanoseconds
  t.session_metadata.push_back(m);
  SessionTimeStep step;
  step.step_id = "step_0";
  step.timestamp = Timestamp{};  // unset
  t.session_time_steps.push_back(step);
  const std::string json = t.to_json();
  EXPECT_NE(json.find(R"("created_at":"2025-01-01T10:00:01.123456Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("timestamp":"2025-01-01T10:00:01.123456789Z")"), std::string::npos) << json;
  EXPECT_NE(json.find(R"("timestamp":null)"), std::string::npos) << json;
  const SessionTrace back = SessionTrace::from_json(json);
  EXPECT_EQ(back.created_at, t.created_at);
  EXPECT_EQ(back.session_metadata.at(0).timestamp, m.timestamp);
  EXPECT_EQ(back.session_time_steps.at(0).timestamp, Timestamp{});
  expect_lossless(t, "timestamps");
}

// Some Python callers pass time.time() as event_time: epoch seconds as a float.
TEST(TraceJsonRandom, EpochSecondsTimestamps) {
  const auto event_time = [](const std::string& literal) {
    const SessionTrace t = SessionTrace::from_json(
        R"({"session_id":"e","event_history":[{"time_record":{"event_time":)" + literal + R"(,"message_time":1}}]})");
    return synth::tracing::time_record(t.event_history.at(0))->event_time;
  };
  EXPECT_EQ(event_time("1735725601"), utc(2025, 1, 1, 10, 0, 1));
  EXPECT_EQ(event_time("1735725601.25"), utc(2025, 1, 1, 10, 0, 1, 250'000'000)) << "exact in binary, exact here";
  EXPECT_EQ(event_time("1735725601.5e0"), utc(2025, 1, 1, 10, 0, 1, 500'000'000));
  EXPECT_EQ(event_time("0.5"), Timestamp(std::chrono::milliseconds(500)));
  EXPECT_EQ(event_time("-1.5"), Timestamp(std::chrono::milliseconds(-1500)));
  EXPECT_EQ(event_time("0"), Timestamp{});
  // Not exact in binary: within the double's own spacing (about 240 ns near 1.7e9).
  const auto micro = event_time("1735725601.123456");
  EXPECT_LT(std::chrono::abs(micro - utc(2025, 1, 1, 10, 0, 1, 123'456'000)), std::chrono::nanoseconds(250));
}

// ------------------------------------------------------------------------------------------
// 2. Traces written by the Python original (hand-written from the reference)
// ------------------------------------------------------------------------------------------

TEST(TraceJsonPython, Section1eExample) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/section_1e_example.json"));
  EXPECT_EQ(t.session_id, "s-1");
  EXPECT_EQ(t.created_at, utc(2025, 1, 1, 9, 59, 59));  // naive time read as UTC
  EXPECT_TRUE(t.start_metadata().is_null()) << "the original has no session_start entry";

  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "run");
  EXPECT_EQ(t.session_metadata[0].data, Value::object({{"seed", 1}}));
  EXPECT_EQ(t.session_metadata[0].timestamp, utc(2025, 1, 1, 10));

  ASSERT_EQ(t.session_time_steps.size(), 1u);
  const SessionTimeStep& step = t.session_time_steps[0];
  EXPECT_EQ(step.step_id, "step_0");
  EXPECT_EQ(step.step_index, 0);
  EXPECT_EQ(step.turn_number, 0);
  EXPECT_EQ(step.timestamp, utc(2025, 1, 1, 10));
  EXPECT_EQ(step.step_metadata, Value::object());

  ASSERT_EQ(step.events.size(), 1u);
  ASSERT_EQ(synth::tracing::event_type(step.events[0]), EventType::cais) << "inferred from the LLM fields";
  const auto& e = as<CAISEvent>(step.events[0]);
  ASSERT_TRUE(e.time_record.has_value());
  EXPECT_EQ(e.time_record->event_time, utc(2025, 1, 1, 10, 0, 1));
  EXPECT_EQ(e.time_record->message_time, 0);
  EXPECT_EQ(e.system_instance_id, "agent");
  EXPECT_EQ(e.system_state_before, Value::object({{"gen_ai.request.model", "gpt-4"}}));
  EXPECT_TRUE(e.system_state_after.is_null());
  EXPECT_TRUE(e.llm_call_records.empty());
  EXPECT_FALSE(e.span_id.has_value());
  EXPECT_FALSE(e.trace_id.has_value());
  EXPECT_EQ(e.model_name, "gpt-4");
  EXPECT_FALSE(e.provider.has_value()) << "the provider stays in metadata";
  EXPECT_EQ(e.prompt_tokens, 12);
  EXPECT_EQ(e.completion_tokens, 3);
  EXPECT_EQ(e.total_tokens, 15);
  EXPECT_FALSE(e.cached_tokens.has_value());
  EXPECT_FALSE(e.cache_write_tokens.has_value());
  EXPECT_FALSE(e.reasoning_tokens.has_value());
  EXPECT_EQ(e.cost, 0.00054);
  EXPECT_EQ(e.latency_ms, 420.0);
  EXPECT_EQ(e.metadata, Value::object({{"provider", "openai"}}));
  EXPECT_TRUE(e.event_metadata.empty());

  ASSERT_EQ(step.step_messages.size(), 1u);
  const SessionEventMessage& m = step.step_messages[0];
  EXPECT_EQ(m.content, Value::object({{"origin_system_id", "env"}, {"payload", {{"obs", "door"}}}}));
  EXPECT_EQ(m.message_type, "observation");
  EXPECT_EQ(m.timestamp, utc(2025, 1, 1, 10));
  ASSERT_TRUE(m.time_record.has_value());
  EXPECT_EQ(m.time_record->event_time, utc(2025, 1, 1, 10));
  EXPECT_EQ(m.time_record->message_time, 0);

  // The histories repeat the timestep's items.
  ASSERT_EQ(t.event_history.size(), 1u);
  EXPECT_TRUE(t.event_history[0] == step.events[0]);
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_TRUE(t.message_history[0] == m);

  expect_lossless(t, "section_1e_example.json");
  // Our output tags each event with its kind.
  const nlohmann::ordered_json out = nlohmann::ordered_json::parse(t.to_json());
  EXPECT_EQ(out["event_history"][0]["event_type"], "cais");
  EXPECT_EQ(out["event_history"][0]["cost"], 0.00054);
}

TEST(TraceJsonPython, EnvironmentAndRuntimeEventsWithoutEventType) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/env_runtime_session.json"));
  EXPECT_EQ(t.session_id, "crafter-episode-7");
  EXPECT_EQ(t.created_at, utc(2025, 3, 4, 12, 30, 44, 500'000'000));
  EXPECT_TRUE(t.start_metadata().is_null());
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "env_config");
  EXPECT_EQ(t.session_metadata[0].data, Value::object({{"world", "crafter"}, {"size", {64, 64}}}));
  EXPECT_EQ(t.session_metadata[0].timestamp, utc(2025, 3, 4, 12, 30, 44, 999'999'000));

  ASSERT_EQ(t.session_time_steps.size(), 2u);
  const SessionTimeStep& s0 = t.session_time_steps[0];
  const SessionTimeStep& s1 = t.session_time_steps[1];
  EXPECT_EQ(s0.step_id, "step_0");
  EXPECT_EQ(s1.step_id, "step_1");
  EXPECT_EQ(s0.step_index, 0);
  EXPECT_EQ(s1.step_index, 1);
  EXPECT_EQ(s0.turn_number, 0) << "taken from the first event's message_time";
  EXPECT_EQ(s1.turn_number, 1) << "taken from the first event's message_time";
  EXPECT_EQ(s0.timestamp, utc(2025, 3, 4, 12, 30, 45, 50'000));
  EXPECT_EQ(s0.step_metadata, Value::object({{"phase", "explore"}}));

  ASSERT_EQ(s0.events.size(), 2u);
  ASSERT_EQ(s1.events.size(), 3u);

  // A full session_tracer CAISEvent, with Python's \u escapes for non-ASCII text.
  const auto& llm = as<CAISEvent>(s0.events[0]);
  EXPECT_EQ(llm.system_instance_id, "llm_agent");
  EXPECT_EQ(llm.time_record->event_time, utc(2025, 3, 4, 12, 30, 45, 123'456'000));
  EXPECT_EQ(llm.system_state_before["messages"][0]["content"].as_string(), "Caf\xC3\xA9?");
  EXPECT_EQ(llm.system_state_after["content"].as_string(), "Go north \xF0\x9F\x98\x80");
  ASSERT_EQ(llm.llm_call_records.size(), 1u);
  EXPECT_EQ(llm.llm_call_records[0]["gen_ai.usage.prompt_tokens"].as_int(), 120);
  EXPECT_EQ(llm.span_id, "1234567890123456789");
  EXPECT_EQ(llm.trace_id, "98765432109876543210987654321");
  EXPECT_EQ(llm.model_name, "gpt-4o-mini");
  EXPECT_EQ(llm.prompt_tokens, 120);
  EXPECT_EQ(llm.completion_tokens, 8);
  EXPECT_EQ(llm.total_tokens, 128);
  EXPECT_EQ(llm.cost, 2.28e-05);
  EXPECT_EQ(llm.latency_ms, 812.5);
  ASSERT_EQ(llm.event_metadata.size(), 1u);
  EXPECT_EQ(llm.event_metadata[0]["hook_name"].as_string(), "long_call");
  EXPECT_EQ(llm.event_metadata[0]["priority"].as_int(), 1);

  // EnvironmentEvent: recognised by reward/terminated/observation_diff, not by its system id.
  const auto& env = as<EnvironmentEvent>(s0.events[1]);
  EXPECT_EQ(env.system_instance_id, "crafter_env");
  EXPECT_EQ(env.time_record->event_time, utc(2025, 3, 4, 12, 30, 46, 1'000));
  EXPECT_EQ(env.reward, 1.0);
  EXPECT_EQ(env.terminated, false);
  EXPECT_FALSE(env.truncated.has_value());
  EXPECT_EQ(env.observation_diff, Value::object({{"inventory", {{"wood", 1}}}}));
  EXPECT_EQ(env.system_state_after, Value::object({{"position", {3, 5}}}));

  // RuntimeEvent: recognised by its actions key.
  const auto& rt = as<RuntimeEvent>(s1.events[0]);
  EXPECT_EQ(rt.system_instance_id, "executor");
  EXPECT_EQ(rt.time_record->message_time, 1);
  EXPECT_EQ(rt.time_record->event_time, utc(2025, 3, 4, 12, 30, 47, 500'000'000));
  EXPECT_EQ(rt.actions, Value::array({"move_north"}));
  EXPECT_EQ(rt.metadata, Value::object({{"duration_ms", 3.25}}));

  // Keys present with null values (as the original writes its defaults) still decide the kind.
  const auto& env_nulls = as<EnvironmentEvent>(s1.events[1]);
  EXPECT_EQ(env_nulls.system_instance_id, "crafter_env");
  EXPECT_FALSE(env_nulls.reward.has_value());
  EXPECT_FALSE(env_nulls.terminated.has_value());
  EXPECT_TRUE(env_nulls.observation_diff.is_null());
  EXPECT_TRUE(env_nulls.system_state_before.is_null());
  EXPECT_EQ(env_nulls.time_record->event_time, utc(2025, 3, 4, 12, 30, 48));
  const auto& rt_null = as<RuntimeEvent>(s1.events[2]);
  EXPECT_EQ(rt_null.system_instance_id, "executor");
  EXPECT_TRUE(rt_null.actions.is_null());

  ASSERT_EQ(s0.step_messages.size(), 1u);
  EXPECT_TRUE(s1.step_messages.empty());
  const SessionEventMessage& m = s0.step_messages[0];
  EXPECT_EQ(m.content["payload"]["text"].as_string(), "caf\xC3\xA9 \xF0\x9F\x98\x80");
  EXPECT_EQ(m.timestamp, utc(2025, 3, 4, 12, 30, 45, 100'000));

  ASSERT_EQ(t.event_history.size(), 5u);
  EXPECT_TRUE(t.event_history[0] == s0.events[0]);
  EXPECT_TRUE(t.event_history[1] == s0.events[1]);
  EXPECT_TRUE(t.event_history[2] == s1.events[0]);
  EXPECT_TRUE(t.event_history[3] == s1.events[1]);
  EXPECT_TRUE(t.event_history[4] == s1.events[2]);
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_TRUE(t.message_history[0] == m);

  expect_lossless(t, "env_runtime_session.json");
}

TEST(TraceJsonPython, AbstractionsFamilyEvents) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/abstractions_events.json"));
  EXPECT_EQ(t.session_id, "decorated-run");
  EXPECT_EQ(t.created_at, utc(2025, 1, 1, 9, 59, 59, 999'999'000));
  ASSERT_EQ(t.session_time_steps.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].turn_number, 2);
  ASSERT_EQ(t.session_time_steps[0].events.size(), 1u);
  ASSERT_EQ(t.event_history.size(), 5u);

  // abstractions CAISEvent: no span/token fields, llm_call_records marks the kind.
  const auto& llm = as<CAISEvent>(t.event_history[0]);
  EXPECT_EQ(llm.system_instance_id, "lm_gpt-4o-mini");
  EXPECT_EQ(llm.time_record->event_time, utc(2025, 1, 1, 10, 0, 0, 250'000'000));
  EXPECT_FALSE(llm.model_name.has_value());
  EXPECT_FALSE(llm.prompt_tokens.has_value());
  EXPECT_EQ(llm.system_state_before["gen_ai.request.model"].as_string(), "gpt-4o-mini");
  EXPECT_EQ(llm.metadata, Value::object({{"duration_ms", 812.4}}));

  // The session_tracer event recorded in the timestep is also in the history.
  EXPECT_TRUE(t.event_history[1] == t.session_time_steps[0].events[0]);
  EXPECT_EQ(as<EnvironmentEvent>(t.event_history[1]).system_instance_id, "environment");

  // abstractions EnvironmentEvent with an epoch-seconds float event_time.
  const auto& env = as<EnvironmentEvent>(t.event_history[2]);
  EXPECT_EQ(env.system_instance_id, "crafter");
  ASSERT_TRUE(env.time_record.has_value());
  EXPECT_EQ(env.time_record->event_time, utc(2025, 1, 1, 10, 0, 1, 250'000'000));
  EXPECT_EQ(env.time_record->message_time, 2);
  EXPECT_EQ(env.reward, 0.5);
  EXPECT_EQ(env.terminated, true);
  EXPECT_TRUE(env.observation_diff.is_null());
  EXPECT_EQ(env.metadata, Value::object({{"duration_ms", 4.0}}));

  // abstractions RuntimeEvent: no metadata key, TimeRecord(None, None).
  const auto& rt = as<RuntimeEvent>(t.event_history[3]);
  EXPECT_EQ(rt.system_instance_id, "runtime");
  ASSERT_TRUE(rt.time_record.has_value());
  EXPECT_EQ(rt.time_record->event_time, Timestamp{});
  EXPECT_EQ(rt.time_record->message_time, 0);
  EXPECT_EQ(rt.metadata, Value::object()) << "a missing metadata key reads as {}";
  EXPECT_TRUE(rt.actions.is_null());
  EXPECT_EQ(rt.system_state_after, Value::object({{"runtime.success", true}}));

  // The older variant: actions and metadata, no time_record.
  const auto& old = as<RuntimeEvent>(t.event_history[4]);
  EXPECT_FALSE(old.time_record.has_value());
  EXPECT_EQ(old.actions[0]["tool"].as_string(), "save");
  EXPECT_EQ(old.metadata, Value::object({{"variant", "1381e6c"}}));

  EXPECT_TRUE(t.message_history.empty());
  EXPECT_TRUE(t.session_metadata.empty());
  expect_lossless(t, "abstractions_events.json");
}

TEST(TraceJsonPython, IntegerStepIds) {
  const SessionTrace t = SessionTrace::read_file(data_path("python/integer_step_id.json"));
  ASSERT_EQ(t.session_time_steps.size(), 2u);
  EXPECT_EQ(t.session_time_steps[0].step_id, "1");
  EXPECT_EQ(t.session_time_steps[1].step_id, "2");
  EXPECT_EQ(t.session_time_steps[0].turn_number, 1);
  EXPECT_EQ(t.session_time_steps[1].turn_number, 1) << "no events: the position";
  ASSERT_EQ(t.session_time_steps[0].step_messages.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].step_messages[0].message_type, "action");
  EXPECT_EQ(t.session_time_steps[0].step_messages[0].timestamp, utc(2025, 6, 1, 8, 0, 0, 1'000));
  const auto& e = as<CAISEvent>(t.session_time_steps[0].events.at(0));
  EXPECT_EQ(e.model_name, "claude-3-haiku");
  EXPECT_EQ(e.total_tokens, 40);
  EXPECT_FALSE(e.cost.has_value());
  EXPECT_EQ(e.time_record->event_time, utc(2025, 6, 1, 8, 0, 0, 500'000'000));
  ASSERT_EQ(t.event_history.size(), 1u);
  ASSERT_EQ(t.message_history.size(), 1u);
  expect_lossless(t, "integer_step_id.json");
  // Written back as strings.
  const nlohmann::json out = nlohmann::json::parse(t.to_json());
  EXPECT_EQ(out["session_time_steps"][0]["step_id"], "1");
}

// ------------------------------------------------------------------------------------------
// 3. The README / test-API shape
// ------------------------------------------------------------------------------------------

void expect_readme_timesteps(const SessionTrace& t) {
  ASSERT_EQ(t.session_time_steps.size(), 3u);
  const auto& steps = t.session_time_steps;
  EXPECT_EQ(steps[0].step_id, "step_0");
  EXPECT_EQ(steps[1].step_id, "step_1");
  EXPECT_EQ(steps[2].step_id, "step_5") << "default ids come from turn_number, not position";
  for (std::size_t i = 0; i < 3; ++i) EXPECT_EQ(steps[i].step_index, static_cast<std::int64_t>(i));
  EXPECT_EQ(steps[0].turn_number, 0);
  EXPECT_EQ(steps[1].turn_number, 1);
  EXPECT_EQ(steps[2].turn_number, 5);
  EXPECT_EQ(steps[1].step_metadata, Value::object({{"note", "first move"}}));
  EXPECT_EQ(steps[0].step_metadata, Value::object());

  // messages -> step_messages
  ASSERT_EQ(steps[0].step_messages.size(), 1u);
  ASSERT_EQ(steps[1].step_messages.size(), 1u);
  EXPECT_TRUE(steps[2].step_messages.empty());
  EXPECT_EQ(steps[0].step_messages[0].message_type, "observation");
  EXPECT_EQ(steps[0].step_messages[0].content["payload"]["obs"].as_string(), "start");
  EXPECT_EQ(steps[1].step_messages[0].content["payload"]["action"].as_string(), "up");
  EXPECT_EQ(steps[1].step_messages[0].time_record->message_time, 1);

  ASSERT_EQ(steps[0].events.size(), 1u);
  const auto& llm = as<CAISEvent>(steps[0].events[0]);  // declared as "LMCAISEvent"
  EXPECT_EQ(llm.model_name, "gpt-4");
  EXPECT_EQ(llm.total_tokens, 300);
  EXPECT_EQ(llm.cost, 0.015);
  EXPECT_TRUE(llm.system_state_before.is_null());
  EXPECT_EQ(llm.metadata, Value::object());
  const auto& env = as<EnvironmentEvent>(steps[1].events.at(0));
  EXPECT_EQ(env.reward, 1.0);
  EXPECT_EQ(env.terminated, false);
  EXPECT_EQ(as<EnvironmentEvent>(steps[2].events.at(0)).terminated, true);
}

TEST(TraceJsonReadmeShape, WithHistories) {
  const SessionTrace t = SessionTrace::read_file(data_path("readme_shape/with_histories.json"));
  EXPECT_EQ(t.session_id, "readme-session");
  EXPECT_EQ(t.created_at, utc(2025, 2, 2, 11, 59, 59));
  // metadata -> the "session_start" entry of session_metadata
  EXPECT_EQ(t.start_metadata(), Value::object({{"experiment", "crafter"}, {"seed", 42}}));
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "session_start");
  EXPECT_EQ(t.session_metadata[0].timestamp, t.created_at);
  expect_readme_timesteps(t);

  // Histories as given, including the history-only runtime event.
  ASSERT_EQ(t.event_history.size(), 4u);
  EXPECT_TRUE(t.event_history[0] == t.session_time_steps[0].events[0]);
  EXPECT_TRUE(t.event_history[1] == t.session_time_steps[1].events[0]);
  const auto& deco = as<RuntimeEvent>(t.event_history[2]);
  EXPECT_EQ(deco.system_state_before, Value::object({{"runtime.operation", "log"}}));
  EXPECT_TRUE(t.event_history[3] == t.session_time_steps[2].events[0]);
  ASSERT_EQ(t.message_history.size(), 2u);
  EXPECT_TRUE(t.message_history[0] == t.session_time_steps[0].step_messages[0]);
  EXPECT_TRUE(t.message_history[1] == t.session_time_steps[1].step_messages[0]);

  expect_lossless(t, "readme with_histories.json");
  // Written in the original's shape.
  const nlohmann::json out = nlohmann::json::parse(t.to_json());
  EXPECT_TRUE(out.contains("session_time_steps"));
  EXPECT_FALSE(out.contains("timesteps"));
  EXPECT_FALSE(out.contains("metadata"));
  EXPECT_EQ(out["session_metadata"][0]["metadata_type"], "session_start");
  EXPECT_EQ(out["session_metadata"][0]["data"]["seed"], 42);
}

TEST(TraceJsonReadmeShape, WithoutHistoriesDerivesThemFromTimesteps) {
  const SessionTrace t = SessionTrace::read_file(data_path("readme_shape/without_histories.json"));
  EXPECT_EQ(t.session_id, "readme-session");
  EXPECT_EQ(t.created_at, Timestamp{});
  EXPECT_EQ(t.start_metadata(), Value::object({{"experiment", "crafter"}, {"seed", 42}}));
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].timestamp, Timestamp{});
  expect_readme_timesteps(t);

  std::vector<Event> events;
  std::vector<SessionEventMessage> messages;
  for (const auto& s : t.session_time_steps) {
    events.insert(events.end(), s.events.begin(), s.events.end());
    messages.insert(messages.end(), s.step_messages.begin(), s.step_messages.end());
  }
  ASSERT_EQ(events.size(), 3u);
  ASSERT_EQ(messages.size(), 2u);
  EXPECT_TRUE(t.event_history == events);
  EXPECT_TRUE(t.message_history == messages);
  expect_lossless(t, "readme without_histories.json");
}

TEST(TraceJsonReadmeShape, EmptyOrNullMetadataAddsNoEntry) {
  for (const char* json : {R"({"session_id":"x","metadata":{},"timesteps":[]})",
                           R"({"session_id":"x","metadata":null,"timesteps":[]})",
                           R"({"session_id":"x","timesteps":[]})"}) {
    const SessionTrace t = SessionTrace::from_json(json);
    EXPECT_TRUE(t.session_metadata.empty()) << json;
    EXPECT_TRUE(t.start_metadata().is_null()) << json;
  }
}

TEST(TraceJsonReadmeShape, OnlyOneHistoryGiven) {
  // The missing history is derived, the given one is kept as is.
  const SessionTrace t = SessionTrace::from_json(R"({"session_id":"x","timesteps":[
      {"turn_number":3,"messages":[{"content":"hi","message_type":"user"}],"events":[{"reward":1.0}]}],
    "event_history":[]})");
  ASSERT_EQ(t.session_time_steps.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].step_id, "step_3");
  EXPECT_TRUE(t.event_history.empty());
  ASSERT_EQ(t.message_history.size(), 1u);
  EXPECT_EQ(t.message_history[0].content.as_string(), "hi");
}

// ------------------------------------------------------------------------------------------
// 4. Bad input
// ------------------------------------------------------------------------------------------

struct BadCase {
  const char* file;
  /// Must occur in problem().
  const char* fragment;
  /// Text expected at offset(); "<end>" for the end of the file; nullptr to skip.
  const char* at;
};

// clang-format off
const BadCase kBadCases[] = {
  // malformed JSON
  {"empty.json", "no JSON value", "<end>"},
  {"whitespace_only.json", "no JSON value", "<end>"},
  {"top_level_array.json", "expected a JSON object at the top level, found an array", "["},
  {"top_level_string.json", "expected a JSON object at the top level, found a string", "\"s-1\""},
  {"top_level_null.json", "expected a JSON object at the top level, found null", "null"},
  {"trailing_comma.json", "malformed JSON", "}"},
  {"missing_comma.json", "malformed JSON", "\"session_time_steps\""},
  {"single_quotes.json", "malformed JSON", "'session_id'"},
  {"unquoted_key.json", "malformed JSON", "session_id:"},
  {"comment.json", "malformed JSON", "// a comment"},
  {"bad_literal.json", "session_time_steps[0].events[0].system_state_before.ok: invalid literal", "tru}"},
  {"nan_literal.json", "session_time_steps[0].events[0].reward: malformed JSON", "NaN"},
  {"infinity_literal.json", "system_state_before.x: malformed number", "-Infinity"},
  {"leading_zero.json", "prompt_tokens: expected an integer in 64-bit range, found 012", "012"},
  {"bad_escape.json", "session_time_steps[0].events[0].model_name: malformed string", "\"gpt\\x4\""},
  {"short_unicode_escape.json", "model_name: malformed string", "\"gpt\\u12\""},
  {"mismatched_brackets.json", "extra[2]: malformed JSON", "}}"},
  {"double_comma.json", "malformed JSON", ", \"event_history\""},
  {"missing_value.json", "created_at: malformed JSON", "}"},
  {"raw_tab_in_string.json", "control character inside a string must be escaped", "\t10:00:00"},
  {"nul_in_string.json", "control character inside a string must be escaped", nullptr},
  {"nul_after_value.json", "unexpected content after the JSON value", nullptr},
  {"nul_before_value.json", "malformed JSON", nullptr},
  {"trailing_garbage.json", "unexpected content after the JSON value", "xyz"},
  {"two_objects.json", "unexpected content after the JSON value", "{\"session_id\": \"s-2\"}"},
  // truncated
  {"truncated_mid_string.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_number.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_object.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_after_key.json", "unexpected end of input: the JSON is truncated", "<end>"},
  {"truncated_mid_escape.json", "unexpected end of input: the JSON is truncated", "<end>"},
  // invalid UTF-8: the offset is the first bad byte
  {"invalid_utf8_value.json", "invalid UTF-8", "\xFF"},
  {"invalid_utf8_key.json", "invalid UTF-8", "\x80ion"},
  {"overlong_utf8.json", "invalid UTF-8", "\xC0\xAF"},
  {"utf8_encoded_surrogate.json", "invalid UTF-8", "\xED\xA0\x80"},
  {"utf8_above_max.json", "invalid UTF-8", "\xF4\x90\x80\x80"},
  {"utf8_truncated_sequence.json", "invalid UTF-8", "\xE2\x82\""},
  // numbers
  {"huge_integer_tokens.json", "session_time_steps[0].events[0].prompt_tokens: expected an integer in 64-bit range, found 123456789012345678901234567890", "123456789012345678901234567890"},
  {"uint64_overflow_tokens.json", "total_tokens: expected an integer in 64-bit range, found 18446744073709551616", "18446744073709551616"},
  {"huge_integer_in_state.json", "system_state_before.n: integer does not fit in 64 bits", "123456789012345678901234567890"},
  {"number_1e999_cost.json", "session_time_steps[0].events[0].cost: number out of range", "1e999"},
  {"number_1e999_in_metadata.json", "metadata.x: number out of range", "-1e999"},
  {"fractional_tokens.json", "prompt_tokens: expected an integer in 64-bit range, found 12.5", "12.5"},
  {"epoch_out_of_range.json", "time_record.event_time: epoch-seconds timestamp out of range", "1e300"},
  // wrong types for typed fields
  {"session_id_number.json", "session_id: expected a string, found the number 42", "42"},
  {"session_id_null.json", "session_id: expected a string, found null", "null"},
  {"timesteps_object.json", "session_time_steps: expected an array, found an object", "{\"step_id\""},
  {"readme_timesteps_string.json", "timesteps: expected an array, found a string", "\"none\""},
  {"events_string.json", "session_time_steps[0].events: expected an array, found a string", "\"oops\""},
  {"event_not_object.json", "event_history[0]: expected an object, found a string", "\"cais\""},
  {"prompt_tokens_string.json", "session_time_steps[0].events[0].prompt_tokens: expected an integer, found a string", "\"12\""},
  {"reward_string.json", "session_time_steps[0].events[0].reward: expected a number or null, found a string", "\"1.0\""},
  {"terminated_number.json", "session_time_steps[0].events[0].terminated: expected true, false or null, found the number 1", "1"},
  {"time_record_array.json", "session_time_steps[0].events[0].time_record: expected an object, found an array", "[\"2025"},
  {"event_time_garbage.json", "time_record.event_time: invalid timestamp \"yesterday at noon\"", "\"yesterday"},
  {"event_time_boolean.json", "time_record.event_time: expected a timestamp (ISO-8601 string, epoch seconds or null), found a boolean", "true"},
  {"message_time_string.json", "time_record.message_time: expected an integer, found a string", "\"0\""},
  {"unknown_event_type.json", "events[0].event_type: unknown event_type \"llm_call\"", "\"llm_call\""},
  {"event_type_number.json", "events[0].event_type: expected a string, found the number 3", "3"},
  {"mixed_kinds_declared.json", "session_time_steps[0].events[0]: an environment field in a runtime event", "1.0"},
  {"mixed_kinds_inferred.json", "session_time_steps[0].events[0]: an environment field in a cais event", "false"},
  {"event_metadata_list_object.json", "events[0].event_metadata: expected an array, found an object", "{\"hook\""},
  {"system_instance_id_number.json", "system_instance_id: expected a string or null, found the number 7", "7"},
  {"step_id_boolean.json", "session_time_steps[0].step_id: expected a string, found a boolean", "true"},
  {"step_index_fraction.json", "session_time_steps[0].step_index: expected an integer in 64-bit range, found 1.5", "1.5"},
  {"message_invalid_date.json", "message_history[0].timestamp: invalid timestamp \"2025-02-30T10:00:00\"", "\"2025-02-30"},
  {"message_history_object.json", "message_history: expected an array, found an object", "{\"content\""},
  {"session_metadata_entry_number.json", "session_metadata[0]: expected an object, found the number 5", "5"},
  {"metadata_type_null.json", "session_metadata[0].metadata_type: expected a string, found null", "null"},
  {"created_at_month_13.json", "created_at: invalid timestamp \"2025-13-01T00:00:00\"", "\"2025-13-01"},
  // nesting
  {"deeply_nested_arrays.json", "JSON nested deeper than 1024 levels", "["},
  {"deeply_nested_objects.json", "JSON nested deeper than 1024 levels", "{\"a\":"},
};
// clang-format on

// Escaped lone surrogates are valid JSON syntax but not Unicode: reading may either accept them
// (replacing them) or reject them, but must not crash. (simdjson 3.0.1 rejects them.)
const char* const kMayParse[] = {
    "lone_high_surrogate_escape.json",
    "lone_low_surrogate_escape.json",
    "reversed_surrogate_pair_escape.json",
};

// line and column must describe `offset` within `content`.
void expect_position_consistent(const TraceFormatError& e, std::string_view content, const std::string& context) {
  ASSERT_LE(e.offset(), content.size()) << context;
  std::uint64_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < e.offset(); ++i) {
    if (content[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  EXPECT_EQ(e.line(), line) << context;
  EXPECT_EQ(e.column(), e.offset() - line_start + 1) << context;
}

TEST(TraceJsonBadInput, CorpusRaisesTraceFormatError) {
  EXPECT_GE(std::size(kBadCases), 25u);
  for (const BadCase& c : kBadCases) {
    SCOPED_TRACE(c.file);
    const fs::path path = data_path(std::string("bad/") + c.file);
    ASSERT_TRUE(fs::exists(path)) << path;
    const std::string content = read_bytes(path);
    try {
      const SessionTrace t = SessionTrace::read_file(path);
      ADD_FAILURE() << c.file << " was accepted (session_id \"" << t.session_id << "\")";
    } catch (const TraceFormatError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(c.file), std::string::npos) << "what() does not name the file: " << what;
      EXPECT_EQ(e.source(), path.string());
      EXPECT_NE(e.problem().find(c.fragment), std::string::npos)
          << "problem: " << e.problem() << "\nexpected to contain: " << c.fragment;
      EXPECT_EQ(e.problem().find('\n'), std::string::npos) << "problem spans lines: " << e.problem();
      EXPECT_NE(what.find(e.problem()), std::string::npos);
      EXPECT_GE(e.line(), 1u);
      EXPECT_GE(e.column(), 1u);
      EXPECT_NE(what.find(":" + std::to_string(e.line()) + ":" + std::to_string(e.column())), std::string::npos)
          << what;
      expect_position_consistent(e, content, c.file);
      if (c.at != nullptr && e.offset() <= content.size()) {
        if (std::string_view(c.at) == "<end>") {
          EXPECT_EQ(e.offset(), content.size()) << "expected the error at the end of the file";
        } else {
          EXPECT_EQ(content.substr(e.offset(), std::strlen(c.at)), c.at)
              << "offset " << e.offset() << " points at: " << content.substr(e.offset(), 30);
        }
      }
    } catch (const std::exception& e) {
      ADD_FAILURE() << c.file << ": threw something other than TraceFormatError: " << e.what();
    }
  }
}

TEST(TraceJsonBadInput, LoneSurrogateEscapesDoNotCrash) {
  for (const char* file : kMayParse) {
    SCOPED_TRACE(file);
    const fs::path path = data_path(std::string("bad/") + file);
    ASSERT_TRUE(fs::exists(path));
    try {
      const SessionTrace t = SessionTrace::read_file(path);
      // Accepted: whatever was stored must still be writable as valid UTF-8 JSON.
      EXPECT_EQ(t.session_id.rfind("s-", 0), 0u);
      EXPECT_NO_THROW((void)nlohmann::json::parse(t.to_json()).dump());
    } catch (const TraceFormatError& e) {
      EXPECT_NE(e.problem().find("session_id"), std::string::npos) << e.problem();
      expect_position_consistent(e, read_bytes(path), file);
    }
  }
}

TEST(TraceJsonBadInput, EveryCorpusFileIsChecked) {
  std::set<std::string> known;
  for (const BadCase& c : kBadCases) EXPECT_TRUE(known.insert(c.file).second) << "listed twice: " << c.file;
  for (const char* f : kMayParse) known.insert(f);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(data_path("bad"))) {
    ++files;
    EXPECT_TRUE(known.count(entry.path().filename().string()) == 1)
        << entry.path().filename() << " is in tests/data/bad but not in the test table";
  }
  EXPECT_EQ(files, known.size()) << "a table entry has no file";
}

TEST(TraceJsonBadInput, MissingFileIsNamed) {
  const fs::path path = data_path("bad/no_such_trace_file.json");
  ASSERT_FALSE(fs::exists(path));
  try {
    (void)SessionTrace::read_file(path);
    FAIL() << "read_file of a missing file returned";
  } catch (const TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("no_such_trace_file.json"), std::string::npos) << e.what();
    EXPECT_EQ(e.source(), path.string());
    EXPECT_NE(e.problem().find("cannot open"), std::string::npos) << e.problem();
    EXPECT_EQ(e.line(), 0u);
  }
}

TEST(TraceJsonBadInput, DirectoryIsNotATrace) {
  const fs::path path = data_path("bad");
  try {
    (void)SessionTrace::read_file(path);
    FAIL() << "read_file of a directory returned";
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), path.string());
  }
}

TEST(TraceJsonBadInput, ErrorsFromStringsNameTheSource) {
  try {
    (void)SessionTrace::from_json(R"({"session_id": 1})", "upload.json");
    FAIL();
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), "upload.json");
    EXPECT_EQ(std::string(e.what()).rfind("upload.json:1:16 (byte 15): ", 0), 0u) << e.what();
  }
  try {
    (void)SessionTrace::from_json("{");
    FAIL();
  } catch (const TraceFormatError& e) {
    EXPECT_EQ(e.source(), "<string>");
  }
}

// A value nested inside a trace is rejected at the depth where writing it back would fail, so
// every trace that can be read can also be written.
TEST(TraceJsonBadInput, NestingLimitMatchesTheWriter) {
  const auto nested_state = [](int levels) {
    return R"({"session_id":"d","event_history":[{"system_state_before":)" + std::string(levels, '[') +
           std::string(levels, ']') + "}]}";
  };
  int deepest_read = 0;
  for (int levels = 1010; levels <= 1030; ++levels) {
    try {
      const SessionTrace t = SessionTrace::from_json(nested_state(levels));
      deepest_read = levels;
      EXPECT_NO_THROW((void)t.to_json()) << levels << " levels were read but cannot be written";
    } catch (const TraceFormatError& e) {
      EXPECT_NE(e.problem().find("nested deeper than 1024"), std::string::npos) << e.problem();
    }
  }
  EXPECT_GE(deepest_read, 1015);
  EXPECT_LT(deepest_read, 1030);

  // A bare value: the deepest one Value::dump writes (1024 levels) reads back.
  const std::string deepest = std::string(1024, '[') + std::string(1024, ']');
  Value v;
  ASSERT_NO_THROW(v = Value::parse(deepest));
  EXPECT_EQ(v.dump(), deepest);
  EXPECT_THROW((void)Value::parse("[" + deepest + "]"), TraceFormatError);
}

// Mutation fuzzing: from_json either returns or throws TraceFormatError.
std::string mutate(Rng& rng, std::string s) {
  static const std::string_view kSnippets[] = {
      "{", "}", "[", "]", "\"", ",", ":", "\\", "\\u", "\\ud800", "\\u0000", "null", "true", "-", "1e999",
      "123456789012345678901234567890", "0.5", "\"event_type\":\"runtime\",", "\"reward\":", "\x80", "\xC3",
      "\xF0\x9F", std::string_view("\0", 1), " ", "\n", "[[[[[[[[", "}}}}", "\"2025-02-30T00:00:00\"",
  };
  const int ops = 1 + static_cast<int>(rng.below(4));
  for (int k = 0; k < ops; ++k) {
    const std::size_t pos = s.empty() ? 0 : rng.below(s.size());
    switch (rng.below(8)) {
      case 0:  // flip a bit
        if (!s.empty()) s[pos] = static_cast<char>(s[pos] ^ (1 << rng.below(8)));
        break;
      case 1:  // random byte
        if (!s.empty()) s[pos] = static_cast<char>(rng.below(256));
        break;
      case 2:  // truncate
        s.resize(pos);
        break;
      case 3: {  // delete a range
        const std::size_t n = std::min<std::size_t>(rng.below(16) + 1, s.size() - std::min(pos, s.size()));
        s.erase(std::min(pos, s.size()), n);
        break;
      }
      case 4:
      case 5: {  // insert a snippet
        const auto& snippet = kSnippets[rng.below(std::size(kSnippets))];
        s.insert(std::min(pos, s.size()), snippet.data(), snippet.size());
        break;
      }
      case 6: {  // duplicate a range
        const std::size_t from = s.empty() ? 0 : rng.below(s.size());
        const std::size_t n = std::min<std::size_t>(rng.below(40), s.size() - from);
        const std::string piece = s.substr(from, n);
        s.insert(std::min(pos, s.size()), piece);
        break;
      }
      default: {  // swap two bytes
        if (s.size() > 1) std::swap(s[pos], s[rng.below(s.size())]);
        break;
      }
    }
  }
  return s;
}

TEST(TraceJsonBadInput, MutationFuzzNeverCrashes) {
  std::vector<std::string> corpus = {
      read_bytes(data_path("python/section_1e_example.json")),
      read_bytes(data_path("python/env_runtime_session.json")),
      read_bytes(data_path("python/abstractions_events.json")),
      read_bytes(data_path("readme_shape/with_histories.json")),
  };
  for (std::uint64_t i = 0; i < 6; ++i) {
    Rng rng(kBaseSeed + 777 + i);
    const SessionTrace t = synth_test::random_trace(rng, 3);
    corpus.push_back(t.to_json(JsonFormat{i % 2 == 0 ? -1 : 2}));
  }
  constexpr int kMutations = 5000;
  int parsed = 0;
  int rejected = 0;
  int failures = 0;
  for (int i = 0; i < kMutations && failures < 5; ++i) {
    const std::uint64_t seed = kBaseSeed + 100'000 + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const std::string& base = corpus[rng.below(corpus.size())];
    const std::string input = mutate(rng, base);
    try {
      const SessionTrace t = SessionTrace::from_json(input, "fuzz.json");
      ++parsed;
      // Whatever was accepted must be writable, and stable after one round trip.
      const std::string json = t.to_json();
      const SessionTrace again = SessionTrace::from_json(json);
      if (again.to_json() != json) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": accepted input is not stable after a round trip";
      }
    } catch (const TraceFormatError& e) {
      ++rejected;
      if (e.offset() > input.size() || e.line() < 1 || e.column() < 1 || e.source() != "fuzz.json") {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": bad error position: " << e.what() << " (input size "
                      << input.size() << ")";
      }
    } catch (const std::exception& e) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": unexpected exception: " << e.what();
    } catch (...) {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": unexpected non-std exception";
    }
  }
  // Both outcomes must actually occur, or the mutations are not doing their job.
  EXPECT_GT(parsed, 50);
  EXPECT_GT(rejected, 1000);
  RecordProperty("parsed", parsed);
  RecordProperty("rejected", rejected);
}

// Compact text with a `,"message_history":[` is read in parts (the text before it indexed alone,
// the rest checked against the timesteps or read as an object of its own); a space after that
// comma (the same JSON) makes it read whole. Both readings must agree on every input: the same
// trace, or the same error at the same place (one byte further on after the space).
TEST(TraceJsonBadInput, ReadingInPartsMatchesReadingWhole) {
  std::vector<std::string> corpus;
  for (std::uint64_t i = 0; i < 12; ++i) {
    Rng rng(kBaseSeed + 4242 + i);
    SessionTrace t = synth_test::random_trace(rng, 4);
    if (i % 2 == 0) {  // histories that repeat the timesteps exactly
      t.event_history.clear();
      t.message_history.clear();
      for (const auto& step : t.session_time_steps) {
        t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
        t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
      }
    }
    corpus.push_back(t.to_json());
  }
  const std::string needle = ",\"message_history\":[";
  int compared = 0, both_read = 0, both_rejected = 0, failures = 0;
  for (int i = 0; i < 4000 && failures < 5; ++i) {
    const std::uint64_t seed = kBaseSeed + 300'000 + static_cast<std::uint64_t>(i);
    Rng rng(seed);
    const std::string& base = corpus[rng.below(corpus.size())];
    std::string input = i % 4 == 0 ? base : mutate(rng, base);
    if (const std::size_t tail = base.find(needle); i % 4 == 1 && tail != std::string::npos) {
      // A change in the part that is compared rather than indexed, or text after the end.
      input = base;
      const std::size_t pos = tail + 1 + rng.below(input.size() - tail - 1);
      const char bytes[] = {' ', ',', ']', '}', '{', '"', '\\', 'x', '0', '\xff', '\n', '\0'};
      switch (rng.below(4)) {
        case 0:
          input[pos] = bytes[rng.below(sizeof bytes)];
          break;
        case 1:
          input.insert(pos, 1, bytes[rng.below(sizeof bytes)]);
          break;
        case 2:
          input.erase(pos, 1);
          break;
        default:
          input.push_back(bytes[rng.below(sizeof bytes)]);
      }
    }
    const std::size_t at = input.find(needle);
    if (at == std::string::npos) continue;
    std::string whole = input;
    whole.insert(at + 1, " ");
    ++compared;
    std::optional<SessionTrace> a, b;
    std::optional<TraceFormatError> ea, eb;
    try {
      a = SessionTrace::from_json(input, "t.json");
    } catch (const TraceFormatError& e) {
      ea = e;
    }
    try {
      b = SessionTrace::from_json(whole, "t.json");
    } catch (const TraceFormatError& e) {
      eb = e;
    }
    if (a && b) {
      ++both_read;
      if (!(*a == *b) || a->to_json() != b->to_json()) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": the two readings give different traces";
      }
    } else if (ea && eb) {
      ++both_rejected;
      const std::uint64_t expected = ea->offset() > at ? ea->offset() + 1 : ea->offset();
      if (ea->problem() != eb->problem() || expected != eb->offset() || ea->line() != eb->line()) {
        ++failures;
        ADD_FAILURE() << "seed " << seed << ": different errors: " << ea->what() << " | " << eb->what();
      }
    } else {
      ++failures;
      ADD_FAILURE() << "seed " << seed << ": one reading failed: " << (ea ? ea->what() : eb->what());
    }
  }
  EXPECT_GT(both_read, 200);
  EXPECT_GT(both_rejected, 500);
  RecordProperty("compared", compared);
}

}  // namespace

// metadata is usually an object, but any JSON value an older writer left there is kept.
namespace {
// Not drawn by the random generator: a new draw would change every seed's trace.
TEST(TraceJson, CacheWriteTokensRoundTrip) {
  for (const std::optional<std::int64_t> tokens :
       {std::optional<std::int64_t>(), std::optional<std::int64_t>(0), std::optional<std::int64_t>(3000),
        std::optional<std::int64_t>(std::numeric_limits<std::int64_t>::max())}) {
    SessionTrace trace;
    trace.session_id = "cache-write";
    trace.event_history.push_back(CAISEvent{.prompt_tokens = 5050, .cached_tokens = 2000, .cache_write_tokens = tokens});
    const std::string text = trace.to_json();
    EXPECT_NE(text.find("\"cache_write_tokens\":" + (tokens ? std::to_string(*tokens) : std::string("null"))),
              std::string::npos)
        << text;
    const auto back = SessionTrace::from_json(text);
    EXPECT_EQ(std::get<CAISEvent>(back.event_history.at(0)).cache_write_tokens, tokens);
    EXPECT_EQ(back, trace);
  }
}

TEST(TraceJson, NonObjectMetadataIsKept) {
  const auto event_file = data_path("non_object_metadata_event.json");
  const auto step_file = data_path("non_object_metadata_step.json");
  const SessionTrace a = SessionTrace::read_file(event_file);
  EXPECT_EQ(synth::tracing::metadata(a.session_time_steps.at(0).events.at(0)).as_string(), "provider=openai");
  EXPECT_EQ(SessionTrace::from_json(a.to_json()), a);
  const SessionTrace b = SessionTrace::read_file(step_file);
  EXPECT_EQ(b.session_time_steps.at(0).step_metadata, Value::array({"a"}));
  EXPECT_EQ(SessionTrace::from_json(b.to_json()), b);
}

// Null metadata is written as {} and reads back as an empty object.
TEST(TraceJson, NullMetadataIsWrittenAsEmptyObject) {
  SessionTrace t;
  t.session_id = "m";
  t.event_history.push_back(CAISEvent{.metadata = nullptr});
  const std::string json = t.to_json();
  EXPECT_NE(json.find("\"metadata\":{}"), std::string::npos) << json;
  EXPECT_TRUE(synth::tracing::metadata(SessionTrace::from_json(json).event_history.at(0)).is_object());
}
}  // namespace
