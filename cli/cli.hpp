// synth-trace: the command line of synth-tracing. Shared pieces of its subcommands.
#pragma once

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <synth/tracing/duckdb.hpp>

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

/// The trace database opened read-only, for the commands that only read (it is never changed).
st::DuckDBTraceManager open_for_reading(const std::filesystem::path& db);

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
struct FinetuneOptions {
  std::string out;
  double min_reward = 0.0;
};

int run_demo(const std::filesystem::path& db, const DemoOptions& options);
int run_import(const std::filesystem::path& db, const ImportOptions& options);
int run_sessions(const std::filesystem::path& db, const SessionsOptions& options);
int run_show(const std::filesystem::path& db, const std::string& session_id);
int run_stats(const std::filesystem::path& db, const StatsOptions& options);
int run_query(const std::filesystem::path& db, const QueryOptions& options);
int run_export(const std::filesystem::path& db, const ExportOptions& options);
int run_finetune_export(const std::filesystem::path& db, const FinetuneOptions& options);
int run_migrate(const std::filesystem::path& db);

}  // namespace synth_trace
