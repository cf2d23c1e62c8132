// The writer's commit group (ServerOptions::commit_group): when busy, requests queued within the
// group share one commit; a request to an idle writer, and one client sending one request at a
// time, are committed at once. Real queue, writer and DuckDB file; the group and the commit
// interval are an hour, so that what the test sees is the writer's choice, not a timer's.
#include <gtest/gtest.h>

#include <thread>

#include "server/fixtures.hpp"
#include "server/ingest_queue.hpp"
#include "server/writer.hpp"
#include "server/writer_requests.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::answered;
using synth_test::push_request;

namespace {

constexpr auto kLong = std::chrono::hours(1);

ServerOptions grouped(const TempDir& dir, std::chrono::milliseconds group) {
  ServerOptions options{.db = dir.db()};
  options.commit_interval = kLong;
  options.commit_group = group;
  return options;
}

// Two requests queued before the writer starts (one batch of two: the writer is busy), then a
// third, taken alone, and a fourth queued once the writer has held the third a while (grouping)
// or has answered it (not grouping: no timing involved). Returns the commits.
std::uint64_t busy_then_two_more(std::chrono::milliseconds group) {
  TempDir dir;
  const ServerOptions options = grouped(dir, group);
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  const auto first = push_request(queue, "a");
  const auto second = push_request(queue, "b");
  StoreWriter writer(store, queue, counters, options);
  EXPECT_TRUE(answered(first));
  EXPECT_TRUE(answered(second));
  EXPECT_EQ(counters.commits.load(), 1u) << "both were waiting when the writer began: one batch";
  const auto third = push_request(queue, "c");
  EXPECT_TRUE(synth::tracing::testing::wait_until([&] { return queue.depth() == 0; }, std::chrono::seconds(10)));
  if (group.count() == 0) {
    // Not grouping, the writer commits the third alone (grouping, it would hold it for an hour).
    EXPECT_TRUE(answered(third));
  } else {
    // Time for the writer to append the third; grouping, it holds it for the fourth.
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  const auto fourth = push_request(queue, "d");
  EXPECT_TRUE(answered(third));
  EXPECT_TRUE(answered(fourth));
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(store.session_ids().size(), 4u);
  return counters.commits.load();
}

}  // namespace

TEST(WriterCommitGroup, RequestsQueuedWithinTheGroupShareOneCommitWhenBusy) {
  EXPECT_EQ(busy_then_two_more(kLong), 2u) << "the third waited for the fourth: one commit for both";
}

TEST(WriterCommitGroup, ZeroTurnsTheGroupOff) {
  EXPECT_EQ(busy_then_two_more(std::chrono::milliseconds(0)), 3u) << "the third committed alone";
}

TEST(WriterCommitGroup, AnIdleWritersRequestAndOneClientsRequestsOneAtATimeAreCommittedAtOnce) {
  TempDir dir;
  const ServerOptions options = grouped(dir, kLong);
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  StoreWriter writer(store, queue, counters, options);
  // Held for the group, either would wait an hour for a request that never comes.
  for (const char* id : {"alone", "next", "and-next"}) {
    EXPECT_TRUE(answered(push_request(queue, id))) << id;
  }
  EXPECT_EQ(counters.commits.load(), 3u);
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
}
