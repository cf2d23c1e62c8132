// Internal: configuration values from text (environment variables, strings in files) and from
// file values, for TracingConfig::load and apply_config. A value that does not parse throws
// BadValue with what was expected; the caller adds where the value came from.
#pragma once

#include <cstddef>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "synth/tracing/config.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing::detail {

/// What a value that does not parse should have been.
struct BadValue {
  std::string expected;
};

/// The value of `text` ("true"/"1"/"yes"..., numbers, mode and policy names, OTLP header lists
/// "k1=v1,k2=v2" percent-decoded, PII patterns as JSON text).
void parse_text(std::string_view text, bool& out);
void parse_text(std::string_view text, std::size_t& out);
void parse_text(std::string_view text, double& out);
void parse_text(std::string_view text, std::string& out);
void parse_text(std::string_view text, std::filesystem::path& out);
void parse_text(std::string_view text, TracingMode& out);
void parse_text(std::string_view text, OverflowPolicy& out);
void parse_text(std::string_view text, OtlpProtocol& out);
void parse_text(std::string_view text, std::map<std::string, std::string>& out);
void parse_text(std::string_view text, std::vector<PiiPattern>& out);

/// PII patterns from a file: {"name": "regex"} or {"name": {"regex": ..., "replacement": ...}}.
void from_value(const Value& v, std::vector<PiiPattern>& out);

/// A scalar, path or header map from a file value (scalars may be written as strings).
template <class T>
void from_value(const Value& v, T& out) {
  // Scalars in files may also be written as strings ("true", "0.5").
  if (v.is_string()) {
    parse_text(v.as_string(), out);
    return;
  }
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) throw BadValue{"true or false"};
    out = v.as_bool();
  } else if constexpr (std::is_same_v<T, std::size_t>) {
    if (!v.is_integer() || v.as_double() < 0) throw BadValue{"a non-negative integer"};
    out = static_cast<std::size_t>(v.as_uint());
  } else if constexpr (std::is_same_v<T, double>) {
    if (!v.is_number()) throw BadValue{"a number"};
    out = v.as_double();
  } else if constexpr (std::is_same_v<T, std::map<std::string, std::string>>) {
    if (!v.is_object()) throw BadValue{"an object of header names to values, or \"k=v,k2=v2\""};
    out.clear();
    for (const auto& [key, value] : v.as_object()) {
      if (!value.is_string()) throw BadValue{"string header values"};
      out[key] = value.as_string();
    }
  } else {
    throw BadValue{"a string"};
  }
}

}  // namespace synth::tracing::detail
