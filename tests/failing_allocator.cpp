#include "failing_allocator.hpp"

#include <pthread.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <new>

namespace {
// The allocation on this thread that fails: 1 = the next one; 0 = none.
thread_local std::size_t countdown = 0;
thread_local std::size_t frees = 0;

// The failure armed for a thread by its name: only threads of that name count down.
std::atomic<std::size_t> named_countdown{0};
std::atomic<const char*> named{""};  // a string literal: never written, only pointed at

bool named_thread_fails_now() noexcept {
  if (named_countdown.load(std::memory_order_acquire) == 0) return false;
  char name[16] = {};
  if (pthread_getname_np(pthread_self(), name, sizeof name) != 0 || std::strcmp(name, named.load(std::memory_order_acquire)) != 0) return false;
  return named_countdown.fetch_sub(1, std::memory_order_acq_rel) == 1;
}

bool fails_now() noexcept { return (countdown != 0 && --countdown == 0) || named_thread_fails_now(); }
}  // namespace

namespace synth::tracing::testing {
void fail_allocation_in(std::size_t n) noexcept { countdown = n; }
bool allocation_failure_pending() noexcept { return countdown != 0; }
void fail_allocation_on_thread(const char* name, std::size_t n) noexcept {
  named_countdown.store(0, std::memory_order_release);
  named.store(name, std::memory_order_release);
  named_countdown.store(n, std::memory_order_release);
}
bool thread_allocation_failure_pending() noexcept { return named_countdown.load(std::memory_order_acquire) != 0; }
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
