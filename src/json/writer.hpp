// Internal: a fast JSON text writer (no allocation beyond the output string).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

/// Deepest nesting written or read; deeper input is rejected rather than risking the stack.
inline constexpr int kMaxJsonDepth = 1024;

/// Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 when invalid.
std::size_t utf8_sequence_length(const unsigned char* s, std::size_t available) noexcept;

/// Appends `s` as a JSON string literal: escapes quotes, backslashes and control characters,
/// replaces invalid UTF-8 by U+FFFD.
void append_json_string(std::string& out, std::string_view s);

/// Streams JSON into a string, placing commas (and, with an indent, newlines) itself.
class JsonWriter {
 public:
  JsonWriter(std::string& out, JsonFormat format) : out_(out), indent_(format.indent) {}

  void begin_object();
  void end_object();
  void begin_array();
  void end_array();
  /// An object key; the next call writes its value.
  void key(std::string_view k);
  /// A key known to need no escaping (our own field names): skips the scan.
  void plain_key(std::string_view k);

  void null();
  void boolean(bool b);
  void integer(std::int64_t i);
  void unsigned_integer(std::uint64_t u);
  /// Shortest round-trip form; integral values keep a ".0" so they read back as doubles;
  /// non-finite values become null.
  void number(double d);
  void string(std::string_view s);
  /// ISO-8601 UTC, or null for the unset (epoch) timestamp.
  void timestamp(Timestamp t);
  void value(const Value& v);

 private:
  void before_value();
  void newline();

  std::string& out_;
  int indent_;
  int depth_ = 0;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace synth::tracing::detail
