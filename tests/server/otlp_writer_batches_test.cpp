// The writer's batches and OTLP parts named late: a trace's spans that end before the span naming
// their session (GenAI agents' calls before their invoke_agent span) are stored under the trace
// id until that span comes. Taken into a batch that is then committed while more items wait,
// such a part waits for the next batch instead, where its naming part is likely to be: it goes
// straight into the named session rather than being stored, then moved there. A part whose
// request waits for its commit is parked instead (an otlp_pending row) until its session is
// named. Real queue, writer and DuckDB file.
#include <gtest/gtest.h>

#include "server/fixtures.hpp"
#include "server/ingest_queue.hpp"
#include "server/pending.hpp"
#include "server/writer.hpp"
#include "server/writer_requests.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;
using synth_test::waiting_part;

namespace {

IngestItem item_of(const SessionTrace& trace) { return IngestItem{trace, OnExistingSession::merge, 1, nullptr, 0}; }

// Runs a writer over what is queued, until it is all stored; the ids of the sessions stored, in
// the order their items were committed.
std::vector<std::string> store_queued(DuckDBTraceManager& store, IngestQueue& queue, IngestCounters& counters,
                                      const ServerOptions& options) {
  std::vector<std::string> committed;
  StoreWriter writer(store, queue, counters, options, [&](const SessionTrace& t) { committed.push_back(t.session_id); });
  EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  return committed;
}

std::shared_ptr<PendingIds> ids_after(std::int64_t largest) {
  auto ids = std::make_shared<PendingIds>();
  ids->start_after(largest);
  return ids;
}

std::int64_t pending_parts(DuckDBTraceManager& store) {
  return store.query("SELECT COUNT(*) FROM otlp_pending WHERE kind = 'part'").rows.at(0).at(0).as_int();
}

}  // namespace

TEST(OtlpWriterBatches, AnUnnamedPartAnsweredAfterItsCommitWaitsForItsNamingPartAndGoesIntoItWithoutAMove) {
  // An exporter answered after each commit sends the span naming the session only after the
  // answer to the request holding the trace's first spans: that part is kept as an otlp_pending
  // row until then, not stored under the trace id and moved. Its retry is stored once.
  TempDir dir;
  ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  const std::string trace = "cbf92f3577b34da6a3ce929d0e0e4736";
  SessionTrace unnamed = sample_session(trace, {.steps = 1});
  unnamed.session_time_steps[0].step_id = "calls";
  SessionTrace named = sample_session("conv-parked", {.steps = 1, .start_second = 10});
  named.session_time_steps[0].step_id = "agent";
  std::vector<std::string> committed;
  StoreWriter writer(store, queue, counters, options, [&](const SessionTrace& t) { committed.push_back(t.session_id); },
                     std::make_shared<PendingIds>());
  const auto first = std::make_shared<Receipt>(1);
  const auto retry = std::make_shared<Receipt>(1);
  for (const auto& receipt : {first, retry}) {
    std::vector<IngestItem> items;
    items.push_back(waiting_part(unnamed, 7, receipt));
    items.back().unnamed = true;
    ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
    ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
    EXPECT_EQ(receipt->outcomes()[0].what, Stored::inserted);
  }
  EXPECT_EQ(pending_parts(store), 2) << "answered once its row is committed";
  EXPECT_TRUE(store.session_ids().empty()) << "not stored under the trace id";
  std::vector<IngestItem> items;
  items.push_back(item_of(named));
  items.back().absorbs = {trace};
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(committed, (std::vector<std::string>{"conv-parked", "conv-parked"})) << "the retry: nothing new to store";
  EXPECT_EQ(counters.otlp_sessions_renamed.load(), 0u) << "nothing was stored under the trace id, so nothing moved";
  EXPECT_EQ(counters.otlp_duplicate_spans.load(), unnamed.event_history.size()) << "the retry's spans left out";
  EXPECT_EQ(store.session_ids(), std::vector<std::string>{"conv-parked"});
  const auto stored = store.load_trace("conv-parked");
  ASSERT_TRUE(stored);
  std::vector<Event> expected = unnamed.event_history;
  expected.insert(expected.end(), named.event_history.begin(), named.event_history.end());
  EXPECT_EQ(stored->event_history, expected) << "the parts in the order they came, the retried one once";
  EXPECT_EQ(pending_parts(store), 0) << "its row deleted in the commit that stored it";
}

TEST(OtlpWriterBatches, AParkedPartIsStoredUnderItsTraceIdOnceItsWaitPassesOrAtShutdown) {
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  IngestCounters counters;
  // Parks a part of `trace`; returns once its request is answered.
  const auto park = [&](IngestQueue& queue, const std::string& trace, std::uint64_t key) {
    const auto receipt = std::make_shared<Receipt>(1);
    std::vector<IngestItem> items;
    items.push_back(waiting_part(sample_session(trace, {.steps = 1}), key, receipt));
    items.back().unnamed = true;
    ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
    ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  };
  const std::string waited = "dbf92f3577b34da6a3ce929d0e0e4736";
  {
    ServerOptions options{.db = dir.db(), .otlp_part_wait = std::chrono::milliseconds(200)};
    IngestQueue queue(options.queue_sessions, options.queue_bytes);
    StoreWriter writer(store, queue, counters, options, {}, std::make_shared<PendingIds>());
    park(queue, waited, 8);
    EXPECT_TRUE(synth::tracing::testing::wait_until(
        [&] { return store.session_ids() == std::vector<std::string>{waited}; }, std::chrono::seconds(10)))
        << "no span named its session within otlp_part_wait: stored under its trace id, the writer otherwise idle";
    EXPECT_EQ(pending_parts(store), 0);
    ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  const std::string at_shutdown = "ebf92f3577b34da6a3ce929d0e0e4736";
  ServerOptions options{.db = dir.db(), .otlp_part_wait = std::chrono::hours(1)};
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  StoreWriter writer(store, queue, counters, options, {}, ids_after(1000));
  park(queue, at_shutdown, 9);
  EXPECT_EQ(pending_parts(store), 1);
  ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(store.session_ids(), (std::vector<std::string>{waited, at_shutdown}));
  EXPECT_EQ(pending_parts(store), 0) << "stored at shutdown, its row deleted";
  EXPECT_EQ(counters.inserted.load(), 2u);
}

TEST(OtlpWriterBatches, ParkedPartsAreBoundedInBytesTheOldestStoredUnderItsTraceIdFirst) {
  TempDir dir;
  ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  IngestQueue queue(options.queue_sessions, std::size_t{1} << 30);
  StoreWriter writer(store, queue, counters, options, {}, std::make_shared<PendingIds>());
  const std::string older = "fbf92f3577b34da6a3ce929d0e0e4736";
  const std::string newer = "0cf92f3577b34da6a3ce929d0e0e4736";
  for (const auto& [trace, key] : {std::pair{older, 10}, std::pair{newer, 11}}) {
    const auto receipt = std::make_shared<Receipt>(1);
    std::vector<IngestItem> items;
    items.push_back(waiting_part(sample_session(trace, {.steps = 1}), key, receipt));
    items.back().unnamed = true;
    items.back().bytes = std::size_t{40} << 20;  // as the queue counts it: two pass the bound
    ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
    ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  EXPECT_EQ(store.session_ids(), std::vector<std::string>{older}) << "the older part made room, the newer waits";
  EXPECT_EQ(pending_parts(store), 1);
  // Two more in one take: the first, parked in the still open batch, is answered (committed)
  // before it is stored to make room.
  const std::string first = "1cf92f3577b34da6a3ce929d0e0e4736";
  const std::string second = "2cf92f3577b34da6a3ce929d0e0e4736";
  std::vector<std::shared_ptr<Receipt>> receipts;
  std::vector<IngestItem> items;
  for (const auto& [trace, key] : {std::pair{first, 12}, std::pair{second, 13}}) {
    receipts.push_back(std::make_shared<Receipt>(1));
    items.push_back(waiting_part(sample_session(trace, {.steps = 1}), key, receipts.back()));
    items.back().unnamed = true;
    items.back().bytes = std::size_t{40} << 20;
  }
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  for (const auto& receipt : receipts) {
    ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
    EXPECT_EQ(receipt->outcomes()[0].what, Stored::inserted);
  }
  // Sorted ids: 0c.. (newer), 1c.. (first), fb.. (older).
  EXPECT_TRUE(synth::tracing::testing::wait_until(
      [&] { return store.session_ids() == std::vector<std::string>{newer, first, older}; }, std::chrono::seconds(10)))
      << "the newer, then the first made room";
  EXPECT_EQ(pending_parts(store), 1) << "the second waits";
  ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  EXPECT_EQ(store.session_ids(), (std::vector<std::string>{newer, first, second, older}));
  EXPECT_EQ(pending_parts(store), 0);
}

TEST(OtlpWriterBatches, AnUnnamedPartTakenAsTheBatchFillsGoesWithItsNamingPartIntoTheNextBatch) {
  TempDir dir;
  ServerOptions options{.db = dir.db(), .commit_sessions = 2};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  const std::string trace = "8bf92f3577b34da6a3ce929d0e0e4736";
  const SessionTrace other = sample_session("conv-other", {.steps = 1});
  SessionTrace unnamed = sample_session(trace, {.steps = 1});
  unnamed.session_time_steps[0].step_id = "calls";
  SessionTrace named = sample_session("conv-next-batch", {.steps = 1});
  named.session_time_steps[0].step_id = "agent";
  const auto receipt = std::make_shared<Receipt>(1);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  std::vector<IngestItem> items;
  items.push_back(item_of(other));
  items.push_back(item_of(unnamed));  // the first take (two sessions) fills the batch with it
  items.back().unnamed = true;
  items.back().receipt = receipt;  // a request waiting for its commit still gets it
  items.push_back(item_of(named));
  items.back().absorbs = {trace};
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  EXPECT_EQ(store_queued(store, queue, counters, options),
            (std::vector<std::string>{"conv-other", "conv-next-batch", "conv-next-batch"}));
  EXPECT_EQ(counters.otlp_sessions_renamed.load(), 0u) << "nothing was stored under the trace id, so nothing moved";
  EXPECT_EQ(store.session_ids(), (std::vector<std::string>{"conv-next-batch", "conv-other"}));
  const auto stored = store.load_trace("conv-next-batch");
  ASSERT_TRUE(stored);
  std::vector<Event> expected = unnamed.event_history;
  expected.insert(expected.end(), named.event_history.begin(), named.event_history.end());
  EXPECT_EQ(stored->event_history, expected) << "the parts in the order they came";
  EXPECT_EQ(stored->session_time_steps.size(), 2u);
  EXPECT_EQ(counters.commits.load(), 2u);
  ASSERT_TRUE(receipt->wait(std::chrono::steady_clock::now()));
  EXPECT_EQ(receipt->outcomes()[0].what, Stored::inserted);
}

TEST(OtlpWriterBatches, AnUnnamedPartIsNotHeldBackWhenNothingElseWaits) {
  // Its naming span may never come (spans of a trace that names no session): with the queue
  // empty it is committed at once, under its trace id.
  TempDir dir;
  ServerOptions options{.db = dir.db(), .commit_sessions = 2};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  const std::string trace = "9bf92f3577b34da6a3ce929d0e0e4736";
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  std::vector<IngestItem> items;
  items.push_back(item_of(sample_session("conv-alone", {.steps = 1})));
  items.push_back(item_of(sample_session(trace, {.steps = 1})));
  items.back().unnamed = true;
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  store_queued(store, queue, counters, options);
  EXPECT_EQ(store.session_ids(), (std::vector<std::string>{trace, "conv-alone"}));
  EXPECT_EQ(counters.commits.load(), 1u) << "one batch: the unnamed part was not left for a next one";
}

TEST(OtlpWriterBatches, AHeldBackPartIsHeldBackOnceAndStoredUnderItsTraceIdWhenNotNamed) {
  // Held back from the first batch, it is appended first in the next even though that one fills
  // up too while more items wait: its delay is one batch at most.
  TempDir dir;
  ServerOptions options{.db = dir.db(), .commit_sessions = 2};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  const std::string trace = "abf92f3577b34da6a3ce929d0e0e4736";
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  std::vector<IngestItem> items;
  items.push_back(item_of(sample_session("conv-a", {.steps = 1})));
  items.push_back(item_of(sample_session(trace, {.steps = 1})));
  items.back().unnamed = true;
  for (const char* id : {"conv-b", "conv-c", "conv-d"}) items.push_back(item_of(sample_session(id, {.steps = 1})));
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  // Batches: {conv-a}, {the held-back part, conv-b, conv-c}, {conv-d}.
  EXPECT_EQ(store_queued(store, queue, counters, options),
            (std::vector<std::string>{"conv-a", trace, "conv-b", "conv-c", "conv-d"}));
  EXPECT_EQ(store.session_ids().size(), 5u);
  EXPECT_EQ(counters.commits.load(), 3u);
}

TEST(OtlpWriterBatches, ABatchsPendingRowsAreWrittenAndDeletedTogetherAtItsCommit) {
  // Kept until the commit (nothing is written as items are appended), then written and deleted
  // together: a row written and deleted within one batch is neither; a row deleted before its
  // write was seen is not written when it comes.
  TempDir dir;
  DuckDBTraceManager store(dir.db());
  PendingBatch batch;
  DeletedEarly deleted_early{100};
  const auto work = [](std::vector<std::int64_t> put, std::vector<std::int64_t> drop) {
    auto w = std::make_shared<OtlpWork>();
    for (const std::int64_t id : put) w->put.push_back(PendingRow{id, "log", 1, Value{{"record", id}}});
    w->drop = std::move(drop);
    return w;
  };
  const auto stored_ids = [&] {
    std::vector<std::int64_t> ids;
    for (const auto& row : store.query("SELECT id FROM otlp_pending ORDER BY id").rows) ids.push_back(row.at(0).as_int());
    return ids;
  };
  const auto commit = [&] {
    batch.write(store, deleted_early);
    detail::duck::StoreAccess::batch_commit(store);
  };
  batch.add(work({1, 2, 3}, {}));
  commit();
  EXPECT_EQ(stored_ids(), (std::vector<std::int64_t>{1, 2, 3}));
  batch.add(work({}, {1}));
  batch.add(work({4}, {}));
  batch.add(work({}, {4, 9}));  // 4 taken in its own batch; 9's write not seen yet
  EXPECT_EQ(stored_ids(), (std::vector<std::int64_t>{1, 2, 3})) << "nothing written before the commit";
  commit();
  EXPECT_EQ(stored_ids(), (std::vector<std::int64_t>{2, 3}));
  EXPECT_NE(deleted_early.find(9), nullptr);
  EXPECT_EQ(deleted_early.find(4), nullptr);
  batch.add(work({9, 5}, {}));
  commit();
  EXPECT_EQ(stored_ids(), (std::vector<std::int64_t>{2, 3, 5})) << "9 was taken before its write";
  EXPECT_EQ(deleted_early.find(9), nullptr);
}
