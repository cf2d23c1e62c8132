#include "duckdb/connection.hpp"


#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <mutex>

#include "json/writer.hpp"

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

struct DuckString {
  char* s;
  ~DuckString() { duckdb_free(s); }
};

std::string_view type_name(duckdb_type type) {
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN:
      return "BOOLEAN";
    case DUCKDB_TYPE_TINYINT:
      return "TINYINT";
    case DUCKDB_TYPE_SMALLINT:
      return "SMALLINT";
    case DUCKDB_TYPE_INTEGER:
      return "INTEGER";
    case DUCKDB_TYPE_BIGINT:
      return "BIGINT";
    case DUCKDB_TYPE_UTINYINT:
      return "UTINYINT";
    case DUCKDB_TYPE_USMALLINT:
      return "USMALLINT";
    case DUCKDB_TYPE_UINTEGER:
      return "UINTEGER";
    case DUCKDB_TYPE_UBIGINT:
      return "UBIGINT";
    case DUCKDB_TYPE_HUGEINT:
      return "HUGEINT";
    case DUCKDB_TYPE_FLOAT:
      return "FLOAT";
    case DUCKDB_TYPE_DOUBLE:
      return "DOUBLE";
    case DUCKDB_TYPE_DECIMAL:
      return "DECIMAL";
    case DUCKDB_TYPE_VARCHAR:
      return "VARCHAR";
    case DUCKDB_TYPE_TIMESTAMP:
      return "TIMESTAMP";
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return "TIMESTAMP WITH TIME ZONE";
    case DUCKDB_TYPE_DATE:
      return "DATE";
    case DUCKDB_TYPE_INTERVAL:
      return "INTERVAL";
    case DUCKDB_TYPE_LIST:
      return "LIST";
    case DUCKDB_TYPE_STRUCT:
      return "STRUCT";
    default:
      return "OTHER";
  }
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

Result::~Result() {
  for (auto& chunk : chunks_) duckdb_destroy_data_chunk(&chunk);
  if (valid_) duckdb_destroy_result(&result_);
}

Result::Result(Result&& other) noexcept
    : result_(other.result_),
      valid_(other.valid_),
      fetched_(other.fetched_),
      chunks_(std::move(other.chunks_)),
      chunk_ends_(std::move(other.chunk_ends_)) {
  other.valid_ = false;
  other.fetched_ = false;
  other.chunks_.clear();
  other.chunk_ends_.clear();
}

void Result::fetch() {
  if (fetched_ || !valid_) return;
  fetched_ = true;
  const idx_t n = duckdb_result_chunk_count(result_);
  chunks_.reserve(n);
  chunk_ends_.reserve(n);
  std::size_t rows = 0;
  for (idx_t i = 0; i < n; ++i) {
    duckdb_data_chunk chunk = duckdb_result_get_chunk(result_, i);
    if (chunk == nullptr) break;
    chunks_.push_back(chunk);
    rows += duckdb_data_chunk_get_size(chunk);
    chunk_ends_.push_back(rows);
  }
}

void Result::fetch_streaming(std::size_t max_rows, const Connection& conn) {
  if (fetched_ || !valid_) return;
  fetched_ = true;
  std::size_t rows = 0;
  while (rows <= max_rows) {
    duckdb_data_chunk chunk = duckdb_fetch_chunk(result_);
    if (chunk == nullptr) break;
    const std::size_t size = duckdb_data_chunk_get_size(chunk);
    if (size == 0) {
      duckdb_destroy_data_chunk(&chunk);
      break;
    }
    chunks_.push_back(chunk);
    rows += size;
    chunk_ends_.push_back(rows);
  }
  if (const char* error = duckdb_result_error(&result_)) conn.fail("statement failed", error);
}

std::size_t Result::rows() noexcept { return chunk_ends_.empty() ? 0 : chunk_ends_.back(); }
std::size_t Result::columns() noexcept { return duckdb_column_count(&result_); }
duckdb_type Result::type(std::size_t col) noexcept { return duckdb_column_type(&result_, col); }

Result::Cell Result::cell(std::size_t col, std::size_t row) noexcept {
  const auto it = std::upper_bound(chunk_ends_.begin(), chunk_ends_.end(), row);
  const auto c = static_cast<std::size_t>(it - chunk_ends_.begin());
  const std::size_t first = c == 0 ? 0 : chunk_ends_[c - 1];
  return {duckdb_data_chunk_get_vector(chunks_[c], col), row - first};
}

bool Result::is_null(std::size_t col, std::size_t row) noexcept {
  if (row >= rows()) return true;
  const Cell c = cell(col, row);
  const std::uint64_t* validity = duckdb_vector_get_validity(c.vector);
  return validity != nullptr && !duckdb_validity_row_is_valid(const_cast<std::uint64_t*>(validity), c.index);
}

namespace {

template <class T>
T at(duckdb_vector vector, std::size_t index) noexcept {
  return static_cast<const T*>(duckdb_vector_get_data(vector))[index];
}

std::string string_at(duckdb_vector vector, std::size_t index) {
  auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector)) + index;
  return std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

double hugeint_to_double(duckdb_hugeint h) noexcept {
  return static_cast<double>(h.upper) * 18446744073709551616.0 + static_cast<double>(h.lower);
}

std::optional<std::int64_t> hugeint_to_int64(duckdb_hugeint h) noexcept {
  if (h.upper == 0 && h.lower <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(h.lower);
  if (h.upper == -1 && h.lower > static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(h.lower);
  return std::nullopt;
}

// Integer types as int64 (UBIGINT and HUGEINT only when they fit).
std::optional<std::int64_t> integer_at(duckdb_type type, duckdb_vector v, std::size_t i) noexcept {
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN:
      return at<bool>(v, i) ? 1 : 0;
    case DUCKDB_TYPE_TINYINT:
      return at<std::int8_t>(v, i);
    case DUCKDB_TYPE_SMALLINT:
      return at<std::int16_t>(v, i);
    case DUCKDB_TYPE_INTEGER:
      return at<std::int32_t>(v, i);
    case DUCKDB_TYPE_BIGINT:
      return at<std::int64_t>(v, i);
    case DUCKDB_TYPE_UTINYINT:
      return at<std::uint8_t>(v, i);
    case DUCKDB_TYPE_USMALLINT:
      return at<std::uint16_t>(v, i);
    case DUCKDB_TYPE_UINTEGER:
      return at<std::uint32_t>(v, i);
    case DUCKDB_TYPE_UBIGINT: {
      const auto u = at<std::uint64_t>(v, i);
      if (u > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
      return static_cast<std::int64_t>(u);
    }
    case DUCKDB_TYPE_HUGEINT:
      return hugeint_to_int64(at<duckdb_hugeint>(v, i));
    default:
      return std::nullopt;
  }
}

// A DECIMAL's stored integer divided by 10^scale.
double decimal_at(duckdb_logical_type logical, duckdb_vector v, std::size_t i) noexcept {
  double raw = 0;
  switch (duckdb_decimal_internal_type(logical)) {
    case DUCKDB_TYPE_SMALLINT:
      raw = at<std::int16_t>(v, i);
      break;
    case DUCKDB_TYPE_INTEGER:
      raw = at<std::int32_t>(v, i);
      break;
    case DUCKDB_TYPE_BIGINT:
      raw = static_cast<double>(at<std::int64_t>(v, i));
      break;
    default:
      raw = hugeint_to_double(at<duckdb_hugeint>(v, i));
  }
  return raw / std::pow(10.0, duckdb_decimal_scale(logical));
}

// Nanoseconds since the epoch of the TIMESTAMP kinds; nullopt for other types.
std::optional<Timestamp> timestamp_at(duckdb_type type, duckdb_vector v, std::size_t i) noexcept {
  const std::int64_t raw = at<std::int64_t>(v, i);
  switch (type) {
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
      return from_micros(raw);
    case DUCKDB_TYPE_TIMESTAMP_S:
      return Timestamp(std::chrono::seconds(raw));
    case DUCKDB_TYPE_TIMESTAMP_MS:
      return Timestamp(std::chrono::milliseconds(raw));
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return Timestamp(std::chrono::nanoseconds(raw));
    default:
      return std::nullopt;
  }
}

// DuckDB's own text of a value (taking ownership of it).
Value text_of(duckdb_value value) {
  if (value == nullptr) return Value();
  DuckString s{duckdb_value_to_string(value)};
  duckdb_destroy_value(&value);
  return Value(std::string(s.s ? s.s : ""));
}

// One cell as a Value: numbers as numbers, timestamps as ISO-8601 text, strings as they are,
// other scalars in DuckDB's text form. Not for NULL cells.
Value value_at(duckdb_type type, duckdb_logical_type logical, duckdb_vector v, std::size_t i,
               const std::string& type_label) {
  switch (type) {
    case DUCKDB_TYPE_BOOLEAN:
      return Value(at<bool>(v, i));
    case DUCKDB_TYPE_TINYINT:
    case DUCKDB_TYPE_SMALLINT:
    case DUCKDB_TYPE_INTEGER:
    case DUCKDB_TYPE_BIGINT:
    case DUCKDB_TYPE_UTINYINT:
    case DUCKDB_TYPE_USMALLINT:
    case DUCKDB_TYPE_UINTEGER:
      return Value(*integer_at(type, v, i));
    case DUCKDB_TYPE_UBIGINT:
      return Value(at<std::uint64_t>(v, i));
    case DUCKDB_TYPE_HUGEINT: {
      // SUM() of integers is HUGEINT; keep it an integer when it fits.
      const auto h = at<duckdb_hugeint>(v, i);
      if (const auto small = hugeint_to_int64(h)) return Value(*small);
      return Value(hugeint_to_double(h));
    }
    case DUCKDB_TYPE_UHUGEINT: {
      const auto u = at<duckdb_uhugeint>(v, i);
      if (u.upper == 0) return Value(u.lower);
      return Value(static_cast<double>(u.upper) * 18446744073709551616.0 + static_cast<double>(u.lower));
    }
    case DUCKDB_TYPE_DECIMAL: {
      const double d = decimal_at(logical, v, i);
      if (std::trunc(d) == d && std::fabs(d) < 9.0e15) return Value(static_cast<std::int64_t>(d));
      return Value(d);
    }
    case DUCKDB_TYPE_FLOAT:
      return Value(static_cast<double>(at<float>(v, i)));
    case DUCKDB_TYPE_DOUBLE:
      return Value(at<double>(v, i));
    case DUCKDB_TYPE_TIMESTAMP:
    case DUCKDB_TYPE_TIMESTAMP_TZ:
    case DUCKDB_TYPE_TIMESTAMP_S:
    case DUCKDB_TYPE_TIMESTAMP_MS:
    case DUCKDB_TYPE_TIMESTAMP_NS:
      return Value(format_timestamp(*timestamp_at(type, v, i)));
    case DUCKDB_TYPE_VARCHAR:
      return Value(string_at(v, i));
    case DUCKDB_TYPE_BLOB: {
      const std::string bytes = string_at(v, i);
      return text_of(duckdb_create_blob(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    }
    case DUCKDB_TYPE_DATE:
      return text_of(duckdb_create_date(at<duckdb_date>(v, i)));
    case DUCKDB_TYPE_TIME:
      return text_of(duckdb_create_time(at<duckdb_time>(v, i)));
    case DUCKDB_TYPE_TIME_TZ:
      return text_of(duckdb_create_time_tz_value(at<duckdb_time_tz>(v, i)));
    case DUCKDB_TYPE_INTERVAL:
      return text_of(duckdb_create_interval(at<duckdb_interval>(v, i)));
    case DUCKDB_TYPE_UUID: {
      // Stored as a signed 128-bit integer with the top bit flipped (so that UUIDs sort as text).
      const auto h = at<duckdb_hugeint>(v, i);
      const duckdb_uhugeint u{h.lower, static_cast<std::uint64_t>(h.upper) ^ (std::uint64_t{1} << 63)};
      return text_of(duckdb_create_uuid(u));
    }
    case DUCKDB_TYPE_ENUM: {
      std::uint64_t index = 0;
      switch (duckdb_enum_internal_type(logical)) {
        case DUCKDB_TYPE_UTINYINT:
          index = at<std::uint8_t>(v, i);
          break;
        case DUCKDB_TYPE_USMALLINT:
          index = at<std::uint16_t>(v, i);
          break;
        default:
          index = at<std::uint32_t>(v, i);
      }
      DuckString name{duckdb_enum_dictionary_value(logical, index)};
      return Value(std::string(name.s ? name.s : ""));
    }
    default:
      // Nested values (LIST, STRUCT, MAP, ...) are not converted.
      return Value("<" + type_label + ": select to_json(...) to see it>");
  }
}

// Owns a logical type.
struct LogicalType {
  explicit LogicalType(duckdb_logical_type t) noexcept : type(t) {}
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  ~LogicalType() { duckdb_destroy_logical_type(&type); }
  duckdb_logical_type type;
};

}  // namespace

std::optional<std::string> Result::text(std::size_t col, std::size_t row) {
  if (is_null(col, row)) return std::nullopt;
  const Cell c = cell(col, row);
  const duckdb_type t = type(col);
  if (t == DUCKDB_TYPE_VARCHAR || t == DUCKDB_TYPE_BLOB) return string_at(c.vector, c.index);
  LogicalType logical{duckdb_column_logical_type(&result_, col)};
  const Value v = value_at(t, logical.type, c.vector, c.index, std::string(type_name(t)));
  return v.is_string() ? v.as_string() : v.dump();
}

std::optional<std::int64_t> Result::integer(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  const Cell c = cell(col, row);
  const duckdb_type t = type(col);
  if (t == DUCKDB_TYPE_FLOAT || t == DUCKDB_TYPE_DOUBLE) {
    const double d = t == DUCKDB_TYPE_FLOAT ? at<float>(c.vector, c.index) : at<double>(c.vector, c.index);
    if (!(d >= -9.2e18 && d <= 9.2e18)) return std::nullopt;
    return static_cast<std::int64_t>(d);
  }
  return integer_at(t, c.vector, c.index);
}

std::optional<double> Result::number(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  const Cell c = cell(col, row);
  switch (const duckdb_type t = type(col)) {
    case DUCKDB_TYPE_DOUBLE:
      return at<double>(c.vector, c.index);
    case DUCKDB_TYPE_FLOAT:
      return at<float>(c.vector, c.index);
    case DUCKDB_TYPE_UBIGINT:
      return static_cast<double>(at<std::uint64_t>(c.vector, c.index));
    case DUCKDB_TYPE_HUGEINT:
      return hugeint_to_double(at<duckdb_hugeint>(c.vector, c.index));
    case DUCKDB_TYPE_DECIMAL: {
      LogicalType logical{duckdb_column_logical_type(&result_, col)};
      return decimal_at(logical.type, c.vector, c.index);
    }
    default:
      if (const auto i = integer_at(t, c.vector, c.index)) return static_cast<double>(*i);
      return std::nullopt;
  }
}

std::vector<double> Result::numbers(std::size_t col, double null_value) {
  std::vector<double> out;
  out.reserve(rows());
  if (type(col) != DUCKDB_TYPE_DOUBLE) {
    for (std::size_t r = 0; r < rows(); ++r) out.push_back(number(col, r).value_or(null_value));
    return out;
  }
  for (std::size_t c = 0; c < chunks_.size(); ++c) {
    const duckdb_vector v = duckdb_data_chunk_get_vector(chunks_[c], col);
    const auto* data = static_cast<const double*>(duckdb_vector_get_data(v));
    auto* validity = duckdb_vector_get_validity(v);
    const std::size_t n = chunk_ends_[c] - (c == 0 ? 0 : chunk_ends_[c - 1]);
    for (std::size_t i = 0; i < n; ++i) {
      out.push_back(validity == nullptr || duckdb_validity_row_is_valid(validity, i) ? data[i] : null_value);
    }
  }
  return out;
}

std::optional<bool> Result::boolean(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  const Cell c = cell(col, row);
  if (const auto i = integer_at(type(col), c.vector, c.index)) return *i != 0;
  return std::nullopt;
}

Timestamp Result::timestamp(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return Timestamp{};
  const Cell c = cell(col, row);
  return timestamp_at(type(col), c.vector, c.index).value_or(Timestamp{});
}

QueryResult Result::to_query_result() {
  QueryResult out;
  const std::size_t ncols = columns();
  const std::size_t nrows = rows();
  std::vector<duckdb_type> types(ncols);
  std::vector<std::unique_ptr<LogicalType>> logical(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    out.columns.emplace_back(duckdb_column_name(&result_, c));
    types[c] = duckdb_column_type(&result_, c);
    logical[c] = std::make_unique<LogicalType>(duckdb_column_logical_type(&result_, c));
    std::string name(type_name(types[c]));
    DuckString alias{duckdb_logical_type_get_alias(logical[c]->type)};
    if (alias.s != nullptr) name = alias.s;  // JSON is a VARCHAR with an alias
    out.types.push_back(std::move(name));
  }
  out.rows.reserve(nrows);
  for (std::size_t r = 0; r < nrows; ++r) {
    std::vector<Value> row;
    row.reserve(ncols);
    for (std::size_t c = 0; c < ncols; ++c) {
      if (is_null(c, r)) {
        row.emplace_back();
        continue;
      }
      const Cell at_cell = cell(c, r);
      row.push_back(value_at(types[c], logical[c]->type, at_cell.vector, at_cell.index, out.types[c]));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

void Result::write_json_rows(JsonWriter& w, std::size_t first, std::size_t last, std::size_t skip_columns) {
  const std::size_t ncols = columns() - std::min(columns(), skip_columns);
  last = std::min(last, rows());
  if (first >= last) return;
  struct Column {
    std::string name;
    std::string label;  // the type name to_query_result() gives
    duckdb_type type;
    std::unique_ptr<LogicalType> logical;
    bool json;
  };
  std::vector<Column> cols(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    Column& col = cols[c];
    col.name = duckdb_column_name(&result_, c);
    col.type = duckdb_column_type(&result_, c);
    col.logical = std::make_unique<LogicalType>(duckdb_column_logical_type(&result_, c));
    col.label = type_name(col.type);
    DuckString alias{duckdb_logical_type_get_alias(col.logical->type)};
    if (alias.s != nullptr) col.label = alias.s;
    col.json = col.label == "JSON";
  }
  std::vector<duckdb_vector> vectors(ncols);
  std::vector<const std::uint64_t*> validity(ncols);
  std::size_t chunk = static_cast<std::size_t>(std::upper_bound(chunk_ends_.begin(), chunk_ends_.end(), first) - chunk_ends_.begin());
  for (std::size_t row = first; row < last; ++chunk) {
    const std::size_t chunk_first = chunk == 0 ? 0 : chunk_ends_[chunk - 1];
    for (std::size_t c = 0; c < ncols; ++c) {
      vectors[c] = duckdb_data_chunk_get_vector(chunks_[chunk], c);
      validity[c] = duckdb_vector_get_validity(vectors[c]);
    }
    for (; row < last && row < chunk_ends_[chunk]; ++row) {
      const std::size_t i = row - chunk_first;
      w.begin_object();
      for (std::size_t c = 0; c < ncols; ++c) {
        const Column& col = cols[c];
        const duckdb_vector v = vectors[c];
        w.key(col.name);
        if (validity[c] != nullptr && !duckdb_validity_row_is_valid(const_cast<std::uint64_t*>(validity[c]), i)) {
          w.null();
          continue;
        }
        // The kinds of the light columns, written as value_at() would make them; the rest through it.
        switch (col.type) {
          case DUCKDB_TYPE_BOOLEAN:
            w.boolean(at<bool>(v, i));
            break;
          case DUCKDB_TYPE_INTEGER:
            w.integer(at<std::int32_t>(v, i));
            break;
          case DUCKDB_TYPE_BIGINT:
            w.integer(at<std::int64_t>(v, i));
            break;
          case DUCKDB_TYPE_DOUBLE:
            w.number(at<double>(v, i));
            break;
          case DUCKDB_TYPE_TIMESTAMP: {
            const Timestamp t = from_micros(at<std::int64_t>(v, i));
            if (t.time_since_epoch().count() == 0) {
              w.string(format_timestamp(t));  // JsonWriter::timestamp writes the epoch as null
            } else {
              w.timestamp(t);
            }
            break;
          }
          case DUCKDB_TYPE_VARCHAR: {
            auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(v)) + i;
            const std::string_view text(duckdb_string_t_data(s), duckdb_string_t_length(*s));
            if (col.json) {
              w.value(Value::parse(text, col.name));
            } else {
              w.string(text);
            }
            break;
          }
          default: {
            const Value cell = value_at(col.type, col.logical->type, v, i, col.label);
            if (col.json && cell.is_string()) {
              w.value(Value::parse(cell.as_string(), col.name));
            } else {
              w.value(cell);
            }
          }
        }
      }
      w.end_object();
    }
  }
}

Prepared::Prepared(Connection& conn, std::string_view sql) : conn_(conn), sql_(sql) {
  if (duckdb_prepare(conn_.handle(), sql_.c_str(), &stmt_) != DuckDBSuccess) {
    const char* error = duckdb_prepare_error(stmt_);
    const std::string message = error ? error : "unknown error";
    duckdb_destroy_prepare(&stmt_);
    conn_.fail("cannot prepare statement", message + "\n  in: " + sql_);
  }
}

Prepared::~Prepared() {
  if (stmt_) duckdb_destroy_prepare(&stmt_);
}

std::size_t Prepared::parameter_count() const noexcept { return duckdb_nparams(stmt_); }

duckdb_statement_type Prepared::statement_type() const noexcept { return duckdb_prepared_statement_type(stmt_); }

Result Prepared::execute_streaming(std::size_t max_rows) {
  // DuckDB 1.4 streams results only through these calls (marked for removal in a later version;
  // the others compute every row first).
  duckdb_pending_result pending = nullptr;
  std::unique_ptr<duckdb_pending_result, void (*)(duckdb_pending_result*)> guard(&pending, duckdb_destroy_pending);
  if (duckdb_pending_prepared_streaming(stmt_, &pending) != DuckDBSuccess) {
    const char* error = duckdb_pending_error(pending);
    conn_.fail("statement failed", std::string(error ? error : "unknown error") + "\n  in: " + sql_);
  }
  Result r;
  const duckdb_state state = duckdb_execute_pending(pending, r.raw());
  r.mark_valid();
  if (state != DuckDBSuccess) {
    const char* error = duckdb_result_error(r.raw());
    conn_.fail("statement failed", std::string(error ? error : "unknown error") + "\n  in: " + sql_);
  }
  r.fetch_streaming(max_rows, conn_);
  return r;
}

Prepared& Prepared::bind(std::size_t index, std::string_view text) {
  if (duckdb_bind_varchar_length(stmt_, index, text.data(), text.size()) != DuckDBSuccess) {
    conn_.fail("cannot bind parameter " + std::to_string(index), sql_);
  }
  return *this;
}

Prepared& Prepared::bind(std::size_t index, const Value& value) {
  duckdb_state state = DuckDBSuccess;
  switch (value.kind()) {
    case Value::Kind::null:
      state = duckdb_bind_null(stmt_, index);
      break;
    case Value::Kind::boolean:
      state = duckdb_bind_boolean(stmt_, index, value.as_bool());
      break;
    case Value::Kind::integer:
      state = duckdb_bind_int64(stmt_, index, value.as_int());
      break;
    case Value::Kind::unsigned_integer:
      // As BIGINT when it fits (counts, LIMIT, OFFSET): a value of another type than the one
      // DuckDB inferred for the parameter makes it bind and plan the statement again at execution.
      state = value.as_uint() <= static_cast<std::uint64_t>(INT64_MAX)
                  ? duckdb_bind_int64(stmt_, index, static_cast<std::int64_t>(value.as_uint()))
                  : duckdb_bind_uint64(stmt_, index, value.as_uint());
      break;
    case Value::Kind::floating:
      state = duckdb_bind_double(stmt_, index, value.as_double());
      break;
    case Value::Kind::string:
      return bind(index, std::string_view(value.as_string()));
    case Value::Kind::array:
    case Value::Kind::object:
      return bind(index, std::string_view(value.dump()));  // as JSON text
  }
  if (state != DuckDBSuccess) conn_.fail("cannot bind parameter " + std::to_string(index), sql_);
  return *this;
}

Prepared& Prepared::bind_timestamp(std::size_t index, Timestamp t) {
  if (duckdb_bind_timestamp(stmt_, index, duckdb_timestamp{to_micros(t)}) != DuckDBSuccess) {
    conn_.fail("cannot bind parameter " + std::to_string(index), sql_);
  }
  return *this;
}

Result Prepared::execute() {
  Result r;
  const duckdb_state state = duckdb_execute_prepared(stmt_, r.raw());
  r.mark_valid();
  if (state != DuckDBSuccess) {
    const char* error = duckdb_result_error(r.raw());
    conn_.fail("statement failed", std::string(error ? error : "unknown error") + "\n  in: " + sql_);
  }
  r.fetch();
  return r;
}

Appender::Appender(Connection& conn, const char* table, const std::vector<std::string>& columns)
    : conn_(conn), table_(table) {
  if (duckdb_appender_create(conn_.handle(), nullptr, table_, &app_) != DuckDBSuccess) {
    const char* error = duckdb_appender_error(app_);
    const std::string message = error ? error : "unknown error";
    duckdb_appender_destroy(&app_);
    conn_.fail(std::string("cannot append to table ") + table_, message);
  }
  for (const std::string& column : columns) check(duckdb_appender_add_column(app_, column.c_str()), "name column");
  std::vector<duckdb_logical_type> types;
  for (std::size_t i = 0; i < columns.size(); ++i) {
    types.push_back(duckdb_appender_column_type(app_, i));
    columns_.push_back(Column{columns[i], duckdb_get_type_id(types.back())});
  }
  chunk_ = duckdb_create_data_chunk(types.data(), types.size());
  for (duckdb_logical_type& type : types) duckdb_destroy_logical_type(&type);
  if (!chunk_) {
    duckdb_appender_destroy(&app_);
    conn_.fail(std::string("cannot append to table ") + table_, "DuckDB could not make a data chunk of its columns");
  }
  capacity_ = duckdb_vector_size();
  bind_vectors();
}

Appender::~Appender() {
  if (chunk_) duckdb_destroy_data_chunk(&chunk_);
  if (app_) duckdb_appender_destroy(&app_);
}

void Appender::check(duckdb_state state, const char* what) {
  if (state != DuckDBSuccess) {
    const char* error = duckdb_appender_error(app_);
    conn_.fail(std::string(what) + " in table " + table_, error ? error : "unknown error");
  }
}

// An emptied chunk hands out its vectors anew; every row starts valid.
void Appender::bind_vectors() {
  for (std::size_t i = 0; i < columns_.size(); ++i) {
    Column& c = columns_[i];
    c.vector = duckdb_data_chunk_get_vector(chunk_, i);
    duckdb_vector_ensure_validity_writable(c.vector);
    c.validity = duckdb_vector_get_validity(c.vector);
    c.data = duckdb_vector_get_data(c.vector);
    c.list_size = 0;
  }
}

void Appender::append_chunk() {
  duckdb_data_chunk_set_size(chunk_, row_);
  check(duckdb_append_data_chunk(app_, chunk_), "append");
  duckdb_data_chunk_reset(chunk_);
  row_ = 0;
  bind_vectors();
}

Appender::Column& Appender::next(duckdb_type type, const char* what) {
  if (col_ >= columns_.size()) {
    conn_.fail(std::string("append in table ") + table_,
               "a row has more values than its " + std::to_string(columns_.size()) + " columns");
  }
  Column& c = columns_[col_];
  if (c.type != type && !(type == DUCKDB_TYPE_BIGINT && c.type == DUCKDB_TYPE_INTEGER)) {
    conn_.fail(std::string("append in table ") + table_,
               "column " + c.name + " does not take " + what + " (the file's column type differs from the schema's)");
  }
  ++col_;
  return c;
}

Appender& Appender::null() {
  if (col_ >= columns_.size()) next(DUCKDB_TYPE_INVALID, "");  // throws
  Column& c = columns_[col_++];
  c.validity[row_ / 64] &= ~(std::uint64_t{1} << (row_ % 64));
  if (c.type == DUCKDB_TYPE_LIST) static_cast<duckdb_list_entry*>(c.data)[row_] = duckdb_list_entry{c.list_size, 0};
  return *this;
}

void Appender::put_text(Column& c, std::string_view s) {
  duckdb_vector_assign_string_element_len(c.vector, row_, s.data(), s.size());
  set_valid(c);
}

Appender& Appender::text(std::string_view s) {
  Column& c = next(DUCKDB_TYPE_VARCHAR, "text");
  // DuckDB leaves a VARCHAR vector's UTF-8 to its caller; bad bytes would break later reads.
  if (first_invalid_utf8(s) != s.size()) {
    conn_.fail(std::string("append in table ") + table_, "column " + c.name + ": the text is not valid UTF-8");
  }
  put_text(c, s);
  return *this;
}

Appender& Appender::text(const std::optional<std::string>& s) { return s ? text(std::string_view(*s)) : null(); }

Appender& Appender::text_list(const std::vector<std::string>& items) {
  Column& c = next(DUCKDB_TYPE_LIST, "a list");
  check(duckdb_list_vector_reserve(c.vector, c.list_size + items.size()), "append a list");
  duckdb_vector child = duckdb_list_vector_get_child(c.vector);
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (first_invalid_utf8(item) != item.size()) {
      conn_.fail(std::string("append in table ") + table_, "column " + c.name + ": an item is not valid UTF-8");
    }
    duckdb_vector_assign_string_element_len(child, c.list_size + i, item.data(), item.size());
  }
  static_cast<duckdb_list_entry*>(c.data)[row_] = duckdb_list_entry{c.list_size, items.size()};
  c.list_size += items.size();
  check(duckdb_list_vector_set_size(c.vector, c.list_size), "append a list");
  set_valid(c);
  return *this;
}

Appender& Appender::integer(std::int64_t i) {
  Column& c = next(DUCKDB_TYPE_BIGINT, "an integer");
  if (c.type == DUCKDB_TYPE_INTEGER) {
    if (i < std::numeric_limits<std::int32_t>::min() || i > std::numeric_limits<std::int32_t>::max()) {
      conn_.fail(std::string("append in table ") + table_,
                 "column " + c.name + " is INTEGER and cannot hold " + std::to_string(i));
    }
    static_cast<std::int32_t*>(c.data)[row_] = static_cast<std::int32_t>(i);
  } else {
    static_cast<std::int64_t*>(c.data)[row_] = i;
  }
  set_valid(c);
  return *this;
}

Appender& Appender::integer(const std::optional<std::int64_t>& i) { return i ? integer(*i) : null(); }

Appender& Appender::number(const std::optional<double>& d) {
  if (!d) return null();
  Column& c = next(DUCKDB_TYPE_DOUBLE, "a number");
  static_cast<double*>(c.data)[row_] = *d;
  set_valid(c);
  return *this;
}

Appender& Appender::boolean(const std::optional<bool>& b) {
  if (!b) return null();
  Column& c = next(DUCKDB_TYPE_BOOLEAN, "a boolean");
  static_cast<bool*>(c.data)[row_] = *b;
  set_valid(c);
  return *this;
}

Appender& Appender::timestamp(Timestamp t) {
  if (t.time_since_epoch().count() == 0) return null();
  Column& c = next(DUCKDB_TYPE_TIMESTAMP, "a timestamp");
  static_cast<std::int64_t*>(c.data)[row_] = to_micros(t);
  set_valid(c);
  return *this;
}

Appender& Appender::json(const Value& v) {
  if (v.is_null()) return null();
  Column& c = next(DUCKDB_TYPE_VARCHAR, "JSON text");
  scratch_.clear();
  {
    JsonWriter w(scratch_, JsonFormat{});
    w.value(v);
  }
  put_text(c, scratch_);  // the writer replaces bytes that are not UTF-8
  return *this;
}

Appender& Appender::json_array(const std::vector<Value>& items) {
  Column& c = next(DUCKDB_TYPE_VARCHAR, "JSON text");
  scratch_.clear();
  {
    JsonWriter w(scratch_, JsonFormat{});
    w.begin_array();
    for (const Value& item : items) w.value(item);
    w.end_array();
  }
  put_text(c, scratch_);
  return *this;
}

void Appender::end_row() {
  if (col_ != columns_.size()) {
    conn_.fail(std::string("end row in table ") + table_,
               "the row has " + std::to_string(col_) + " values for " + std::to_string(columns_.size()) + " columns");
  }
  col_ = 0;
  if (++row_ == capacity_) append_chunk();
}

void Appender::flush() {
  if (row_ > 0) append_chunk();
  check(duckdb_appender_flush(app_), "flush");
}

}  // namespace synth::tracing::detail::duck
