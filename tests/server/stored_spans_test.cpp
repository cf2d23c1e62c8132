// The writer's record of stored OTLP spans (server/stored_spans.hpp) on a real DuckDB file: a
// session its bounded memory forgot is looked up in table otlp_spans; what a rolled-back batch
// noted is not taken for stored; a retried span's items leave a session part, its timestep too.
#include <gtest/gtest.h>

#include "duckdb/access.hpp"
#include "server/stored_spans.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using detail::duck::StoreAccess;
using synth::tracing::testing::TempDir;

namespace {

SpanOrigins spans_of(const std::string& trace, const std::vector<std::string>& ids) {
  SpanOrigins o;
  for (const std::string& id : ids) {
    o.keys.push_back(span_key_of(trace, id));
    o.steps.push_back(-1);
  }
  return o;
}

using Found = std::vector<bool>;

}  // namespace

TEST(StoredSpans, ASessionTheMemoryForgotIsLookedUpInTheFile) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  StoredSpans stored(3);  // three spans (or traces looked up) at most
  const SpanOrigins a = spans_of("t1", {"s1", "s2"});
  EXPECT_EQ(stored.stored(store, "a", a, true), (Found{false, false}));
  stored.note("a", a);
  EXPECT_EQ(stored.stored(store, "a", spans_of("t1", {"s2"}), false), (Found{true})) << "from memory";
  const SpanOrigins b = spans_of("t2", {"s1", "s2"});
  EXPECT_EQ(stored.stored(store, "b", b, true), (Found{false, false}));
  stored.note("b", b);  // four spans: "a" is forgotten
  stored.write(store);
  StoreAccess::batch_commit(store);
  EXPECT_EQ(store.query("SELECT COUNT(*) FROM otlp_spans").rows.at(0).at(0), Value(4));
  EXPECT_EQ(stored.stored(store, "a", spans_of("t1", {"s2", "s3"}), false), (Found{true, false}));
  EXPECT_EQ(stored.stored(store, "b", spans_of("t2", {"s1"}), false), (Found{true}));
}

TEST(StoredSpans, WhatARolledBackBatchNotedIsNotTakenForStored) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  StoredSpans stored;
  const SpanOrigins a = spans_of("t1", {"s1"});
  stored.note("a", a);
  stored.forget();  // the batch was rolled back before its commit
  EXPECT_EQ(stored.stored(store, "a", a, false), (Found{false}));
}

TEST(StoredSpans, AMovedSessionKeepsItsSpans) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  StoredSpans stored;
  const SpanOrigins calls = spans_of("t1", {"call"});
  EXPECT_EQ(stored.stored(store, "t1", calls, true), (Found{false}));
  stored.note("t1", calls);
  stored.moved("t1", "conversation", true);  // the trace's session was named later
  EXPECT_EQ(stored.stored(store, "conversation", spans_of("t1", {"call", "turn"}), false), (Found{true, false}));
}

TEST(StoredSpans, DroppedSpansTakeTheirItemsAndTheirOnlyTimestep) {
  SessionTrace t;
  t.session_id = "s";
  for (const char* id : {"step_0", "step_1"}) {
    SessionTimeStep step;
    step.step_id = id;
    t.session_time_steps.push_back(step);
  }
  const auto event = [](const char* name) { return Event(RuntimeEvent{.system_instance_id = name}); };
  SessionEventMessage message;
  message.message_type = "observation";
  // Span 0 in step_0 (an event and a message), span 1 in step_1 (an event), span 2 outside.
  t.event_history = {event("a"), event("b"), event("c")};
  t.message_history = {message};
  t.session_time_steps[0].events = {event("a")};
  t.session_time_steps[0].step_messages = {message};
  t.session_time_steps[1].events = {event("b")};
  const SpanKey k0 = span_key_of("t", "0"), k1 = span_key_of("t", "1"), k2 = span_key_of("t", "2");
  SpanOrigins o{{k0, k1, k2}, {0, 1, -1}, {0, 1, 2}, {0}};
  drop_spans(t, o, {false, true, false});
  ASSERT_EQ(t.session_time_steps.size(), 1u);
  EXPECT_EQ(t.session_time_steps[0].step_id, "step_0");
  EXPECT_TRUE(t.session_time_steps[0].events == std::vector<Event>{event("a")});
  EXPECT_EQ(t.session_time_steps[0].step_messages.size(), 1u);
  EXPECT_TRUE(t.event_history == (std::vector<Event>{event("a"), event("c")}));
  EXPECT_EQ(t.message_history.size(), 1u);
  EXPECT_TRUE(o.keys == (std::vector<SpanKey>{k0, k2}));
  EXPECT_EQ(o.steps, (std::vector<std::int32_t>{0, -1}));
  EXPECT_EQ(o.events, (std::vector<std::uint32_t>{0, 1}));
  EXPECT_EQ(o.messages, (std::vector<std::uint32_t>{0}));
}
