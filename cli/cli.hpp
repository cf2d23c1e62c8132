// synth-trace: the command line of synth-tracing. Shared pieces of its subcommands.
#pragma once

#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>
#include <optional>
#include <string>
#include <vector>

#include <synth/tracing/duckdb.hpp>

#include "server/options.hpp"

namespace synth_trace {

namespace st = synth::tracing;

/// Exit codes: the contract with scripts.
inline constexpr int kOk = 0;
inline constexpr int kBadInput = 1;
inline constexpr int kUsage = 2;

/// A wrong combination of arguments found after parsing (exit code 2).
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

enum class Format { table, csv, json };

/// Prints a query result to stdout in the chosen format.
void print(const st::QueryResult& result, Format format);

/// Where a command finds the traces: the database file, or the server that owns it.
struct Target {
  std::filesystem::path db;
  std::optional<std::string> server;  ///< --server URL: go through this server
  std::string token;                  ///< --token: the server's token, if it has one
};

/// The URL of the server to go through: --server, else the synth-trace serve whose lock file
/// says it owns the database; nullopt when the file is to be opened directly.
std::optional<std::string> server_of(const Target& target);

/// Throws when a server owns the database, for the commands that must write the file itself.
void refuse_if_served(const Target& target, const char* command);

/// What the reading commands read through: the database file opened read-only (never changed),
/// or, while a synth-trace serve owns it, that server's API. Both give the same answers.
class TraceStore {
 public:
  virtual ~TraceStore() = default;
  /// SQL with values bound to its `?` placeholders.
  virtual st::QueryResult query(std::string_view sql, const std::vector<st::Value>& params = {}) = 0;
  /// A stored session; nullopt when there is none with that id.
  virtual std::optional<st::SessionTrace> load_trace(std::string_view session_id) = 0;
  /// Every session as one JSON line, oldest first; returns how many.
  virtual std::size_t export_jsonl(std::ostream& out) = 0;
  /// session_traces, session_timesteps, events and messages as `<table>.parquet` in `dir`.
  virtual void export_parquet(const std::filesystem::path& dir) = 0;
};

std::unique_ptr<TraceStore> open_for_reading(const Target& target);

/// A one-line progress bar on stderr, shown only when stderr is a terminal.
class Progress {
 public:
  Progress(std::string label, std::size_t total);
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;
  void advance(std::size_t by = 1);

 private:
  void draw(bool force);
  std::string label_;
  std::size_t total_;
  std::size_t done_ = 0;
  int last_percent_ = -1;
  bool enabled_;
};

struct DemoOptions {
  int episodes = 5;
  int threads = 2;
  unsigned seed = 7;
};
struct ImportOptions {
  std::vector<std::string> paths;
  st::OnExistingSession on_existing = st::OnExistingSession::skip;
};
struct SessionsOptions {
  std::optional<std::string> experiment;
  std::optional<std::string> since;
  std::optional<std::string> until;
  int limit = 50;
  Format format = Format::table;
};
struct StatsOptions {
  Format format = Format::table;
  int top = 10;
};
struct QueryOptions {
  std::string sql;
  std::vector<std::string> params;
  Format format = Format::table;
  bool write = false;  ///< open the database writable (else read-only)
};
struct ExportOptions {
  std::optional<std::string> parquet_dir;
  std::optional<std::string> jsonl_file;
};
struct RecoverOptions {
  std::optional<std::string> spill_dir;  ///< default: TracingConfig::spill_dir
  st::OnExistingSession on_existing = st::OnExistingSession::skip;
};
struct FinetuneOptions {
  std::string out;
  double min_reward = 0.0;
};

int run_demo(const Target& target, const DemoOptions& options);
int run_import(const Target& target, const ImportOptions& options);
int run_recover(const Target& target, const RecoverOptions& options);
int run_sessions(const Target& target, const SessionsOptions& options);
int run_show(const Target& target, const std::string& session_id);
int run_stats(const Target& target, const StatsOptions& options);
int run_query(const Target& target, const QueryOptions& options);
int run_export(const Target& target, const ExportOptions& options);
int run_finetune_export(const Target& target, const FinetuneOptions& options);
int run_migrate(const Target& target);
/// Serves until SIGINT or SIGTERM.
int run_serve(const Target& target, synth::tracing::server::ServerOptions options);

}  // namespace synth_trace
