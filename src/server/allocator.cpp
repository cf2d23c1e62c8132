// Linked into `synth-trace` (and server_bench, which measures its server), never into the
// library: the program observed keeps its own allocator. The server allocates and frees every
// span's attributes, events and messages on different threads (handler, writer, releaser);
// mimalloc does that in about two thirds of glibc's instructions (BENCHMARKS.md, "Foreign OTLP
// spans"). Linking it replaces malloc and free for the whole process.
#include <mimalloc.h>

namespace {

// Freed pages are given back to the system after 2 s unused rather than 25 ms: under ingest the
// same pages are freed and taken again within milliseconds, and giving them back each time cost
// half again as many page faults as glibc's allocator.
[[maybe_unused]] const bool kTuned = [] {
  mi_option_set(mi_option_decommit_delay, 2000);
  return true;
}();

}  // namespace
