// Result: a query's chunks read cell by cell as text, numbers, timestamps and Values (the
// conversions are in cells.cpp), a whole result as a QueryResult, and rows written straight into
// JSON.
#include <algorithm>
#include <cmath>

#include "duckdb/cells.hpp"
#include "duckdb/connection.hpp"
#include "json/writer.hpp"

namespace synth::tracing::detail::duck {

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

}  // namespace synth::tracing::detail::duck
