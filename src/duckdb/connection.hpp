// Internal: RAII over DuckDB's C API, turning every failure into a StorageError that names the
// database file and, for statements, the SQL.
#pragma once

#include <duckdb.h>

#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::detail {
class JsonWriter;
}  // namespace synth::tracing::detail

namespace synth::tracing::detail::duck {

/// The WAL size at which a writable database checkpoints (DuckDB's checkpoint_threshold).
inline constexpr const char* kCheckpointThreshold = "256MB";

/// An open database file, shared by the connections made on it.
struct Database;

/// An open database with one connection. Extension auto-install and auto-load are off: the
/// store never reaches for the network.
class Connection {
 public:
  /// Opens the database and connects (the owner of the database). A read-only open of a file
  /// that does not exist throws (DuckDB would not create it either).
  Connection(const std::filesystem::path& path, bool read_only);
  /// Another connection on `owner`'s database: DuckDB's MVCC gives it the committed data and
  /// lets it read while the owner writes. It holds the owner's reopen() back until destroyed,
  /// so it is for one short piece of work (an HTTP request), on a thread that never waits for
  /// the owner.
  explicit Connection(const Connection& owner);
  ~Connection();
  Connection(Connection&&) = delete;
  Connection& operator=(const Connection&) = delete;

  /// Throws StorageError when the connection is closed (a reopen() that failed).
  duckdb_connection handle() const;
  const std::string& name() const noexcept;

  /// Runs database-wide settings now and again after every reopen() (a reopened database starts
  /// from the defaults). Call on the owner before sharing it.
  void configure(std::vector<std::string> settings);

  /// Closes the database and opens it again, keeping the `threads` setting and configure()'s.
  /// For after a failed COMMIT: DuckDB 1.4 then keeps corrupt in-memory state (the next commit
  /// stores wrong values); a fresh open reads what was committed. Waits until the connections
  /// made on it are gone. When opening fails it throws, and so does every later use. Owner only.
  void reopen();

  /// Runs statements that return nothing of interest.
  void exec(std::string_view sql);
  [[noreturn]] void fail(std::string_view what, std::string_view detail) const;

 private:
  void open();
  void close() noexcept;

  std::shared_ptr<Database> db_;
  std::shared_lock<std::shared_mutex> use_;  // a shared connection's hold on the database
  duckdb_connection conn_ = nullptr;
};

/// A materialized result, read through DuckDB's data chunks. (The older row-by-row C API cuts
/// strings at an embedded NUL character, and cannot be mixed with chunk access.)
class Result {
 public:
  Result() = default;
  ~Result();
  Result(Result&& other) noexcept;
  Result& operator=(Result&&) = delete;
  Result(const Result&) = delete;

  duckdb_result* raw() noexcept { return &result_; }
  void mark_valid() noexcept { valid_ = true; }
  /// Takes the result's chunks; call once the statement succeeded.
  void fetch();
  /// For a streaming result: takes chunks until it holds more than `max_rows` rows or the
  /// result ends (the rest is never computed). Throws StorageError when the query fails
  /// meanwhile (an interrupt, say), naming `conn`'s database.
  void fetch_streaming(std::size_t max_rows, const Connection& conn);

  std::size_t rows() noexcept;
  std::size_t columns() noexcept;
  bool is_null(std::size_t col, std::size_t row) noexcept;
  /// VARCHAR and JSON (and BLOB) columns, embedded NUL characters included.
  std::optional<std::string> text(std::size_t col, std::size_t row);
  std::optional<std::int64_t> integer(std::size_t col, std::size_t row) noexcept;
  std::optional<double> number(std::size_t col, std::size_t row) noexcept;
  std::optional<bool> boolean(std::size_t col, std::size_t row) noexcept;
  /// A whole numeric column as number() reads each cell, NULL as `null_value`: read chunk by
  /// chunk (number() looks up the chunk of every cell).
  std::vector<double> numbers(std::size_t col, double null_value);
  /// TIMESTAMP columns; NULL is the unset timestamp.
  Timestamp timestamp(std::size_t col, std::size_t row) noexcept;
  /// The whole result as QueryResult (names, type names, Values).
  QueryResult to_query_result();
  /// Rows [first, last) as JSON objects onto `w` (each a value of the array or object `w` is in),
  /// keyed by column name, leaving out the last `skip_columns` columns: the text Value::dump()
  /// gives for to_query_result()'s rows with JSON columns nested as the values they hold
  /// (server::row_value), read straight from the chunks without building Values. A JSON cell
  /// that does not parse throws TraceFormatError naming its column.
  void write_json_rows(detail::JsonWriter& w, std::size_t first, std::size_t last, std::size_t skip_columns = 0);

 private:
  struct Cell {
    duckdb_vector vector;
    std::size_t index;  // within the chunk
  };
  Cell cell(std::size_t col, std::size_t row) noexcept;
  duckdb_type type(std::size_t col) noexcept;

  duckdb_result result_{};
  bool valid_ = false;
  bool fetched_ = false;
  std::vector<duckdb_data_chunk> chunks_;
  std::vector<std::size_t> chunk_ends_;  // rows up to and including each chunk
};

/// A prepared statement; values bind by position (1-based).
class Prepared {
 public:
  Prepared(Connection& conn, std::string_view sql);
  ~Prepared();
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;

  /// Binds a value as DuckDB's matching type. An array binds as a list where the statement takes
  /// one of texts or integers (`CAST(? AS VARCHAR[])`, `BIGINT[]`: a parameter of known type, so
  /// DuckDB keeps its plan) and its elements are such; otherwise as JSON text, as objects do.
  Prepared& bind(std::size_t index, const Value& value);
  Prepared& bind(std::size_t index, std::string_view text);
  Prepared& bind_timestamp(std::size_t index, Timestamp t);
  std::size_t parameter_count() const noexcept;
  /// SELECT, INSERT, ... (DuckDB's duckdb_statement_type).
  duckdb_statement_type statement_type() const noexcept;
  Result execute();
  /// Runs the statement streaming its result: at most `max_rows` + 1 rows are computed and kept,
  /// so that the caller can tell there were more.
  Result execute_streaming(std::size_t max_rows);

 private:
  // Binds the array as a list of the parameter's element type when that is VARCHAR (texts in
  // UTF-8) or BIGINT (integers) and every element is one; false when not bound.
  bool bind_list(std::size_t index, const Value::Array& items);

  Connection& conn_;
  std::string sql_;
  duckdb_prepared_statement stmt_ = nullptr;
};

/// Rolls back the open transaction; nothing when DuckDB has ended it already.
void roll_back(Connection& conn) noexcept;

/// Runs `body` in one transaction ended by `commit` (a plain COMMIT by default); rolls back
/// and rethrows on failure.
template <class Body, class Commit>
void in_transaction(Connection& conn, Body&& body, Commit&& commit) {
  conn.exec("BEGIN TRANSACTION");
  try {
    body();
    commit();
  } catch (...) {
    roll_back(conn);
    throw;
  }
}
template <class Body>
void in_transaction(Connection& conn, Body&& body) {
  in_transaction(conn, body, [&conn] { conn.exec("COMMIT"); });
}

/// A session refused before any of its rows was appended: an open transaction is unharmed.
class Refused : public StorageError {
 public:
  using StorageError::StorageError;
};

/// Runs a query with no parameters.
Result query(Connection& conn, std::string_view sql);

/// Appends rows to one table; rows become visible with the surrounding transaction's commit.
/// Values go straight into the vectors of a DuckDB data chunk of the table's column types, which
/// is handed to DuckDB (duckdb_append_data_chunk) when full: value-by-value appends cost a call,
/// a type dispatch and a check per value (BENCHMARKS.md, DuckDB store).
class Appender {
 public:
  /// Rows give values for `columns`, in that order, whatever the table's order (columns a
  /// migration added come last); the table's other columns get their defaults.
  Appender(Connection& conn, const char* table, const std::vector<std::string>& columns);
  /// Rows for `query` (an INSERT, UPDATE, DELETE or MERGE INTO reading them as table `rows`),
  /// with the types of the same `columns` of table `like`: flush() runs it on the rows appended.
  Appender(Connection& conn, const char* query, const char* rows, const char* like,
           const std::vector<std::string>& columns);
  ~Appender();
  Appender(const Appender&) = delete;
  Appender& operator=(const Appender&) = delete;

  Appender& null();
  /// VARCHAR (and JSON) columns; throws StorageError when `s` is not UTF-8.
  Appender& text(std::string_view s);
  Appender& text(const std::optional<std::string>& s);
  /// BIGINT or INTEGER columns (INTEGER: ids of files the Python original created).
  Appender& integer(std::int64_t i);
  Appender& integer(const std::optional<std::int64_t>& i);
  Appender& number(const std::optional<double>& d);
  Appender& boolean(const std::optional<bool>& b);
  /// The unset timestamp appends NULL.
  Appender& timestamp(Timestamp t);
  /// JSON text of a value; null appends SQL NULL.
  Appender& json(const Value& v);
  /// JSON text of an array of `items` (what json() of an array Value writes, without building it).
  Appender& json_array(const std::vector<Value>& items);
  /// A VARCHAR[] value.
  Appender& text_list(const std::vector<std::string>& items);
  /// Ends a row: every column must have had its value.
  void end_row();
  /// Hands the rows to DuckDB's table storage (constraints are checked here).
  void flush();

 private:
  struct Column {
    std::string name;
    duckdb_type type;
    duckdb_vector vector = nullptr;
    void* data = nullptr;
    std::uint64_t* validity = nullptr;
    idx_t list_size = 0;  // LIST columns: child entries used in this chunk
  };
  void check(duckdb_state state, const char* what);
  // The column the next value goes to, which must be of `type`.
  Column& next(duckdb_type type, const char* what);
  void set_valid(Column& c) noexcept { c.validity[row_ / 64] |= std::uint64_t{1} << (row_ % 64); }
  // Takes `types` (destroyed): the columns and the chunk they are written into.
  void make_chunk(std::vector<duckdb_logical_type>& types, const std::vector<std::string>& columns);
  void bind_vectors();
  void append_chunk();
  void put_text(Column& c, std::string_view s);

  Connection& conn_;
  const char* table_;
  duckdb_appender app_ = nullptr;
  duckdb_data_chunk chunk_ = nullptr;
  std::vector<Column> columns_;
  idx_t capacity_ = 0;
  idx_t row_ = 0;
  std::size_t col_ = 0;
  std::string scratch_;  // reused for JSON text
};

/// DuckDB TIMESTAMP (microseconds) from our nanosecond timestamps, and back.
/// Rounds down to whole microseconds, but not below the earliest microsecond a nanosecond
/// Timestamp can hold (so that from_micros never overflows; -ns would overflow at the minimum).
inline std::int64_t to_micros(Timestamp t) noexcept {
  const std::int64_t ns = t.time_since_epoch().count();
  std::int64_t us = ns / 1000;  // rounds toward zero
  if (ns % 1000 < 0) --us;
  constexpr std::int64_t kMinMicros = std::numeric_limits<std::int64_t>::min() / 1000;
  return us < kMinMicros ? kMinMicros : us;
}
inline Timestamp from_micros(std::int64_t micros) noexcept {
  return Timestamp(std::chrono::microseconds(micros));
}

}  // namespace synth::tracing::detail::duck
