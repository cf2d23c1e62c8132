#include "failing_allocator.hpp"

#include <cstdlib>
#include <new>

namespace {
// The allocation on this thread that fails: 1 = the next one; 0 = none.
thread_local std::size_t countdown = 0;
thread_local std::size_t frees = 0;

bool fails_now() noexcept { return countdown != 0 && --countdown == 0; }
}  // namespace

namespace synth::tracing::testing {
void fail_allocation_in(std::size_t n) noexcept { countdown = n; }
bool allocation_failure_pending() noexcept { return countdown != 0; }
std::size_t frees_on_this_thread() noexcept { return frees; }
}  // namespace synth::tracing::testing

void* operator new(std::size_t size) {
  if (fails_now()) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Libraries (simdjson) allocate with the nothrow form and free with plain delete: both must use
// the same malloc, or AddressSanitizer rightly reports a mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (fails_now()) return nullptr;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept {
  if (p != nullptr) ++frees;
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept { operator delete(p); }
