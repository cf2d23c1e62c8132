// Internal: one cell of a DuckDB result vector read as a C++ value, whatever its DuckDB type
// (integers of every width, DECIMAL, the TIMESTAMP kinds, strings, UUIDs, enums, ...), and the
// owners of what DuckDB's C API hands out. Used by Result (result.cpp).
#pragma once

#include <duckdb.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail::duck {

/// Owns a string DuckDB allocated (freed with duckdb_free).
struct DuckString {
  char* s;
  ~DuckString() { duckdb_free(s); }
};

/// Owns a logical type.
struct LogicalType {
  explicit LogicalType(duckdb_logical_type t) noexcept : type(t) {}
  LogicalType(const LogicalType&) = delete;
  LogicalType& operator=(const LogicalType&) = delete;
  ~LogicalType() { duckdb_destroy_logical_type(&type); }
  duckdb_logical_type type;
};

/// The value at `index` of a vector of T.
template <class T>
T at(duckdb_vector vector, std::size_t index) noexcept {
  return static_cast<const T*>(duckdb_vector_get_data(vector))[index];
}

/// DuckDB's name of a type ("BIGINT", "VARCHAR", "OTHER" for those not listed).
std::string_view type_name(duckdb_type type);
/// A VARCHAR or BLOB cell's bytes.
std::string string_at(duckdb_vector vector, std::size_t index);
double hugeint_to_double(duckdb_hugeint h) noexcept;
/// Integer types as int64 (UBIGINT and HUGEINT only when they fit); nullopt for other types.
std::optional<std::int64_t> integer_at(duckdb_type type, duckdb_vector v, std::size_t i) noexcept;
/// A DECIMAL's stored integer divided by 10^scale.
double decimal_at(duckdb_logical_type logical, duckdb_vector v, std::size_t i) noexcept;
/// Nanoseconds since the epoch of the TIMESTAMP kinds; nullopt for other types.
std::optional<Timestamp> timestamp_at(duckdb_type type, duckdb_vector v, std::size_t i) noexcept;
/// One cell as a Value: numbers as numbers, timestamps as ISO-8601 text, strings as they are,
/// other scalars in DuckDB's text form, nested ones as a note naming `type_label`. Not for NULL
/// cells.
Value value_at(duckdb_type type, duckdb_logical_type logical, duckdb_vector v, std::size_t i,
               const std::string& type_label);

}  // namespace synth::tracing::detail::duck
