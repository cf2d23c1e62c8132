// Internal: the spill's on-disk format and folders.
//
// A spill file holds one session as a sequence of records, each framed as
//   u32 body length | u32 CRC-32 of the body | body = type byte, i64 step index, JSON
// (integers little-endian). A record is written whole by one write(); a crash can leave only a
// torn last record, which the checksum or the length exposes, and the reader cuts it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

enum class SpillRecord : char {
  header = 'H',    // {"session_id", "created_at", "pid"}: the first record
  metadata = 'M',  // a session metadata entry
  timestep = 'T',  // a timestep without its items
  event = 'E',     // an event; step: its timestep's index, or -1
  message = 'G',   // a message; step as for events
  end = 'X',       // the session ended: nothing follows
};

/// Appends one framed record to `out`.
void append_spill_record(std::string& out, SpillRecord type, std::int64_t step, std::string_view json);

/// Appends the framed records of each item (JSON in the trace format) to `out`.
void append_spill_header(std::string& out, std::string_view session_id, Timestamp created_at);
void append_spill_item(std::string& out, const SessionMetadataEntry& entry);
void append_spill_item(std::string& out, const SessionTimeStep& step);
void append_spill_item(std::string& out, const Event& event, std::int64_t step);
void append_spill_item(std::string& out, const SessionEventMessage& message, std::int64_t step);
void append_spill_end(std::string& out);

/// Appends `bytes` to `file` (created if needed) in one write; on failure cuts the file back to
/// its previous size, so that no partial record stays, and throws Error naming the file.
void append_to_file(const std::filesystem::path& file, std::string_view bytes);

/// The metadata entry that marks a session recovered without its end.
SessionMetadataEntry aborted_status(std::string reason);

/// A tracer's folder in the spill directory, locked (flock) while its owner lives: a folder
/// whose lock can be taken belongs to nobody alive.
class SpillFolder {
 public:
  /// Creates `<spill_dir>/<pid>-<random>/` and locks it. Throws Error naming the folder.
  static SpillFolder create(const std::filesystem::path& spill_dir);
  /// Locks an existing folder when nobody holds it (its tracer is gone); nullopt when it is in
  /// use or no longer exists.
  static std::optional<SpillFolder> claim(const std::filesystem::path& folder);
  /// The folders in `spill_dir` (none when it does not exist). Throws Error when unreadable.
  static std::vector<std::filesystem::path> list(const std::filesystem::path& spill_dir);

  SpillFolder(SpillFolder&& other) noexcept;
  SpillFolder& operator=(SpillFolder&& other) noexcept;
  SpillFolder(const SpillFolder&) = delete;
  SpillFolder& operator=(const SpillFolder&) = delete;
  /// Releases the lock; the folder and its files stay.
  ~SpillFolder();

  const std::filesystem::path& path() const noexcept { return path_; }
  /// The session files in the folder.
  std::vector<std::filesystem::path> files() const;
  /// Deletes the folder when it holds no session file any more (and releases the lock).
  void remove_if_empty() noexcept;

 private:
  SpillFolder(std::filesystem::path path, int lock_fd) : path_(std::move(path)), lock_fd_(lock_fd) {}
  std::filesystem::path path_;
  int lock_fd_ = -1;
};

}  // namespace synth::tracing::detail
