// Sinks: where finished sessions go.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing {

/// Thrown by a sink's write() or flush() when sessions it had accepted earlier are lost (a
/// batch whose commit failed, say). The tracer adds count() to TracerStats::sessions_lost.
class SessionsLost : public Error {
 public:
  SessionsLost(std::uint64_t count, const std::string& why) : Error(why), count_(count) {}
  /// How many sessions were lost.
  std::uint64_t count() const noexcept { return count_; }

 private:
  std::uint64_t count_;
};

/// Receives finished sessions. The tracer calls write() and flush() from its one background
/// thread, never from the agent's, so a sink may block on disk or network; it is called by one
/// thread at a time. An exception from a sink is caught, counted (TracerStats::sink_errors) and
/// reported; the trace is not retried. A write() that throws has lost its session; a sink that
/// later loses sessions it accepted throws SessionsLost (both count in
/// TracerStats::sessions_lost).
class SessionSink {
 public:
  virtual ~SessionSink() = default;
  /// Stores or forwards one finished session.
  virtual void write(const SessionTrace& trace) = 0;
  /// Makes everything written so far durable; called on flush(), when a long backlog was
  /// delivered, and when the queue has run empty, at most every 100 ms (so that a steady
  /// stream of short sessions is not flushed once per session).
  virtual void flush() {}
  /// The tracer is shutting down and gives up waiting for this sink at `deadline`: a sink that
  /// retries (over a network) stops in time to put what it holds somewhere safe. Called from the
  /// thread shutting the tracer down, possibly while write() or flush() run on the background
  /// thread; must not throw.
  virtual void shutdown_by(std::chrono::steady_clock::time_point deadline) noexcept { (void)deadline; }
};

/// Writes each session to `<dir>/session_<id>_<YYYYmmdd_HHMMSS>.json` (a numeric suffix keeps
/// files apart when the same id ends twice in one second). Characters other than letters,
/// digits, '-', '_' and '.' in the id become '_' in the file name.
class JsonFileSink : public SessionSink {
 public:
  /// Creates `dir` if needed; throws Error naming it when that fails.
  explicit JsonFileSink(std::filesystem::path dir, JsonFormat format = {});

  void write(const SessionTrace& trace) override;
  /// Makes the files written since the last flush durable: fsync of each, then of the folder
  /// (their names). Throws Error naming the file that could not be synced.
  void flush() override;

  const std::filesystem::path& dir() const noexcept { return dir_; }
  /// Files written so far.
  std::uint64_t files_written() const noexcept { return files_written_.load(std::memory_order_relaxed); }
  /// The file the last write() made (empty before the first).
  const std::filesystem::path& last_file() const noexcept { return last_file_; }

 private:
  std::filesystem::path dir_;
  JsonFormat format_;
  std::string buffer_;  // reused for every trace: warm memory
  std::vector<std::filesystem::path> unsynced_;  // written since the last flush
  std::filesystem::path last_file_;
  std::atomic<std::uint64_t> files_written_{0};
};

}  // namespace synth::tracing
