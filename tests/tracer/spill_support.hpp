// Helpers for tests that look at a tracer's spill folder.
#pragma once

#include <filesystem>
#include <system_error>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/spill.hpp"

namespace synth::tracing::testing {

/// Every spill file under `spill_dir`.
inline std::vector<std::filesystem::path> spill_files(const std::filesystem::path& spill_dir) {
  std::vector<std::filesystem::path> out;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(spill_dir, ec); !ec && it != std::filesystem::end(it);
       it.increment(ec)) {
    if (it->path().extension() == ".spill") out.push_back(it->path());
  }
  return out;
}

/// Events recorded in the one spill file under `spill_dir`, or -1 when there is none (yet).
inline long events_in_spill(const std::filesystem::path& spill_dir) {
  const auto files = spill_files(spill_dir);
  if (files.size() != 1) return -1;
  try {
    return static_cast<long>(read_spill_file(files[0]).trace.event_history.size());
  } catch (const Error&) {
    return -1;  // created, not written yet
  }
}

}  // namespace synth::tracing::testing
