// An allocator that fails on demand, for out-of-memory tests: a test program that links
// failing_allocator.cpp gets a global operator new that throws std::bad_alloc (the nothrow form:
// returns null) at the chosen allocation of the arming thread.
#pragma once

#include <cstddef>

namespace synth::tracing::testing {

/// The `n`-th allocation from now on this thread fails (1 = the next one); 0 disarms.
void fail_allocation_in(std::size_t n) noexcept;
/// True while the armed failure has not happened yet.
bool allocation_failure_pending() noexcept;

}  // namespace synth::tracing::testing
