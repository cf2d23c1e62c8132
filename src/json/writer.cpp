#include "json/writer.hpp"

#include <charconv>
#include <cmath>
#include <cstring>

#include "time.hpp"

namespace synth::tracing::detail {

namespace {

constexpr std::uint64_t kOnes = 0x0101010101010101ULL;
constexpr std::uint64_t kHighs = 0x8080808080808080ULL;

constexpr std::uint64_t has_zero_byte(std::uint64_t v) { return (v - kOnes) & ~v & kHighs; }

// True when none of the 8 bytes needs attention: no quote, backslash, control or non-ASCII byte.
inline bool plain_ascii_word(std::uint64_t w) {
  const std::uint64_t control = (w - 0x2020202020202020ULL) & ~w & kHighs;
  const std::uint64_t quote = has_zero_byte(w ^ (kOnes * '"'));
  const std::uint64_t backslash = has_zero_byte(w ^ (kOnes * '\\'));
  return ((w & kHighs) | control | quote | backslash) == 0;
}

}  // namespace

std::size_t utf8_sequence_length(const unsigned char* s, std::size_t avail) noexcept {
  const unsigned char c = s[0];
  std::size_t n;
  std::uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (avail < n) return 0;
  for (std::size_t i = 1; i < n; ++i) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (s[i] & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && (cp < 0x10000 || cp > 0x10FFFF))) {
    return 0;  // overlong form, surrogate or beyond Unicode
  }
  return n;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  std::size_t run = 0;  // start of bytes to copy unchanged
  while (i < n) {
    if (i + 8 <= n) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if (plain_ascii_word(w)) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c >= 0x20 && c != '"' && c != '\\' && c < 0x80) {
      ++i;
      continue;
    }
    if (c >= 0x80) {
      const std::size_t len = utf8_sequence_length(p + i, n - i);
      if (len != 0) {
        i += len;
        continue;
      }
      out.append(s.data() + run, i - run);
      out.append("\xEF\xBF\xBD");  // U+FFFD for an invalid byte
      run = ++i;
      continue;
    }
    out.append(s.data() + run, i - run);
    switch (c) {
      case '"':
        out.append("\\\"");
        break;
      case '\\':
        out.append("\\\\");
        break;
      case '\n':
        out.append("\\n");
        break;
      case '\r':
        out.append("\\r");
        break;
      case '\t':
        out.append("\\t");
        break;
      case '\b':
        out.append("\\b");
        break;
      case '\f':
        out.append("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        out.append(esc, 6);
      }
    }
    run = ++i;
  }
  out.append(s.data() + run, n - run);
  out.push_back('"');
}

void JsonWriter::newline() {
  out_.push_back('\n');
  out_.append(static_cast<std::size_t>(depth_ * indent_), ' ');
}

void JsonWriter::before_value() {
  if (after_key_) {
    after_key_ = false;
    return;
  }
  if (need_comma_) out_.push_back(',');
  if (indent_ >= 0 && depth_ > 0) newline();
}

void JsonWriter::begin_object() {
  before_value();
  if (depth_ >= kMaxJsonDepth) throw Error("JSON nesting deeper than 1024 levels cannot be written");
  out_.push_back('{');
  ++depth_;
  need_comma_ = false;
}

void JsonWriter::end_object() {
  --depth_;
  if (indent_ >= 0 && need_comma_) newline();
  out_.push_back('}');
  need_comma_ = true;
}

void JsonWriter::begin_array() {
  before_value();
  if (depth_ >= kMaxJsonDepth) throw Error("JSON nesting deeper than 1024 levels cannot be written");
  out_.push_back('[');
  ++depth_;
  need_comma_ = false;
}

void JsonWriter::end_array() {
  --depth_;
  if (indent_ >= 0 && need_comma_) newline();
  out_.push_back(']');
  need_comma_ = true;
}

void JsonWriter::key(std::string_view k) {
  if (need_comma_) out_.push_back(',');
  if (indent_ >= 0) newline();
  append_json_string(out_, k);
  if (indent_ >= 0) {
    out_.append(": ");
  } else {
    out_.push_back(':');
  }
  need_comma_ = false;
  after_key_ = true;
}

void JsonWriter::plain_key(std::string_view k) {
  if (need_comma_) out_.push_back(',');
  if (indent_ >= 0) newline();
  out_.push_back('"');
  out_.append(k);
  out_.append(indent_ >= 0 ? "\": " : "\":");
  need_comma_ = false;
  after_key_ = true;
}

void JsonWriter::null() {
  before_value();
  out_.append("null");
  need_comma_ = true;
}

void JsonWriter::boolean(bool b) {
  before_value();
  out_.append(b ? "true" : "false");
  need_comma_ = true;
}

void JsonWriter::integer(std::int64_t i) {
  before_value();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, i);
  out_.append(buf, r.ptr);
  need_comma_ = true;
}

void JsonWriter::unsigned_integer(std::uint64_t u) {
  before_value();
  char buf[24];
  const auto r = std::to_chars(buf, buf + sizeof buf, u);
  out_.append(buf, r.ptr);
  need_comma_ = true;
}

void JsonWriter::number(double d) {
  before_value();
  need_comma_ = true;
  if (!std::isfinite(d)) {
    out_.append("null");
    return;
  }
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  out_.append(buf, r.ptr);
  if (std::memchr(buf, '.', static_cast<std::size_t>(r.ptr - buf)) == nullptr &&
      std::memchr(buf, 'e', static_cast<std::size_t>(r.ptr - buf)) == nullptr) {
    out_.append(".0");
  }
}

void JsonWriter::string(std::string_view s) {
  before_value();
  append_json_string(out_, s);
  need_comma_ = true;
}

void JsonWriter::timestamp(Timestamp t) {
  if (t.time_since_epoch().count() == 0) {
    null();
    return;
  }
  before_value();
  out_.push_back('"');
  append_timestamp(out_, t);
  out_.push_back('"');
  need_comma_ = true;
}

void JsonWriter::value(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      null();
      break;
    case Value::Kind::boolean:
      boolean(v.as_bool());
      break;
    case Value::Kind::integer:
      integer(v.as_int());
      break;
    case Value::Kind::unsigned_integer:
      unsigned_integer(v.as_uint());
      break;
    case Value::Kind::floating:
      number(v.as_double());
      break;
    case Value::Kind::string:
      string(v.as_string());
      break;
    case Value::Kind::array:
      begin_array();
      for (const Value& e : v.as_array()) value(e);
      end_array();
      break;
    case Value::Kind::object:
      begin_object();
      for (const auto& [k, member] : v.as_object()) {
        key(k);
        value(member);
      }
      end_object();
      break;
  }
}

}  // namespace synth::tracing::detail

namespace synth::tracing {

std::string Value::dump(JsonFormat format) const {
  std::string out;
  detail::JsonWriter w(out, format);
  w.value(*this);
  return out;
}

}  // namespace synth::tracing
