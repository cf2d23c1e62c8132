// The spill file format: what is written reads back exactly; a torn or corrupt tail is cut, never
// misread; folders are owned by whoever holds their lock.
#include <gtest/gtest.h>

#include <fstream>

#include "spill/spill_file.hpp"
#include "support.hpp"
#include "synth/tracing/spill.hpp"

namespace st = synth::tracing;
namespace sd = synth::tracing::detail;
using st::testing::TempDir;

namespace {

st::SessionTrace sample_trace() {
  st::SessionTrace t;
  t.session_id = "episode-7";
  t.created_at = *st::parse_timestamp("2025-01-31T12:00:00.123456Z");
  t.session_metadata.push_back({"session_start", st::Value{{"experiment", "baseline"}}, t.created_at});
  for (int s = 0; s < 2; ++s) {
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.turn_number = s;
    step.timestamp = t.created_at;
    t.session_time_steps.push_back(step);
  }
  for (int i = 0; i < 5; ++i) {
    st::Event e = st::EnvironmentEvent{.time_record = st::TimeRecord{t.created_at, i}, .system_instance_id = "env",
                                       .reward = 0.5 * i, .metadata = st::Value{{"n", i}}};
    const std::int64_t step = i < 4 ? i % 2 : -1;
    if (step >= 0) t.session_time_steps[static_cast<std::size_t>(step)].events.push_back(e);
    t.event_history.push_back(e);
  }
  st::SessionEventMessage m{.content = st::Value{{"text", "hello"}}, .message_type = "user", .timestamp = t.created_at};
  t.session_time_steps[0].step_messages.push_back(m);
  t.message_history.push_back(m);
  return t;
}

// The records of `t` as the spill writer writes them (events by step, in history order).
std::string records_of(const st::SessionTrace& t, bool with_end) {
  std::string out;
  sd::append_spill_header(out, t.session_id, t.created_at);
  for (const auto& m : t.session_metadata) sd::append_spill_item(out, m);
  for (const auto& s : t.session_time_steps) {
    st::SessionTimeStep bare = s;
    bare.events.clear();
    bare.step_messages.clear();
    sd::append_spill_item(out, bare);
  }
  for (std::size_t i = 0; i < t.event_history.size(); ++i) {
    sd::append_spill_item(out, t.event_history[i], i < 4 ? static_cast<std::int64_t>(i % 2) : -1);
  }
  sd::append_spill_item(out, t.message_history[0], 0);
  if (with_end) sd::append_spill_end(out);
  return out;
}

void write_bytes(const std::filesystem::path& file, std::string_view bytes) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST(SpillFile, WhatIsWrittenReadsBackEqual) {
  TempDir dir;
  const st::SessionTrace t = sample_trace();
  write_bytes(dir.file("0.spill"), records_of(t, true));
  const st::SpilledSession read = st::read_spill_file(dir.file("0.spill"));
  EXPECT_TRUE(read.ended);
  EXPECT_EQ(read.bytes_cut, 0u);
  EXPECT_EQ(read.trace, t);
}

TEST(SpillFile, EveryTornLengthReadsAsAPrefixOfTheRecords) {
  TempDir dir;
  const st::SessionTrace t = sample_trace();
  const std::string bytes = records_of(t, true);
  std::size_t previous_events = 0;
  for (std::size_t cut = 0; cut < bytes.size(); ++cut) {
    write_bytes(dir.file("0.spill"), std::string_view(bytes).substr(0, cut));
    st::SpilledSession read;
    try {
      read = st::read_spill_file(dir.file("0.spill"));
    } catch (const st::Error& e) {
      // Only while even the header is incomplete.
      EXPECT_NE(std::string(e.what()).find("no valid header"), std::string::npos) << e.what();
      EXPECT_EQ(previous_events, 0u);
      continue;
    }
    EXPECT_FALSE(read.ended) << cut;
    ASSERT_LE(read.trace.event_history.size(), t.event_history.size());
    for (std::size_t i = 0; i < read.trace.event_history.size(); ++i) EXPECT_EQ(read.trace.event_history[i], t.event_history[i]);
    EXPECT_GE(read.trace.event_history.size(), previous_events) << "a longer file never reads fewer events";
    previous_events = read.trace.event_history.size();
    EXPECT_LE(read.bytes_cut, cut);
    // What was cut is at most the one torn record: the next record starts right after the kept ones.
    EXPECT_LT(read.bytes_cut, 1000u) << cut;
  }
  EXPECT_EQ(previous_events, t.event_history.size());
}

TEST(SpillFile, AFlippedByteCutsTheFileThereAndNothingAfterIsRead) {
  TempDir dir;
  const st::SessionTrace t = sample_trace();
  std::string bytes = records_of(t, true);
  const std::size_t middle = bytes.size() * 2 / 3;
  bytes[middle] = static_cast<char>(bytes[middle] ^ 0x20);
  write_bytes(dir.file("0.spill"), bytes);
  const st::SpilledSession read = st::read_spill_file(dir.file("0.spill"));
  EXPECT_FALSE(read.ended);
  EXPECT_GT(read.bytes_cut, 0u);
  EXPECT_LT(read.trace.event_history.size() + read.trace.message_history.size(), 6u);
  for (std::size_t i = 0; i < read.trace.event_history.size(); ++i) EXPECT_EQ(read.trace.event_history[i], t.event_history[i]);
}

TEST(SpillFile, AFileThatIsNotASpillFileIsAnErrorNamingIt) {
  TempDir dir;
  write_bytes(dir.file("x.spill"), "{\"session_id\": \"not a spill file\"}");
  try {
    st::read_spill_file(dir.file("x.spill"));
    FAIL() << "expected an error";
  } catch (const st::Error& e) {
    EXPECT_NE(std::string(e.what()).find("x.spill"), std::string::npos) << e.what();
  }
}

TEST(SpillFolder, ALiveFolderCannotBeClaimedAndAReleasedOneCan) {
  TempDir dir;
  std::filesystem::path path;
  {
    sd::SpillFolder owner = sd::SpillFolder::create(dir.path);
    path = owner.path();
    EXPECT_FALSE(sd::SpillFolder::claim(path).has_value()) << "its owner holds the lock";
    write_bytes(path / "0.spill", records_of(sample_trace(), false));
  }
  auto claimed = sd::SpillFolder::claim(path);
  ASSERT_TRUE(claimed.has_value());
  EXPECT_EQ(claimed->files().size(), 1u);
  claimed->remove_if_empty();
  EXPECT_TRUE(std::filesystem::exists(path)) << "a folder with files stays";
}

TEST(SpillRecovery, SessionsOfGoneTracersReachTheSinkMarkedAbortedAndTheirFilesGo) {
  TempDir dir;
  const st::SessionTrace t = sample_trace();
  std::filesystem::path gone;
  std::filesystem::path live_path;
  {
    sd::SpillFolder folder = sd::SpillFolder::create(dir.path);
    gone = folder.path();
    write_bytes(gone / "0.spill", records_of(t, false));
    st::SessionTrace finished = t;
    finished.session_id = "finished";
    write_bytes(gone / "1.spill", records_of(finished, true));
  }
  sd::SpillFolder live = sd::SpillFolder::create(dir.path);
  write_bytes(live.path() / "0.spill", records_of(t, false));
  st::testing::MemorySink sink;
  const st::SpillRecovery r = st::recover_spilled_sessions(dir.path, sink);
  EXPECT_EQ(r.sessions, 2u);
  EXPECT_EQ(r.aborted, 1u);
  EXPECT_EQ(r.events, 10u);
  EXPECT_EQ(r.folders_in_use, 1u);
  EXPECT_TRUE(r.problems.empty());
  const auto traces = sink.traces();
  ASSERT_EQ(traces.size(), 2u);
  EXPECT_EQ(sink.flushes(), 1);
  const auto& aborted = traces[0].session_id == "episode-7" ? traces[0] : traces[1];
  ASSERT_EQ(aborted.session_metadata.size(), 2u);
  EXPECT_EQ(aborted.session_metadata.back().metadata_type, st::kSessionStatusMetadata);
  EXPECT_EQ(aborted.session_metadata.back().data["status"].as_string(), "aborted");
  EXPECT_FALSE(std::filesystem::exists(gone)) << "recovered folders go";
  EXPECT_TRUE(std::filesystem::exists(live.path() / "0.spill")) << "a live tracer's files stay";
}

TEST(SpillRecovery, ASinkThatFailsToStoreLeavesTheFilesForNextTime) {
  TempDir dir;
  {
    sd::SpillFolder folder = sd::SpillFolder::create(dir.path);
    write_bytes(folder.path() / "0.spill", records_of(sample_trace(), false));
  }
  struct FailingFlush : st::SessionSink {
    void write(const st::SessionTrace&) override {}
    void flush() override { throw st::Error("disk full"); }
  } failing;
  const st::SpillRecovery r = st::recover_spilled_sessions(dir.path, failing);
  ASSERT_EQ(r.problems.size(), 1u);
  EXPECT_NE(r.problems[0].find("disk full"), std::string::npos);
  st::testing::MemorySink sink;
  EXPECT_EQ(st::recover_spilled_sessions(dir.path, sink).sessions, 1u);
}

TEST(SpillRecovery, AnEmptyFileLeftByADeathBeforeItsFirstWriteIsRemovedQuietly) {
  TempDir dir;
  std::filesystem::path path;
  {
    sd::SpillFolder folder = sd::SpillFolder::create(dir.path);
    path = folder.path();
    write_bytes(path / "0.spill", "");
  }
  st::testing::MemorySink sink;
  const st::SpillRecovery r = st::recover_spilled_sessions(dir.path, sink);
  EXPECT_EQ(r.sessions, 0u);
  EXPECT_TRUE(r.problems.empty());
  EXPECT_FALSE(std::filesystem::exists(path));
}
