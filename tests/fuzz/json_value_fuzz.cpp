// Value::parse, the JSON reader behind config files, provider answers, tool arguments and OTLP
// responses. Promises: bad input raises TraceFormatError and nothing else; a parsed value dumps
// (compact and indented) into JSON that parses as an equal value.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "synth/tracing/json.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  st::Value value;
  try {
    value = st::Value::parse(text, "fuzz.json");
  } catch (const st::TraceFormatError&) {
    return 0;
  }
  for (const int indent : {-1, 2}) {
    const std::string written = value.dump({.indent = indent});
    st::Value back;
    try {
      back = st::Value::parse(written, "written.json");
    } catch (const st::TraceFormatError&) {
      st::fuzz::check(false, "a parsed value dumps JSON that parses again");
    }
    st::fuzz::check(back == value, "a value dumped and parsed again is equal");
  }
  return 0;
}
