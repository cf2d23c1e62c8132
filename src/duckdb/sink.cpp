// DuckDBSink: when its batches are committed, and what a failed one loses.
#include <utility>

#include "diagnostics.hpp"
#include "duckdb/connection.hpp"
#include "server/lock_file.hpp"
#include "tracer/dispatcher.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing {

namespace {

// A batch also commits once its sessions hold this many events and messages: the sessions kept
// until the commit stay bounded (about 100 MB for events of 1 KB).
constexpr std::size_t kMaxBatchItems = 100'000;

// Lost sessions named in a report, at most.
constexpr std::size_t kNamedSessions = 5;

// While the file is locked by another process, how often the sink tries to open it again.
constexpr std::chrono::seconds kReopenInterval{3};

// What SessionsLost says about `lost` (ids) of a batch of `batch_size` sessions.
std::string lost_text(const std::vector<std::string>& lost, std::size_t batch_size, const std::string& where) {
  std::string names;
  for (std::size_t i = 0; i < lost.size() && i < kNamedSessions; ++i) {
    names.append(i == 0 ? "'" : ", '").append(lost[i]).append("'");
  }
  if (lost.size() > kNamedSessions) names += ", ...";
  return "DuckDB sink: could not store " + std::to_string(lost.size()) + " of the " + std::to_string(batch_size) +
         " sessions of a batch in " + where + " (" + names + ")";
}

DuckDBOptions sink_options(DuckDBOptions options) {
  if (options.read_only) throw StorageError("a DuckDBSink writes: DuckDBOptions::read_only must be false");
  if (options.commit_sessions == 0) {
    throw StorageError("DuckDBOptions::commit_sessions must be at least 1 (1 commits every session)");
  }
  if (options.threads == 0) options.threads = 1;  // the sink thread does the work (DuckDBOptions::threads)
  if (options.memory_limit_mb == 0) options.memory_limit_mb = 256;  // flat memory over hours (DuckDBOptions)
  return options;
}

}  // namespace

DuckDBSink::DuckDBSink(std::filesystem::path path, DuckDBOptions options)
    : path_(std::move(path)),
      options_(sink_options(options)),
      commit_sessions_(options.commit_sessions),
      commit_interval_(options.commit_interval) {
  open_database();
}

std::filesystem::path DuckDBSink::pending_dir() const {
  std::filesystem::path dir = path_;
  dir += ".pending";
  return dir;
}

DuckDBTraceManager& DuckDBSink::manager() {
  std::lock_guard lock(open_mutex_);
  if (collector_) {
    throw DatabaseLocked("DuckDB sink: trace database '" + path_.string() + "' is owned by synth-trace serve at " +
                         collector_->options().url + ", which the sink sends its sessions to: query it there (" +
                         "`synth-trace --db " + path_.string() + " sessions`, or its HTTP API)");
  }
  if (!manager_) {
    throw DatabaseLocked("DuckDB sink: trace database '" + path_.string() +
                         "' is locked by another process; the sink has not opened it yet");
  }
  return *manager_;
}

// Opens the database; or, when a `synth-trace serve` owns it, sends to that server; or (locked by
// another process) sends sessions to pending_dir() until a later attempt succeeds. Returns whether
// writes can go on (to the file or the server). Other failures throw.
bool DuckDBSink::open_database() {
  if (std::chrono::steady_clock::now() < next_open_) return false;
  const std::string import_hint = "`synth-trace --db " + path_.string() + " import " + pending_dir().string() + "`";
  if (send_to_server()) return true;  // writes go to the server from now on
  try {
    auto opened = std::make_unique<DuckDBTraceManager>(path_, options_);
    std::lock_guard lock(open_mutex_);
    manager_ = std::move(opened);
  } catch (const DatabaseLocked& locked) {
    next_open_ = std::chrono::steady_clock::now() + kReopenInterval;
    if (!pending_) {
      pending_ = std::make_unique<JsonFileSink>(pending_dir());
      detail::report(std::string(locked.what()) + ". DuckDB sink: sessions go to '" + pending_dir().string() +
                     "' as JSON files until it is free (tried every " + std::to_string(kReopenInterval.count()) +
                     " s); store them then with " + import_hint);
    }
    return false;
  }
  if (pending_ && pending_->files_written() > 0) {
    detail::report("DuckDB sink: trace database '" + path_.string() + "' is free again and stores new sessions; " +
                   std::to_string(pending_->files_written()) + " sessions written while it was locked are in '" +
                   pending_dir().string() + "': store them with " + import_hint);
  }
  return true;
}

// A `synth-trace serve` owning the file takes the sessions instead (its lock file says where).
bool DuckDBSink::send_to_server() {
  std::optional<server::RunningServer> server;
  try {
    server = server::find_server(path_);
  } catch (const Error& e) {
    detail::report(std::string(e.what()) + "; DuckDB sink: opening the file itself instead");
    return false;
  }
  if (!server) return false;
  CollectorOptions options;
  options.url = server->url;
  options.fallback_dir = pending_dir();
  try {
    // A server started with --token needs it (TracingConfig::collector_token).
    options.token = TracingConfig{}.load().collector_token;
  } catch (...) {
    // A configuration that does not load is reported by the tracer that uses it.
  }
  auto collector = std::make_unique<CollectorSink>(std::move(options));
  {
    std::lock_guard lock(open_mutex_);
    collector_ = std::move(collector);
  }
  detail::report("DuckDB sink: trace database '" + path_.string() + "' is owned by synth-trace serve at " + server->url +
                 " (pid " + std::to_string(server->pid) + "): sessions are sent to it, and it stores them in that file");
  return true;
}

std::string DuckDBSink::server_url() const {
  std::lock_guard lock(open_mutex_);
  return collector_ ? collector_->options().url : std::string();
}

void DuckDBSink::shutdown_by(std::chrono::steady_clock::time_point deadline) noexcept {
  std::lock_guard lock(open_mutex_);
  if (collector_) collector_->shutdown_by(deadline);
}

std::shared_ptr<DuckDBSink> DuckDBSink::from_config(const TracingConfig& config, DuckDBOptions options) {
  return std::make_shared<DuckDBSink>(config.load().db_path.value(), options);
}

DuckDBSink::~DuckDBSink() {
  try {
    flush();
  } catch (...) {
    detail::report("DuckDB sink: could not commit its last sessions to '" + path_.string() +
                   "': " + detail::current_exception_text());
  }
}

void DuckDBSink::write(const SessionTrace& trace) {
  if (!collector_ && !manager_ && !open_database()) {
    pending_->write(trace);
    return;
  }
  if (collector_) {
    collector_->write(trace);
    return;
  }
  // Held until the commit: the tracer's own trace (no copy) when the tracer is the caller.
  std::shared_ptr<const SessionTrace> kept = detail::shared_if_delivered(trace);
  if (!kept) kept = std::make_shared<const SessionTrace>(trace);
  if (batch_.empty()) batch_started_ = std::chrono::steady_clock::now();
  batch_items_ += trace.event_history.size() + trace.message_history.size();
  batch_.push_back(std::move(kept));
  if (batch_.size() >= commit_sessions_ || batch_items_ >= kMaxBatchItems ||
      std::chrono::steady_clock::now() - batch_started_ >= commit_interval_) {
    commit();
  }
}

void DuckDBSink::flush() {
  if (collector_) collector_->flush();
  if (pending_) pending_->flush();
  if (manager_) commit();
}

// The batch is appended and committed here, in one transaction: the sink asks DuckDB which of
// its sessions are stored once per batch instead of once per session.
void DuckDBSink::commit() {
  if (batch_.empty()) return;
  std::vector<std::pair<std::string, std::string>> refused;
  try {
    refused = manager_->store_batch(batch_);
  } catch (...) {
    retry_batch(detail::current_exception_text());  // the batch was rolled back
    return;
  }
  const std::size_t batch_size = batch_.size();
  batch_.clear();
  batch_items_ = 0;
  if (refused.empty()) return;
  std::vector<std::string> lost;
  for (const auto& [session_id, why] : refused) lost.push_back(session_id);
  throw SessionsLost(lost.size(), lost_text(lost, batch_size, "'" + path_.string() + "'") + ": " + refused.front().second);
}

// Each session of the rolled-back batch is tried once more in a transaction of its own, so
// that only the sessions that cannot be stored are lost.
void DuckDBSink::retry_batch(const std::string& failure) {
  const std::vector<std::shared_ptr<const SessionTrace>> sessions = std::exchange(batch_, {});
  batch_items_ = 0;
  std::vector<std::string> lost;
  std::string first_error;
  for (const auto& trace : sessions) {
    try {
      manager_->insert_trace(*trace);
    } catch (...) {
      lost.push_back(trace->session_id);
      if (first_error.empty()) first_error = detail::current_exception_text();
    }
  }
  const std::string where = "'" + path_.string() + "'";
  if (lost.empty()) {
    detail::report("DuckDB sink: a batch of " + std::to_string(sessions.size()) + " sessions failed in " + where +
                   " and was stored on retry (" + failure + ")");
    return;
  }
  throw SessionsLost(lost.size(), lost_text(lost, sessions.size(), where) + ", also when retried alone: " + first_error +
                                      " (the batch failed with: " + failure + ")");
}

}  // namespace synth::tracing
