// Connection: opening a database file (with errors that say what to do), reopening, the
// connections that share it, and running statements.
#include "duckdb/connection.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

namespace synth::tracing::detail::duck {

namespace {

bool is_lock_conflict(std::string_view message) {
  return message.find("Conflicting lock") != std::string_view::npos ||
         message.find("Could not set lock") != std::string_view::npos;
}

// Turns DuckDB's open errors into what the user should do about them.
std::string explain_open_error(const std::string& file, std::string_view error) {
  const std::string message(error);
  if (is_lock_conflict(message)) {
    return "trace database '" + file +
           "' is locked by another process: DuckDB allows one process per database file. Close the other "
           "program, or use another file (--db / SYNTH_TRACING_DB). (" + message + ")";
  }
  if (message.find("not a valid DuckDB database") != std::string::npos ||
      message.find("database file") != std::string::npos || message.find("Corrupt") != std::string::npos ||
      message.find("corrupt") != std::string::npos) {
    return "'" + file + "' is not a readable DuckDB database (corrupt, or another kind of file): move it aside or "
           "choose another file (--db / SYNTH_TRACING_DB). (" + message + ")";
  }
  if (message.find("Permission denied") != std::string::npos || message.find("Read-only") != std::string::npos ||
      message.find("read-only") != std::string::npos) {
    return "cannot write trace database '" + file +
           "': the file or its folder is not writable. Choose a writable location (--db / SYNTH_TRACING_DB). (" +
           message + ")";
  }
  return "cannot open trace database '" + file + "': " + message;
}

}  // namespace

struct Database {
  std::string name;
  bool read_only = false;
  duckdb_database handle = nullptr;
  std::shared_mutex users;  // held shared by the connections made on the database, exclusively by reopen()
  std::vector<std::string> settings;
};

Connection::Connection(const std::filesystem::path& path, bool read_only) : db_(std::make_shared<Database>()) {
  db_->name = path.string();
  db_->read_only = read_only;
  if (read_only && db_->name != ":memory:" && !std::filesystem::exists(path)) {
    throw StorageError("no trace database at '" + db_->name +
                       "' (opening it read-only creates nothing): check the path (--db / SYNTH_TRACING_DB), or "
                       "store traces there first (synth-trace demo or import, a DuckDBSink)");
  }
  // An existing empty file (what tempfile.NamedTemporaryFile or `touch` leaves) holds no data:
  // it is a new database. DuckDB refuses it as "not a valid DuckDB database", so it is removed
  // and DuckDB creates the file anew; read-only, there is nothing to read.
  std::error_code ec;
  if (db_->name != ":memory:" && !db_->name.empty() && std::filesystem::is_regular_file(path, ec) &&
      std::filesystem::file_size(path, ec) == 0 && !ec) {
    if (read_only) {
      throw StorageError("trace database '" + db_->name +
                         "' is an empty file (no traces stored there yet; opening it read-only creates nothing): "
                         "store traces there first (synth-trace demo or import, a DuckDBSink)");
    }
    std::filesystem::remove(path, ec);
    if (ec) {
      throw StorageError("cannot use the empty file '" + db_->name + "' as a trace database (" + ec.message() +
                         "): remove it, or choose another file (--db / SYNTH_TRACING_DB)");
    }
  }
  open();
}

Connection::Connection(const Connection& owner) : db_(owner.db_), use_(owner.db_->users) {
  if (db_->handle == nullptr || duckdb_connect(db_->handle, &conn_) != DuckDBSuccess) {
    conn_ = nullptr;
    fail("cannot connect", "the database is closed");
  }
}

const std::string& Connection::name() const noexcept { return db_->name; }

void Connection::open() {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) throw StorageError("cannot configure DuckDB");
  std::unique_ptr<_duckdb_config, void (*)(duckdb_config)> guard(config, [](duckdb_config c) { duckdb_destroy_config(&c); });
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  duckdb_set_config(config, "access_mode", db_->read_only ? "READ_ONLY" : "READ_WRITE");
  // DuckDB checkpoints once the WAL holds 16 MB (its default): with trace batches of tens of MB
  // that is after every commit, each rewriting the tables' last, partly filled row groups
  // (BENCHMARKS.md: a third of the insert CPU, and files half again as large). Committed rows
  // wait in memory (the buffer manager spills them when it must) and the WAL until then; a file
  // not closed cleanly replays at most this much when opened.
  if (!db_->read_only) duckdb_set_config(config, "checkpoint_threshold", kCheckpointThreshold);
  char* error = nullptr;
  const std::string& name = db_->name;
  if (duckdb_open_ext(name.c_str(), &db_->handle, config, &error) != DuckDBSuccess) {
    const std::string message = error ? error : "unknown error";
    duckdb_free(error);
    db_->handle = nullptr;
    if (is_lock_conflict(message)) throw DatabaseLocked(explain_open_error(name, message));
    throw StorageError(explain_open_error(name, message));
  }
  if (duckdb_connect(db_->handle, &conn_) != DuckDBSuccess) {
    duckdb_close(&db_->handle);
    db_->handle = nullptr;
    conn_ = nullptr;
    throw StorageError("cannot connect to trace database '" + name + "'");
  }
  // DuckDB opens an existing data file (.json, .csv, .parquet, ...) as an in-memory database
  // with views over it: traces written there would vanish on close.
  if (name != ":memory:" && !name.empty()) {
    bool in_memory = false;
    try {
      Result r = query(*this, "SELECT path IS NULL FROM duckdb_databases() WHERE database_name = current_database()");
      in_memory = r.rows() == 1 && r.boolean(0, 0).value_or(false);
    } catch (...) {
      in_memory = false;  // cannot tell; the file itself opened fine
    }
    if (in_memory) {
      close();
      throw StorageError("'" + name +
                         "' is not a DuckDB database (DuckDB would read it as a data file, and traces written to "
                         "it would be lost): choose another file (--db / SYNTH_TRACING_DB)");
    }
  }
}

Connection::~Connection() { close(); }

void Connection::close() noexcept {
  if (conn_) duckdb_disconnect(&conn_);
  conn_ = nullptr;
  if (!use_.owns_lock() && db_->handle) {  // the owner closes the database
    duckdb_close(&db_->handle);
    db_->handle = nullptr;
  }
}

void Connection::configure(std::vector<std::string> settings) {
  for (const std::string& sql : settings) exec(sql);
  db_->settings = std::move(settings);
}

void Connection::reopen() {
  std::optional<std::string> threads;
  std::optional<std::string> memory_limit;
  try {
    auto current = query(*this, "SELECT current_setting('threads')::VARCHAR, current_setting('memory_limit')::VARCHAR");
    threads = current.text(0, 0);
    memory_limit = current.text(1, 0);
  } catch (...) {
    // DuckDB's defaults then.
  }
  const std::unique_lock no_other_users(db_->users);
  close();
  open();
  if (threads) exec("SET threads TO " + *threads);
  if (memory_limit) exec("SET memory_limit = '" + *memory_limit + "'");
  for (const std::string& sql : db_->settings) exec(sql);
}

duckdb_connection Connection::handle() const {
  if (!conn_) fail("closed", "it could not be opened again after a failed commit; open it anew");
  return conn_;
}

void Connection::fail(std::string_view what, std::string_view detail) const {
  throw StorageError("trace database '" + db_->name + "': " + std::string(what) + ": " + std::string(detail));
}

void Connection::exec(std::string_view sql) { (void)query(*this, sql); }

void roll_back(Connection& conn) noexcept {
  try {
    conn.exec("ROLLBACK");
  } catch (...) {
    // No transaction left to end; the failure that led here is the one to report.
  }
}

Result query(Connection& conn, std::string_view sql) {
  Result r;
  const std::string text(sql);
  const duckdb_state state = duckdb_query(conn.handle(), text.c_str(), r.raw());
  r.mark_valid();
  if (state != DuckDBSuccess) {
    const char* error = duckdb_result_error(r.raw());
    conn.fail("statement failed", std::string(error ? error : "unknown error") + "\n  in: " + text);
  }
  r.fetch();
  return r;
}

}  // namespace synth::tracing::detail::duck
