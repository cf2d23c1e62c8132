#include "spill/spill_file.hpp"

#include "spill/crc32.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>
#include <system_error>
#include <utility>

#include "file_io.hpp"
#include "json/trace_json.hpp"
#include "synth/tracing/spill.hpp"

namespace synth::tracing::detail {

namespace {

constexpr std::size_t kFrameHead = 8;   // length, checksum
constexpr std::size_t kBodyHead = 9;    // type, step
constexpr std::string_view kFileExtension = ".spill";
constexpr std::string_view kLockName = "lock";

void put_u32(std::string& out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
}

std::uint64_t get_le(const char* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= static_cast<std::uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

std::uint32_t checksum(std::string_view body) {
  return crc32(body);
}

// JSON of one item, in a buffer reused by the thread.
template <class Write>
std::string_view json_of(Write&& write) {
  thread_local std::string buffer;
  buffer.clear();
  {
    JsonWriter w(buffer, JsonFormat{});  // sizes the buffer to what it wrote when destroyed
    write(w);
  }
  return buffer;
}

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

}  // namespace

void append_spill_record(std::string& out, SpillRecord type, std::int64_t step, std::string_view json) {
  const std::size_t start = out.size();
  out.append(kFrameHead, '\0');
  out.push_back(static_cast<char>(type));
  const auto s = static_cast<std::uint64_t>(step);
  put_u32(out, static_cast<std::uint32_t>(s));
  put_u32(out, static_cast<std::uint32_t>(s >> 32));
  out.append(json);
  const std::string_view body(out.data() + start + kFrameHead, out.size() - start - kFrameHead);
  std::string head;
  put_u32(head, static_cast<std::uint32_t>(body.size()));
  put_u32(head, checksum(body));
  out.replace(start, kFrameHead, head);
}

void append_spill_header(std::string& out, std::string_view session_id, Timestamp created_at) {
  append_spill_record(out, SpillRecord::header, -1, json_of([&](JsonWriter& w) {
                        w.begin_object();
                        w.plain_key("session_id");
                        w.string(session_id);
                        w.plain_key("created_at");
                        w.timestamp(created_at);
                        w.plain_key("pid");
                        w.integer(::getpid());
                        w.end_object();
                      }));
}

void append_spill_item(std::string& out, const SessionMetadataEntry& entry) {
  append_spill_record(out, SpillRecord::metadata, -1, json_of([&](JsonWriter& w) { write_metadata_entry(w, entry); }));
}

void append_spill_item(std::string& out, const SessionTimeStep& step) {
  append_spill_record(out, SpillRecord::timestep, step.step_index,
                      json_of([&](JsonWriter& w) { write_timestep(w, step); }));
}

void append_spill_item(std::string& out, const Event& event, std::int64_t step) {
  append_spill_record(out, SpillRecord::event, step, json_of([&](JsonWriter& w) { write_event(w, event); }));
}

void append_spill_item(std::string& out, const SessionEventMessage& message, std::int64_t step) {
  append_spill_record(out, SpillRecord::message, step, json_of([&](JsonWriter& w) { write_message(w, message); }));
}

void append_spill_end(std::string& out) { append_spill_record(out, SpillRecord::end, -1, "{}"); }

void append_to_file(const std::filesystem::path& file, std::string_view bytes) {
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) throw Error("cannot open spill file " + file.string() + ": " + errno_text(errno));
  const off_t before = ::lseek(fd, 0, SEEK_END);
  std::size_t done = 0;
  int error = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error != 0 && before >= 0 && ::ftruncate(fd, before) != 0) {
    // The reader cuts the torn record by its checksum anyway.
  }
  ::close(fd);
  if (error != 0) {
    throw Error("cannot write spill file " + file.string() + ": " + errno_text(error) +
                " (free disk space, or lower TracingConfig::spill_max_bytes)");
  }
}

SessionMetadataEntry aborted_status(std::string reason) {
  return SessionMetadataEntry{std::string(kSessionStatusMetadata),
                              Value{{"status", "aborted"}, {"reason", std::move(reason)}}, now()};
}

// ---- folders ----

SpillFolder SpillFolder::create(const std::filesystem::path& spill_dir) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char name[64];
  std::snprintf(name, sizeof name, "%d-%016llx", static_cast<int>(::getpid()), static_cast<unsigned long long>(rng()));
  const std::filesystem::path folder = spill_dir / name;
  std::error_code ec;
  std::filesystem::create_directories(folder, ec);
  if (ec) {
    throw Error("cannot create spill folder " + folder.string() + ": " + ec.message() +
                " (set TracingConfig::spill_dir to a writable folder, or checkpoint = false)");
  }
  const std::filesystem::path lock = folder / kLockName;
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    if (fd >= 0) ::close(fd);
    throw Error("cannot lock spill folder " + folder.string() + ": " + errno_text(error));
  }
  return SpillFolder(folder, fd);
}

std::optional<SpillFolder> SpillFolder::claim(const std::filesystem::path& folder) {
  const std::filesystem::path lock = folder / kLockName;
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    // A folder without its lock file: a tracer killed while creating it, or one emptied by
    // remove_if_empty. Nobody can hold it: create the lock to own it.
    if (errno != ENOENT || !std::filesystem::is_directory(folder)) return std::nullopt;
    const int created = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (created < 0) return std::nullopt;
    if (::flock(created, LOCK_EX | LOCK_NB) != 0) {
      ::close(created);
      return std::nullopt;
    }
    return SpillFolder(folder, created);
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    return std::nullopt;
  }
  return SpillFolder(folder, fd);
}

std::vector<std::filesystem::path> SpillFolder::list(const std::filesystem::path& spill_dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  if (!std::filesystem::exists(spill_dir, ec)) return out;
  std::filesystem::directory_iterator it(spill_dir, ec);
  if (ec) throw Error("cannot read spill folder " + spill_dir.string() + ": " + ec.message());
  for (const auto& entry : it) {
    if (entry.is_directory(ec)) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

SpillFolder::SpillFolder(SpillFolder&& other) noexcept
    : path_(std::move(other.path_)), lock_fd_(std::exchange(other.lock_fd_, -1)) {}

SpillFolder& SpillFolder::operator=(SpillFolder&& other) noexcept {
  if (this != &other) {
    if (lock_fd_ >= 0) ::close(lock_fd_);
    path_ = std::move(other.path_);
    lock_fd_ = std::exchange(other.lock_fd_, -1);
  }
  return *this;
}

SpillFolder::~SpillFolder() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::vector<std::filesystem::path> SpillFolder::files() const {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(path_, ec)) {
    if (entry.path().extension() == kFileExtension) out.push_back(entry.path());
  }
  std::sort(out.begin(), out.end());
  return out;
}

void SpillFolder::remove_if_empty() noexcept {
  try {
    if (lock_fd_ < 0 || !files().empty()) return;
    // Unlink the lock while holding it, then the folder: a concurrent claim() finds no folder.
    std::error_code ec;
    std::filesystem::remove(path_ / kLockName, ec);
    std::filesystem::remove(path_, ec);
    ::close(std::exchange(lock_fd_, -1));
  } catch (...) {
    // Left for the next recovery.
  }
}

}  // namespace synth::tracing::detail

namespace synth::tracing {

using detail::SpillRecord;

SpilledSession read_spill_file(const std::filesystem::path& file) {
  const std::string bytes = detail::read_whole_file(file);
  SpilledSession out;
  SessionTrace& t = out.trace;
  bool have_header = false;
  std::size_t pos = 0;
  const auto fail = [&](const std::string& why) -> SpilledSession {
    throw Error("spill file " + file.string() + " is not readable: " + why);
  };
  while (pos < bytes.size()) {
    const std::size_t left = bytes.size() - pos;
    if (left < detail::kFrameHead) break;
    const std::uint64_t length = detail::get_le(bytes.data() + pos, 4);
    const auto expected = static_cast<std::uint32_t>(detail::get_le(bytes.data() + pos + 4, 4));
    if (length < detail::kBodyHead || length > left - detail::kFrameHead) break;
    const std::string_view body(bytes.data() + pos + detail::kFrameHead, length);
    if (detail::checksum(body) != expected) break;
    const auto type = static_cast<SpillRecord>(body[0]);
    const auto step = static_cast<std::int64_t>(detail::get_le(body.data() + 1, 8));
    const std::string_view json = body.substr(detail::kBodyHead);
    if (!have_header && type != SpillRecord::header) break;
    try {
      detail::JsonReader r(json, file.string());
      switch (type) {
        case SpillRecord::header:
          r.read_object([&](detail::od::value root) {
            for (auto field : r.object(root)) {
              const std::string_view key = field.unescaped_key();
              if (key == "session_id") {
                t.session_id = r.string(field.value());
              } else if (key == "created_at") {
                t.created_at = r.timestamp(field.value());
              } else {
                r.skip(field.value());
              }
            }
            return 0;
          });
          have_header = true;
          break;
        case SpillRecord::metadata:
          t.session_metadata.push_back(r.read_object([&](detail::od::value v) { return detail::read_metadata_entry(r, v); }));
          break;
        case SpillRecord::timestep:
          t.session_time_steps.push_back(r.read_object([&](detail::od::value v) {
            return detail::read_timestep(r, v, t.session_time_steps.size());
          }));
          break;
        case SpillRecord::event: {
          Event e = r.read_object([&](detail::od::value v) { return detail::read_event(r, v); });
          if (step >= 0 && static_cast<std::size_t>(step) < t.session_time_steps.size()) {
            t.session_time_steps[static_cast<std::size_t>(step)].events.push_back(e);
          }
          t.event_history.push_back(std::move(e));
          break;
        }
        case SpillRecord::message: {
          SessionEventMessage m = r.read_object([&](detail::od::value v) { return detail::read_message(r, v); });
          if (step >= 0 && static_cast<std::size_t>(step) < t.session_time_steps.size()) {
            t.session_time_steps[static_cast<std::size_t>(step)].step_messages.push_back(m);
          }
          t.message_history.push_back(std::move(m));
          break;
        }
        case SpillRecord::end:
          out.ended = true;
          break;
        default:
          throw Error("unknown record type");
      }
    } catch (const std::bad_alloc&) {
      throw;
    } catch (const std::exception& e) {
      break;  // a record that checks out but does not read: treated as the start of a corrupt tail
    }
    pos += detail::kFrameHead + length;
    if (out.ended) break;
  }
  if (!have_header) return fail("no valid header record (not a spill file, or cut before its first record)");
  out.bytes_cut = bytes.size() - pos;
  return out;
}

SpillRecovery recover_spilled_sessions(const std::filesystem::path& spill_dir, SessionSink& sink) {
  SpillRecovery result;
  for (const std::filesystem::path& folder_path : detail::SpillFolder::list(spill_dir)) {
    auto folder = detail::SpillFolder::claim(folder_path);
    if (!folder) {
      ++result.folders_in_use;
      continue;
    }
    std::vector<std::filesystem::path> handed;
    for (const std::filesystem::path& file : folder->files()) {
      std::error_code size_error;
      if (std::filesystem::file_size(file, size_error) == 0 && !size_error) {
        handed.push_back(file);  // created by a process that died before writing to it
        continue;
      }
      try {
        SpilledSession s = read_spill_file(file);
        if (!s.ended) s.trace.session_metadata.push_back(detail::aborted_status("its process ended before the session did"));
        sink.write(s.trace);
        handed.push_back(file);
        ++result.sessions;
        if (!s.ended) ++result.aborted;
        result.events += s.trace.event_history.size();
        result.messages += s.trace.message_history.size();
        result.bytes_cut += s.bytes_cut;
      } catch (const std::bad_alloc&) {
        throw;
      } catch (const std::exception& e) {
        result.problems.push_back(file.string() + ": " + e.what() + " (the file is kept)");
      }
    }
    if (handed.empty()) {
      folder->remove_if_empty();
      continue;
    }
    try {
      sink.flush();
    } catch (const std::exception& e) {
      result.problems.push_back("storing the sessions of " + folder_path.string() + " failed: " + e.what() +
                                " (their files are kept)");
      continue;
    }
    for (const auto& file : handed) {
      std::error_code ec;
      std::filesystem::remove(file, ec);
    }
    folder->remove_if_empty();
  }
  return result;
}

}  // namespace synth::tracing
