// Journal chunk memory goes back to the thread that allocated it (src/tracer/journal.hpp):
// released by the sink thread, it is reused by the agent, whose pages are already touched.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>
#include <set>
#include <thread>
#include <vector>

#include "tracer/journal.hpp"

namespace {
// A block size nothing else in this program allocates: operator new counts its allocations.
constexpr std::size_t kBytes = 4096 + 24;
std::atomic<int> fresh_blocks{0};
}  // namespace

void* operator new(std::size_t n) {
  if (n == kBytes) fresh_blocks.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

using synth::tracing::detail::allocate_block;
using synth::tracing::detail::Block;
using synth::tracing::detail::release_block;

TEST(BlockCache, BlocksReleasedOnAnotherThreadAreReusedByTheirOwner) {
  std::vector<Block> blocks;
  std::set<void*> first;
  for (int i = 0; i < 64; ++i) {
    blocks.push_back(allocate_block(kBytes));
    first.insert(blocks.back().data);
  }
  std::thread sink([&] {
    for (const Block& b : blocks) release_block(b, kBytes);
  });
  sink.join();
  const int allocated = fresh_blocks.load();
  std::set<void*> again;
  std::vector<Block> second;
  for (int i = 0; i < 64; ++i) {
    second.push_back(allocate_block(kBytes));
    again.insert(second.back().data);
  }
  EXPECT_EQ(fresh_blocks.load(), allocated) << "the owner allocated fresh memory instead of reusing its blocks";
  EXPECT_EQ(again, first);
  for (const Block& b : second) release_block(b, kBytes);
}

TEST(BlockCache, BlocksOutlivingTheirThreadAreFreedWhenReleased) {
  // The owner exits with every block out; the last release frees its cache (ASan checks leaks).
  std::vector<Block> blocks;
  std::thread owner([&] {
    for (int i = 0; i < 32; ++i) blocks.push_back(allocate_block(kBytes));
    release_block(blocks.back(), kBytes);  // kept by the owner, freed at its exit
    blocks.pop_back();
  });
  owner.join();
  for (const Block& b : blocks) release_block(b, kBytes);
}

TEST(BlockCache, ConcurrentReleasesWhileTheOwnerAllocatesLoseNothing) {
  std::vector<Block> out;
  for (int round = 0; round < 50; ++round) {
    std::vector<Block> batch;
    for (int i = 0; i < 16; ++i) batch.push_back(allocate_block(kBytes * (1 + i % 3)));
    std::thread sink([batch] {
      for (std::size_t i = 0; i < batch.size(); ++i) release_block(batch[i], kBytes * (1 + i % 3));
    });
    for (int i = 0; i < 16; ++i) out.push_back(allocate_block(kBytes));  // meanwhile, on the owner
    sink.join();
  }
  for (const Block& b : out) release_block(b, kBytes);
}

}  // namespace

TEST(ChunkedList, AtFindsEachElementInTheGrowingChunksAndPastThem) {
  synth::tracing::detail::ChunkedList<std::size_t> list;
  for (std::size_t i = 0; i < 1000; ++i) list.emplace_back(i);
  for (std::size_t i = 0; i < 1000; ++i) ASSERT_EQ(list.at(i), i);
}
