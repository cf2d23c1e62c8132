// The server-sent events parser of the LM client's streams. Promise: the events do not depend on
// how the network cuts the bytes: the input fed whole and fed in pieces (sizes drawn from a hash
// of the input) gives the same events.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_check.hpp"
#include "lm/wire.hpp"

namespace st = synth::tracing;

namespace {
using Events = std::vector<std::pair<std::string, std::string>>;

Events events_of(std::string_view bytes, std::uint64_t seed) {
  Events events;
  const st::lm_detail::SseParser::OnEvent collect = [&](std::string_view name, std::string_view data) {
    events.emplace_back(name, data);
  };
  st::lm_detail::SseParser parser;
  while (!bytes.empty()) {
    std::size_t piece = bytes.size();
    if (seed != 0) {
      seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;  // an LCG: any spread will do
      piece = 1 + static_cast<std::size_t>((seed >> 33) % 17);
    }
    piece = std::min(piece, bytes.size());
    parser.feed(bytes.substr(0, piece), collect);
    bytes.remove_prefix(piece);
  }
  return events;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  std::uint64_t hash = 1469598103934665603ULL;  // FNV-1a
  for (const unsigned char c : bytes) hash = (hash ^ c) * 1099511628211ULL;
  st::fuzz::check(events_of(bytes, 0) == events_of(bytes, hash | 1),
                  "the events of a stream do not depend on how its bytes are cut");
  return 0;
}
