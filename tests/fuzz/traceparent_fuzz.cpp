// W3C trace context from another process: the input is a traceparent header, a newline and a
// tracestate header. Promises: no crash; a header that parses has ids that are not zero, formats
// back to the same version-00 header (its trace and span ids unchanged) which parses to the same
// parent, and keeps the tracestate as received.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_check.hpp"
#include "synth/tracing/otel.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const std::size_t newline = input.find('\n');
  const std::string_view header = input.substr(0, newline);
  const std::string_view state = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  const auto parent = st::parse_traceparent(header, state);
  if (!parent) return 0;
  st::fuzz::check((parent->trace_id_high != 0 || parent->trace_id_low != 0) && parent->span_id != 0,
                  "a parsed traceparent has non-zero ids");
  st::fuzz::check(parent->trace_state == state, "the tracestate is kept as received");
  const std::string formatted =
      st::format_traceparent(parent->trace_id_high, parent->trace_id_low, parent->span_id, parent->sampled);
  st::fuzz::check(header.find(formatted.substr(2, 50)) != std::string_view::npos,
                  "the ids of a parsed traceparent format back unchanged");
  st::fuzz::check(st::parse_traceparent(formatted, state) == parent, "a formatted traceparent parses back");
  return 0;
}
