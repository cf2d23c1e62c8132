// LogHold's memory of recent spans (server/recent_span_keys.hpp) against a plain model: a set and
// the keys in arrival order. Small capacities and few distinct keys make the table's runs long,
// so that removing the oldest key moves the keys after it.
#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <random>
#include <set>

#include "server/recent_span_keys.hpp"

using namespace synth::tracing::server;

namespace {

struct Model {
  std::size_t capacity;
  std::deque<SpanKey> order;
  bool contains(SpanKey k) const { return std::find(order.begin(), order.end(), k) != order.end(); }
  bool insert(SpanKey k) {
    if (capacity == 0 || contains(k)) return false;
    order.push_back(k);
    if (order.size() > capacity) order.pop_front();
    return true;
  }
};

}  // namespace

TEST(RecentSpanKeys, RemembersTheMostRecentKeysAsASetAndAQueueWould) {
  for (const std::size_t capacity : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{40}, std::size_t{300}}) {
    for (const std::uint64_t distinct : {std::uint64_t{10}, std::uint64_t{100}, std::uint64_t{2000}}) {
      std::mt19937_64 random(capacity * 1000 + distinct);
      RecentSpanKeys keys(capacity);
      Model model{capacity, {}};
      for (int i = 0; i < 20000; ++i) {
        // Some keys share their trace, some their span; {0, 0} is among them.
        const std::uint64_t n = random() % distinct;
        const SpanKey key{n % 3 == 0 ? 0 : n * 0x9E3779B97F4A7C15ULL, n % 5 == 0 ? 0 : n};
        ASSERT_EQ(keys.contains(key), model.contains(key)) << "capacity " << capacity << ", step " << i;
        ASSERT_EQ(keys.insert(key), model.insert(key)) << "capacity " << capacity << ", step " << i;
        ASSERT_EQ(keys.size(), model.order.size());
      }
      for (std::uint64_t n = 0; n < distinct; ++n) {
        const SpanKey key{n % 3 == 0 ? 0 : n * 0x9E3779B97F4A7C15ULL, n % 5 == 0 ? 0 : n};
        EXPECT_EQ(keys.contains(key), model.contains(key)) << "capacity " << capacity << ", key " << n;
      }
    }
  }
}

TEST(RecentSpanKeys, AKeyAddedAgainKeepsItsPlaceInTheOrder) {
  RecentSpanKeys keys(2);
  const SpanKey a = span_key_of("t", "a"), b = span_key_of("t", "b"), c = span_key_of("t", "c");
  EXPECT_TRUE(keys.insert(a));
  EXPECT_TRUE(keys.insert(b));
  EXPECT_FALSE(keys.insert(a)) << "there already";
  EXPECT_TRUE(keys.insert(c));
  EXPECT_FALSE(keys.contains(a)) << "the oldest, though added again after b";
  EXPECT_TRUE(keys.contains(b));
  EXPECT_TRUE(keys.contains(c));
}
