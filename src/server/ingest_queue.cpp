#include "server/ingest_queue.hpp"

#include <algorithm>
#include <utility>

namespace synth::tracing::server {

const char* stored_name(Stored what) noexcept {
  switch (what) {
    case Stored::inserted:
      return "inserted";
    case Stored::replaced:
      return "replaced";
    case Stored::merged:
      return "merged";
    case Stored::skipped:
      return "skipped";
    case Stored::refused:
      return "refused";
    case Stored::lost:
      return "lost";
  }
  return "lost";
}

void IngestCounters::count(Stored what) noexcept {
  switch (what) {
    case Stored::inserted:
      inserted.fetch_add(1, std::memory_order_relaxed);
      break;
    case Stored::replaced:
      replaced.fetch_add(1, std::memory_order_relaxed);
      break;
    case Stored::merged:
      merged.fetch_add(1, std::memory_order_relaxed);
      break;
    case Stored::skipped:
      skipped.fetch_add(1, std::memory_order_relaxed);
      break;
    case Stored::refused:
      refused.fetch_add(1, std::memory_order_relaxed);
      break;
    case Stored::lost:
      lost.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

void Receipt::record(std::size_t index, Stored what, std::string error) {
  bool all = false;
  bool lost = false;
  {
    std::lock_guard lock(mutex_);
    lost_ = lost_ || what == Stored::lost;
    outcomes_.at(index) = Outcome{what, std::move(error)};
    all = ++recorded_ == outcomes_.size();
    lost = lost_;
  }
  done_.notify_all();
  if (all && when_recorded_) when_recorded_(lost);
}

bool Receipt::wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return done_.wait_until(lock, deadline, [this] { return recorded_ >= outcomes_.size(); });
}

IngestQueue::Admission::~Admission() {
  if (bytes_ == 0) return;
  std::lock_guard lock(queue_->mutex_);
  queue_->admitted_ -= bytes_;
}

std::optional<IngestQueue::Admission> IngestQueue::admit(std::size_t bytes) {
  bytes = std::max<std::size_t>(bytes, 1);  // 0 marks an admission whose room is given back
  std::lock_guard lock(mutex_);
  if (over_time(bytes)) return std::nullopt;
  admitted_ += bytes;
  return Admission(*this, bytes);
}

IngestQueue::Push IngestQueue::push(std::vector<IngestItem>& items, bool acknowledged_once_queued, Admission* admitted) {
  std::size_t bytes = 0;
  for (const IngestItem& item : items) bytes += item.bytes;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Push::closed;
    if (items.size() > max_sessions_ || bytes > max_bytes_) return Push::too_large;
    if (items_.size() + items.size() > max_sessions_ || bytes_ + bytes > max_bytes_) return Push::full;
    if (admitted != nullptr) {
      admitted_ -= std::exchange(admitted->bytes_, 0);
    } else if (acknowledged_once_queued && over_time(bytes)) {
      return Push::full;
    }
    // The real clock, as the writer's: now_ is the pace's (tests drive it).
    const Clock::time_point now = Clock::now();
    for (IngestItem& item : items) {
      item.queued_at = now;
      items_.push_back(std::move(item));
    }
    bytes_ += bytes;
  }
  items.clear();
  ready_.notify_one();
  return Push::queued;
}

void IngestQueue::pop(std::vector<IngestItem>& out, std::size_t max,
                      std::optional<std::chrono::steady_clock::time_point> until) {
  std::unique_lock lock(mutex_);
  measure_pace(now_());
  const auto ready = [this] { return !items_.empty() || closed_; };
  if (until) {
    ready_.wait_until(lock, *until, ready);
  } else {
    ready_.wait(lock, ready);
  }
  last_taken_ = 0;
  while (!items_.empty() && out.size() < max) {
    bytes_ -= items_.front().bytes;
    last_taken_ += items_.front().bytes;
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
  last_return_ = now_();
}

void IngestQueue::measure_pace(Clock::time_point called) {
  // From the last pop's return to this call the writer stored what that pop took (and committed,
  // perhaps with nothing taken: a window's time waits for bytes to come with it).
  if (!last_return_) return;
  window_work_ += called - *last_return_;
  window_bytes_ += last_taken_;
  last_taken_ = 0;
  if (window_work_ < std::chrono::milliseconds(50) || window_bytes_ == 0) return;
  const double sample = static_cast<double>(window_bytes_) / std::chrono::duration<double>(window_work_).count();
  pace_ = pace_ == 0 ? sample : (pace_ + sample) / 2;  // the latest window weighs half
  window_bytes_ = 0;
  window_work_ = {};
}

bool IngestQueue::over_time(std::size_t bytes) const {
  // More than the writer stores within max_delay_ at its pace, with what is queued and admitted
  // ahead and what its last pop took, which it is still storing until it comes back for more (a
  // request is committed after all of these: leaving them out, requests waited about twice the
  // delay; BENCHMARKS.md). A request with nothing queued or admitted ahead of it is taken
  // whatever its size. A closed queue refuses as stopping (push), not as full.
  const std::size_t ahead = bytes_ + admitted_;
  return !closed_ && max_delay_.count() > 0 && pace_ > 0 && ahead > 0 &&
         static_cast<double>(ahead + last_taken_ + bytes) > pace_ * std::chrono::duration<double>(max_delay_).count();
}

double IngestQueue::drain_pace() {
  std::lock_guard lock(mutex_);
  return pace_;
}

void IngestQueue::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  ready_.notify_all();
}

bool IngestQueue::closed_and_empty() {
  std::lock_guard lock(mutex_);
  return closed_ && items_.empty();
}

std::size_t IngestQueue::depth() {
  std::lock_guard lock(mutex_);
  return items_.size();
}

std::size_t IngestQueue::bytes() {
  std::lock_guard lock(mutex_);
  return bytes_;
}

}  // namespace synth::tracing::server
