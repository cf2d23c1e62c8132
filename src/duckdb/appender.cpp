// Appender: rows written column by column into a data chunk of the table's types, appended a
// chunk at a time.
#include "duckdb/connection.hpp"
#include "json/writer.hpp"

namespace synth::tracing::detail::duck {

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
  for (std::size_t i = 0; i < columns.size(); ++i) types.push_back(duckdb_appender_column_type(app_, i));
  make_chunk(types, columns);
}

Appender::Appender(Connection& conn, const char* query, const char* rows, const char* like,
                   const std::vector<std::string>& columns)
    : conn_(conn), table_(like) {
  std::vector<duckdb_logical_type> types;
  // Releases `appender` and the types taken so far, and throws its error.
  const auto fail = [&](duckdb_appender& appender) {
    const char* error = duckdb_appender_error(appender);
    const std::string message = error ? error : "unknown error";
    duckdb_appender_destroy(&appender);
    for (duckdb_logical_type& type : types) duckdb_destroy_logical_type(&type);
    conn_.fail(std::string("cannot append to a query on table ") + like, message);
  };
  // The column types of `like`, from an appender on it.
  duckdb_appender probe = nullptr;
  bool named = duckdb_appender_create(conn_.handle(), nullptr, like, &probe) == DuckDBSuccess;
  for (std::size_t i = 0; named && i < columns.size(); ++i) {
    named = duckdb_appender_add_column(probe, columns[i].c_str()) == DuckDBSuccess;
    if (named) types.push_back(duckdb_appender_column_type(probe, i));
  }
  if (!named) fail(probe);
  duckdb_appender_destroy(&probe);
  std::vector<const char*> names;
  for (const std::string& column : columns) names.push_back(column.c_str());
  if (duckdb_appender_create_query(conn_.handle(), query, types.size(), types.data(), rows, names.data(), &app_) !=
      DuckDBSuccess) {
    fail(app_);
  }
  make_chunk(types, columns);
}

void Appender::make_chunk(std::vector<duckdb_logical_type>& types, const std::vector<std::string>& columns) {
  for (std::size_t i = 0; i < columns.size(); ++i) columns_.push_back(Column{columns[i], duckdb_get_type_id(types[i])});
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
