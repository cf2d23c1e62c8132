// The ingest journal of `serve --otlp-ack journal` on real files: what is written and not done is
// found again by the next opening, exactly and in order; a torn last record is cut; segments are
// deleted once their requests are done; concurrent syncs all return with their request on disk.
#include "server/journal.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <thread>

#include "support.hpp"
#include "synth/tracing/error.hpp"

using synth::tracing::server::IngestJournal;
using synth::tracing::server::JournaledRequest;
using synth::tracing::testing::TempDir;
namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kReceived = 1735689800123;

// fdatasync failing when asked to, once, as Linux reports a failed writeback: once.
std::atomic<bool> fail_next_sync{false};
int flaky_sync(int fd) {
  if (fail_next_sync.exchange(false)) {
    errno = EIO;
    return -1;
  }
  return ::fdatasync(fd);
}

std::vector<fs::path> segments(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::exists(dir)) return out;
  for (const auto& entry : fs::directory_iterator(dir)) out.push_back(entry.path());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST(IngestJournal, RequestsNotDoneAreFoundAgainExactlyAndInOrder) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  EXPECT_EQ(folder.string(), dir.db().string() + ".journal");
  std::string binary("\0\x01\xff protobuf", 13);
  {
    IngestJournal journal(folder);
    EXPECT_TRUE(journal.take_left_over().empty());
    const std::uint64_t a = journal.write(IngestJournal::Route::otlp_traces, false, binary, kReceived);
    const std::uint64_t b = journal.write(IngestJournal::Route::otlp_logs, true, R"({"resourceLogs":[]})", kReceived);
    const std::uint64_t c = journal.write(IngestJournal::Route::otlp_traces, true, "", kReceived);
    EXPECT_LT(a, b);
    EXPECT_LT(b, c);
    journal.sync(c);
    journal.done(b);
    EXPECT_EQ(journal.waiting(), 2u);
  }
  ASSERT_TRUE(fs::exists(folder)) << "requests wait in it";
  IngestJournal journal(folder);
  std::vector<IngestJournal::Request> left = journal.take_left_over();
  ASSERT_EQ(left.size(), 2u);
  EXPECT_TRUE(left[0].body.empty()) << "read when replayed";
  for (IngestJournal::Request& r : left) IngestJournal::read_body(r);
  EXPECT_EQ(left[0].route, IngestJournal::Route::otlp_traces);
  EXPECT_EQ(left[0].encoding, 0);
  EXPECT_EQ(left[0].body, binary);
  EXPECT_EQ(left[0].received_unix_ms, kReceived);
  EXPECT_EQ(left[1].route, IngestJournal::Route::otlp_traces);
  EXPECT_EQ(left[1].encoding, 1);
  EXPECT_EQ(left[1].body, "");
  EXPECT_TRUE(journal.take_left_over().empty()) << "taken once";
  EXPECT_EQ(journal.waiting(), 2u);
  // New requests are numbered after the old ones.
  const std::uint64_t d = journal.write(IngestJournal::Route::otlp_logs, false, "d", kReceived);
  EXPECT_GT(d, left[1].seq);
  for (const IngestJournal::Request& r : left) journal.done(r.seq);
  journal.done(d);
  journal.done(d);  // twice: counted once
  EXPECT_EQ(journal.waiting(), 0u);
}

TEST(IngestJournal, ACleanStopLeavesNoFolderAndTheDoneRequestsSegmentsAreDeleted) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  {
    IngestJournal journal(folder, 100);  // a segment per request or two
    std::vector<std::uint64_t> seqs;
    for (int i = 0; i < 6; ++i) seqs.push_back(journal.write(IngestJournal::Route::otlp_traces, false, std::string(80, 'x'), kReceived));
    journal.sync(seqs.back());
    EXPECT_GE(segments(folder).size(), 3u);
    for (std::size_t i = 0; i + 1 < seqs.size(); ++i) journal.done(seqs[i]);
    // Only the current segment is left (its request waits).
    EXPECT_EQ(segments(folder).size(), 1u);
    EXPECT_LT(journal.bytes(), 400u) << "two requests and the done records";
    journal.done(seqs.back());
  }
  EXPECT_FALSE(fs::exists(folder));
}

TEST(IngestJournal, AnOldSegmentGoesOnceItsLastLeftOverRequestIsDone) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  std::uint64_t kept = 0;
  {
    IngestJournal journal(folder);
    kept = journal.write(IngestJournal::Route::otlp_traces, false, "kept", kReceived);
    journal.done(journal.write(IngestJournal::Route::otlp_traces, false, "done", kReceived));
    journal.sync(kept);
  }
  const fs::path old_segment = segments(folder).at(0);
  IngestJournal journal(folder);
  ASSERT_EQ(journal.take_left_over().size(), 1u);
  EXPECT_TRUE(fs::exists(old_segment));
  journal.done(kept);
  EXPECT_FALSE(fs::exists(old_segment)) << "all its requests are done";
  EXPECT_EQ(segments(folder).size(), 1u) << "the new one stays, written on";
}

TEST(IngestJournal, ATornLastRecordIsCutAndWhatCameBeforeIsKept) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  {
    IngestJournal journal(folder);
    journal.sync(journal.write(IngestJournal::Route::otlp_traces, false, "whole", kReceived));
    journal.sync(journal.write(IngestJournal::Route::otlp_traces, false, "torn by the crash", kReceived));
  }
  const fs::path segment = segments(folder).at(0);
  fs::resize_file(segment, fs::file_size(segment) - 3);
  {
    IngestJournal journal(folder);
    std::vector<IngestJournal::Request> left = journal.take_left_over();
    ASSERT_EQ(left.size(), 1u);
    IngestJournal::read_body(left[0]);
    EXPECT_EQ(left[0].body, "whole");
  }
}

TEST(IngestJournal, ADamagedRecordIsReportedAndItsFileKeptAside) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  {
    IngestJournal journal(folder);
    journal.sync(journal.write(IngestJournal::Route::otlp_traces, false, "kept", kReceived));
    journal.sync(journal.write(IngestJournal::Route::otlp_traces, false, "flipped", kReceived));
  }
  const fs::path segment = segments(folder).at(0);
  {
    std::fstream f(segment, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('?');
  }
  {
    IngestJournal journal(folder);
    std::vector<IngestJournal::Request> left = journal.take_left_over();
    ASSERT_EQ(left.size(), 1u) << "what came before the damage is read";
    IngestJournal::read_body(left[0]);
    EXPECT_EQ(left[0].body, "kept");
    journal.done(left[0].seq);
  }
  // Not deleted with the rest: a person should see what the disk did.
  fs::path aside = segment;
  aside += ".damaged";
  EXPECT_TRUE(fs::exists(aside));
  EXPECT_FALSE(fs::exists(segment));
}

TEST(IngestJournal, DoneRecordsOfAnOlderSegmentAreKeptWhileItIs) {
  // a and b in the first segment, c in the second, which also holds b's done record: once c is
  // done, the second segment must outlive the first, or b comes back at the next start.
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  std::uint64_t a = 0;
  std::uint64_t d = 0;
  {
    IngestJournal journal(folder, 60);  // a record of a 10-byte body is 37 bytes: two per segment
    a = journal.write(IngestJournal::Route::otlp_traces, false, "0123456789", kReceived);
    const std::uint64_t b = journal.write(IngestJournal::Route::otlp_traces, false, "0123456789", kReceived);
    const std::uint64_t c = journal.write(IngestJournal::Route::otlp_traces, false, "0123456789", kReceived);
    journal.done(b);
    journal.done(c);
    d = journal.write(IngestJournal::Route::otlp_traces, false, "0123456789", kReceived);
    journal.sync(d);
  }
  IngestJournal journal(folder);
  std::vector<std::uint64_t> left;
  for (const IngestJournal::Request& r : journal.take_left_over()) left.push_back(r.seq);
  EXPECT_EQ(left, (std::vector<std::uint64_t>{a, d}));
}

TEST(IngestJournal, AFailedSyncFailsEveryRequestOfItsFileAndTheNextBeginsANewOne) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  IngestJournal journal(folder, IngestJournal::kSegmentBytes, &flaky_sync);
  const std::uint64_t a = journal.write(IngestJournal::Route::otlp_traces, false, "a", kReceived);
  const std::uint64_t b = journal.write(IngestJournal::Route::otlp_traces, false, "b", kReceived);
  fail_next_sync = true;
  EXPECT_THROW(journal.sync(a), synth::tracing::Error);
  // b's pages were in the failed writeback too: a later fdatasync of the file would succeed
  // without them on disk.
  EXPECT_THROW(journal.sync(b), synth::tracing::Error);
  const std::uint64_t c = journal.write(IngestJournal::Route::otlp_traces, false, "c", kReceived);
  EXPECT_NO_THROW(journal.sync(c));
  EXPECT_EQ(segments(folder).size(), 2u) << "c went to a new file";
  EXPECT_EQ(journal.waiting(), 3u) << "all three stay until their commit (a and b were queued before their sync)";
}

TEST(IngestJournal, ConcurrentWritersEachReturnFromSyncWithTheirRequestOnDisk) {
  TempDir dir;
  const fs::path folder = IngestJournal::folder_of(dir.db());
  constexpr int kThreads = 8;
  constexpr int kEach = 40;
  {
    IngestJournal journal(folder, 4096);  // rotations meanwhile too
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&journal, t] {
        for (int i = 0; i < kEach; ++i) {
          const std::string body = std::to_string(t) + "/" + std::to_string(i) + std::string(200, 'b');
          const std::uint64_t seq = journal.write(IngestJournal::Route::otlp_traces, true, body, kReceived);
          journal.sync(seq);
          if (i % 2 == 0) journal.done(seq);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(journal.waiting(), static_cast<std::size_t>(kThreads * kEach / 2));
  }
  IngestJournal journal(folder);
  std::vector<IngestJournal::Request> left = journal.take_left_over();
  ASSERT_EQ(left.size(), static_cast<std::size_t>(kThreads * kEach / 2));
  for (IngestJournal::Request& r : left) {
    IngestJournal::read_body(r);
    const std::size_t slash = r.body.find('/');
    ASSERT_NE(slash, std::string::npos);
    EXPECT_EQ(std::stoi(r.body.substr(slash + 1)) % 2, 1) << r.body.substr(0, 10);
  }
}

TEST(JournaledRequest, IsDoneWhenDroppedUnlessHandedOverThenWhenItsOutcomesAreRecordedWithoutALossOrOnceReplayed) {
  TempDir dir;
  IngestJournal journal(IngestJournal::folder_of(dir.db()));
  { JournaledRequest refused(journal, journal.write(IngestJournal::Route::otlp_traces, false, "refused", kReceived)); }
  EXPECT_EQ(journal.waiting(), 0u);
  const std::uint64_t seq = journal.write(IngestJournal::Route::otlp_traces, false, "queued", kReceived);
  std::function<void(bool)> when_recorded;
  {
    JournaledRequest queued(journal, seq);
    when_recorded = queued.when_recorded();
    queued.handed_over();
    queued.sync();
  }
  EXPECT_EQ(journal.waiting(), 1u) << "its items are queued";
  when_recorded(true);
  EXPECT_EQ(journal.waiting(), 1u) << "lost: replayed at the next start";
  when_recorded(false);
  EXPECT_EQ(journal.waiting(), 0u);
  // Replayed and lost again: done all the same (not replayed at every start).
  const std::uint64_t again = journal.write(IngestJournal::Route::otlp_traces, false, "replayed", kReceived);
  {
    JournaledRequest replayed(journal, again, true);
    when_recorded = replayed.when_recorded();
    replayed.handed_over();
  }
  EXPECT_EQ(journal.waiting(), 1u);
  when_recorded(true);
  EXPECT_EQ(journal.waiting(), 0u);
  JournaledRequest none;
  EXPECT_FALSE(none);
  none.sync();  // nothing to wait for
}
