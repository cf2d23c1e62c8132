// The spill: sessions kept on disk while they are recorded, so that a crash loses at most the
// last checkpoint interval, and sessions waiting for a slow sink do not fill memory.
//
// A tracer with sinks checkpoints its active sessions into TracingConfig::spill_dir on a
// background thread (never the agent's): one folder per tracer, locked while it lives, and one
// append-only file per session, each record with a checksum. A session's file is deleted once
// every sink has stored it. Files left by a tracer that is gone (its process died, or it shut down
// with sessions never ended) are recovered: by the next tracer using the same folder
// (TracingConfig::recover_spill), or by `synth-trace recover`.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/model.hpp"
#include "synth/tracing/sinks.hpp"

namespace synth::tracing {

/// A session read back from a spill file.
struct SpilledSession {
  SessionTrace trace;
  /// True when the file holds the session's end: nothing recorded is missing.
  bool ended = false;
  /// Bytes of a torn or corrupt tail that were cut (a record whose checksum or length is wrong,
  /// and everything after it).
  std::uint64_t bytes_cut = 0;
};

/// Reads a spill file. Throws Error naming the file when it cannot be read, or is not a spill
/// file (no valid header record).
SpilledSession read_spill_file(const std::filesystem::path& file);

/// What recover_spilled_sessions() did.
struct SpillRecovery {
  /// Sessions handed to the sink, and among them those that had not ended (marked aborted).
  std::uint64_t sessions = 0;
  std::uint64_t aborted = 0;
  std::uint64_t events = 0;
  std::uint64_t messages = 0;
  /// Torn or corrupt tails cut, in bytes, over all files.
  std::uint64_t bytes_cut = 0;
  /// Folders left alone because their tracer is still running.
  std::uint64_t folders_in_use = 0;
  /// One line per file that could not be recovered (kept on disk), naming it and why.
  std::vector<std::string> problems;
};

/// Recovers the sessions spilled into `spill_dir` by tracers that are gone: each goes to `sink`
/// (a session that had not ended gets a kSessionStatusMetadata entry {"status": "aborted"}),
/// then, once sink.flush() returned, its file is deleted. Folders of running tracers are left
/// alone. A missing `spill_dir` recovers nothing. Throws Error when `spill_dir` cannot be read.
SpillRecovery recover_spilled_sessions(const std::filesystem::path& spill_dir, SessionSink& sink);

}  // namespace synth::tracing
