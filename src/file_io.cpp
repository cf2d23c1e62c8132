#include "file_io.hpp"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "synth/tracing/error.hpp"

namespace synth::tracing::detail {

namespace {
std::string errno_text(int err) { return std::strerror(err); }

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
}  // namespace

std::string read_whole_file(const std::filesystem::path& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    throw TraceFormatError(path.string(), 0, 0, 0, "cannot open the file: " + errno_text(errno));
  }
  std::string data;
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throw TraceFormatError(path.string(), data.size(), 0, 0, "cannot read the file: " + errno_text(errno));
    }
    data.append(buf, static_cast<std::size_t>(n));
  }
  return data;
}

bool write_file_atomically(const std::filesystem::path& path, std::string_view data, IfExists if_exists) {
  static std::atomic<unsigned> counter{0};
  std::filesystem::path tmp = path;
  tmp += ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(counter.fetch_add(1));
  const auto fail = [&](const char* what, int err) {
    ::unlink(tmp.c_str());
    throw Error("cannot write trace file '" + path.string() + "': " + what + ": " + errno_text(err) +
                " (check that the folder exists, is writable and has free space)");
  };
  {
    Fd f{::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)};
    if (f.fd < 0) fail("create", errno);
    std::size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::write(f.fd, data.data() + done, data.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("write", errno);
      }
      done += static_cast<std::size_t>(n);
    }
    if (::close(f.fd) != 0) {
      f.fd = -1;
      fail("close", errno);
    }
    f.fd = -1;
  }
  if (if_exists == IfExists::keep) {
    int rc = ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0 && errno == EINVAL) {
      // Filesystems without RENAME_NOREPLACE: link() also refuses to replace.
      rc = ::link(tmp.c_str(), path.c_str());
      if (rc == 0) ::unlink(tmp.c_str());
    }
    if (rc != 0) {
      const int err = errno;
      if (err == EEXIST) {
        ::unlink(tmp.c_str());
        return false;
      }
      fail("rename", err);
    }
    return true;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) fail("rename", errno);
  return true;
}

void sync_to_disk(const std::filesystem::path& path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0 || ::fsync(f.fd) != 0) {
    throw Error("cannot make '" + path.string() + "' durable: " + errno_text(errno) +
                " (check that the disk is healthy and has free space)");
  }
}

}  // namespace synth::tracing::detail
