#include "server/lock_file.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/version.hpp"

namespace synth::tracing::server {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor when leaving scope.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

std::string read_all(int fd) {
  std::string text;
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n > 0) {
      text.append(buffer, static_cast<std::size_t>(n));
    } else if (n == 0 || errno != EINTR) {
      return text;
    }
  }
}

}  // namespace

std::filesystem::path lock_file_path(const std::filesystem::path& db) { return db.string() + ".serve.lock"; }

std::optional<RunningServer> find_server(const std::filesystem::path& db) {
  const std::filesystem::path path = lock_file_path(db);
  Fd file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) return std::nullopt;
  if (::flock(file.fd, LOCK_SH | LOCK_NB) == 0) return std::nullopt;  // nobody holds it: stale
  const std::string text = read_all(file.fd);
  try {
    const Value v = Value::parse(text, path.string());
    RunningServer server;
    server.url = v["url"].as_string();
    server.pid = static_cast<long>(v["pid"].as_int());
    return server;
  } catch (const Error& e) {
    throw Error("'" + path.string() + "' says a synth-trace serve owns '" + db.string() +
                "', but it cannot be read (" + e.what() + "): pass --server URL, or stop that server");
  }
}

ServerLock::ServerLock(const std::filesystem::path& db, const std::string& url) : path_(lock_file_path(db)) {
  // Written under a temporary name, locked, then renamed into place: a reader never finds the
  // file without its content, and the lock moves with it.
  const std::filesystem::path partial = path_.string() + "." + std::to_string(::getpid());
  fd_ = ::open(partial.c_str(), O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw Error("cannot write the server's lock file '" + partial.string() + "': " + errno_text() +
                " (the database's folder must be writable)");
  }
  const auto fail = [&](const std::string& why) {
    ::close(fd_);
    fd_ = -1;
    ::unlink(partial.c_str());
    throw Error("cannot write the server's lock file '" + path_.string() + "': " + why);
  };
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) fail(errno_text());
  const std::string text = Value{{"url", url},
                                 {"pid", static_cast<std::int64_t>(::getpid())},
                                 {"db", db.string()},
                                 {"version", kVersion}}
                               .dump() +
                           "\n";
  if (::write(fd_, text.data(), text.size()) != static_cast<ssize_t>(text.size())) fail(errno_text());
  if (const std::optional<RunningServer> other = find_server(db)) {
    fail("a server (pid " + std::to_string(other->pid) + ", " + other->url + ") already owns '" + db.string() + "'");
  }
  if (::rename(partial.c_str(), path_.c_str()) != 0) fail(errno_text());
}

ServerLock::~ServerLock() {
  ::unlink(path_.c_str());
  ::close(fd_);  // releases the lock
}

}  // namespace synth::tracing::server
