// Helpers for tests that look at a tracer's spill folder, and at what its checkpoints masked.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "synth/tracing/config.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/model.hpp"
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

/// A user pattern whose replacement holds what it matches: an item masked twice shows "[[tok]]".
inline PiiPattern echo_pattern() { return {"echo", "tok", "[tok]"}; }

/// Every "tok" recorded in `trace` left masked by echo_pattern(), and none masked twice.
inline void expect_masked_once(const SessionTrace& trace) {
  const std::string json = trace.to_json();
  EXPECT_EQ(json.find("[[tok]]"), std::string::npos) << "masked twice: " << json;
  EXPECT_EQ(json.find("\"tok\""), std::string::npos) << "not masked: " << json;
}

}  // namespace synth::tracing::testing
