// An allocator that fails on demand, for out-of-memory tests: a test program that links
// failing_allocator.cpp gets a global operator new that throws std::bad_alloc (the nothrow form:
// returns null) at the chosen allocation of the arming thread, or of a thread chosen by its name
// (the library's background threads). It also counts each thread's
// frees, for tests of which thread pays for freeing what.
#pragma once

#include <cstddef>

namespace synth::tracing::testing {

/// The `n`-th allocation from now on this thread fails (1 = the next one); 0 disarms.
void fail_allocation_in(std::size_t n) noexcept;
/// True while the armed failure has not happened yet.
bool allocation_failure_pending() noexcept;
/// The `n`-th allocation from now on the thread named `name` (pthread_setname_np: "synth-spill",
/// "synth-sinks", "synth-spans") fails; 0 disarms. `name` must outlive the arming (a literal).
/// One such failure is armed at a time.
void fail_allocation_on_thread(const char* name, std::size_t n) noexcept;
/// True while the failure armed by fail_allocation_on_thread has not happened yet.
bool thread_allocation_failure_pending() noexcept;
/// How many blocks this thread has freed through operator delete so far.
std::size_t frees_on_this_thread() noexcept;

}  // namespace synth::tracing::testing
