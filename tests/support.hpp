// Helpers shared by the tests: a temporary folder, a file's content, captured diagnostics, an environment variable
// set for a scope, and waiting for a condition.
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <string>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <thread>
#include <vector>

#include <ostream>

#include "synth/tracing/error.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/sinks.hpp"

namespace synth::tracing {
// Readable gtest output for values and traces (found by argument-dependent lookup).
inline void PrintTo(const Value& v, std::ostream* os) { *os << v.dump(); }
inline void PrintTo(const SessionTrace& t, std::ostream* os) {
  const std::string json = t.to_json();
  *os << (json.size() > 4000 ? json.substr(0, 4000) + "..." : json);
}
}  // namespace synth::tracing

namespace synth::tracing::testing {

/// A fresh, empty folder under the system's temporary folder, removed with everything in it
/// (permissions restored first, for tests that make it read-only).
struct TempDir {
  explicit TempDir(std::string_view prefix = "synth_test")
      : path(std::filesystem::temp_directory_path() / (std::string(prefix) + "_" + std::to_string(::getpid()) + "_" +
                                                       std::to_string(counter++))) {
    std::filesystem::remove_all(path);
    std::filesystem::create_directories(path);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::permissions(path, std::filesystem::perms::owner_all, ec);
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::filesystem::path file(const std::string& name) const { return path / name; }
  std::filesystem::path db() const { return path / "traces.duckdb"; }

  std::filesystem::path path;
  static inline int counter = 0;
};

/// The whole content of a file, byte for byte ("" when it cannot be read).
inline std::string file_contents(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// The names of this process's threads now (/proc/self/task/*/comm), one per thread.
inline std::vector<std::string> thread_names() {
  std::vector<std::string> out;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name = file_contents(task.path() / "comm");
    if (!name.empty() && name.back() == '\n') name.pop_back();
    out.push_back(std::move(name));
  }
  return out;
}

/// Collects the library's diagnostics for assertions instead of printing them, while it lives.
struct CapturedDiagnostics {
  CapturedDiagnostics() {
    set_diagnostic_handler([this](std::string_view m) {
      std::lock_guard lock(mutex);
      messages.emplace_back(m);
    });
  }
  ~CapturedDiagnostics() { set_diagnostic_handler({}); }
  CapturedDiagnostics(const CapturedDiagnostics&) = delete;
  CapturedDiagnostics& operator=(const CapturedDiagnostics&) = delete;

  std::vector<std::string> all() {
    std::lock_guard lock(mutex);
    return messages;
  }
  std::mutex mutex;
  std::vector<std::string> messages;
};

/// Sets (or, with nullptr, unsets) an environment variable while it lives; restores what was
/// there before. (Every test program starts without SYNTH_TRACING_* and OTEL_* variables.)
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) previous_ = old;
    if (value != nullptr) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ~ScopedEnv() {
    if (previous_) {
      ::setenv(name_.c_str(), previous_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> previous_;
};

/// Polls `condition` (a counter of another process or thread the test cannot be notified by)
/// until it holds; false when `limit` passed first.
template <class Condition>
bool wait_until(Condition&& condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return true;
}

/// How many threads are named `name`, once that is `expected` or 10 s have passed: a thread names
/// itself when it starts, which may be a moment after whoever started it returned.
inline long threads_named(const std::string& name, long expected) {
  long n = 0;
  wait_until([&] {
    const auto all = thread_names();
    n = static_cast<long>(std::count(all.begin(), all.end(), name));
    return n == expected;
  });
  return n;
}

/// A sink that keeps every session it is given, and counts flushes.
class MemorySink : public SessionSink {
 public:
  void write(const SessionTrace& trace) override {
    std::lock_guard lock(mutex_);
    traces_.push_back(trace);
  }
  void flush() override { flushes_.fetch_add(1); }
  std::vector<SessionTrace> traces() {
    std::lock_guard lock(mutex_);
    return traces_;
  }
  int flushes() const { return flushes_.load(); }

 private:
  std::mutex mutex_;
  std::vector<SessionTrace> traces_;
  std::atomic<int> flushes_{0};
};

/// A sink that holds the tracer's sink thread inside write() of session "gate" until opened,
/// so that the sessions ended meanwhile reach the next sink back to back, in one batch.
class GateSink : public SessionSink {
 public:
  void write(const SessionTrace& trace) override {
    if (trace.session_id != "gate") return;
    std::unique_lock lock(mutex_);
    entered_ = true;
    changed_.notify_all();
    changed_.wait(lock, [&] { return open_; });
  }
  bool wait_entered() {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(30), [&] { return entered_; });
  }
  void open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool entered_ = false;
  bool open_ = false;
};

/// Files this process writes may not grow beyond `bytes` while it lives (a full disk, as each
/// file sees it); writes past the limit fail with EFBIG instead of killing the process.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(rlim_t bytes) {
    ::getrlimit(RLIMIT_FSIZE, &saved_);
    previous_handler_ = ::signal(SIGXFSZ, SIG_IGN);
    rlimit limited = saved_;
    limited.rlim_cur = bytes;
    if (::setrlimit(RLIMIT_FSIZE, &limited) != 0) throw std::runtime_error("setrlimit(RLIMIT_FSIZE) failed");
  }
  ~FileSizeLimit() {
    ::setrlimit(RLIMIT_FSIZE, &saved_);
    ::signal(SIGXFSZ, previous_handler_);
  }
  FileSizeLimit(const FileSizeLimit&) = delete;
  FileSizeLimit& operator=(const FileSizeLimit&) = delete;

 private:
  rlimit saved_{};
  sighandler_t previous_handler_;
};

/// What a shell command exited with and printed (stdout and stderr together).
struct CommandResult {
  int exit_code = -1;
  std::string output;
};

/// Runs `command` through the shell, capturing stdout and stderr; exit_code -1 when it could not
/// run or did not exit normally.
inline CommandResult run_command(const std::string& command) {
  CommandResult r;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) r.output += buffer.data();
  const int status = ::pclose(pipe);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

/// For tests of a folder made read-only: root writes into read-only folders, so when the test
/// runs as root (CI may) the rest of the scope runs with the effective user and group "nobody",
/// after `folder` is given to them. The saved user id stays root, so the destructor takes root
/// back. Not root: nothing changes. Every thread of the process changes user together (glibc).
class Unprivileged {
 public:
  explicit Unprivileged(const std::filesystem::path& folder) {
    if (::geteuid() != 0) return;
    constexpr uid_t kNobody = 65534;
    if (::chown(folder.c_str(), kNobody, kNobody) != 0 || ::setegid(kNobody) != 0 || ::seteuid(kNobody) != 0) {
      throw std::runtime_error("could not run as the user nobody: " + std::system_category().message(errno));
    }
    active_ = true;
  }
  ~Unprivileged() {
    if (active_ && (::seteuid(0) != 0 || ::setegid(0) != 0)) std::abort();  // later tests would lie
  }
  Unprivileged(const Unprivileged&) = delete;
  Unprivileged& operator=(const Unprivileged&) = delete;

 private:
  bool active_ = false;
};

}  // namespace synth::tracing::testing
