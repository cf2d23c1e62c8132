// The benchmarks' scratch database files: each process's own, in the temporary folder, so that two
// runs side by side (two builds compared in turns) never open each other's files, which DuckDB
// refuses ("database is locked"). Databases built once and kept between runs are not scratch.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>

namespace synth_bench {

/// `<temp>/synth_bench_<pid>_<name>`: a database file of this process alone.
inline std::filesystem::path scratch_database(std::string_view name) {
  return std::filesystem::temp_directory_path() /
         ("synth_bench_" + std::to_string(::getpid()) + "_" + std::string(name));
}

/// Removes a database file and its WAL, where they exist.
inline void remove_database(const std::filesystem::path& path) {
  std::error_code ec;
  std::filesystem::remove(path, ec);
  std::filesystem::remove(std::filesystem::path(path.string() + ".wal"), ec);
}

}  // namespace synth_bench
