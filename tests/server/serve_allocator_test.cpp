// The server's processes allocate with mimalloc (src/server/allocator.cpp): what links
// synth_tracing_serve_allocator has malloc, free and operator new replaced, tuned at start.
#include <gtest/gtest.h>
#include <mimalloc.h>

#include <cstdlib>
#include <memory>
#include <string>

TEST(ServeAllocator, MallocAndNewAreMimallocs) {
  void* p = std::malloc(100);
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(mi_is_in_heap_region(p));
  std::free(p);
  const auto text = std::make_unique<std::string>(1000, 'x');  // operator new, as Value and std::string allocate
  EXPECT_TRUE(mi_is_in_heap_region(text.get()));
  EXPECT_TRUE(mi_is_in_heap_region(text->data()));
}

TEST(ServeAllocator, FreedPagesAreKeptForTwoSeconds) {
  EXPECT_EQ(mi_option_get(mi_option_decommit_delay), 2000);
}
