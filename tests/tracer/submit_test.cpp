// SessionTracer::submit_finished_session: a session built elsewhere (the Python package's) takes
// the tracer's outgoing path: masked and priced, stored by a real DuckDB sink on the background
// thread, written as JSON, exported as spans, counted, dropped when the queue is full.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "duckdb/duckdb_support.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::CAISEvent;
using st::Event;
using st::EnvironmentEvent;
using st::RuntimeEvent;
using st::SessionTrace;
using st::SessionTracer;
using st::TracingConfig;
using st::Value;
using st::testing::TempDir;

namespace {

// What the Python package hands over: a history-only setup event, then two timesteps whose items
// are also in the histories (equal copies), start metadata with an e-mail address, and an LLM
// call with tokens but no cost.
SessionTrace python_shaped_trace(const std::string& id) {
  SessionTrace t;
  t.session_id = id;
  t.created_at = st::now();
  t.session_metadata.push_back({std::string(st::kSessionStartMetadata), {{"user", "jane.doe@example.com"}}, t.created_at});
  const Event setup = RuntimeEvent{.time_record = st::TimeRecord{t.created_at, 0}, .system_instance_id = "setup"};
  const Event call = CAISEvent{.time_record = st::TimeRecord{t.created_at, 0},
                               .system_instance_id = "agent",
                               .system_state_before = {{"prompt", "write to jane.doe@example.com"}},
                               .model_name = "gpt-4o-mini",
                               .prompt_tokens = 1000,
                               .completion_tokens = 500,
                               .total_tokens = 1500};
  const Event env = EnvironmentEvent{.time_record = st::TimeRecord{t.created_at, 0}, .system_instance_id = "env", .reward = 1.0};
  const Event act = RuntimeEvent{.time_record = st::TimeRecord{t.created_at, 1}, .system_instance_id = "agent",
                                 .actions = Value::array({"north"})};
  const auto m0 = st::make_message("env", {{"obs", 0}}, "observation", 0);
  const auto m1 = st::make_message("agent", {{"text", "call me at (555) 987-6543"}}, "action", 1);
  st::SessionTimeStep s0{.step_id = "step_0", .step_index = 0, .turn_number = 0, .events = {call, env},
                         .step_messages = {m0}, .timestamp = t.created_at};
  st::SessionTimeStep s1{.step_id = "step_1", .step_index = 1, .turn_number = 1, .events = {act},
                         .step_messages = {m1}, .timestamp = t.created_at + std::chrono::milliseconds(5)};
  t.session_time_steps = {s0, s1};
  t.event_history = {setup, call, env, act};
  t.message_history = {m0, m1};
  return t;
}

std::int64_t count(st::DuckDBTraceManager& db, const std::string& sql) { return db.query(sql).rows.at(0).at(0).as_int(); }

}  // namespace

TEST(SubmitFinishedSession, ReachesDuckDBMaskedPricedAndCounted) {
  TempDir dir;
  SessionTracer tracer(TracingConfig{.mask_pii = true});
  auto sink = std::make_shared<st::DuckDBSink>(dir.db());
  st::testing::single_threaded_under_tsan(sink->manager());
  tracer.add_sink(sink);
  std::mutex mutex;
  std::vector<std::string> ended;
  std::thread::id hook_thread;
  tracer.add_hook({.on_session_end = [&](const SessionTrace& t) {
    std::lock_guard lock(mutex);
    ended.push_back(t.session_id);
    hook_thread = std::this_thread::get_id();
  }});

  tracer.submit_finished_session(python_shaped_trace("py-1"));
  ASSERT_TRUE(tracer.flush());

  {
    std::lock_guard lock(mutex);
    EXPECT_EQ(ended, std::vector<std::string>{"py-1"});
    EXPECT_NE(hook_thread, std::this_thread::get_id());  // the background thread did the work
  }
  st::DuckDBTraceManager& db = sink->manager();
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_traces WHERE session_id = 'py-1'"), 1);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM events"), 4);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM events WHERE timestep_id IS NULL"), 1);  // the setup event
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM messages"), 2);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM session_timesteps"), 2);
  // Priced from the model and tokens, and masked, on the way out.
  const auto cost = db.query("SELECT cost FROM events WHERE model_name = 'gpt-4o-mini'").rows;
  ASSERT_EQ(cost.size(), 1u);
  ASSERT_FALSE(cost[0][0].is_null());
  EXPECT_GT(cost[0][0].as_double(), 0.0);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM events WHERE CAST(system_state_before AS VARCHAR) LIKE '%jane.doe%'"), 0);
  EXPECT_EQ(count(db, "SELECT COUNT(*) FROM messages WHERE CAST(content AS VARCHAR) LIKE '%987-6543%'"), 0);

  // get_session_trace: the same two-place shape, masked and priced.
  const auto trace = tracer.get_session_trace("py-1");
  ASSERT_NE(trace, nullptr);
  ASSERT_EQ(trace->session_time_steps.size(), 2u);
  ASSERT_EQ(trace->event_history.size(), 4u);
  EXPECT_EQ(std::get<RuntimeEvent>(trace->event_history[0]).system_instance_id, "setup");
  ASSERT_EQ(trace->session_time_steps[0].events.size(), 2u);
  EXPECT_EQ(trace->session_time_steps[0].events[0], trace->event_history[1]);
  EXPECT_EQ(trace->session_time_steps[0].events[1], trace->event_history[2]);
  EXPECT_EQ(trace->session_time_steps[1].events.at(0), trace->event_history[3]);
  EXPECT_EQ(trace->session_time_steps[1].step_messages.at(0), trace->message_history[1]);
  EXPECT_TRUE(std::get<CAISEvent>(trace->event_history[1]).cost.has_value());
  EXPECT_EQ(trace->to_json().find("jane.doe"), std::string::npos);
  EXPECT_EQ(trace->start_metadata()["user"].as_string(), "[EMAIL]");

  const st::TracerStats stats = tracer.stats();
  EXPECT_EQ(stats.sessions_started, 1u);
  EXPECT_EQ(stats.sessions_ended, 1u);
  EXPECT_EQ(stats.events_recorded, 4u);
  EXPECT_EQ(stats.messages_recorded, 2u);
  EXPECT_EQ(stats.sessions_pending, 0u);
  EXPECT_EQ(stats.sessions_dropped, 0u);
  EXPECT_EQ(stats.sessions_lost, 0u);
}

TEST(SubmitFinishedSession, ItemsOnlyInATimestepJoinTheHistoryAndAnEmptyIdGetsOne) {
  SessionTracer tracer;
  auto sink = std::make_shared<st::testing::MemorySink>();
  tracer.add_sink(sink);
  SessionTrace t;
  st::SessionTimeStep step{.step_id = "only", .turn_number = 3};
  step.events.push_back(EnvironmentEvent{.reward = 2.0});
  t.session_time_steps.push_back(step);
  t.event_history.push_back(RuntimeEvent{.system_instance_id = "history-only"});
  tracer.submit_finished_session(std::move(t));
  ASSERT_TRUE(tracer.flush());

  const auto traces = sink->traces();
  ASSERT_EQ(traces.size(), 1u);
  const SessionTrace& got = traces[0];
  EXPECT_EQ(got.session_id.size(), 36u);  // a UUID
  EXPECT_NE(got.created_at, st::Timestamp{});
  ASSERT_EQ(got.event_history.size(), 2u);
  EXPECT_EQ(std::get<RuntimeEvent>(got.event_history[0]).system_instance_id, "history-only");
  EXPECT_EQ(got.event_history[1], got.session_time_steps.at(0).events.at(0));
  EXPECT_EQ(got.session_time_steps[0].turn_number, 3);
}

TEST(SubmitFinishedSession, WritesJsonFilesAndExportsSessionAndTimestepSpans) {
  TempDir dir;
  const fs::path spans = dir.file("spans.jsonl");
  {
    SessionTracer tracer(TracingConfig{.save_dir = dir.path / "json", .otel_endpoint = "file://" + spans.string()});
    tracer.submit_finished_session(python_shaped_trace("py-json"));
    ASSERT_TRUE(tracer.flush());
    EXPECT_EQ(tracer.stats().spans_ended, 3u);  // the session and its two timesteps
  }
  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(dir.path / "json")) files.push_back(entry.path());
  ASSERT_EQ(files.size(), 1u);
  const SessionTrace saved = SessionTrace::read_file(files[0]);
  EXPECT_EQ(saved.session_id, "py-json");
  EXPECT_EQ(saved.event_history.size(), 4u);
  EXPECT_EQ(saved.session_time_steps.size(), 2u);
  const std::string exported = st::testing::file_contents(spans);
  EXPECT_NE(exported.find("py-json"), std::string::npos) << exported;
  EXPECT_NE(exported.find("step_1"), std::string::npos) << exported;
  EXPECT_EQ(exported.find("jane.doe"), std::string::npos) << exported;
}

TEST(SubmitFinishedSession, ModeOtelTurnsItemsIntoSpanEvents) {
  TempDir dir;
  const fs::path spans = dir.file("spans.jsonl");
  {
    SessionTracer tracer(TracingConfig{.mode = st::TracingMode::otel, .otel_endpoint = "file://" + spans.string()});
    tracer.submit_finished_session(python_shaped_trace("py-otel"));
    ASSERT_TRUE(tracer.flush());
    const st::TracerStats stats = tracer.stats();
    EXPECT_EQ(stats.events_recorded, 4u);
    EXPECT_EQ(stats.messages_recorded, 2u);
    EXPECT_EQ(stats.spans_ended, 3u);
  }
  const std::string exported = st::testing::file_contents(spans);
  EXPECT_NE(exported.find("gpt-4o-mini"), std::string::npos) << exported;  // the LLM call, as a span event
}

TEST(SubmitFinishedSession, AFullQueueDropsAndCounts) {
  TracingConfig config;
  config.sink_queue_capacity = 1;
  config.overflow = st::OverflowPolicy::drop;
  config.checkpoint = false;
  SessionTracer tracer(config);
  auto gate = std::make_shared<st::testing::GateSink>();
  auto memory = std::make_shared<st::testing::MemorySink>();
  tracer.add_sink(gate);
  tracer.add_sink(memory);
  tracer.submit_finished_session(python_shaped_trace("gate"));
  ASSERT_TRUE(gate->wait_entered());
  const auto started = std::chrono::steady_clock::now();
  for (int i = 0; i < 4; ++i) tracer.submit_finished_session(python_shaped_trace("s" + std::to_string(i)));
  // The caller never waits for the sink, even a stuck one.
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(1));
  const std::uint64_t dropped = tracer.stats().sessions_dropped;
  EXPECT_GE(dropped, 2u);
  gate->open();
  ASSERT_TRUE(tracer.flush());
  EXPECT_EQ(memory->traces().size() + dropped, 5u);
  EXPECT_EQ(tracer.stats().sessions_ended, 5u);
}

TEST(SubmitFinishedSession, ADisabledTracerIgnoresIt) {
  SessionTracer tracer(TracingConfig{.enabled = false});
  tracer.submit_finished_session(python_shaped_trace("off"));
  EXPECT_EQ(tracer.get_session_trace("off"), nullptr);
  EXPECT_EQ(tracer.stats().sessions_ended, 0u);
}
