// Internal: the file that says a `synth-trace serve` owns a database, and where it listens.
// `<db>.serve.lock` holds {"url", "pid", "db", "version"} and is locked (flock) for as long as
// the server runs, so a file left by a server that crashed is recognised as stale: the kernel
// released its lock.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace synth::tracing::server {

/// The lock file's path for a database.
std::filesystem::path lock_file_path(const std::filesystem::path& db);

/// A running server, as its lock file describes it.
struct RunningServer {
  std::string url;  ///< "http://127.0.0.1:4319"
  long pid = 0;
};

/// The server that owns `db`, if one runs: its lock file exists and is locked. A stale file (no
/// lock) or none gives nullopt. Throws Error when the file is locked but unreadable.
std::optional<RunningServer> find_server(const std::filesystem::path& db);

/// Held by the server while it runs: writes the lock file (atomically, already locked) and
/// removes it when destroyed.
class ServerLock {
 public:
  /// Throws Error naming the file when it cannot be written, or when another server holds it.
  ServerLock(const std::filesystem::path& db, const std::string& url);
  ~ServerLock();
  ServerLock(const ServerLock&) = delete;
  ServerLock& operator=(const ServerLock&) = delete;

 private:
  std::filesystem::path path_;
  int fd_ = -1;
};

}  // namespace synth::tracing::server
