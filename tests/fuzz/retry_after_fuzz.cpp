// The Retry-After header of a rate-limited or overloaded server (LM client and OTLP exporter):
// delay-seconds or an HTTP date. Promises: no crash and no undefined behaviour whatever the value
// (dates far in the future or past included); a delay is never negative.
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "http/client.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view value(reinterpret_cast<const char*>(data), size);
  // A fixed "now" (2025-01-01T00:00:00Z), so that a crash reproduces.
  const auto now = std::chrono::system_clock::time_point(std::chrono::seconds(1735689600));
  if (const auto delay = st::http::parse_retry_after(value, now)) {
    st::fuzz::check(delay->count() >= 0, "a Retry-After delay is not negative");
  }
  return 0;
}
