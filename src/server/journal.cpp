#include "server/journal.hpp"

#include <fcntl.h>
#include <sys/uio.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "diagnostics.hpp"
#include "file_io.hpp"
#include "synth/tracing/error.hpp"

namespace synth::tracing::server {

namespace {

constexpr char kRequest = 'R';
constexpr char kDone = 'D';
constexpr std::size_t kFrame = 8;               // u32 length, u32 CRC-32
constexpr std::size_t kRequestHead = 1 + 8 + 8 + 2;  // type, seq, arrival, route, encoding
constexpr std::size_t kDoneBody = 1 + 8;         // type, seq
constexpr std::string_view kPrefix = "segment-";
constexpr std::string_view kSuffix = ".log";

std::string errno_text(int error) { return std::error_code(error, std::generic_category()).message(); }

void put_u32(char* out, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
void put_u64(char* out, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}
std::uint64_t get_le(const char* in, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= std::uint64_t{static_cast<unsigned char>(in[i])} << (8 * i);
  return v;
}

std::uint32_t crc_of(std::string_view bytes, std::uint32_t crc = 0) {
  // zlib takes lengths as uInt: a body of 4 GiB or more in pieces.
  while (!bytes.empty()) {
    const std::size_t n = std::min<std::size_t>(bytes.size(), std::size_t{1} << 30);
    crc = static_cast<std::uint32_t>(
        ::crc32(crc, reinterpret_cast<const Bytef*>(bytes.data()), static_cast<uInt>(n)));
    bytes.remove_prefix(n);
  }
  return crc;
}

std::filesystem::path segment_path(const std::filesystem::path& dir, std::uint64_t first) {
  return dir / (std::string(kPrefix) + std::to_string(first) + std::string(kSuffix));
}

// The first sequence number in a segment's name; 0 when it is not a segment's.
std::uint64_t first_of(const std::filesystem::path& file) {
  const std::string name = file.filename().string();
  if (!name.starts_with(kPrefix) || !name.ends_with(kSuffix)) return 0;
  const std::string digits = name.substr(kPrefix.size(), name.size() - kPrefix.size() - kSuffix.size());
  if (digits.empty() || !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return 0;
  }
  return std::stoull(digits);
}

}  // namespace

struct IngestJournal::File {
  int fd = -1;
  std::filesystem::path path;
  ~File() {
    if (fd >= 0) ::close(fd);
  }
};

std::filesystem::path IngestJournal::folder_of(const std::filesystem::path& db) {
  return std::filesystem::path(db.string() + ".journal");
}

bool IngestJournal::left_requests(const std::filesystem::path& db) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(folder_of(db), ec)) {
    if (first_of(entry.path()) > 0 && entry.file_size(ec) > 0) return true;
  }
  return false;
}

IngestJournal::IngestJournal(std::filesystem::path dir, std::uint64_t segment_bytes, SyncFile sync_file)
    : dir_(std::move(dir)), segment_bytes_(segment_bytes), sync_file_(sync_file) {
  std::error_code ec;
  if (std::filesystem::create_directories(dir_, ec)) {
    // The folder's own name must survive a crash too.
    detail::sync_to_disk(dir_.has_parent_path() ? dir_.parent_path() : std::filesystem::path("."));
  }
  if (ec) {
    throw Error("cannot create the ingest journal folder " + dir_.string() + ": " + ec.message() +
                " (serve needs to write beside its database)");
  }
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir_, ec)) {
    if (const std::uint64_t first = first_of(entry.path()); first > 0) files.emplace_back(first, entry.path());
  }
  if (ec) throw Error("cannot read the ingest journal folder " + dir_.string() + ": " + ec.message());
  std::sort(files.begin(), files.end());
  std::map<std::uint64_t, Request> requests;
  std::vector<std::uint64_t> done_seqs;
  for (const auto& [first, path] : files) {
    const std::string data = detail::read_whole_file(path);
    next_seq_ = std::max(next_seq_, first + 1);  // the new segment's name is not an old one's
    Segment& segment = segments_[first];
    segment.path = path;
    segment.bytes = data.size();
    std::size_t at = 0;
    std::vector<std::uint64_t> in_file;  // its requests' numbers
    bool damaged = false;  // a record that is whole by its length and wrong
    while (data.size() - at >= kFrame) {
      const std::uint64_t length = get_le(data.data() + at, 4);
      const auto crc = static_cast<std::uint32_t>(get_le(data.data() + at + 4, 4));
      if (length > data.size() - at - kFrame) break;  // cut short
      const std::string_view body(data.data() + at + kFrame, length);
      if (length < kDoneBody || crc_of(body) != crc) {
        damaged = true;
        break;
      }
      const std::uint64_t seq = get_le(body.data() + 1, 8);
      next_seq_ = std::max(next_seq_, seq + 1);
      if (body[0] == kRequest && length >= kRequestHead) {
        Request& request = requests[seq];
        request.seq = seq;
        request.route = static_cast<Route>(body[17]);
        request.encoding = static_cast<std::uint8_t>(body[18]);
        request.received_unix_ms = static_cast<std::int64_t>(get_le(body.data() + 9, 8));
        request.body_at = at + kFrame + kRequestHead;
        request.body_bytes = length - kRequestHead;
        in_file.push_back(seq);
      } else if (body[0] == kDone) {
        done_seqs.push_back(seq);
      }
      at += kFrame + length;
    }
    if (damaged) {
      // Not a write cut short by a crash (that is the file's end): the disk changed what was
      // written, and what follows cannot be trusted to be framed. Kept aside for inspection.
      std::filesystem::path aside = path;
      aside += ".damaged";
      std::filesystem::rename(path, aside, ec);
      segment.path = aside;
      segment.kept = true;
      detail::report("synth-trace serve: the ingest journal file " + path.string() + " is damaged at byte " +
                     std::to_string(at) + " of " + std::to_string(data.size()) +
                     ": the requests before it are stored again, those after it cannot be read; the file is kept as " +
                     aside.string() + " (delete it once looked at)");
    } else if (at < data.size()) {
      // Only the last record written can be cut short by a crash, and it was never acknowledged.
      detail::report("synth-trace serve: the ingest journal " + path.string() + " ends in " +
                     std::to_string(data.size() - at) + " bytes of a record never completed: left out");
    }
    for (const std::uint64_t seq : in_file) requests[seq].file = segment.path;
  }
  for (const std::uint64_t seq : done_seqs) requests.erase(seq);
  for (auto& [seq, request] : requests) {
    ++segment_of(seq)->second.waiting;
    left_over_.push_back(std::move(request));
  }
  waiting_ = left_over_.size();
  std::lock_guard lock(mutex_);
  delete_finished();
  begin_segment();
}

IngestJournal::~IngestJournal() {
  std::lock_guard lock(mutex_);
  file_.reset();
  if (waiting_ > 0) return;  // replayed at the next start
  std::error_code ec;
  for (const auto& [first, segment] : segments_) {
    if (!segment.kept) std::filesystem::remove(segment.path, ec);
  }
  std::filesystem::remove(dir_, ec);  // only when empty: a file of someone else's stays
}

void IngestJournal::begin_segment() {
  const std::filesystem::path path = segment_path(dir_, next_seq_);
  auto file = std::make_shared<File>();
  file->path = path;
  file->fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (file->fd < 0) {
    throw Error("cannot create the ingest journal file " + path.string() + ": " + errno_text(errno));
  }
  // The new name must survive a crash, or the requests written under it would not be found.
  detail::sync_to_disk(dir_);
  segments_[next_seq_] = Segment{path};
  file_ = std::move(file);
  delete_finished();
}

std::map<std::uint64_t, IngestJournal::Segment>::iterator IngestJournal::segment_of(std::uint64_t seq) {
  auto it = segments_.upper_bound(seq);
  return it == segments_.begin() ? segments_.end() : std::prev(it);
}

void IngestJournal::delete_finished() noexcept {
  // Oldest first, and only up to the first segment with a request waiting: the done records of an
  // older segment's requests are in newer ones.
  while (!segments_.empty()) {
    const auto oldest = segments_.begin();
    const Segment& segment = oldest->second;
    if (segment.waiting > 0 || (file_ && file_->path == segment.path)) return;  // waiting, or written on
    std::error_code ec;
    if (!segment.kept) std::filesystem::remove(segment.path, ec);
    if (ec) {
      detail::report("synth-trace serve: cannot delete the finished ingest journal file " + segment.path.string() +
                     ": " + ec.message());
    }
    segments_.erase(oldest);
  }
}

void IngestJournal::append(std::string_view head, std::string_view body) {
  Segment& segment = std::prev(segments_.end())->second;
  std::array<iovec, 2> parts{iovec{const_cast<char*>(head.data()), head.size()},
                             iovec{const_cast<char*>(body.data()), body.size()}};
  const std::size_t total = head.size() + body.size();
  std::size_t done = 0;
  int error = 0;
  while (done < total) {
    // What is left of the two parts after `done` bytes.
    std::array<iovec, 2> rest{};
    int count = 0;
    std::size_t skip = done;
    for (const iovec& part : parts) {
      if (skip >= part.iov_len) {
        skip -= part.iov_len;
        continue;
      }
      rest[count++] = iovec{static_cast<char*>(part.iov_base) + skip, part.iov_len - skip};
      skip = 0;
    }
    const ssize_t n = ::writev(file_->fd, rest.data(), count);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : ENOSPC;
      break;
    }
    done += static_cast<std::size_t>(n);
  }
  if (error != 0) {
    // Nothing of it stays: a later record must not follow a torn one.
    if (::ftruncate(file_->fd, static_cast<off_t>(segment.bytes)) != 0 ||
        ::lseek(file_->fd, static_cast<off_t>(segment.bytes), SEEK_SET) < 0) {
      torn_ = true;  // cannot be written on safely: the next request begins a new segment
    }
    throw Error("cannot write the ingest journal file " + segment.path.string() + ": " + errno_text(error) +
                " (free disk space beside the database)");
  }
  segment.bytes += total;
}

std::uint64_t IngestJournal::write(Route route, std::uint8_t encoding, std::string_view body, std::int64_t received_unix_ms) {
  if (body.size() > kMaxBody) {
    throw Error("a request of " + std::to_string(body.size()) + " bytes is too large for the ingest journal");
  }
  std::array<char, kFrame + kRequestHead> head{};
  head[kFrame] = kRequest;
  put_u64(head.data() + kFrame + 9, static_cast<std::uint64_t>(received_unix_ms));
  head[kFrame + 17] = static_cast<char>(route);
  head[kFrame + 18] = static_cast<char>(encoding);
  std::lock_guard lock(mutex_);
  if (torn_ || std::prev(segments_.end())->second.bytes >= segment_bytes_) {
    // What is written in it is synced before a new file takes the writes (unless a sync of it
    // failed: then its requests failed, and a later fdatasync would say nothing of them).
    if (failed_upto_ < written_) {
      if (sync_file_(file_->fd) != 0) {
        const int error = errno;
        failed(error);
        throw Error("cannot sync the ingest journal file " + file_->path.string() + ": " + errno_text(error));
      }
      synced_ = std::max(synced_, written_);
      synced_cv_.notify_all();
    }
    begin_segment();
    torn_ = false;
  }
  const std::uint64_t seq = next_seq_;
  put_u64(head.data() + kFrame + 1, seq);
  const std::uint32_t crc = crc_of(body, crc_of(std::string_view(head.data() + kFrame, kRequestHead)));
  put_u32(head.data(), static_cast<std::uint32_t>(kRequestHead + body.size()));
  put_u32(head.data() + 4, crc);
  append(std::string_view(head.data(), head.size()), body);
  ++next_seq_;
  written_ = seq;
  ++std::prev(segments_.end())->second.waiting;
  ++waiting_;
  return seq;
}

void IngestJournal::sync(std::uint64_t seq) {
  std::unique_lock lock(mutex_);
  while (synced_ < seq) {
    if (seq <= failed_upto_) {
      throw Error("cannot sync the ingest journal in " + dir_.string() + ": " + sync_error_ +
                  " (check the disk beside the database)");
    }
    if (syncing_) {
      synced_cv_.wait(lock);
      continue;
    }
    syncing_ = true;
    const std::uint64_t target = written_;
    const std::shared_ptr<File> file = file_;
    lock.unlock();
    const int rc = sync_file_(file->fd);
    const int error = errno;
    lock.lock();
    syncing_ = false;
    if (rc == 0) {
      synced_ = std::max(synced_, target);
    } else {
      failed(error);
    }
    synced_cv_.notify_all();
  }
}

void IngestJournal::failed(int error) {
  // Linux reports a failed writeback once and marks its pages clean: every request written to the
  // file so far fails, and the next request begins a new file.
  failed_upto_ = written_;
  sync_error_ = errno_text(error);
  torn_ = true;
}

void IngestJournal::done(std::uint64_t seq) noexcept {
  std::array<char, kFrame + kDoneBody> record{};
  record[kFrame] = kDone;
  put_u64(record.data() + kFrame + 1, seq);
  put_u32(record.data(), kDoneBody);
  put_u32(record.data() + 4, crc_of(std::string_view(record.data() + kFrame, kDoneBody)));
  std::lock_guard lock(mutex_);
  const auto segment = segment_of(seq);
  if (segment == segments_.end() || segment->second.waiting == 0) return;
  --segment->second.waiting;
  --waiting_;
  try {
    // Not synced: without it, a request committed is replayed once more, and stored once.
    if (!torn_) append(std::string_view(record.data(), record.size()), {});
  } catch (...) {
    detail::report("synth-trace serve: " + detail::current_exception_text());
  }
  delete_finished();
}

void IngestJournal::give_up(std::uint64_t seq) noexcept {
  detail::report("synth-trace serve: request " + std::to_string(seq) + " of the ingest journal " + dir_.string() +
                 " was acknowledged by an earlier server and could not be stored again (see above): dropped");
  done(seq);
}

void IngestJournal::read_body(Request& request) {
  const int fd = ::open(request.file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error("cannot open the ingest journal file " + request.file.string() + ": " + errno_text(errno));
  request.body.resize(request.body_bytes);
  std::uint64_t done = 0;
  int error = 0;
  while (done < request.body_bytes) {
    const ssize_t n = ::pread(fd, request.body.data() + done, request.body_bytes - done,
                              static_cast<off_t>(request.body_at + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      error = n < 0 ? errno : EIO;
      break;
    }
    done += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (error != 0) {
    request.body.clear();
    throw Error("cannot read request " + std::to_string(request.seq) + " from the ingest journal file " +
                request.file.string() + ": " + errno_text(error));
  }
}

std::vector<IngestJournal::Request> IngestJournal::take_left_over() {
  std::lock_guard lock(mutex_);
  return std::move(left_over_);
}

std::size_t IngestJournal::waiting() {
  std::lock_guard lock(mutex_);
  return waiting_;
}

std::uint64_t IngestJournal::bytes() {
  std::lock_guard lock(mutex_);
  std::uint64_t total = 0;
  for (const auto& [first, segment] : segments_) total += segment.bytes;
  return total;
}

}  // namespace synth::tracing::server
