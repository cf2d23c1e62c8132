// SessionTrace <-> JSON: randomized lossless round trips (the generator covering every feature,
// non-finite doubles, invalid UTF-8, timestamp precision) and metadata of any shape. Traces of
// the Python original and the README shape are in trace_json_shapes_test.cpp, bad input in
// trace_json_bad_input_test.cpp.
#include "json/trace_json_support.hpp"

namespace {

using namespace trace_json_support;

// ------------------------------------------------------------------------------------------
// 1. Randomized lossless round trip
// ------------------------------------------------------------------------------------------

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

// metadata is usually an object, but any JSON value an older writer left there is kept.
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
