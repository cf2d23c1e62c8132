// The writer's held aggregates (HeldStats, writer.hpp): what merged parts add to a stored
// session waits for a fold, and a reader on another thread waiting for it gets the aggregates of
// every part answered before it asked. Real queue, writer and DuckDB file; threaded (TSan).
#include <gtest/gtest.h>

#include <thread>

#include "duckdb/access.hpp"
#include "server/fixtures.hpp"
#include "server/held_stats.hpp"
#include "server/ingest_queue.hpp"
#include "server/writer.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;

namespace {

// One timestep of `whole` as a part of its session, sent as one request answered once committed.
bool send_step(IngestQueue& queue, const SessionTrace& whole, std::size_t s) {
  SessionTrace part;
  part.session_id = whole.session_id;
  part.created_at = whole.created_at;
  part.session_time_steps.push_back(whole.session_time_steps[s]);
  part.event_history = whole.session_time_steps[s].events;
  part.message_history = whole.session_time_steps[s].step_messages;
  auto receipt = std::make_shared<Receipt>(1);
  std::vector<IngestItem> items;
  items.push_back(IngestItem{std::move(part), OnExistingSession::merge, 1, receipt, 0});
  if (queue.push(items) != IngestQueue::Push::queued) return false;
  if (!receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30))) return false;
  const Stored what = receipt->outcomes()[0].what;
  return what == Stored::inserted || what == Stored::merged;
}

}  // namespace

TEST(WriterHeldStats, AReaderOnAnotherThreadGetsTheAggregatesOfEveryAnsweredPart) {
  TempDir dir;
  const ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  auto held = std::make_shared<HeldStats>();
  StoreWriter writer(store, queue, counters, options, {}, nullptr, held);
  const SessionTrace whole = sample_session("in-parts", {.steps = 5, .failing_tool = true});
  for (int round = 0; round < 3; ++round) {
    // Parts answered while a reader keeps asking: each answer it sees is in the aggregates.
    SessionTrace session = whole;
    session.session_id += "-" + std::to_string(round);
    std::atomic<std::size_t> answered{0};
    std::atomic<bool> stale{false};
    std::thread reader([&] {
      while (answered.load() < session.session_time_steps.size()) {
        const std::size_t before = answered.load();
        if (!held->await_stored(std::chrono::steady_clock::now() + std::chrono::seconds(30))) stale = true;
        const auto conn = detail::duck::StoreAccess::reader(store);
        detail::duck::Result r = detail::duck::query(*conn, "SELECT num_timesteps FROM session_stats WHERE session_id = '" +
                                             session.session_id + "'");
        const std::int64_t steps = r.rows() == 0 ? 0 : r.integer(0, 0).value_or(0);
        if (steps < static_cast<std::int64_t>(before)) stale = true;
      }
    });
    for (std::size_t s = 0; s < session.session_time_steps.size(); ++s) {
      ASSERT_TRUE(send_step(queue, session, s));
      answered = s + 1;
    }
    reader.join();
    EXPECT_FALSE(stale) << "a read missed a part answered before it";
  }
  EXPECT_TRUE(held->await_stored(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_FALSE(detail::duck::StoreAccess::stats_held(store));
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
}
