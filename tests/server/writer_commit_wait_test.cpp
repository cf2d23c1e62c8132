// Health's ingest.longest_commit_wait_ms: the longest a queued session waited for its commit, the
// acknowledged-to-committed delay of a request answered once queued or journaled (a DuckDB
// checkpoint holds commits back: BENCHMARKS.md, "Checkpoints without vacuum"). A part parked until a span
// names its session counts until its row is committed (its answer), not its wait for the name.
// Real queue, writer and DuckDB file.
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
using synth_test::sample_session;
using synth_test::waiting_part;

namespace {

constexpr auto kWaited = std::chrono::milliseconds(400);

}  // namespace

TEST(WriterCommitWait, ASessionsWaitFromItsQueueingToItsCommitIsCountedAndTheLongestKept) {
  TempDir dir;
  const ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  const auto first = push_request(queue, "a");
  std::this_thread::sleep_for(kWaited);  // queued, and no writer yet: as behind a checkpoint
  StoreWriter writer(store, queue, counters, options);
  ASSERT_TRUE(answered(first));
  const std::uint64_t longest = counters.longest_commit_wait_ms.load();
  EXPECT_GE(longest, static_cast<std::uint64_t>(kWaited.count()));
  EXPECT_LT(longest, 30'000u);
  ASSERT_TRUE(answered(push_request(queue, "b")));  // committed at once
  EXPECT_EQ(counters.longest_commit_wait_ms.load(), longest) << "the longest since start, not the last";
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
}

TEST(WriterCommitWait, APartParkedForItsSessionsNameCountsUntilItsRowIsCommittedNotUntilItIsStored) {
  TempDir dir;
  ServerOptions options{.db = dir.db(), .otlp_part_wait = kWaited};
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  StoreWriter writer(store, queue, counters, options, {}, std::make_shared<PendingIds>());
  // An OTLP part of a trace whose session no span has named yet, its request waiting for its
  // commit: parked, answered once its row is committed, stored under the trace id once its wait passes.
  const std::string trace = "dbf92f3577b34da6a3ce929d0e0e4736";
  const auto receipt = std::make_shared<Receipt>(1);
  std::vector<IngestItem> items;
  items.push_back(waiting_part(sample_session(trace, {.steps = 1}), 8, receipt));
  items.back().unnamed = true;
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(counters.otlp_parts_waiting.load(), 1u) << "parked, not stored";
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return store.session_ids() == std::vector<std::string>{trace}; },
                                                  std::chrono::seconds(10)));
  EXPECT_LT(counters.longest_commit_wait_ms.load(), static_cast<std::uint64_t>(kWaited.count()))
      << "its wait for a name is not a commit's delay";
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
}
