// Traces in the shapes the Python original's repository carries (its Crafter sample trace): no
// session_id, time records with only a turn, messages without an origin, extra keys, histories
// without timesteps. They load; truly malformed input is still refused.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "support.hpp"
#include "synth/tracing/model.hpp"

namespace st = synth::tracing;
namespace fs = std::filesystem;
using st::SessionTrace;
using st::Value;

namespace {
fs::path crafter_sample() { return fs::path(SYNTH_TEST_DATA_DIR) / "original_samples/crafter_episode.json"; }

bool mentions(const std::vector<std::string>& messages, std::string_view a, std::string_view b) {
  for (const auto& m : messages) {
    if (m.find(a) != std::string::npos && m.find(b) != std::string::npos) return true;
  }
  return false;
}
}  // namespace

TEST(OriginalShapes, CrafterSampleLoadsWithItsSessionNamedAfterTheFile) {
  st::testing::CapturedDiagnostics diagnostics;
  const SessionTrace t = SessionTrace::read_file(crafter_sample());
  EXPECT_EQ(t.session_id, "crafter_episode");
  EXPECT_TRUE(mentions(diagnostics.all(), "crafter_episode.json", "session_id")) << testing::PrintToString(diagnostics.all());

  EXPECT_TRUE(t.session_time_steps.empty());
  ASSERT_EQ(t.event_history.size(), 3u);
  ASSERT_EQ(t.message_history.size(), 3u);
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].data["env"].as_string(), "crafter");

  // Time records with only the turn: the wall-clock time stays unset.
  const auto& agent = std::get<st::CAISEvent>(t.event_history[0]);
  ASSERT_TRUE(agent.time_record.has_value());
  EXPECT_EQ(agent.time_record->message_time, 0);
  EXPECT_EQ(agent.time_record->event_time, st::Timestamp{});
  EXPECT_EQ(st::time_record(t.event_history[2])->message_time, 1);
  EXPECT_EQ(t.message_history[2].time_record->message_time, 1);

  // Keys the model has no field for are kept in the event's metadata.
  EXPECT_EQ(agent.metadata["turn"], Value(0));
  EXPECT_EQ(agent.metadata["hooks_triggered"], Value::array({"first_move"}));
  const auto& done = std::get<st::EnvironmentEvent>(t.event_history[2]);
  EXPECT_EQ(done.reward, 1.0);
  EXPECT_EQ(done.metadata["hooks_triggered"], Value::array({"easy_achievement"}));
  EXPECT_EQ(done.metadata["achievement"].as_string(), "collect_wood");
  EXPECT_EQ(st::metadata(t.event_history[1])["hooks_triggered"], Value::array());

  // Messages: content as given; the original's top-level origin_system_id goes into the content.
  EXPECT_EQ(t.message_history[0].content.as_string(), "You see grass and a tree.");
  EXPECT_EQ(t.message_history[0].message_type, "observation");
  EXPECT_EQ(t.message_history[1].content, (Value{{"payload", {{"action", "move_right"}}}}));
  EXPECT_EQ(t.message_history[2].content, (Value{{"origin_system_id", "crafter-env"}}));

  // What was read writes and reads back unchanged.
  EXPECT_EQ(SessionTrace::from_json(t.to_json()), t);
}

TEST(OriginalShapes, TheOriginalsFileNamesGiveTheSessionId) {
  st::testing::TempDir dir;
  const std::string text = R"({"event_history": [{"time_record": {"message_time": 2}, "reward": 1}]})";
  for (const std::string name : {"session_ep-42_20250701_120000.json", "session_ep-42_20250701_120000_1.json"}) {
    {
      std::ofstream out(dir.file(name));
      out << text;
    }
    st::testing::CapturedDiagnostics diagnostics;
    EXPECT_EQ(SessionTrace::read_file(dir.file(name)).session_id, "ep-42") << name;
  }
}

TEST(OriginalShapes, UnknownKeysOfTimestepsMessagesAndSessionsAreKept) {
  const SessionTrace t = SessionTrace::from_json(R"({
    "session_id": "s", "run_name": "crafter-baseline", "created_at": "2025-07-01T12:00:00",
    "session_time_steps": [{"step_id": "a", "step_metadata": {"k": 1}, "hooks_triggered": ["x"], "events": [],
                            "step_messages": [{"content": {"payload": 1}, "origin_system_id": "env"}]}]
  })");
  // A session's extra key becomes a typed metadata entry of that name.
  ASSERT_EQ(t.session_metadata.size(), 1u);
  EXPECT_EQ(t.session_metadata[0].metadata_type, "run_name");
  EXPECT_EQ(t.session_metadata[0].data.as_string(), "crafter-baseline");
  EXPECT_EQ(t.session_metadata[0].timestamp, t.created_at);
  EXPECT_EQ(t.session_time_steps.at(0).step_metadata, (Value{{"k", 1}, {"hooks_triggered", Value::array({"x"})}}));
  EXPECT_EQ(t.message_history.at(0).content, (Value{{"payload", 1}, {"origin_system_id", "env"}}));
  EXPECT_EQ(SessionTrace::from_json(t.to_json()), t);
}

TEST(OriginalShapes, AnUnknownKeyNeverOverwritesAKnownOne) {
  const SessionTrace t = SessionTrace::from_json(R"({"session_id": "s", "event_history": [
    {"reward": 1, "note": "outside", "metadata": {"note": "inside"}},
    {"reward": 2, "metadata": "a string", "note": "kept"}]})");
  EXPECT_EQ(st::metadata(t.event_history.at(0))["note"].as_string(), "inside");
  EXPECT_EQ(st::event_metadata(t.event_history.at(0)), (std::vector<Value>{Value{{"note", "outside"}}}));
  EXPECT_EQ(st::metadata(t.event_history.at(1)).as_string(), "a string");
  EXPECT_EQ(st::event_metadata(t.event_history.at(1)), (std::vector<Value>{Value{{"note", "kept"}}}));
}

TEST(OriginalShapes, WithoutAFileNameAMissingSessionIdIsStillAnError) {
  try {
    (void)SessionTrace::from_json(R"({"event_history": []})", "upload");
    FAIL() << "accepted";
  } catch (const st::TraceFormatError& e) {
    EXPECT_NE(e.problem().find("missing \"session_id\""), std::string::npos) << e.what();
  }
}

TEST(OriginalShapes, MalformedInputIsStillRefused) {
  st::testing::TempDir dir;
  const auto file = dir.file("session_x_20250101_000000.json");
  {
    std::ofstream out(file);
    out << R"({"event_history": [{"reward": "high"}]})";
  }
  EXPECT_THROW((void)SessionTrace::read_file(file), st::TraceFormatError);
}
