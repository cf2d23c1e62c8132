// Prepared statements: binding values (as DuckDB's types) and executing.
#include "duckdb/connection.hpp"
#include "json/writer.hpp"

namespace synth::tracing::detail::duck {

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
      // A parameter DuckDB cannot type (`CAST(CAST(? AS JSON) AS VARCHAR[])`) made it bind and
      // plan the statement again at every execution: a list parameter keeps the plan.
      if (duckdb_param_type(stmt_, index) == DUCKDB_TYPE_LIST && bind_list(index, value.as_array())) break;
      [[fallthrough]];
    case Value::Kind::object:
      return bind(index, std::string_view(value.dump()));  // as JSON text
  }
  if (state != DuckDBSuccess) conn_.fail("cannot bind parameter " + std::to_string(index), sql_);
  return *this;
}

bool Prepared::bind_list(std::size_t index, const Value::Array& items) {
  duckdb_logical_type list_type = duckdb_param_logical_type(stmt_, index);
  duckdb_logical_type element_type = duckdb_list_type_child_type(list_type);
  const duckdb_type element = duckdb_get_type_id(element_type);
  std::vector<duckdb_value> values;
  values.reserve(items.size());
  bool bound = element == DUCKDB_TYPE_VARCHAR || element == DUCKDB_TYPE_BIGINT;
  for (const Value& item : items) {
    if (!bound) break;
    if (element == DUCKDB_TYPE_VARCHAR) {
      // DuckDB's text is UTF-8 (its value constructor throws through the C API otherwise).
      bound = item.is_string() && first_invalid_utf8(item.as_string()) == item.as_string().size();
      if (bound) values.push_back(duckdb_create_varchar_length(item.as_string().data(), item.as_string().size()));
    } else {
      bound = item.kind() == Value::Kind::integer ||
              (item.kind() == Value::Kind::unsigned_integer && item.as_uint() <= static_cast<std::uint64_t>(INT64_MAX));
      if (bound) {
        values.push_back(duckdb_create_int64(item.kind() == Value::Kind::integer ? item.as_int()
                                                                                  : static_cast<std::int64_t>(item.as_uint())));
      }
    }
  }
  if (bound) {
    duckdb_value none = nullptr;  // DuckDB takes no null pointer for an empty list
    duckdb_value list = duckdb_create_list_value(element_type, values.empty() ? &none : values.data(), values.size());
    bound = list != nullptr && duckdb_bind_value(stmt_, index, list) == DuckDBSuccess;
    if (list) duckdb_destroy_value(&list);
  }
  for (duckdb_value& v : values) duckdb_destroy_value(&v);
  duckdb_destroy_logical_type(&element_type);
  duckdb_destroy_logical_type(&list_type);
  return bound;
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

}  // namespace synth::tracing::detail::duck
