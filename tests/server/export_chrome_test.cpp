// A session as Chrome Trace Event JSON (GET /api/v1/sessions/{id}/export?format=chrome): times in
// microseconds from the session's start, never before it.
#include <gtest/gtest.h>

#include "server/exports.hpp"
#include "server/fixtures.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth_test::sample_session;

TEST(ChromeExport, ItemsWithoutATimeArePlacedAtTheSessionsStart) {
  // An event without its time record, a timestep and a message without their timestamp were
  // placed at the epoch: 55 years before the session, which stretched Perfetto's timeline.
  SessionTrace t = sample_session("timeless", {.steps = 2});
  std::visit([](auto& e) { e.time_record.reset(); }, t.session_time_steps[1].events[2]);
  t.event_history[5] = t.session_time_steps[1].events[2];
  t.session_time_steps[1].timestamp = Timestamp{};
  t.message_history[1].timestamp = Timestamp{};
  t.session_time_steps[1].step_messages[0].timestamp = Timestamp{};
  const Value chrome = Value::parse(server::chrome_trace_json(t));
  std::size_t timed = 0;
  for (const Value& e : chrome["traceEvents"].as_array()) {
    if (e["ph"] == Value("M")) continue;
    ++timed;
    EXPECT_GE(e["ts"].as_double(), 0.0) << e.dump();
    if (e.find("dur") != nullptr) EXPECT_GE(e["dur"].as_double(), 0.0) << e.dump();
  }
  EXPECT_GE(timed, 2u + 6u + 2u) << "the timesteps, events and messages";
}
