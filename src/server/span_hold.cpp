// LLM call spans waiting for their log records: a queue in arrival order (one timeout for all, so
// also in due order; spans replayed from the journal at the start come first, and earliest).
#include "server/span_hold.hpp"

#include <algorithm>

#include "server/pending.hpp"

namespace synth::tracing::server {

void SpanHold::hold(std::vector<HeldSpan> spans) {
  const auto now = Clock::now();
  const std::int64_t now_unix_ms = unix_ms_now();
  std::lock_guard lock(mutex_);
  for (HeldSpan& s : spans) {
    // A span that came earlier (replayed from the journal) waits what is left of its time.
    s.due = now + timeout_ -
            std::chrono::milliseconds(std::clamp<std::int64_t>(now_unix_ms - s.received_unix_ms, 0, timeout_.count()));
    held_.push_back(std::move(s));
  }
  if (held_.size() > max_spans_) overflow_ = std::max(overflow_, held_.size() - max_spans_);
}

std::vector<HeldSpan> SpanHold::take_due(Clock::time_point now) {
  std::vector<HeldSpan> out;
  std::lock_guard lock(mutex_);
  while (!held_.empty() && (overflow_ > 0 || held_.front().due <= now)) {
    out.push_back(std::move(held_.front()));
    held_.pop_front();
    if (overflow_ > 0) --overflow_;
  }
  return out;
}

void SpanHold::restore(std::vector<HeldSpan> spans) {
  std::lock_guard lock(mutex_);
  held_.insert(held_.begin(), std::make_move_iterator(spans.begin()), std::make_move_iterator(spans.end()));
}

std::size_t SpanHold::size() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

}  // namespace synth::tracing::server
