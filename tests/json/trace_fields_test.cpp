// Every field of every item survives a JSON round trip, exactly: the reader's fast paths (keys
// read in place, items built in their vector, history items copied from the timesteps' when
// their text repeats) must not lose or change a field. "Exactly" is checked twice: the model's
// == (every field), and the text written again from what was read, which also tells number
// kinds (1 and 1.0), member order and -0.0 apart where == does not.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <variant>

#include "synth/tracing.hpp"

namespace {

namespace st = synth::tracing;
using st::JsonFormat;
using st::SessionTrace;
using st::Value;

st::Timestamp at(std::int64_t seconds, std::int64_t nanos = 0) {
  return st::Timestamp(std::chrono::seconds(1735725600 + seconds) + std::chrono::nanoseconds(nanos));
}

// Strings that need every kind of care: escapes, control characters, a NUL, multi-byte UTF-8
// (2, 3 and 4 bytes), a key-like text with quotes.
const std::string kTricky = std::string("quote \" backslash \\ slash / tab \t newline \n cr \r ") + '\0' +
                            " \x01\x1f del \x7f é ü 中文 😀 \"event_type\":\"runtime\"";

// Numbers at the limits of each kind.
Value limits() {
  Value::Array numbers{Value(std::numeric_limits<std::int64_t>::min()),
                       Value(std::numeric_limits<std::int64_t>::max()),
                       Value(std::numeric_limits<std::uint64_t>::max()),
                       Value(std::uint64_t{1} << 63),
                       Value(std::numeric_limits<double>::max()),
                       Value(std::numeric_limits<double>::lowest()),
                       Value(std::numeric_limits<double>::min()),
                       Value(std::numeric_limits<double>::denorm_min()),
                       Value(-0.0),
                       Value(0.0),
                       Value(1.0),
                       Value(0.1),
                       Value(1e21),
                       Value(-1e-7),
                       Value(std::int64_t{0}),
                       Value(-1)};
  return Value(std::move(numbers));
}

// Nested metadata: objects in arrays in objects, empty containers, nulls, booleans.
Value nested(int depth) {
  Value v = {{"tricky", kTricky}, {"null", nullptr}, {"yes", true}, {"no", false}, {"empty_object", Value::object()},
             {"empty_array", Value::array()}, {"limits", limits()}};
  for (int i = 0; i < depth; ++i) v = {{"level", i}, {"inner", v}, {"list", Value::array({v, nullptr, "x"})}};
  return v;
}

st::CAISEvent full_cais(int i) {
  return st::CAISEvent{.time_record = st::TimeRecord{at(i, 123456789), std::numeric_limits<std::int64_t>::max()},
                       .system_instance_id = "agent " + kTricky,
                       .system_state_before = nested(2),
                       .system_state_after = {{"action", kTricky}},
                       .llm_call_records = {nested(1), Value(), Value("text"), Value(1.5)},
                       .span_id = "00f067aa0ba902b7",
                       .trace_id = "4bf92f3577b34da6a3ce929d0e0e4736",
                       .model_name = "gpt-4o-mini " + kTricky,
                       .provider = "openai",
                       .prompt_tokens = std::numeric_limits<std::int64_t>::max(),
                       .completion_tokens = std::numeric_limits<std::int64_t>::min(),
                       .total_tokens = 0,
                       .cached_tokens = 7,
                       .cache_write_tokens = 8,
                       .reasoning_tokens = 9,
                       .cost = std::numeric_limits<double>::denorm_min(),
                       .latency_ms = -0.0,
                       .metadata = nested(1),
                       .event_metadata = {Value::object(), nested(0), Value(nullptr)}};
}

st::EnvironmentEvent full_environment(int i) {
  return st::EnvironmentEvent{.time_record = st::TimeRecord{at(i), -5},
                              .system_instance_id = "env é",
                              .system_state_before = limits(),
                              .system_state_after = Value(kTricky),
                              .reward = std::numeric_limits<double>::lowest(),
                              .terminated = false,
                              .truncated = true,
                              .observation_diff = nested(1),
                              .metadata = {{"k", kTricky}},
                              .event_metadata = {Value(true)}};
}

st::RuntimeEvent full_runtime(int i) {
  return st::RuntimeEvent{.time_record = st::TimeRecord{at(i), i},
                          .system_instance_id = "tools",
                          .system_state_before = Value(std::numeric_limits<std::uint64_t>::max()),
                          .system_state_after = Value(-0.0),
                          .actions = Value::array({"move_north", kTricky, nullptr, limits()}),
                          .metadata = Value::object(),  // (null is written as {}: TraceJson.NullMetadata...)
                          .event_metadata = {}};
}

// The same kinds with every optional field absent (null in JSON) and defaults elsewhere.
st::CAISEvent empty_cais() { return st::CAISEvent{}; }
st::EnvironmentEvent empty_environment() { return st::EnvironmentEvent{}; }
st::RuntimeEvent empty_runtime() { return st::RuntimeEvent{}; }

SessionTrace full_trace(int steps) {
  SessionTrace t;
  t.session_id = "fields " + kTricky;
  t.created_at = at(0, 1);
  t.session_metadata.push_back({"session_start", nested(2), at(0)});
  t.session_metadata.push_back({"custom " + kTricky, limits(), st::Timestamp{}});
  for (int i = 0; i < steps; ++i) {
    st::SessionTimeStep step;
    step.step_id = "step " + kTricky + std::to_string(i);
    step.step_index = i;
    step.turn_number = 1000 + i;
    step.timestamp = i % 2 ? at(i) : st::Timestamp{};
    step.step_metadata = i % 2 ? nested(1) : Value::object();
    step.events = {full_cais(i), full_environment(i), full_runtime(i), empty_cais(), empty_environment(),
                   empty_runtime()};
    step.step_messages.push_back(st::make_message("agent", nested(1), "action", i));
    step.step_messages.push_back(st::SessionEventMessage{
        .content = Value(kTricky), .message_type = kTricky, .timestamp = at(i, 999), .time_record = std::nullopt});
    step.step_messages.push_back(st::SessionEventMessage{});
    for (const auto& e : step.events) t.event_history.push_back(e);
    for (const auto& m : step.step_messages) t.message_history.push_back(m);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

void expect_exact(const SessionTrace& t) {
  for (const int indent : {-1, 2}) {
    SCOPED_TRACE("indent " + std::to_string(indent));
    const std::string json = t.to_json(JsonFormat{indent});
    const SessionTrace back = SessionTrace::from_json(json);
    EXPECT_EQ(back, t);
    EXPECT_EQ(back.to_json(JsonFormat{indent}), json);
    ASSERT_EQ(back.session_time_steps.size(), t.session_time_steps.size());
    for (std::size_t i = 0; i < t.session_time_steps.size(); ++i) {
      EXPECT_EQ(back.session_time_steps[i], t.session_time_steps[i]) << "timestep " << i;
    }
    ASSERT_EQ(back.event_history.size(), t.event_history.size());
    for (std::size_t i = 0; i < t.event_history.size(); ++i) {
      EXPECT_EQ(back.event_history[i], t.event_history[i]) << "event " << i;
    }
    ASSERT_EQ(back.message_history.size(), t.message_history.size());
    for (std::size_t i = 0; i < t.message_history.size(); ++i) {
      EXPECT_EQ(back.message_history[i], t.message_history[i]) << "message " << i;
    }
    EXPECT_EQ(back.session_metadata, t.session_metadata);
    // Read a second time: the reader's per-thread workspace and remembered timestamps are reused.
    EXPECT_EQ(SessionTrace::from_json(json), back);
  }
}

TEST(TraceFields, EveryFieldOfEveryKindRoundTripsExactly) { expect_exact(full_trace(3)); }

TEST(TraceFields, AbsentOptionalFieldsStayAbsent) {
  SessionTrace t;
  t.session_id = "empty";
  st::SessionTimeStep step;
  step.events = {empty_cais(), empty_environment(), empty_runtime()};
  step.step_messages.push_back(st::SessionEventMessage{});
  t.event_history = step.events;
  t.message_history = step.step_messages;
  t.session_time_steps.push_back(step);
  expect_exact(t);
  const SessionTrace back = SessionTrace::from_json(t.to_json());
  const auto& cais = std::get<st::CAISEvent>(back.event_history.at(0));
  EXPECT_FALSE(cais.time_record.has_value());
  EXPECT_FALSE(cais.model_name.has_value());
  EXPECT_FALSE(cais.prompt_tokens.has_value());
  EXPECT_FALSE(cais.cost.has_value());
  const auto& env = std::get<st::EnvironmentEvent>(back.event_history.at(1));
  EXPECT_FALSE(env.reward.has_value());
  EXPECT_FALSE(env.terminated.has_value());
  EXPECT_TRUE(env.observation_diff.is_null());
  EXPECT_TRUE(std::get<st::RuntimeEvent>(back.event_history.at(2)).actions.is_null());
}

// A history item whose text differs from the timesteps' item in one field only is read, not
// copied: the history keeps its own value, the timestep its own.
TEST(TraceFields, AHistoryItemDifferingInOneFieldKeepsItsOwnValue) {
  SessionTrace t = full_trace(2);
  auto& h = std::get<st::CAISEvent>(t.event_history.at(6));
  h.prompt_tokens = 41;
  std::get<st::EnvironmentEvent>(t.event_history.at(1)).reward = 0.25;
  t.message_history.at(3).message_type = "changed";
  expect_exact(t);
  const SessionTrace back = SessionTrace::from_json(t.to_json());
  EXPECT_EQ(std::get<st::CAISEvent>(back.event_history.at(6)).prompt_tokens, 41);
  EXPECT_EQ(std::get<st::CAISEvent>(back.session_time_steps.at(1).events.at(0)).prompt_tokens,
            std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(std::get<st::EnvironmentEvent>(back.event_history.at(1)).reward, 0.25);
  EXPECT_EQ(back.message_history.at(3).message_type, "changed");
  EXPECT_EQ(back.session_time_steps.at(1).step_messages.at(0).message_type, "action");
}

// Number kinds are text, not only values: 1 and 1.0 compare equal, but must not be swapped.
TEST(TraceFields, NumberKindsSurviveInTimestepsAndHistories) {
  SessionTrace t;
  t.session_id = "numbers";
  st::SessionTimeStep step;
  step.events.push_back(st::RuntimeEvent{.metadata = {{"int", 1}, {"double", 1.0}, {"neg_zero", -0.0}}});
  t.event_history = step.events;
  t.session_time_steps.push_back(step);
  const SessionTrace back = SessionTrace::from_json(t.to_json());
  for (const st::Event* e : {&back.event_history.at(0), &back.session_time_steps.at(0).events.at(0)}) {
    const Value& m = st::metadata(*e);
    EXPECT_EQ(m["int"].kind(), Value::Kind::integer);
    EXPECT_EQ(m["double"].kind(), Value::Kind::floating);
    EXPECT_TRUE(std::signbit(m["neg_zero"].as_double()));
  }
}

// Keys written with escapes (other writers may) read as their unescaped text: the reader takes
// keys in place only when they have no escape.
TEST(TraceFields, EscapedKeysReadAsTheirText) {
  const std::string json = R"({"session_\u0069d":"s","session_time_steps":[{"step_id":"a","events":[)"
                           R"({"event_\u0074ype":"runtime","act\u0069ons":["x"],"metadata":{"k\u00e9y":1,"q\"k":2}}]}]})";
  const SessionTrace t = SessionTrace::from_json(json);
  EXPECT_EQ(t.session_id, "s");
  ASSERT_EQ(t.event_history.size(), 1u);
  const auto* e = std::get_if<st::RuntimeEvent>(&t.event_history[0]);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->actions, Value::array({"x"}));
  EXPECT_EQ(e->metadata["k\xc3\xa9y"], Value(1));
  EXPECT_EQ(e->metadata["q\"k"], Value(2));
}

// The original's class names and other spellings of event_type still read.
TEST(TraceFields, EventTypeSpellings) {
  for (const auto& [name, index] : std::initializer_list<std::pair<std::string, std::size_t>>{
           {"cais", 0}, {"LMCAISEvent", 0}, {"CAISEvent", 0}, {"environment", 1}, {"EnvironmentEvent", 1},
           {"env", 1}, {"runtime", 2}, {"RuntimeEvent", 2}}) {
    SCOPED_TRACE(name);
    const SessionTrace t = SessionTrace::from_json(R"({"session_id":"s","event_history":[{"event_type":")" + name +
                                                   R"("}]})");
    ASSERT_EQ(t.event_history.size(), 1u);
    EXPECT_EQ(t.event_history[0].index(), index);
  }
}

// Errors still name the item and what is wrong.
TEST(TraceFields, ErrorsNameTheItemAndTheProblem) {
  const auto message = [](const std::string& json) {
    try {
      (void)SessionTrace::from_json(json, "trace.json");
    } catch (const st::TraceFormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  std::string m = message(R"({"session_id":"s","session_time_steps":[{"events":[{},{"event_type":"bogus"}]}]})");
  EXPECT_NE(m.find("trace.json"), std::string::npos) << m;
  EXPECT_NE(m.find("session_time_steps[0].events[1].event_type"), std::string::npos) << m;
  EXPECT_NE(m.find("unknown event_type \"bogus\""), std::string::npos) << m;
  m = message(R"({"session_id":"s","event_history":[{"event_type":"cais","reward":1}]})");
  EXPECT_NE(m.find("event_history[0]"), std::string::npos) << m;
  EXPECT_NE(m.find("an environment field in a cais event"), std::string::npos) << m;
  m = message(R"({"session_id":"s","message_history":[{"message_type":5}]})");
  EXPECT_NE(m.find("message_history[0].message_type: expected a string or null, found the number 5"),
            std::string::npos)
      << m;
  m = message(R"({"session_id":"s","event_history":[{"event_type":"cais","prompt_tokens":"many"}]})");
  EXPECT_NE(m.find("event_history[0].prompt_tokens: expected an integer"), std::string::npos) << m;
}

}  // namespace

namespace {

// Timestamps of one minute are read by shifting the last one (only the seconds differ): every
// fraction length, none, and the minute's last second read as parse_timestamp reads them.
TEST(TraceFields, TimestampsWithinOneMinuteReadExactly) {
  const std::vector<std::string> texts = {"2025-01-01T10:00:01.5Z",       "2025-01-01T10:00:02.123Z",
                                          "2025-01-01T10:00:03Z",         "2025-01-01T10:00:59.999999999Z",
                                          "2025-01-01T10:00:00.000001Z",  "2025-01-01T10:00:07.1234567891Z",
                                          "2025-01-01T10:00:08.25+01:00", "2025-01-01T10:00:09.25z",
                                          "2025-01-01T10:00:10.000000Z",  "1969-12-31T23:59:59.5Z",
                                          "1969-12-31T23:59:58.25Z"};
  std::string json = R"({"session_id":"s","message_history":[)";
  for (std::size_t i = 0; i < texts.size(); ++i) {
    json += (i ? "," : "") + std::string(R"({"message_type":"m","timestamp":")") + texts[i] + "\"}";
  }
  json += "]}";
  const SessionTrace t = SessionTrace::from_json(json);
  ASSERT_EQ(t.message_history.size(), texts.size());
  for (std::size_t i = 0; i < texts.size(); ++i) {
    SCOPED_TRACE(texts[i]);
    EXPECT_EQ(t.message_history[i].timestamp, st::parse_timestamp(texts[i]).value());
  }
}

}  // namespace

namespace {

// The text of `t` written compact, with `edit` applied to it.
template <class Edit>
std::string edited(const SessionTrace& t, Edit edit) {
  std::string json = t.to_json();
  edit(json);
  return json;
}

// Reading a compact file indexes the text before the histories and compares the rest with the
// timesteps' items; when the rest is anything else it is read as an object of its own. Each
// shape reads as the whole text always read: compared with the same text indented (read whole).
TEST(TraceFields, HistoriesOfTheirOwnReadAsTheWholeText) {
  SessionTrace t = full_trace(3);
  // History items in another order than the timesteps', a history-only item, one missing.
  std::swap(t.event_history.at(0), t.event_history.at(7));
  t.event_history.push_back(st::RuntimeEvent{.system_instance_id = "history only"});
  t.message_history.pop_back();
  expect_exact(t);

  // Members after the histories (another writer's order): kept as the whole text keeps them.
  const std::string json = edited(t, [](std::string& j) {
    j.insert(j.size() - 1, R"(,"extra_member":{"k":[1,2.5,"x"]},"session_id":"renamed")");
  });
  const SessionTrace back = SessionTrace::from_json(json);
  EXPECT_EQ(back.session_id, "renamed");
  EXPECT_EQ(back.event_history, t.event_history);
  EXPECT_EQ(back.message_history, t.message_history);
  ASSERT_FALSE(back.session_metadata.empty());
  EXPECT_EQ(back.session_metadata.back().metadata_type, "extra_member");
  EXPECT_EQ(back.session_metadata.back().data, Value({{"k", Value::array({1, 2.5, "x"})}}));
  // Indented text is never split: read whole, it gives the same histories.
  const SessionTrace whole = SessionTrace::from_json(t.to_json(JsonFormat{2}));
  EXPECT_EQ(whole.event_history, back.event_history);
}

// Problems after the histories' start are reported exactly as reading the whole text reports
// them: the same message, offset, line and column.
TEST(TraceFields, ErrorsAfterTheHistoriesAreThoseOfTheWholeText) {
  const SessionTrace t = full_trace(2);
  const std::string good = t.to_json();
  const std::size_t history = good.find(",\"message_history\":[");
  ASSERT_NE(history, std::string::npos);
  const auto error_of = [](const std::string& json) {
    try {
      (void)SessionTrace::from_json(json, "t.json");
    } catch (const st::TraceFormatError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  struct Case {
    const char* name;
    std::string json;
    const char* expected;  // a part of the message
  };
  std::vector<Case> cases;
  cases.push_back({"truncated", good.substr(0, good.size() - 40), "truncated"});
  cases.push_back({"trailing", good + "x", "after the JSON value"});
  std::string bad_utf8 = good;
  bad_utf8.insert(good.size() - 2, "\xff");
  cases.push_back({"invalid UTF-8 in created_at", bad_utf8, "UTF-8"});
  std::string bad_item = good;
  bad_item.replace(bad_item.find("\"event_type\":\"cais\"", history), 19, "\"event_type\":\"what\"");
  cases.push_back({"bad event_type in the history", bad_item, "event_history[0].event_type: unknown event_type"});
  std::string bad_created = good;
  bad_created.replace(bad_created.rfind("\"created_at\":\""), 14, "\"created_at\":\"x");
  cases.push_back({"bad created_at", bad_created, "created_at: invalid timestamp"});
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const std::string message = error_of(c.json);
    EXPECT_NE(message.find(c.expected), std::string::npos) << message;
    EXPECT_NE(message.find("t.json"), std::string::npos) << message;
  }
  // Offsets count from the start of the whole text.
  const auto offset_of = [](const std::string& json) -> std::uint64_t {
    try {
      (void)SessionTrace::from_json(json);
    } catch (const st::TraceFormatError& e) {
      return e.offset();
    }
    return 0;
  };
  EXPECT_EQ(offset_of(good + "x"), good.size());
  EXPECT_EQ(offset_of(bad_item), bad_item.find("\"what\"", history));
  EXPECT_EQ(offset_of(bad_utf8), good.size() - 2);
}

// A report (a key that could not be kept) is said once, also when the text is read in parts and
// then again whole.
TEST(TraceFields, ReportsAreNotRepeatedByASecondReading) {
  std::vector<std::string> reports;
  st::set_diagnostic_handler([&](std::string_view m) { reports.emplace_back(m); });
  SessionTrace t = full_trace(1);
  std::string json = t.to_json();
  // A message whose extra key is also inside its content: reported, not kept.
  const std::string message = R"({"content":{"origin_system_id":"a"},"origin_system_id":"b","message_type":"m"})";
  json.insert(json.find("\"step_messages\":[") + 17, message + ",");
  // Then a problem after the histories: the parts are dropped and the whole text read (and
  // rejected).
  std::string broken = json;
  broken.insert(broken.size() - 1, ",\"created_at\":5e999");
  EXPECT_THROW((void)SessionTrace::from_json(broken), st::TraceFormatError);
  EXPECT_EQ(reports.size(), 1u);
  reports.clear();
  (void)SessionTrace::from_json(json);
  EXPECT_EQ(reports.size(), 1u);
  st::set_diagnostic_handler(nullptr);
}

}  // namespace
