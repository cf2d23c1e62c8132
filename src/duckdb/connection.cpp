#include "duckdb/connection.hpp"

#include <cmath>
#include <memory>

#include "json/writer.hpp"

namespace synth::tracing::detail::duck {

namespace {

// Turns DuckDB's open errors into what the user should do about them.
std::string explain_open_error(const std::string& file, std::string_view error) {
  const std::string message(error);
  if (message.find("Conflicting lock") != std::string::npos || message.find("Could not set lock") != std::string::npos) {
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

Connection::Connection(const std::filesystem::path& path, bool read_only) : name_(path.string()) {
  duckdb_config config = nullptr;
  if (duckdb_create_config(&config) != DuckDBSuccess) throw StorageError("cannot configure DuckDB");
  std::unique_ptr<_duckdb_config, void (*)(duckdb_config)> guard(config, [](duckdb_config c) { duckdb_destroy_config(&c); });
  duckdb_set_config(config, "autoinstall_known_extensions", "false");
  duckdb_set_config(config, "autoload_known_extensions", "false");
  duckdb_set_config(config, "access_mode", read_only ? "READ_ONLY" : "READ_WRITE");
  char* error = nullptr;
  if (duckdb_open_ext(name_.c_str(), &db_, config, &error) != DuckDBSuccess) {
    const std::string message = error ? error : "unknown error";
    duckdb_free(error);
    throw StorageError(explain_open_error(name_, message));
  }
  if (duckdb_connect(db_, &conn_) != DuckDBSuccess) {
    duckdb_close(&db_);
    throw StorageError("cannot connect to trace database '" + name_ + "'");
  }
}

Connection::~Connection() {
  if (conn_) duckdb_disconnect(&conn_);
  if (db_) duckdb_close(&db_);
}

void Connection::fail(std::string_view what, std::string_view detail) const {
  throw StorageError("trace database '" + name_ + "': " + std::string(what) + ": " + std::string(detail));
}

void Connection::exec(std::string_view sql) { (void)query(*this, sql); }

Result query(Connection& conn, std::string_view sql) {
  Result r;
  const std::string text(sql);
  const duckdb_state state = duckdb_query(conn.get(), text.c_str(), r.raw());
  r.mark_valid();
  if (state != DuckDBSuccess) {
    const char* error = duckdb_result_error(r.raw());
    conn.fail("statement failed", std::string(error ? error : "unknown error") + "\n  in: " + text);
  }
  return r;
}

Result::~Result() {
  if (valid_) duckdb_destroy_result(&result_);
}

Result::Result(Result&& other) noexcept : result_(other.result_), valid_(other.valid_) { other.valid_ = false; }

std::size_t Result::rows() noexcept { return duckdb_row_count(&result_); }
std::size_t Result::columns() noexcept { return duckdb_column_count(&result_); }
bool Result::is_null(std::size_t col, std::size_t row) noexcept { return duckdb_value_is_null(&result_, col, row); }

std::optional<std::string> Result::text(std::size_t col, std::size_t row) {
  if (is_null(col, row)) return std::nullopt;
  DuckString s{duckdb_value_varchar(&result_, col, row)};
  return std::string(s.s ? s.s : "");
}

std::optional<std::int64_t> Result::integer(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  return duckdb_value_int64(&result_, col, row);
}

std::optional<double> Result::number(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  return duckdb_value_double(&result_, col, row);
}

std::optional<bool> Result::boolean(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return std::nullopt;
  return duckdb_value_boolean(&result_, col, row);
}

Timestamp Result::timestamp(std::size_t col, std::size_t row) noexcept {
  if (is_null(col, row)) return Timestamp{};
  return from_micros(duckdb_value_timestamp(&result_, col, row).micros);
}

QueryResult Result::to_query_result() {
  QueryResult out;
  const std::size_t ncols = columns();
  const std::size_t nrows = rows();
  std::vector<duckdb_type> types(ncols);
  for (std::size_t c = 0; c < ncols; ++c) {
    out.columns.emplace_back(duckdb_column_name(&result_, c));
    types[c] = duckdb_column_type(&result_, c);
    std::string name(type_name(types[c]));
    if (types[c] == DUCKDB_TYPE_VARCHAR) {
      duckdb_logical_type logical = duckdb_column_logical_type(&result_, c);
      DuckString alias{duckdb_logical_type_get_alias(logical)};
      if (alias.s != nullptr) name = alias.s;  // JSON is a VARCHAR with an alias
      duckdb_destroy_logical_type(&logical);
    }
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
      switch (types[c]) {
        case DUCKDB_TYPE_BOOLEAN:
          row.emplace_back(duckdb_value_boolean(&result_, c, r));
          break;
        case DUCKDB_TYPE_TINYINT:
        case DUCKDB_TYPE_SMALLINT:
        case DUCKDB_TYPE_INTEGER:
        case DUCKDB_TYPE_BIGINT:
        case DUCKDB_TYPE_UTINYINT:
        case DUCKDB_TYPE_USMALLINT:
        case DUCKDB_TYPE_UINTEGER:
          row.emplace_back(duckdb_value_int64(&result_, c, r));
          break;
        case DUCKDB_TYPE_UBIGINT:
          row.emplace_back(duckdb_value_uint64(&result_, c, r));
          break;
        case DUCKDB_TYPE_HUGEINT:
        case DUCKDB_TYPE_DECIMAL: {
          // SUM() of integers is HUGEINT; keep it an integer when it fits.
          const double d = duckdb_value_double(&result_, c, r);
          if (std::trunc(d) == d && std::fabs(d) < 9.0e15) {
            row.emplace_back(static_cast<std::int64_t>(d));
          } else {
            row.emplace_back(d);
          }
          break;
        }
        case DUCKDB_TYPE_FLOAT:
        case DUCKDB_TYPE_DOUBLE:
          row.emplace_back(duckdb_value_double(&result_, c, r));
          break;
        case DUCKDB_TYPE_TIMESTAMP:
          row.emplace_back(format_timestamp(from_micros(duckdb_value_timestamp(&result_, c, r).micros)));
          break;
        case DUCKDB_TYPE_VARCHAR:
        case DUCKDB_TYPE_DATE:
        case DUCKDB_TYPE_TIMESTAMP_TZ:
        case DUCKDB_TYPE_INTERVAL:
        case DUCKDB_TYPE_UUID:
        case DUCKDB_TYPE_BLOB:
          row.emplace_back(text(c, r).value_or(""));
          break;
        default:
          // Nested values (LIST, STRUCT, MAP, ...) have no text form in the C API's row access.
          row.emplace_back("<" + out.types[c] + ": select to_json(...) to see it>");
      }
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

Prepared::Prepared(Connection& conn, std::string_view sql) : conn_(conn), sql_(sql) {
  if (duckdb_prepare(conn_.get(), sql_.c_str(), &stmt_) != DuckDBSuccess) {
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
      state = duckdb_bind_uint64(stmt_, index, value.as_uint());
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
  return r;
}

Appender::Appender(Connection& conn, const char* table) : conn_(conn), table_(table) {
  if (duckdb_appender_create(conn_.get(), nullptr, table_, &app_) != DuckDBSuccess) {
    const char* error = duckdb_appender_error(app_);
    const std::string message = error ? error : "unknown error";
    duckdb_appender_destroy(&app_);
    conn_.fail(std::string("cannot append to table ") + table_, message);
  }
}

Appender::~Appender() {
  if (app_) duckdb_appender_destroy(&app_);
}

void Appender::check(duckdb_state state, const char* what) {
  if (state != DuckDBSuccess) {
    const char* error = duckdb_appender_error(app_);
    conn_.fail(std::string(what) + " in table " + table_, error ? error : "unknown error");
  }
}

Appender& Appender::null() {
  check(duckdb_append_null(app_), "append");
  return *this;
}

Appender& Appender::text(std::string_view s) {
  check(duckdb_append_varchar_length(app_, s.data(), s.size()), "append");
  return *this;
}

Appender& Appender::text(const std::optional<std::string>& s) { return s ? text(std::string_view(*s)) : null(); }

Appender& Appender::integer(std::int64_t i) {
  check(duckdb_append_int64(app_, i), "append");
  return *this;
}

Appender& Appender::integer(const std::optional<std::int64_t>& i) { return i ? integer(*i) : null(); }

Appender& Appender::number(const std::optional<double>& d) {
  if (!d) return null();
  check(duckdb_append_double(app_, *d), "append");
  return *this;
}

Appender& Appender::boolean(const std::optional<bool>& b) {
  if (!b) return null();
  check(duckdb_append_bool(app_, *b), "append");
  return *this;
}

Appender& Appender::timestamp(Timestamp t) {
  if (t.time_since_epoch().count() == 0) return null();
  check(duckdb_append_timestamp(app_, duckdb_timestamp{to_micros(t)}), "append");
  return *this;
}

Appender& Appender::json(const Value& v) {
  if (v.is_null()) return null();
  scratch_.clear();
  {
    JsonWriter w(scratch_, JsonFormat{});
    w.value(v);
  }
  return text(std::string_view(scratch_));
}

void Appender::end_row() { check(duckdb_appender_end_row(app_), "end row"); }

void Appender::flush() { check(duckdb_appender_flush(app_), "flush"); }

}  // namespace synth::tracing::detail::duck
