// Internal: whole-file reads and crash-safe writes.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace synth::tracing::detail {

/// The file's bytes. Throws TraceFormatError naming the file when it cannot be read.
std::string read_whole_file(const std::filesystem::path& path);

enum class IfExists { replace, keep };

/// Writes `data` to a temporary file beside `path`, then renames it into place, so readers
/// never see a partial file. With IfExists::keep an existing `path` is left alone and false is
/// returned. Throws Error naming the file on failure.
bool write_file_atomically(const std::filesystem::path& path, std::string_view data, IfExists if_exists);

/// Makes `path` (a file, or a folder: the names in it) durable on disk (fsync). Throws Error
/// naming it on failure.
void sync_to_disk(const std::filesystem::path& path);

}  // namespace synth::tracing::detail
