// Internal: the journal of requests answered before their commit (serve --otlp-ack journal): OTLP
// requests, and sessions posted without ?wait=commit with on_existing skip.
//
// A request is written to the current segment file of `<db>.journal/` and made durable (one
// fdatasync shared by every request written meanwhile) before it is answered; once everything it
// brought is committed, a done record follows it. A server killed in between replays at its next
// start the requests that have no done record: what they bring is stored idempotently (spans already
// stored are left out, OTLP sessions merge, sessions of ours already stored are skipped), so one
// committed just before the kill is stored once. A segment whose
// requests are all done is deleted once the next segment has begun.
//
// Records are framed as in the spill: u32 body length | u32 CRC-32 of the body | body, with body =
// type byte, u64 sequence number, and for a request its i64 arrival time (Unix ms), its route
// byte, its encoding byte and the request body (integers little-endian). A record is written by one write(); a crash can leave only
// a torn last record (never acknowledged: it was not synced), which the checksum or the length
// exposes and the reader cuts.
#pragma once

#include <unistd.h>

#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace synth::tracing::server {

class IngestJournal {
 public:
  /// Which route a request came to, so that it is replayed through the same one.
  enum class Route : char { otlp_traces = 't', otlp_logs = 'l', sessions = 's' };
  /// A request as it was written.
  struct Request {
    std::uint64_t seq = 0;
    Route route = Route::otlp_traces;
    /// How its route reads the body again: for OTLP 1 (JSON) or 0 (protobuf); for sessions 1
    /// (NDJSON) or 0 (JSON).
    std::uint8_t encoding = 0;
    std::int64_t received_unix_ms = 0;  ///< when it came: held spans and records wait from then
    std::string body;                   ///< decompressed; left over ones: read_body() reads it
    /// Where a left-over request's body is (read when it is replayed, so that a large journal is
    /// not held in memory at once).
    std::filesystem::path file;
    std::uint64_t body_at = 0;
    std::uint64_t body_bytes = 0;
  };

  /// A new segment is begun once the current one holds this many bytes.
  static constexpr std::uint64_t kSegmentBytes = std::uint64_t{64} << 20;

  /// How a file is made durable: fdatasync (tests fail it to see what a failed writeback does).
  using SyncFile = int (*)(int fd);

  /// Opens `dir` (created when missing), reads the requests an earlier server left there without
  /// their done record, and begins a new segment. Throws Error naming the folder when it cannot.
  explicit IngestJournal(std::filesystem::path dir, std::uint64_t segment_bytes = kSegmentBytes,
                         SyncFile sync_file = &::fdatasync);
  /// Deletes the folder when no request waits in it (a clean stop), else leaves it for the next start.
  ~IngestJournal();
  IngestJournal(const IngestJournal&) = delete;
  IngestJournal& operator=(const IngestJournal&) = delete;

  /// The folder beside a database file: `<db>.journal`.
  static std::filesystem::path folder_of(const std::filesystem::path& db);
  /// Whether a server left requests in the journal of `db` (read without changing it: its files
  /// are not empty). Those are stored by the next serve on the file.
  static bool left_requests(const std::filesystem::path& db);

  /// The requests an earlier server acknowledged and did not mark done, oldest first, without
  /// their bodies; the first call takes them (each is to be replayed, then marked done like a new one).
  std::vector<Request> take_left_over();
  /// Reads a left-over request's body into `request.body`. Throws Error naming the file.
  static void read_body(Request& request);
  /// The largest request body a record holds.
  static constexpr std::size_t kMaxBody = (std::size_t{1} << 32) - 64;
  /// Writes a request (durable once sync() returns); returns its sequence number. Throws Error
  /// naming the file when the disk refuses it (nothing of it stays). At most kMaxBody bytes.
  std::uint64_t write(Route route, std::uint8_t encoding, std::string_view body, std::int64_t received_unix_ms);
  /// Returns once request `seq` is on disk: one fdatasync for every request written meanwhile, the
  /// callers that come during it waiting for the next. Throws Error naming the file when it fails.
  void sync(std::uint64_t seq);
  /// What request `seq` brought is committed, or it was refused (its client sends it again): it is
  /// not replayed. A segment left with no request waiting is deleted.
  void done(std::uint64_t seq) noexcept;
  /// A replayed request that could not be stored again either: reported, and done.
  void give_up(std::uint64_t seq) noexcept;

  /// Requests written (or left over) and not done yet.
  std::size_t waiting();
  /// Bytes of the segment files.
  std::uint64_t bytes();

 private:
  struct File;
  struct Segment {
    std::filesystem::path path;
    std::size_t waiting = 0;  // requests in it not done
    std::uint64_t bytes = 0;
    bool kept = false;  // damaged: left for a person to look at
  };
  void begin_segment();                                       // mutex_ held
  void append(std::string_view head, std::string_view body);  // mutex_ held; throws Error
  std::map<std::uint64_t, Segment>::iterator segment_of(std::uint64_t seq);  // mutex_ held
  void delete_finished() noexcept;                                           // mutex_ held
  void failed(int error);                                                    // mutex_ held: a sync failed

  const std::filesystem::path dir_;
  const std::uint64_t segment_bytes_;
  const SyncFile sync_file_;
  std::mutex mutex_;
  std::condition_variable synced_cv_;
  std::map<std::uint64_t, Segment> segments_;  // by the first sequence number they may hold
  std::shared_ptr<File> file_;                 // the current segment's, the last of segments_
  std::vector<Request> left_over_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t written_ = 0;  // the last request written to the current file
  std::uint64_t synced_ = 0;   // every request up to this one is on disk
  std::uint64_t failed_upto_ = 0;  // the requests up to this one were in a file whose sync failed
  std::string sync_error_;
  bool syncing_ = false;
  bool torn_ = false;  // the current file is not to be written on: a write or a sync failed
  std::size_t waiting_ = 0;
};

/// A request kept in the journal until what it brought is committed: the receipt of its queued
/// items marks it done (handed_over()); else it is marked done when this is destroyed, for it
/// brought nothing to wait for, or was refused (its client sends it again).
class JournaledRequest {
 public:
  JournaledRequest() = default;  ///< not journaled
  /// `replayed`: left by an earlier server; stored again once, not again and again.
  JournaledRequest(IngestJournal& journal, std::uint64_t seq, bool replayed = false) noexcept
      : journal_(&journal), seq_(seq), replayed_(replayed) {}
  JournaledRequest(JournaledRequest&& other) noexcept
      : journal_(std::exchange(other.journal_, nullptr)),
        seq_(other.seq_),
        replayed_(other.replayed_),
        handed_over_(other.handed_over_) {}
  JournaledRequest& operator=(JournaledRequest&&) = delete;
  ~JournaledRequest() {
    if (journal_ != nullptr && !handed_over_) journal_->done(seq_);
  }
  explicit operator bool() const noexcept { return journal_ != nullptr; }
  /// What the receipt of the request's items calls once they all have their outcome: done unless
  /// one was lost (a failed commit, the shutdown deadline), which leaves it for the next start; a
  /// replayed request is done even then (reported), so that one the database keeps refusing is
  /// not replayed at every start.
  std::function<void(bool lost)> when_recorded() const {
    return [journal = journal_, seq = seq_, replayed = replayed_](bool lost) {
      if (!lost) {
        journal->done(seq);
      } else if (replayed) {
        journal->give_up(seq);
      }
    };
  }
  /// Its items are queued with that receipt.
  void handed_over() noexcept { handed_over_ = true; }
  /// Not queued, and not done: replayed at the next start.
  void leave_for_next_start() noexcept { handed_over_ = true; }
  /// Returns once it is on disk (when it was handed over: else nothing waits for it). Throws Error.
  void sync() const {
    if (journal_ != nullptr && handed_over_) journal_->sync(seq_);
  }

 private:
  IngestJournal* journal_ = nullptr;
  std::uint64_t seq_ = 0;
  bool replayed_ = false;
  bool handed_over_ = false;
};

}  // namespace synth::tracing::server
