// The trace JSON reader (our shape, the Python original's, the README/test shape). Promises: bad
// input raises TraceFormatError and nothing else; a trace that was read writes back (compact and
// indented) into JSON that reads as an equal trace.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "synth/tracing/model.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  st::SessionTrace trace;
  try {
    trace = st::SessionTrace::from_json(text, "fuzz.json");
  } catch (const st::TraceFormatError&) {
    return 0;
  }
  for (const int indent : {-1, 2}) {
    const std::string written = trace.to_json({.indent = indent});
    st::SessionTrace back;
    try {
      back = st::SessionTrace::from_json(written, "written.json");
    } catch (const st::TraceFormatError&) {
      st::fuzz::check(false, "a trace that was read writes JSON that reads back");
    }
    st::fuzz::check(back == trace, "a trace written and read back is equal");
  }
  return 0;
}
