#include "server/ingest_queue.hpp"

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
  {
    std::lock_guard lock(mutex_);
    outcomes_.at(index) = Outcome{what, std::move(error)};
    ++recorded_;
  }
  done_.notify_all();
}

bool Receipt::wait(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mutex_);
  return done_.wait_until(lock, deadline, [this] { return recorded_ >= outcomes_.size(); });
}

IngestQueue::Push IngestQueue::push(std::vector<IngestItem>& items) {
  std::size_t bytes = 0;
  for (const IngestItem& item : items) bytes += item.bytes;
  {
    std::lock_guard lock(mutex_);
    if (closed_) return Push::closed;
    if (items.size() > max_sessions_ || bytes > max_bytes_) return Push::too_large;
    if (items_.size() + items.size() > max_sessions_ || bytes_ + bytes > max_bytes_) return Push::full;
    for (IngestItem& item : items) items_.push_back(std::move(item));
    bytes_ += bytes;
  }
  items.clear();
  ready_.notify_one();
  return Push::queued;
}

void IngestQueue::pop(std::vector<IngestItem>& out, std::size_t max,
                      std::optional<std::chrono::steady_clock::time_point> until) {
  std::unique_lock lock(mutex_);
  const auto ready = [this] { return !items_.empty() || closed_; };
  if (until) {
    ready_.wait_until(lock, *until, ready);
  } else {
    ready_.wait(lock, ready);
  }
  while (!items_.empty() && out.size() < max) {
    bytes_ -= items_.front().bytes;
    out.push_back(std::move(items_.front()));
    items_.pop_front();
  }
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
