// Helpers shared by the DuckDB store's tests.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <string>
#include <system_error>

#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::testing {

#if defined(__SANITIZE_THREAD__)
inline constexpr bool kThreadSanitizer = true;
#else
inline constexpr bool kThreadSanitizer = false;
#endif

/// Under ThreadSanitizer, DuckDB runs its work on the calling thread only. libduckdb.so is not
/// instrumented, so TSan cannot see the synchronization between DuckDB's own worker threads and
/// reports hundreds of races between them (checkpoint tasks, task queues) that are not ours.
/// With one DuckDB thread, TSan still checks everything this project does: the sink thread, the
/// agents, and queries from other threads, all through the manager's mutex.
template <class Db>
Db& single_threaded_under_tsan(Db& db) {
  if (kThreadSanitizer) db.query("SET threads TO 1");
  return db;
}

/// What survives if the process died now: a copy of the database file and its write-ahead log
/// (committed transactions only) at `copy`, which is opened like any database.
inline void copy_durable_state(const std::filesystem::path& db, const std::filesystem::path& copy) {
  std::filesystem::copy_file(db, copy, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::path wal = db;
  wal += ".wal";
  std::filesystem::path copy_wal = copy;
  copy_wal += ".wal";
  std::error_code ec;
  std::filesystem::remove(copy_wal, ec);
  if (std::filesystem::exists(wal)) std::filesystem::copy_file(wal, copy_wal);
}

#ifdef DATABASE_HOLDER_BINARY  // defined for the test programs that use it (tests/CMakeLists.txt)
/// Another process holding a database open (DuckDB then refuses it to every other process):
/// a child (database_holder: a test using this links DATABASE_HOLDER_BINARY, see
/// tests/CMakeLists.txt) that opens `db` and keeps it until release() or destruction. The constructor returns
/// once the child has it open; it throws std::runtime_error when the child could not open it.
class DatabaseHolder {
 public:
  explicit DatabaseHolder(const std::filesystem::path& db) {
    // posix_spawn of a program (tests/duckdb/database_holder.cpp), not fork: the forked child of
    // a test process with threads (DuckDB's, the tracer's) must not run DuckDB or allocate.
    int ready[2];
    int release_pipe[2];
    if (::pipe2(ready, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    if (::pipe2(release_pipe, O_CLOEXEC) != 0) {
      ::close(ready[0]);
      ::close(ready[1]);
      throw std::runtime_error("pipe failed");
    }
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, release_pipe[0], STDIN_FILENO);
    ::posix_spawn_file_actions_adddup2(&actions, ready[1], STDOUT_FILENO);
    std::string binary = DATABASE_HOLDER_BINARY;
    std::string path = db.string();
    char* argv[] = {binary.data(), path.data(), nullptr};
    const int spawned = ::posix_spawn(&pid_, binary.c_str(), &actions, nullptr, argv, environ);
    ::posix_spawn_file_actions_destroy(&actions);
    ::close(ready[1]);
    ::close(release_pipe[0]);
    release_fd_ = release_pipe[1];
    if (spawned != 0) {
      pid_ = 0;
      ::close(ready[0]);
      release();
      throw std::runtime_error(std::string("could not start ") + DATABASE_HOLDER_BINARY);
    }
    pollfd p{ready[0], POLLIN, 0};
    char state = 0;
    const bool opened = ::poll(&p, 1, 20'000) == 1 && ::read(ready[0], &state, 1) == 1 && state == 'r';
    ::close(ready[0]);
    if (!opened) {
      release();
      throw std::runtime_error("the holding process could not open '" + db.string() + "'");
    }
  }
  ~DatabaseHolder() { release(); }
  DatabaseHolder(const DatabaseHolder&) = delete;
  DatabaseHolder& operator=(const DatabaseHolder&) = delete;

  /// Lets the child close the database and exit (killed after 10 s); returns its exit code.
  int release() {
    if (release_fd_ >= 0) ::close(release_fd_);
    release_fd_ = -1;
    if (pid_ <= 0) return exit_code_;
    int status = 0;
    for (int i = 0; i < 200; ++i) {
      if (::waitpid(pid_, &status, WNOHANG) == pid_) return finished(status);
      ::usleep(50'000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status, 0);
    return finished(status);
  }

 private:
  int finished(int status) {
    pid_ = 0;
    exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return exit_code_;
  }
  pid_t pid_ = 0;
  int release_fd_ = -1;
  int exit_code_ = -1;
};
#endif

}  // namespace synth::tracing::testing
