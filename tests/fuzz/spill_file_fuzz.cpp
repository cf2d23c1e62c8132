// read_spill_file, the reader of what a dead process left on disk (torn, corrupt, or not a spill
// file at all). Promises: bad input raises Error and nothing else; what is read never claims more
// bytes cut than the file holds; a session read back writes JSON that reads as an equal trace.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_check.hpp"
#include "synth/tracing/spill.hpp"

namespace st = synth::tracing;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("spill_fuzz_" + std::to_string(::getpid()) + ".spill");
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  }
  st::SpilledSession read;
  try {
    read = st::read_spill_file(file);
  } catch (const st::Error&) {
    return 0;
  }
  st::fuzz::check(read.bytes_cut <= size, "no more bytes cut than the file holds");
  std::string json;
  read.trace.write_json(json);
  st::SessionTrace back;
  try {
    back = st::SessionTrace::from_json(json, "written.json");
  } catch (const st::TraceFormatError&) {
    st::fuzz::check(false, "a spilled session writes JSON that reads again");
  }
  st::fuzz::check(back == read.trace, "a spilled session written and read again is equal");
  return 0;
}
