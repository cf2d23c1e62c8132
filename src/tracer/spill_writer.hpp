// Internal: the tracer's spill writer, the background thread that keeps sessions on disk
// (see synth/tracing/spill.hpp): checkpoints of active sessions, sessions that ended but are not
// stored yet, and sessions that overflow the sink queue.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "spill/spill_file.hpp"
#include "tracer/journal.hpp"
#include "tracer/outgoing.hpp"
#include "worker_thread.hpp"
#include "synth/tracing/config.hpp"

namespace synth::tracing::detail {

struct SessionState;
struct TracerCore;
class FinishedSession;

/// Where one session stands in the spill; shared by the session, its FinishedSession and the
/// writer.
struct SpillCursor {
  /// Held while the writer reads journal items outside the session's lock, and masks them in
  /// place; FinishedSession takes it before moving the items out or freeing them, and a snapshot
  /// of the active session before copying them.
  std::mutex read_mutex;
  /// The journal's items masked in place so far (guarded by read_mutex).
  PolicyApplied policy_applied;
  /// Set once every sink has the session (or a recovered file's session): its file may go.
  std::atomic<bool> stored{false};
  /// When the session started: its first checkpoint waits until it is one interval old.
  const std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // The rest belongs to the writer's thread.
  std::size_t steps = 0;
  std::size_t metadata = 0;
  std::size_t events = 0;
  std::size_t messages = 0;
  std::uint64_t bytes = 0;
  std::filesystem::path file;  // empty until the first write
  bool checkpointed = false;   // beyond the stub: the items recorded by the first checkpoint
  bool complete = false;       // the end record is written
  bool stopped = false;        // a write failed or the cap was reached: the file keeps a prefix
  int recovered_folder = -1;   // a recovered file: index of its claimed folder
};

/// A session kept whole in a spill file, for the sinks.
struct SpilledFile {
  std::filesystem::path file;
  std::shared_ptr<SpillCursor> cursor;
  /// Left by a tracer that is gone (else: overflowed from this one).
  bool recovered = false;
};

/// Counters of the spill.
struct SpillCounters {
  std::uint64_t overflowed = 0;       // sessions that went through the spill: the sink queue was full
  std::uint64_t recovered = 0;        // sessions recovered from tracers that were gone
  std::uint64_t records_refused = 0;  // items not checkpointed: the cap, or a failed write
  std::uint64_t bytes = 0;            // in this tracer's spill files now
};

class SpillWriter {
 public:
  /// `to_sinks` receives every session written whole to the spill for the sinks (overflowed or
  /// recovered); `overflow_failed` is told of an overflowed session that could not be written.
  SpillWriter(const TracingConfig& config, std::shared_ptr<const OutgoingPolicy> policy);
  ~SpillWriter();
  SpillWriter(const SpillWriter&) = delete;
  SpillWriter& operator=(const SpillWriter&) = delete;

  /// Starts the thread (first call only): creates the tracer's folder, recovers folders of
  /// tracers that are gone when TracingConfig::recover_spill, then checkpoints. A folder that
  /// cannot be created is reported and the spill stays off.
  void start(std::weak_ptr<TracerCore> core, std::function<void(SpilledFile)> to_sinks,
             std::function<void(const std::string& session_id)> overflow_failed);
  bool running() const noexcept;

  /// A timestep ended: checkpoint soon. Costs an atomic store.
  void wake() noexcept;
  /// A session ended: its file gets the rest and the end record, unless the sinks store it first.
  void ended(std::shared_ptr<FinishedSession> session) noexcept;
  /// The sink queue is full: the session is written whole, released from memory and handed to
  /// `to_sinks`. Waits while more than `capacity` sessions wait to be written, up to `wait`;
  /// false when it cannot be taken (not running, still full after `wait`).
  bool overflow(std::shared_ptr<FinishedSession> session, std::chrono::milliseconds wait) noexcept;
  /// Every sink has the session of `cursor`: its file goes.
  void stored(const std::shared_ptr<SpillCursor>& cursor) noexcept;

  /// A last checkpoint of every active session, then stops by `deadline`. The folder stays
  /// when it holds files (sessions not stored: the next recovery takes them).
  void shutdown(std::chrono::steady_clock::time_point deadline) noexcept;

  SpillCounters counters() const noexcept;

 private:
  struct State;
  // Shared with the thread, which a shutdown past its deadline leaves behind.
  std::shared_ptr<State> state_;
};

}  // namespace synth::tracing::detail
