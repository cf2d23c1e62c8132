// Internal: a fast JSON text writer (no allocation beyond the output string).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"
#include "time.hpp"

namespace synth::tracing::detail {

/// Deepest nesting written or read; deeper input is rejected rather than risking the stack.
inline constexpr int kMaxJsonDepth = 1024;

/// Length of the valid UTF-8 sequence starting at s[0] (a byte >= 0x80), or 0 when invalid.
std::size_t utf8_sequence_length(const unsigned char* s, std::size_t available) noexcept;
/// Offset of the first byte of `s` that does not start a valid UTF-8 sequence; s.size() when
/// all of `s` is valid.
std::size_t first_invalid_utf8(std::string_view s) noexcept;
/// `s` with each byte that does not start a valid UTF-8 sequence replaced by U+FFFD.
std::string replace_invalid_utf8(std::string_view s);

/// Writes finite `d` at `dst` as std::to_chars(dst, end, d) does (its shortest round-trip form)
/// when that form is plain decimal notation with at most 15 significant digits (0.000144, 412.5,
/// -3, 1200); returns the end, or nullptr for any other double (then nothing is written).
char* short_decimal(char* dst, double d) noexcept;

/// Streams JSON onto the end of a string, placing commas (and, with an indent, newlines)
/// itself. Writes through a cursor into space grown by doubling, not character by character;
/// the string has its final size once the writer is destroyed.
class JsonWriter {
 public:
  JsonWriter(std::string& out, JsonFormat format) : out_(out), pos_(out.size()), indent_(format.indent) {}
  ~JsonWriter() { out_.resize(pos_); }
  JsonWriter(const JsonWriter&) = delete;
  JsonWriter& operator=(const JsonWriter&) = delete;

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  /// An object key; the next call writes its value.
  void key(std::string_view k);
  /// A key known to need no escaping (our own field names, as literals): skips the scan, and
  /// its size is known here, so the copy is inlined (a memcpy call per key cost more).
  template <std::size_t N>
  void plain_key(const char (&k)[N]) {
    constexpr std::size_t size = N - 1;
    if (indent_ >= 0) {
      indented_key(std::string_view(k, size));
      return;
    }
    char* dst = room(size + 4);  // `,"key":` in one go
    if (need_comma_) *dst++ = ',';
    *dst++ = '"';
    std::memcpy(dst, k, size);
    dst += size;
    *dst++ = '"';
    *dst++ = ':';
    pos_ = static_cast<std::size_t>(dst - out_.data());
    need_comma_ = false;
    after_key_ = true;
  }

  void null() {
    before_value();
    put("null");
    need_comma_ = true;
  }
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

  /// Where the next byte goes (with copy_value, lets a caller write a value's text again).
  std::size_t position() const noexcept { return pos_; }
  /// True when everything goes on one line: a value's text then does not depend on its depth.
  bool compact() const noexcept { return indent_ < 0; }
  /// Writes, as the next value, a copy of the text of a value already written by this writer at
  /// [begin, end) (as position() gave them; a leading comma is skipped). Compact writers only.
  void copy_value(std::size_t begin, std::size_t end);

 private:
  /// Makes room for `n` more bytes at the cursor and returns where they go.
  char* room(std::size_t n) {
    if (out_.size() - pos_ < n) grow(n);
    return out_.data() + pos_;
  }
  void grow(std::size_t n);
  void put(char c) {
    *room(1) = c;
    ++pos_;
  }
  void put(std::string_view s) {
    std::memcpy(room(s.size()), s.data(), s.size());
    pos_ += s.size();
  }
  /// `s` as a JSON string literal: escapes quotes, backslashes and control characters, replaces
  /// invalid UTF-8 by U+FFFD.
  void quoted(std::string_view s);
  /// quoted() for strings with something to escape or non-ASCII bytes.
  void quoted_escaping(std::string_view s);
  /// plain_key's indented form.
  void indented_key(std::string_view k);
  // Inline (as before_value and put): a trace opens and closes some 40,000 objects and arrays.
  void open(char bracket) {
    before_value();
    if (depth_ >= kMaxJsonDepth) too_deep();
    put(bracket);
    ++depth_;
    need_comma_ = false;
  }
  void close(char bracket) {
    --depth_;
    if (indent_ >= 0 && need_comma_) newline();
    put(bracket);
    need_comma_ = true;
  }
  /// Throws Error: nesting deeper than kMaxJsonDepth.
  [[noreturn]] static void too_deep();
  /// Called before each value: nothing after a key (the common case), else separate().
  void before_value() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    separate();
  }
  /// The comma (and, indented, the newline) before an array element or a top-level value.
  void separate();
  void newline();

  std::string& out_;
  // The second of the last timestamp written and its text up to the fraction: the timestamps
  // of a trace mostly fall in the same second as the one before, and only the fraction differs.
  std::int64_t last_second_ = std::numeric_limits<std::int64_t>::min();  // none (all are > -1e10)
  char last_second_text_[kTimestampSecondChars];
  std::size_t pos_;  // end of what is written; out_ may be longer (room not yet used)
  int indent_;
  int depth_ = 0;
  bool need_comma_ = false;
  bool after_key_ = false;
};

}  // namespace synth::tracing::detail
