#include <exception>
#include <system_error>
#include <utility>
#include <vector>

#include "file_io.hpp"
#include "synth/tracing/sinks.hpp"
#include "time.hpp"

namespace synth::tracing {

namespace {
// Session ids are user text; keep file names portable and inside the folder.
std::string file_name_part(std::string_view id) {
  std::string out;
  out.reserve(std::min<std::size_t>(id.size(), 128));
  for (char c : id.substr(0, 128)) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
                      c == '_' || c == '.';
    out.push_back(keep ? c : '_');
  }
  if (out.empty() || out == "." || out == "..") out.assign(1, '_');
  return out;
}
}  // namespace

JsonFileSink::JsonFileSink(std::filesystem::path dir, JsonFormat format) : dir_(std::move(dir)), format_(format) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_)) {
    throw Error("JSON trace folder '" + dir_.string() + "' cannot be created: " +
                (ec ? ec.message() : std::string("a file is in the way")) +
                " (set another TracingConfig::save_dir or SYNTH_TRACING_SAVE_DIR)");
  }
}

void JsonFileSink::write(const SessionTrace& trace) {
  buffer_.clear();
  trace.write_json(buffer_, format_);
  const std::string_view json = buffer_;
  std::string stem = "session_" + file_name_part(trace.session_id) + "_";
  detail::append_compact_timestamp(stem, now());
  for (int attempt = 0;; ++attempt) {
    std::string name = stem;
    if (attempt > 0) name.append("_").append(std::to_string(attempt));
    name.append(".json");
    if (detail::write_file_atomically(dir_ / name, json, detail::IfExists::keep)) {
      unsynced_.push_back(dir_ / name);
      last_file_ = unsynced_.back();
      break;
    }
  }
  files_written_.fetch_add(1, std::memory_order_relaxed);
}

void JsonFileSink::flush() {
  if (unsynced_.empty()) return;
  // Every file is tried, each once: a failure is reported (the first), not retried forever.
  const std::vector<std::filesystem::path> files = std::exchange(unsynced_, {});
  std::exception_ptr failure;
  for (const auto& path : files) {
    try {
      detail::sync_to_disk(path);
    } catch (...) {
      if (!failure) failure = std::current_exception();
    }
  }
  detail::sync_to_disk(dir_);
  if (failure) std::rethrow_exception(failure);
}

}  // namespace synth::tracing
