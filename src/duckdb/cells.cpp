// Reading one cell of a DuckDB result vector as a C++ value (see cells.hpp).
#include "duckdb/cells.hpp"

#include <cmath>

#include "duckdb/connection.hpp"
#include "json/writer.hpp"

namespace synth::tracing::detail::duck {

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

std::string string_at(duckdb_vector vector, std::size_t index) {
  auto* s = static_cast<duckdb_string_t*>(duckdb_vector_get_data(vector)) + index;
  return std::string(duckdb_string_t_data(s), duckdb_string_t_length(*s));
}

double hugeint_to_double(duckdb_hugeint h) noexcept {
  return static_cast<double>(h.upper) * 18446744073709551616.0 + static_cast<double>(h.lower);
}

namespace {
std::optional<std::int64_t> hugeint_to_int64(duckdb_hugeint h) noexcept {
  if (h.upper == 0 && h.lower <= static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(h.lower);
  if (h.upper == -1 && h.lower > static_cast<std::uint64_t>(INT64_MAX)) return static_cast<std::int64_t>(h.lower);
  return std::nullopt;
}
}  // namespace

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

namespace {
// DuckDB's own text of a value (taking ownership of it): its cast to VARCHAR, not
// duckdb_value_to_string's SQL literal ('2025-03-01'::DATE).
Value text_of(duckdb_value value) {
  if (value == nullptr) return Value();
  DuckString s{duckdb_get_varchar(value)};
  duckdb_destroy_value(&value);
  return Value(std::string(s.s ? s.s : ""));
}
}  // namespace

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

}  // namespace synth::tracing::detail::duck
