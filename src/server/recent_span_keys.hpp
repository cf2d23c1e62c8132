// Internal: the most recent span keys, for LogHold's memory of the spans it has seen. Every span
// of every request is remembered under the hold's lock; a node-based set and a deque of its keys
// allocated and freed a node per span, and their scattered nodes made the lookups cache misses
// (6 % of the handlers' time on foreign spans). Here the keys live in two flat arrays: a table
// probed linearly and a ring of the keys in the order they came, each grown by doubling up to
// its bound, so remembering a span allocates nothing once they are full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "server/otlp_map.hpp"

namespace synth::tracing::server {

/// At most `capacity` distinct keys, in the order they were first added; adding one more forgets
/// the oldest. Adding a key already there changes nothing (not even its place in the order). Not
/// thread-safe (LogHold holds its lock).
class RecentSpanKeys {
 public:
  explicit RecentSpanKeys(std::size_t capacity) : capacity_(capacity) {}

  bool contains(SpanKey key) const noexcept {
    if (is_empty_slot(key)) return holds_zero_;
    if (slots_.empty()) return false;
    for (std::size_t at = home(key);; at = (at + 1) & mask()) {
      if (slots_[at] == key) return true;
      if (is_empty_slot(slots_[at])) return false;
    }
  }

  /// Adds `key` (forgetting the oldest past the capacity); false when it was there already.
  bool insert(SpanKey key) {
    if (capacity_ == 0 || contains(key)) return false;
    if (order_.size() < capacity_) {
      order_.push_back(key);  // still filling: the oldest is order_[0]
    } else {
      erase(order_[oldest_]);
      order_[oldest_] = key;
      oldest_ = (oldest_ + 1) % capacity_;
    }
    place(key);
    return true;
  }

  std::size_t size() const noexcept { return order_.size(); }

 private:
  // {0, 0} marks an empty slot; a key of that value (both hashes 0) is kept aside in holds_zero_.
  static bool is_empty_slot(SpanKey key) noexcept { return key.trace == 0 && key.span == 0; }
  std::size_t mask() const noexcept { return slots_.size() - 1; }
  std::size_t home(SpanKey key) const noexcept {
    // The keys are FNV-1a hashes already; the multiply spreads the trace's bits over the span's.
    const std::uint64_t h = SpanKeyHash{}(key);
    return static_cast<std::size_t>(h ^ (h >> 29)) & mask();
  }

  void place(SpanKey key) {
    if (is_empty_slot(key)) {
      holds_zero_ = true;
      return;
    }
    // At most half full (order_ counts the key already): probes stay short. The table doubles
    // until it holds `capacity_` keys.
    if (order_.size() * 2 > slots_.size()) grow();
    std::size_t at = home(key);
    while (!is_empty_slot(slots_[at])) at = (at + 1) & mask();
    slots_[at] = key;
  }

  void grow() {
    std::vector<SpanKey> old = std::move(slots_);
    slots_.assign(old.empty() ? 64 : old.size() * 2, SpanKey{});
    for (const SpanKey& key : old) {
      if (is_empty_slot(key)) continue;
      std::size_t at = home(key);
      while (!is_empty_slot(slots_[at])) at = (at + 1) & mask();
      slots_[at] = key;
    }
  }

  // Removes `key` (present), moving back the keys after it in its run whose home lets them be
  // found from the freed slot (deletion without tombstones, so probes never lengthen).
  void erase(SpanKey key) {
    if (is_empty_slot(key)) {
      holds_zero_ = false;
      return;
    }
    std::size_t hole = home(key);
    while (!(slots_[hole] == key)) hole = (hole + 1) & mask();
    for (std::size_t next = (hole + 1) & mask(); !is_empty_slot(slots_[next]); next = (next + 1) & mask()) {
      // The key at `next` may fill the hole unless its home lies cyclically in (hole, next].
      const std::size_t h = home(slots_[next]);
      const bool stays = hole < next ? (hole < h && h <= next) : (hole < h || h <= next);
      if (stays) continue;
      slots_[hole] = slots_[next];
      hole = next;
    }
    slots_[hole] = SpanKey{};
  }

  std::size_t capacity_;
  std::vector<SpanKey> slots_;  // a power of two in size (or empty)
  std::vector<SpanKey> order_;  // the keys in arrival order, a ring once full: oldest_ is the oldest
  std::size_t oldest_ = 0;
  bool holds_zero_ = false;
};

}  // namespace synth::tracing::server
