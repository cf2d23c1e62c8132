// The histories (event_history, message_history) repeat the timesteps' items. Writing copies the
// text of a repeated item and reading copies the item of a repeated text; these tests check that
// both give exactly what writing and reading every item on its own gives, also when the
// histories differ from the timesteps.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <functional>
#include <fstream>
#include <sstream>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace {

namespace st = synth::tracing;
using st::JsonFormat;
using st::SessionTrace;

st::Timestamp at(std::int64_t seconds) { return st::Timestamp(std::chrono::seconds(1735725600 + seconds)); }

SessionTrace make_trace(int steps) {
  SessionTrace t;
  t.session_id = "history-test";
  t.created_at = at(0);
  for (int i = 0; i < steps; ++i) {
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(i);
    step.step_index = i;
    step.turn_number = i;
    step.timestamp = at(i);
    const st::TimeRecord tr{at(i), i};
    step.events.push_back(st::CAISEvent{.time_record = tr,
                                        .system_instance_id = "agent",
                                        .system_state_before = {{"prompt", "Exits: north, east."}},
                                        .model_name = "gpt-4o-mini",
                                        .prompt_tokens = 812,
                                        .cost = 0.000144,
                                        .metadata = {{"attempt", i}}});
    step.events.push_back(st::EnvironmentEvent{
        .time_record = tr, .system_instance_id = "env", .reward = 0.5 * i, .observation_diff = {{"room", i}}});
    step.step_messages.push_back(st::make_message("agent", {{"action", "move_north"}}, "action", i));
    for (const auto& e : step.events) t.event_history.push_back(e);
    for (const auto& m : step.step_messages) t.message_history.push_back(m);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

// Indented text is never copied (its indentation depends on the depth): every item written on
// its own. Equal indented text means equal down to number kinds, member order and -0.0.
std::string reference_text(const SessionTrace& t) { return t.to_json(JsonFormat{2}); }

void expect_exact_round_trip(const SessionTrace& t) {
  for (const int indent : {-1, 2}) {
    SCOPED_TRACE("indent " + std::to_string(indent));
    const SessionTrace back = SessionTrace::from_json(t.to_json(JsonFormat{indent}));
    EXPECT_EQ(back, t);
    EXPECT_EQ(reference_text(back), reference_text(t));
  }
}

TEST(TraceHistory, RepeatingHistoriesRoundTrip) { expect_exact_round_trip(make_trace(4)); }

TEST(TraceHistory, HistoriesThatDifferFromTheTimestepsReadBackExactly) {
  SessionTrace t = make_trace(4);
  std::get<st::EnvironmentEvent>(t.event_history[1]).reward = 9.0;  // changed
  std::swap(t.event_history[2], t.event_history[3]);                 // reordered
  t.event_history.erase(t.event_history.begin() + 4);                // one left out: the rest shift
  t.event_history.push_back(st::RuntimeEvent{.system_instance_id = "tools", .actions = {"look"}});  // history only
  t.message_history[0].message_type = "observation";
  t.message_history.insert(t.message_history.begin() + 1, st::make_message("env", "a door", "observation", 7));
  expect_exact_round_trip(t);
}

// Items equal under == but written differently: the history keeps its own text.
TEST(TraceHistory, ItemsEqualButWrittenDifferentlyKeepTheirText) {
  SessionTrace t = make_trace(2);
  auto& cais = std::get<st::CAISEvent>(t.event_history[0]);
  cais.cost = -0.0;
  std::get<st::CAISEvent>(t.session_time_steps[0].events[0]).cost = 0.0;
  cais.metadata = {{"attempt", 0.0}};  // a double where the timestep has the integer 0
  auto& env = std::get<st::EnvironmentEvent>(t.event_history[1]);
  env.observation_diff = {{"room", 0}, {"door", true}};
  std::get<st::EnvironmentEvent>(t.session_time_steps[0].events[1]).observation_diff = {{"door", true}, {"room", 0}};
  t.message_history[1].content = {{"payload", {{"action", "move_north"}}}, {"origin_system_id", "agent"}};
  ASSERT_EQ(t.event_history[0], t.session_time_steps[0].events[0]);  // == is looser than the text
  ASSERT_EQ(t.event_history[1], t.session_time_steps[0].events[1]);

  const SessionTrace back = SessionTrace::from_json(t.to_json());
  EXPECT_EQ(reference_text(back), reference_text(t));
  const auto& read = std::get<st::CAISEvent>(back.event_history[0]);
  ASSERT_TRUE(read.cost.has_value());
  EXPECT_TRUE(std::signbit(*read.cost));
  EXPECT_EQ(read.metadata.find("attempt")->kind(), st::Value::Kind::floating);
  EXPECT_EQ(std::get<st::EnvironmentEvent>(back.event_history[1]).observation_diff.as_object().front().first, "room");
}

// The compact text of a trace's histories, from the first history's key to created_at.
std::string history_text(const SessionTrace& t) {
  const std::string json = t.to_json();
  const std::size_t begin = json.find(",\"message_history\":");
  const std::size_t end = json.rfind(",\"created_at\":");
  return json.substr(begin, end - begin);
}

// A history item that differs from its timestep's item in any one member, == looser than the
// text included (-0.0, 1 against 1.0, member order), is written as itself: the histories' text
// is that of the same histories in a trace without timesteps (every item written, none copied).
template <class Item>
void expect_each_change_written(const Item& item, const std::vector<std::function<void(Item&)>>& changes) {
  for (std::size_t i = 0; i < changes.size(); ++i) {
    SCOPED_TRACE("change " + std::to_string(i));
    SessionTrace t;
    t.session_id = "s";
    st::SessionTimeStep step;
    Item changed = item;
    changes[i](changed);
    if constexpr (std::is_same_v<Item, st::SessionEventMessage>) {
      step.step_messages = {item, item};
      t.message_history = {changed, item};
    } else {
      step.events = {st::Event(item), st::Event(item)};
      t.event_history = {st::Event(changed), st::Event(item)};
    }
    t.session_time_steps = {step};
    SessionTrace histories_only = t;
    histories_only.session_time_steps.clear();
    EXPECT_EQ(history_text(t), history_text(histories_only));
    SessionTrace unchanged = t;  // the change must show in the text, or the test proves nothing
    if constexpr (std::is_same_v<Item, st::SessionEventMessage>) {
      unchanged.message_history[0] = item;
    } else {
      unchanged.event_history[0] = item;
    }
    EXPECT_NE(history_text(t), history_text(unchanged));
  }
}

TEST(TraceHistory, EachMemberThatDiffersIsWrittenNotCopied) {
  const st::TimeRecord tr{at(1), 4};
  const st::CAISEvent cais{.time_record = tr,
                           .system_instance_id = "agent",
                           .system_state_before = {{"prompt", "p"}, {"n", 1}},
                           .system_state_after = {{"action", "a"}},
                           .llm_call_records = {st::Value{{"id", 1}}},
                           .span_id = "s1",
                           .trace_id = "t1",
                           .model_name = "m",
                           .provider = "p",
                           .prompt_tokens = 1,
                           .completion_tokens = 2,
                           .total_tokens = 3,
                           .cached_tokens = 4,
                           .cache_write_tokens = 5,
                           .reasoning_tokens = 6,
                           .cost = 0.0,
                           .latency_ms = 1.5,
                           .metadata = {{"attempt", 1}},
                           .event_metadata = {st::Value{{"hook", 1}}}};
  expect_each_change_written<st::CAISEvent>(
      cais, {[](auto& e) { e.time_record->message_time = 5; }, [](auto& e) { e.time_record.reset(); },
             [](auto& e) { e.system_instance_id = "other"; },
             [](auto& e) { e.system_state_before = {{"n", 1}, {"prompt", "p"}}; },
             [](auto& e) { e.system_state_after = {{"action", "b"}}; },
             [](auto& e) { e.llm_call_records = {st::Value{{"id", 1.0}}}; }, [](auto& e) { e.span_id.reset(); },
             [](auto& e) { e.trace_id = "t2"; }, [](auto& e) { e.model_name = "n"; }, [](auto& e) { e.provider = "q"; },
             [](auto& e) { e.prompt_tokens = 7; }, [](auto& e) { e.completion_tokens.reset(); },
             [](auto& e) { e.total_tokens = 8; }, [](auto& e) { e.cached_tokens = 9; },
             [](auto& e) { e.cache_write_tokens = 10; }, [](auto& e) { e.reasoning_tokens = 11; },
             [](auto& e) { e.cost = -0.0; }, [](auto& e) { e.latency_ms = 2.5; },
             [](auto& e) { e.metadata = {{"attempt", 1.0}}; },
             [](auto& e) { e.event_metadata = {st::Value{{"hook", -0.0}}}; }});
  const st::EnvironmentEvent env{.time_record = tr,
                                 .system_instance_id = "env",
                                 .system_state_before = {{"x", 0.0}},
                                 .system_state_after = {{"x", 1}},
                                 .reward = 0.5,
                                 .terminated = false,
                                 .truncated = true,
                                 .observation_diff = {{"room", 1}},
                                 .metadata = {{"k", "v"}},
                                 .event_metadata = {}};
  expect_each_change_written<st::EnvironmentEvent>(
      env, {[](auto& e) { e.time_record->event_time = at(2); }, [](auto& e) { e.system_instance_id = "e2"; },
            [](auto& e) { e.system_state_before = {{"x", -0.0}}; }, [](auto& e) { e.system_state_after = {{"x", 1.0}}; },
            [](auto& e) { e.reward = 0.25; }, [](auto& e) { e.terminated = true; }, [](auto& e) { e.truncated.reset(); },
            [](auto& e) { e.observation_diff = {{"room", 2}}; }, [](auto& e) { e.metadata = st::Value(); },
            [](auto& e) { e.event_metadata = {st::Value(1)}; }});
  const st::RuntimeEvent runtime{.time_record = tr,
                                 .system_instance_id = "tools",
                                 .system_state_before = st::Value(),
                                 .system_state_after = {{"ok", true}},
                                 .actions = {"look", 2},
                                 .metadata = {{"valid", true}},
                                 .event_metadata = {st::Value("h")}};
  expect_each_change_written<st::RuntimeEvent>(
      runtime, {[](auto& e) { e.time_record->message_time = 0; }, [](auto& e) { e.system_instance_id = "t2"; },
                [](auto& e) { e.system_state_before = st::Value::object(); },
                [](auto& e) { e.system_state_after = {{"ok", false}}; }, [](auto& e) { e.actions = {"look", 2.0}; },
                [](auto& e) { e.metadata = {{"valid", 1}}; }, [](auto& e) { e.event_metadata.clear(); }});
  const st::SessionEventMessage message = st::make_message("agent", {{"action", "move"}, {"n", 0.0}}, "action", 3);
  expect_each_change_written<st::SessionEventMessage>(
      message, {[](auto& m) { m.content = st::make_message("agent", {{"n", 0.0}, {"action", "move"}}, "action", 3).content; },
                [](auto& m) { m.message_type = "observation"; }, [](auto& m) { m.timestamp = at(9); },
                [](auto& m) { m.time_record->message_time = 4; }});
}

// Strings are compared word by word (the last word overlapping the one before): strings of
// every length that differ in one byte, at every position, in a member, a Value string and a key.
TEST(TraceHistory, StringsDifferingInOneByteAreWrittenNotCopied) {
  for (std::size_t length = 1; length <= 20; ++length) {
    SCOPED_TRACE("length " + std::to_string(length));
    std::string text(length, 'a');
    for (std::size_t i = 0; i < length; ++i) text[i] = static_cast<char>('a' + i % 26);
    const st::RuntimeEvent base{.system_instance_id = text, .system_state_before = {{text, text}}};
    std::vector<std::function<void(st::RuntimeEvent&)>> changes;
    for (std::size_t at = 0; at < length; ++at) {
      std::string other = text;
      other[at] = 'Z';
      changes.push_back([other](auto& e) { e.system_instance_id = other; });
      changes.push_back([text, other](auto& e) { e.system_state_before = {{text, other}}; });
      changes.push_back([text, other](auto& e) { e.system_state_before = {{other, text}}; });
    }
    expect_each_change_written(base, changes);
  }
}

// Histories copied by text must equal histories parsed: the same file with the history items
// written differently (spaces) reads to the same trace.
TEST(TraceHistory, CopiedHistoriesEqualParsedOnes) {
  const SessionTrace t = make_trace(3);
  const std::string compact = t.to_json();
  std::string spaced = compact;
  const std::size_t history = spaced.find("\"message_history\"");
  ASSERT_NE(history, std::string::npos);
  for (std::size_t i = spaced.find("{\"", history); i != std::string::npos; i = spaced.find("{\"", i + 3)) {
    spaced.replace(i, 2, "{ \"");
  }
  ASSERT_NE(spaced, compact);
  EXPECT_EQ(SessionTrace::from_json(spaced), SessionTrace::from_json(compact));
  EXPECT_EQ(SessionTrace::from_json(spaced), t);
}

// A timestep giving "events" twice keeps the second list; a history item repeating the text of
// the first list's event is still that event, not the second list's.
TEST(TraceHistory, KeyGivenTwiceInATimestep) {
  const std::string a = R"({"event_type":"runtime","system_instance_id":"a","actions":["x"]})";
  const std::string b = R"({"event_type":"runtime","system_instance_id":"b","actions":["y"]})";
  const std::string json = R"({"session_id":"s","session_time_steps":[{"step_id":"s0","events":[)" + a +
                           R"(],"events":[)" + b + R"(]}],"event_history":[)" + a + "," + b + "]}";
  const SessionTrace t = SessionTrace::from_json(json);
  ASSERT_EQ(t.session_time_steps[0].events.size(), 1u);
  EXPECT_EQ(st::system_instance_id(t.session_time_steps[0].events[0]), "b");
  ASSERT_EQ(t.event_history.size(), 2u);
  EXPECT_EQ(st::system_instance_id(t.event_history[0]), "a");
  EXPECT_EQ(st::system_instance_id(t.event_history[1]), "b");
}

// Histories before the timesteps (other writers) are parsed as before.
TEST(TraceHistory, HistoriesBeforeTheTimesteps) {
  const std::string e = R"({"event_type":"runtime","system_instance_id":"a","actions":["x"]})";
  const std::string json =
      R"({"session_id":"s","event_history":[)" + e + R"(],"session_time_steps":[{"step_id":"s0","events":[)" + e + "]}]}";
  const SessionTrace t = SessionTrace::from_json(json);
  ASSERT_EQ(t.event_history.size(), 1u);
  EXPECT_EQ(t.event_history[0], t.session_time_steps[0].events[0]);
}

// An error in a history item after copied ones names its own position.
TEST(TraceHistory, ErrorAfterCopiedItemsNamesTheItem) {
  SessionTrace t = make_trace(2);
  std::string json = t.to_json();
  const std::size_t history = json.find("\"event_history\"");
  const std::size_t third = json.find("\"event_type\":\"cais\"", json.find("\"event_type\"", json.find("\"event_type\"", history) + 1) + 1);
  ASSERT_NE(third, std::string::npos);
  json.replace(third, 19, "\"event_type\":\"oops\"");
  try {
    (void)SessionTrace::from_json(json);
    FAIL() << "expected TraceFormatError";
  } catch (const st::TraceFormatError& e) {
    EXPECT_NE(std::string(e.what()).find("event_history[2].event_type"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown event_type \"oops\""), std::string::npos) << e.what();
  }
}


// Malformed JSON right after an item (copied or read) is reported at the same place and with
// the same path as when every item was read (the messages of the reader before the copies).
TEST(TraceHistory, MalformedJsonAfterAnItemNamesTheNextItem) {
  const std::string e = R"({"event_type":"runtime","actions":[1]})";
  const auto error_of = [](const std::string& json) {
    try {
      (void)SessionTrace::from_json(json);
    } catch (const st::TraceFormatError& err) {
      return std::string(err.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(error_of(R"({"session_id":"s","session_time_steps":[{"events":[)" + e + "," + e + ":1]}]}"),
            "<string>:1:129 (byte 128): session_time_steps[0].events[2]: malformed JSON (The JSON document has an "
            "improper structure: missing or superfluous commas, braces, missing keys, etc.)");
  EXPECT_EQ(error_of(R"({"session_id":"s","session_time_steps":[{"events":[)" + e + R"(]}],"event_history":[)" + e +
                     ":2]}"),
            "<string>:1:149 (byte 148): event_history[1]: malformed JSON (The JSON document has an improper "
            "structure: missing or superfluous commas, braces, missing keys, etc.)");
}

// The trace_json fuzz corpus (tests/fuzz/corpus/trace_json: our files, the original's, broken
// ones): whatever reads, reads the same from its compact output (histories copied) as from its
// indented output (every item parsed), down to the text.
TEST(TraceHistory, FuzzCorpusReadsTheSameCopiedOrParsed) {
  const std::filesystem::path dir =
      std::filesystem::path(SYNTH_TEST_DATA_DIR) / ".." / "fuzz" / "corpus" / "trace_json";
  int read = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SessionTrace t;
    try {
      t = SessionTrace::from_json(st::testing::file_contents(entry.path()));
    } catch (const st::TraceFormatError&) {
      continue;
    }
    ++read;
    SCOPED_TRACE(entry.path().filename().string());
    const SessionTrace compact = SessionTrace::from_json(t.to_json());
    const SessionTrace indented = SessionTrace::from_json(t.to_json(JsonFormat{2}));
    EXPECT_EQ(compact, t);
    EXPECT_EQ(indented, t);
    EXPECT_EQ(reference_text(compact), reference_text(indented));
  }
  EXPECT_GE(read, 5);  // most of the corpus is broken input
}

}  // namespace
