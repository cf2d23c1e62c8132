// The tracer's spill: active sessions checkpointed on disk, masked; files gone once stored;
// sessions of a tracer that is gone recovered; a full sink queue overflowing to disk instead of
// dropping; the cap; end_all_sessions.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "support.hpp"
#include "tracer/spill_support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::testing::events_in_spill;
using st::testing::MemorySink;
using st::testing::spill_files;
using st::testing::TempDir;
using st::testing::wait_until;

namespace {

st::TracingConfig spill_config(const TempDir& dir) {
  return st::TracingConfig{.mode = st::TracingMode::v2, .checkpoint = true, .spill_dir = dir.path / "spill",
                           .checkpoint_interval_ms = 20};
}

st::EnvironmentEvent numbered(int n) {
  return st::EnvironmentEvent{.reward = 1.0, .metadata = st::Value{{"n", n}}};
}

}  // namespace

TEST(Spill, AnActiveSessionIsCheckpointedMaskedAndItsFileGoesOnceStored) {
  TempDir dir;
  auto sink = std::make_shared<MemorySink>();
  {
    st::SessionTracer tracer(spill_config(dir));
    tracer.add_sink(sink);
    auto session = tracer.start_session("long-episode");
    {
      auto step = tracer.timestep(0);
      for (int i = 0; i < 10; ++i) tracer.add_event(numbered(i));
      tracer.add_message(st::SessionEventMessage{.content = st::Value{{"text", "mail me at jane.doe@example.com"}},
                                                 .message_type = "user"});
    }
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 10; }));
    const auto files = spill_files(dir.path / "spill");
    const st::SpilledSession spilled = st::read_spill_file(files[0]);
    EXPECT_EQ(spilled.trace.session_id, "long-episode");
    EXPECT_FALSE(spilled.ended);
    ASSERT_EQ(spilled.trace.session_time_steps.size(), 1u);
    EXPECT_EQ(spilled.trace.session_time_steps[0].events.size(), 10u);
    ASSERT_EQ(spilled.trace.message_history.size(), 1u);
    EXPECT_EQ(st::testing::file_contents(files[0]).find("jane.doe@example.com"), std::string::npos) << "the disk sees masked data only";
    EXPECT_GT(tracer.stats().spill_bytes, 0u);
    session.end();
    ASSERT_TRUE(tracer.flush());
    // The file goes first, then its bytes from the count (which never shows less than the disk
    // holds): once the count is 0, the file is gone.
    ASSERT_TRUE(wait_until([&] { return tracer.stats().spill_bytes == 0; }));
    EXPECT_TRUE(spill_files(dir.path / "spill").empty());
  }
  ASSERT_EQ(sink->traces().size(), 1u);
  EXPECT_EQ(sink->traces()[0].event_history.size(), 10u);
  EXPECT_FALSE(std::filesystem::exists(dir.path / "spill") && !std::filesystem::is_empty(dir.path / "spill"))
      << "a tracer that stored everything leaves no folder";
}

// A session's first checkpoint waits until it is one interval old, so that a short episode is not
// written twice (the spill, then the sinks); until then its file holds a stub, its start (id and
// masked metadata), so that a crash still recovers it (as aborted). Stopping the tracer
// checkpoints it whole.
TEST(Spill, ASessionYoungerThanOneIntervalHasOnlyAStubOnDiskUntilTheTracerStops) {
  TempDir dir;
  st::TracingConfig config = spill_config(dir);
  config.checkpoint_interval_ms = 60'000;
  st::SessionScope left_open;
  {
    st::SessionTracer tracer(config);
    tracer.add_sink(std::make_shared<MemorySink>());
    left_open = tracer.start_session("young", {{"owner", "jane.doe@example.com"}});
    {
      auto step = tracer.timestep(0);  // its end wakes the spill
      for (int i = 0; i < 5; ++i) tracer.add_event(numbered(i));
    }
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 0; }));
    { auto step = tracer.timestep(1); }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));  // passes after that end: still the stub
    const auto files = spill_files(dir.path / "spill");
    ASSERT_EQ(files.size(), 1u);
    const st::SpilledSession stub = st::read_spill_file(files[0]);
    EXPECT_EQ(stub.trace.session_id, "young");
    EXPECT_FALSE(stub.ended);
    EXPECT_TRUE(stub.trace.event_history.empty());
    EXPECT_TRUE(stub.trace.session_time_steps.empty());
    ASSERT_EQ(stub.trace.session_metadata.size(), 1u);
    EXPECT_EQ(stub.trace.session_metadata[0].data["owner"].as_string(), "[EMAIL]") << "the disk sees masked data only";
  }
  const auto files = spill_files(dir.path / "spill");
  ASSERT_EQ(files.size(), 1u);
  const st::SpilledSession kept = st::read_spill_file(files[0]);
  EXPECT_FALSE(kept.ended);
  EXPECT_EQ(kept.trace.session_time_steps.size(), 2u);
  EXPECT_EQ(kept.trace.event_history.size(), 5u);
}

TEST(Spill, ASessionLeftOpenIsRecoveredAsAbortedByTheNextTracer) {
  TempDir dir;
  st::SessionScope left_open;
  {
    st::SessionTracer first(spill_config(dir));
    first.add_sink(std::make_shared<MemorySink>());
    left_open = first.start_session("cut-short");
    auto step = first.timestep(0);
    for (int i = 0; i < 7; ++i) first.add_event(numbered(i));
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 7; }));
  }
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer next(spill_config(dir));
  next.add_sink(sink);
  ASSERT_TRUE(wait_until([&] { return sink->traces().size() == 1; }));
  ASSERT_TRUE(next.flush());
  const st::SessionTrace t = sink->traces()[0];
  EXPECT_EQ(t.session_id, "cut-short");
  EXPECT_EQ(t.event_history.size(), 7u);
  for (int i = 0; i < 7; ++i) EXPECT_EQ(st::metadata(t.event_history[static_cast<std::size_t>(i)])["n"].as_int(), i);
  ASSERT_FALSE(t.session_metadata.empty());
  EXPECT_EQ(t.session_metadata.back().metadata_type, st::kSessionStatusMetadata);
  EXPECT_EQ(t.session_metadata.back().data["status"].as_string(), "aborted");
  EXPECT_EQ(next.stats().sessions_recovered, 1u);
  ASSERT_TRUE(wait_until([&] { return spill_files(dir.path / "spill").empty(); }));
}

TEST(Spill, AFullSinkQueueOverflowsToDiskAndEverySessionIsStored) {
  TempDir dir;
  st::TracingConfig config = spill_config(dir);
  config.sink_queue_capacity = 2;
  auto gate = std::make_shared<st::testing::GateSink>();
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(config);
  tracer.add_sink(gate);
  tracer.add_sink(sink);
  { auto s = tracer.start_session("gate"); }
  ASSERT_TRUE(gate->wait_entered());
  constexpr int kSessions = 40;
  for (int n = 0; n < kSessions; ++n) {
    auto s = tracer.start_session("s" + std::to_string(n));
    auto step = tracer.timestep(0);
    for (int i = 0; i < 5; ++i) tracer.add_event(numbered(i));
  }
  EXPECT_EQ(tracer.stats().sessions_dropped, 0u);
  gate->open();
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
  const st::TracerStats after = tracer.stats();
  EXPECT_EQ(after.sessions_dropped, 0u);
  EXPECT_GE(after.sessions_overflowed, static_cast<std::uint64_t>(kSessions - 2));
  EXPECT_EQ(after.sessions_pending, 0u);
  const auto traces = sink->traces();
  EXPECT_EQ(traces.size(), static_cast<std::size_t>(kSessions + 1));
  for (const auto& t : traces) {
    if (t.session_id != "gate") {
      EXPECT_EQ(t.event_history.size(), 5u) << t.session_id;
    }
    for (const auto& m : t.session_metadata) EXPECT_NE(m.metadata_type, st::kSessionStatusMetadata) << "they ended";
  }
  ASSERT_TRUE(wait_until([&] { return spill_files(dir.path / "spill").empty(); }));
}

TEST(Spill, OverflowDropCountsAndOverflowBlockWaitsForRoom) {
  TempDir dir;
  for (const st::OverflowPolicy policy : {st::OverflowPolicy::drop, st::OverflowPolicy::block}) {
    st::TracingConfig config = spill_config(dir);
    config.sink_queue_capacity = 1;
    config.overflow = policy;
    config.overflow_timeout_ms = 100;
    auto gate = std::make_shared<st::testing::GateSink>();
    st::SessionTracer tracer(config);
    tracer.add_sink(gate);
    { auto s = tracer.start_session("gate"); }
    ASSERT_TRUE(gate->wait_entered());
    { auto s = tracer.start_session("queued"); }
    const auto start = std::chrono::steady_clock::now();
    { auto s = tracer.start_session("no-room"); }
    const auto waited = std::chrono::steady_clock::now() - start;
    EXPECT_EQ(tracer.stats().sessions_dropped, 1u) << st::overflow_name(policy);
    if (policy == st::OverflowPolicy::block) {
      EXPECT_GE(waited, std::chrono::milliseconds(100)) << "block waits for room up to overflow_timeout_ms";
    }
    gate->open();
    ASSERT_TRUE(tracer.flush());
  }
}

TEST(Spill, TheCapStopsCheckpointsAndCountsWhatItRefusedButTheSessionIsStillStored) {
  TempDir dir;
  st::TracingConfig config = spill_config(dir);
  config.spill_max_bytes = 2000;
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(config);
  tracer.add_sink(sink);
  {
    auto s = tracer.start_session("big");
    for (int i = 0; i < 200; ++i) {
      tracer.add_event(numbered(i));
      if (i % 50 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(40));
    }
    ASSERT_TRUE(wait_until([&] { return tracer.stats().records_not_checkpointed > 0; }));
    EXPECT_LE(tracer.stats().spill_bytes, 2000u);
  }
  ASSERT_TRUE(tracer.flush());
  ASSERT_EQ(sink->traces().size(), 1u);
  EXPECT_EQ(sink->traces()[0].event_history.size(), 200u);
}

TEST(Spill, EndAllSessionsEndsEveryThreadsSessionAsAborted) {
  TempDir dir;
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(spill_config(dir));
  tracer.add_sink(sink);
  std::atomic<int> started{0};
  std::atomic<bool> release{false};
  std::vector<std::thread> workers;
  for (int t = 0; t < 3; ++t) {
    workers.emplace_back([&, t] {
      auto s = tracer.start_session("worker-" + std::to_string(t));
      tracer.add_event(numbered(t));
      ++started;
      while (!release) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      // The thread did nothing wrong: what it records into its ended session is counted, not thrown.
      EXPECT_NO_THROW({
        auto step = tracer.timestep(1);
        tracer.add_event(numbered(99));
        tracer.add_message(st::SessionEventMessage{.content = "late"});
        tracer.add_session_metadata("late", st::Value{{"x", 1}});
      });
    });
  }
  ASSERT_TRUE(wait_until([&] { return started == 3; }));
  EXPECT_EQ(tracer.end_all_sessions("test over"), 3u);
  release = true;
  for (auto& w : workers) w.join();
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(tracer.stats().records_failed, 12u);
  const auto traces = sink->traces();
  ASSERT_EQ(traces.size(), 3u);
  for (const auto& t : traces) {
    ASSERT_FALSE(t.session_metadata.empty());
    EXPECT_EQ(t.session_metadata.back().data["status"].as_string(), "aborted");
    EXPECT_EQ(t.session_metadata.back().data["reason"].as_string(), "test over");
    EXPECT_EQ(t.event_history.size(), 1u);
  }
}

TEST(Spill, CheckpointOffWritesNothing) {
  TempDir dir;
  st::TracingConfig config = spill_config(dir);
  config.checkpoint = false;
  st::SessionTracer tracer(config);
  tracer.add_sink(std::make_shared<MemorySink>());
  auto s = tracer.start_session("x");
  tracer.add_event(numbered(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_FALSE(std::filesystem::exists(dir.path / "spill"));
}

TEST(Spill, ADiskFullStopsCheckpointsWithoutATornRecordCountsThemAndTheSessionIsStillStored) {
  TempDir dir;
  st::testing::CapturedDiagnostics diagnostics;
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(spill_config(dir));
  tracer.add_sink(sink);
  {
    auto s = tracer.start_session("filling");
    tracer.add_event(numbered(0));
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 1; }));
    {
      // The session's file may not grow past 4 KiB: the next checkpoints fail.
      st::testing::FileSizeLimit disk_full(4 << 10);
      const std::string blob(1500, 'y');
      for (int i = 1; i < 20; ++i) tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"n", i}, {"blob", blob}}});
      ASSERT_TRUE(wait_until([&] { return tracer.stats().records_not_checkpointed > 0; }));
    }
    const auto files = spill_files(dir.path / "spill");
    ASSERT_EQ(files.size(), 1u);
    const st::SpilledSession kept = st::read_spill_file(files[0]);
    EXPECT_EQ(kept.bytes_cut, 0u) << "a failed write is cut back: no torn record stays";
    EXPECT_GE(kept.trace.event_history.size(), 1u);
  }
  ASSERT_TRUE(tracer.flush());
  ASSERT_EQ(sink->traces().size(), 1u);
  EXPECT_EQ(sink->traces()[0].event_history.size(), 20u);
  bool named = false;
  std::string all;
  for (const auto& m : diagnostics.all()) {
    named = named || m.find("free disk space") != std::string::npos;
    all += m + "\n";
  }
  EXPECT_TRUE(named) << "the error says what to do: " << all;
}

// A scope's event is built when the session is read: the checkpoint builds a copy of it, equal
// to the event the sinks get.
TEST(Spill, ScopeEventsAreCheckpointedAsTheSinksGetThem) {
  TempDir dir;
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(spill_config(dir));
  tracer.add_sink(sink);
  {
    auto session = tracer.start_session("scoped");
    auto step = tracer.timestep(0);
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .provider = "openai"});
      call.request({{"prompt", "hello"}}).response({{"content", "hi"}}).usage({.prompt_tokens = 5, .completion_tokens = 2});
    }
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 1; }));
    const st::SpilledSession spilled = st::read_spill_file(spill_files(dir.path / "spill")[0]);
    session.end();
    ASSERT_TRUE(tracer.flush());
    const auto traces = sink->traces();
    ASSERT_EQ(traces.size(), 1u);
    const auto& checkpointed = std::get<st::CAISEvent>(spilled.trace.event_history.at(0));
    const auto& stored = std::get<st::CAISEvent>(traces[0].event_history.at(0));
    EXPECT_EQ(checkpointed.span_id, stored.span_id);
    EXPECT_EQ(checkpointed.trace_id, stored.trace_id);
    EXPECT_EQ(checkpointed.system_state_before, stored.system_state_before);
    EXPECT_EQ(checkpointed.metadata, stored.metadata);
    EXPECT_EQ(checkpointed.prompt_tokens, 5);
    EXPECT_EQ(checkpointed.span_id->size(), 16u);
  }
}

// A checkpoint masks the items it writes in place, once: the sinks then take them as they are and
// mask only what was recorded after it. A user pattern whose token it matches again ("tok" ->
// "[tok]") shows an item masked twice ("[[tok]]") or not at all ("tok").
TEST(Spill, ItemsMaskedInPlaceByACheckpointAndThoseRecordedAfterItAllLeaveMasked) {
  TempDir dir;
  st::TracingConfig config = spill_config(dir);
  config.pii_patterns = std::vector<st::PiiPattern>{st::testing::echo_pattern()};
  auto sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer(config);
  tracer.add_sink(sink);
  const auto record = [&](int turn) {
    auto step = tracer.timestep(turn, {}, {{"note", "tok"}});
    tracer.add_event(st::RuntimeEvent{.metadata = st::Value{{"n", turn}, {"text", "tok"}}});
    {
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini"});
      call.request({{"prompt", "tok"}}).response({{"content", "tok"}}).usage({.prompt_tokens = 5, .completion_tokens = 2});
    }
    tracer.add_message(st::SessionEventMessage{.content = st::Value{{"text", "tok"}}, .message_type = "user"});
  };
  {
    auto session = tracer.start_session("masked-once", {{"owner", "tok"}});
    record(0);
    ASSERT_TRUE(wait_until([&] { return events_in_spill(dir.path / "spill") == 2; }));
    EXPECT_EQ(st::testing::file_contents(spill_files(dir.path / "spill")[0]).find("\"tok\""), std::string::npos);
    // Read while active: the checkpointed items as the checkpoint left them (masked), once.
    const auto active = tracer.get_session_trace("masked-once");
    ASSERT_NE(active, nullptr);
    ASSERT_EQ(active->event_history.size(), 2u);
    EXPECT_EQ(st::metadata(active->event_history[0])["text"].as_string(), "[tok]");
    EXPECT_EQ(std::get<st::CAISEvent>(active->event_history[1]).system_state_before["prompt"].as_string(), "[tok]");
    EXPECT_EQ(active->message_history.at(0).content["text"].as_string(), "[tok]");
    record(1);
  }
  ASSERT_TRUE(tracer.flush());
  const auto traces = sink->traces();
  ASSERT_EQ(traces.size(), 1u);
  const st::SessionTrace& t = traces[0];
  ASSERT_EQ(t.event_history.size(), 4u);
  ASSERT_EQ(t.message_history.size(), 2u);
  ASSERT_EQ(t.session_time_steps.size(), 2u);
  st::testing::expect_masked_once(t);
  for (std::size_t i = 0; i < 4; i += 2) {
    EXPECT_EQ(st::metadata(t.event_history[i])["text"].as_string(), "[tok]") << i;
    const auto& call = std::get<st::CAISEvent>(t.event_history[i + 1]);
    EXPECT_EQ(call.system_state_before["prompt"].as_string(), "[tok]") << i;
    EXPECT_EQ(call.system_state_after["content"].as_string(), "[tok]") << i;
    EXPECT_TRUE(call.cost.has_value()) << "priced once, whichever way it went";
  }
  for (const auto& step : t.session_time_steps) EXPECT_EQ(step.step_metadata["note"].as_string(), "[tok]");
  for (const auto& m : t.message_history) EXPECT_EQ(m.content["text"].as_string(), "[tok]");
  EXPECT_EQ(t.session_metadata.at(0).data["owner"].as_string(), "[tok]");
}
