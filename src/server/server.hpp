// Internal: `synth-trace serve`, one process owning a trace database: it takes finished sessions
// from any number of local processes over HTTP, stores them through one writer, and answers the
// viewer's and the CLI's reads through connections of their own (DuckDB MVCC).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "server/options.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::server {

/// The WAL size at which the database a server owns checkpoints, holding commits back meanwhile
/// (~0.3 s per 32 MiB of GenAI spans on 2 cores, without vacuum). Library files keep
/// detail::duck::kCheckpointThreshold: no reader waits for their commits.
inline constexpr const char* kServeCheckpointThreshold = "32MiB";

/// Sets up the database a server owns (Server's constructor): SQL reaches no file but the
/// database and `export_dir`; checkpoints at kServeCheckpointThreshold, without DuckDB's vacuum
/// (which merged each checkpoint's partly filled row group with the rows come since, writing them
/// again); the configuration is then locked.
void configure_served_store(DuckDBTraceManager& store, const std::filesystem::path& export_dir);

/// How stopping went.
struct StopReport {
  /// False when the writer was still busy in the database at the deadline: the database was
  /// left open (the process should exit now; DuckDB replays its log on the next open).
  bool finished = true;
  std::uint64_t stored = 0;  ///< sessions inserted, replaced or merged since the start
  std::uint64_t lost = 0;    ///< sessions accepted and then not stored
};

class Server {
 public:
  /// In order: opens the store (creating or migrating the file), starts the writer, binds the
  /// address (port 0: a free one), writes the lock file, serves. Throws Error (StorageError for
  /// the database) saying what to do: a non-loopback address without a token, a port in use, a
  /// database locked by another process.
  explicit Server(ServerOptions options);
  /// stop().
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  /// "http://127.0.0.1:4319".
  const std::string& url() const noexcept;
  int port() const noexcept;
  /// The OTLP port (ServerOptions::otlp_port) when the server listens on it, else 0 and "".
  int otlp_port() const noexcept;
  const std::string& otlp_url() const noexcept;

  /// In reverse: stops taking requests (those in progress finish), lets the writer store what
  /// was accepted until shutdown_timeout, closes the database, removes the lock file. Only the
  /// first call does anything; later ones return its report.
  StopReport stop();

 private:
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

}  // namespace synth::tracing::server
