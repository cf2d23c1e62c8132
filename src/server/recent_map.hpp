// A map that remembers the most recently added keys only, for the server's bounded memories of
// traces and rows (the writer's renamed traces, otlp_pending rows deleted before their write).
#pragma once

#include <cstddef>
#include <deque>
#include <unordered_map>
#include <utility>

namespace synth::tracing::server {

/// At most `capacity` keys, in the order they were first added; adding one more forgets the
/// oldest. Not thread-safe (each user keeps it on one thread).
template <class Key, class Mapped>
class RecentMap {
 public:
  explicit RecentMap(std::size_t capacity) : capacity_(capacity) {}

  /// The value of `key`, or nullptr.
  const Mapped* find(const Key& key) const {
    const auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  /// Sets `key` to `value`; true when the key is new (it may push out the oldest).
  bool set(const Key& key, Mapped value) {
    const bool added = map_.insert_or_assign(key, std::move(value)).second;
    if (added) {
      order_.push_back(key);
      if (order_.size() > capacity_) {
        map_.erase(order_.front());
        order_.pop_front();
      }
    }
    return added;
  }
  /// Forgets `key`; true when it was there. Its place in the order stays until it is the oldest
  /// (the memory stays bounded; a key added again meanwhile may then be forgotten early).
  bool erase(const Key& key) { return map_.erase(key) > 0; }

 private:
  std::size_t capacity_;
  std::unordered_map<Key, Mapped> map_;
  std::deque<Key> order_;
};

}  // namespace synth::tracing::server
