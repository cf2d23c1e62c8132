#include "json/writer.hpp"

#include <algorithm>
#include <charconv>
#include <cfenv>
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

// Copies the `n` bytes at `p` to `out` and returns true when none needs attention (see
// plain_ascii_word); otherwise returns false, `out` partly written. Whole words at a time, the
// last one overlapping the one before, so that the short strings most are take no byte loop.
inline bool copy_plain(const unsigned char* p, std::size_t n, char* out) noexcept {
  if (n >= 8) {
    std::uint64_t w;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&w, p + i, 8);
      if (!plain_ascii_word(w)) return false;
      std::memcpy(out + i, &w, 8);
    }
    std::memcpy(&w, p + n - 8, 8);
    if (!plain_ascii_word(w)) return false;
    std::memcpy(out + n - 8, &w, 8);
    return true;
  }
  if (n >= 4) {
    std::uint32_t head, tail;
    std::memcpy(&head, p, 4);
    std::memcpy(&tail, p + n - 4, 4);
    if (!plain_ascii_word(head | (std::uint64_t{tail} << 32))) return false;
    std::memcpy(out, &head, 4);
    std::memcpy(out + n - 4, &tail, 4);
    return true;
  }
  if (n == 0) return true;
  // One to three bytes: the first, middle and last cover them all; spaces fill the word.
  const std::uint64_t w = 0x2020202020000000ULL | p[0] | (std::uint64_t{p[n / 2]} << 8) | (std::uint64_t{p[n - 1]} << 16);
  if (!plain_ascii_word(w)) return false;
  out[0] = static_cast<char>(p[0]);
  out[n / 2] = static_cast<char>(p[n / 2]);
  out[n - 1] = static_cast<char>(p[n - 1]);
  return true;
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

std::size_t first_invalid_utf8(std::string_view s) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  for (std::size_t i = 0; i < s.size();) {
    // ASCII a word at a time: the store checks every text cell it appends (a fortieth of the
    // server writer's instructions byte by byte).
    if (i + 8 <= s.size()) {
      std::uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & kHighs) == 0) {
        i += 8;
        continue;
      }
    }
    if (p[i] < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(p + i, s.size() - i);
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

std::string replace_invalid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  for (std::size_t bad = first_invalid_utf8(s); bad < s.size(); bad = first_invalid_utf8(s)) {
    out.append(s.substr(0, bad));
    out += "\xEF\xBF\xBD";  // U+FFFD
    s.remove_prefix(bad + 1);
  }
  out.append(s);
  return out;
}

void JsonWriter::grow(std::size_t n) {
  // Doubling keeps appends amortized O(1); resize() value-initializes the new room once.
  std::size_t size = std::max({pos_ + n, 2 * out_.size(), std::size_t{256}});
  // Within the capacity a reused buffer already has, grow in steps of 64 KiB instead: resize()
  // zeroes every byte it adds, and doubling zeroes up to twice the text (reallocation is not
  // the cost here, the capacity is there).
  constexpr std::size_t kStep = 64u << 10;
  if (pos_ + n <= out_.capacity()) size = std::min(size, std::max(pos_ + n, out_.size() + kStep));
  out_.resize(size);
}

void JsonWriter::quoted(std::string_view s) {
  const std::size_t n = s.size();
  char* const dst = room(n + 2);  // enough unless something needs escaping
  if (!copy_plain(reinterpret_cast<const unsigned char*>(s.data()), n, dst + 1)) {
    quoted_escaping(s);
    return;
  }
  dst[0] = '"';
  dst[n + 1] = '"';
  pos_ += n + 2;
}

void JsonWriter::quoted_escaping(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const std::size_t n = s.size();
  std::size_t i = 0;
  put('"');
  std::size_t run = 0;  // start of bytes to copy unchanged
  const auto flush_run = [&] { put(s.substr(run, i - run)); };
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
      flush_run();
      put("\xEF\xBF\xBD");  // U+FFFD for an invalid byte
      run = ++i;
      continue;
    }
    flush_run();
    switch (c) {
      case '"':
        put("\\\"");
        break;
      case '\\':
        put("\\\\");
        break;
      case '\n':
        put("\\n");
        break;
      case '\r':
        put("\\r");
        break;
      case '\t':
        put("\\t");
        break;
      case '\b':
        put("\\b");
        break;
      case '\f':
        put("\\f");
        break;
      default: {
        const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xF]};
        put(std::string_view(esc, 6));
      }
    }
    run = ++i;
  }
  flush_run();
  put('"');
}

void JsonWriter::newline() {
  const auto spaces = static_cast<std::size_t>(depth_ * indent_);
  char* dst = room(spaces + 1);
  *dst = '\n';
  std::memset(dst + 1, ' ', spaces);
  pos_ += spaces + 1;
}

void JsonWriter::separate() {
  if (need_comma_) put(',');
  if (indent_ >= 0 && depth_ > 0) newline();
}

void JsonWriter::too_deep() { throw Error("JSON nesting deeper than 1024 levels cannot be written"); }

void JsonWriter::key(std::string_view k) {
  const std::size_t n = k.size();
  if (indent_ < 0) {
    // `,"key":` in one go, as plain_key, when the key needs no escaping (most do not).
    char* const dst = room(n + 4);
    char* const body = dst + (need_comma_ ? 2 : 1);
    if (copy_plain(reinterpret_cast<const unsigned char*>(k.data()), n, body)) {
      if (need_comma_) dst[0] = ',';
      body[-1] = '"';
      body[n] = '"';
      body[n + 1] = ':';
      pos_ = static_cast<std::size_t>(body + n + 2 - out_.data());
      need_comma_ = false;
      after_key_ = true;
      return;
    }
  }
  if (need_comma_) put(',');
  if (indent_ >= 0) newline();
  quoted(k);
  put(indent_ >= 0 ? std::string_view(": ") : std::string_view(":"));
  need_comma_ = false;
  after_key_ = true;
}

void JsonWriter::indented_key(std::string_view k) {
  if (need_comma_) put(',');
  newline();
  put('"');
  put(k);
  put("\": ");
  need_comma_ = false;
  after_key_ = true;
}

void JsonWriter::boolean(bool b) {
  before_value();
  put(b ? std::string_view("true") : std::string_view("false"));
  need_comma_ = true;
}

void JsonWriter::integer(std::int64_t i) {
  before_value();
  char* dst = room(20);
  pos_ = static_cast<std::size_t>(std::to_chars(dst, dst + 20, i).ptr - out_.data());
  need_comma_ = true;
}

void JsonWriter::unsigned_integer(std::uint64_t u) {
  before_value();
  char* dst = room(20);
  pos_ = static_cast<std::size_t>(std::to_chars(dst, dst + 20, u).ptr - out_.data());
  need_comma_ = true;
}

namespace {

constexpr double kPow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                             1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};

// nearbyint(x) for 0 <= x < 2^52 in round-to-nearest (the caller checks the mode), without
// libm's call, which saves and restores the floating-point environment each time: x + 2^52 has
// no fraction bits left, so the addition itself rounds x (ties to even, as 2^52 is even).
double round_to_integer(double x) noexcept {
  constexpr double k2Pow52 = 4503599627370496.0;
  return (x + k2Pow52) - k2Pow52;
}

int decimal_digits(std::uint64_t v) noexcept {
  int n = 1;
  for (; v >= 10; v /= 10) ++n;
  return n;
}

// Writes `v` as exactly `width` digits (leading zeros) ending at `end`.
void put_digits(char* end, std::uint64_t v, int width) noexcept {
  for (int i = 0; i < width; ++i, v /= 10) *--end = static_cast<char>('0' + v % 10);
}

}  // namespace

char* short_decimal(char* dst, double d) noexcept {
  const bool negative = std::signbit(d);
  const double a = std::fabs(d);
  if (!(a >= 1e-5 && a < 1e15)) return nullptr;
  // The reasoning below holds for IEEE round-to-nearest, the mode text is read in.
  if (std::fegetround() != FE_TONEAREST) return nullptr;
  // The fewest decimals k for which m / 10^k (m an integer) reads back as `a`: m and 10^k are
  // exact doubles, so the division rounds m / 10^k to its nearest double, as reading the text
  // does. With at most 15 significant digits that m is the only one of its length whose text
  // reads back as `a` (a double's rounding interval is narrower than 10^-k), so it is what
  // to_chars' shortest form holds too.
  int k = 0;
  double m = 0;
  for (;; ++k) {
    if (k > 15) return nullptr;
    const double scaled = a * kPow10[k];
    if (scaled >= 1e15) return nullptr;  // more than 15 significant digits
    m = round_to_integer(scaled);
    if (m / kPow10[k] == a) break;
  }
  const auto digits_of_m = static_cast<std::uint64_t>(m);
  const int digits = decimal_digits(digits_of_m);
  int significant = digits;
  if (k == 0) {
    for (std::uint64_t v = digits_of_m; v % 10 == 0; v /= 10) --significant;
  }
  // to_chars writes the shorter of fixed and scientific notation, fixed on a tie; the exponent
  // here has two digits ("1.5e-05").
  const int integer_digits = digits > k ? digits - k : 1;
  const int fixed = integer_digits + (k > 0 ? 1 + k : 0);
  const int scientific = significant + (significant > 1 ? 1 : 0) + 4;
  if (fixed > scientific) return nullptr;
  if (negative) *dst++ = '-';
  if (k == 0) {
    put_digits(dst + digits, digits_of_m, digits);
    return dst + digits;
  }
  const auto scale = static_cast<std::uint64_t>(kPow10[k]);
  put_digits(dst + integer_digits, digits_of_m / scale, integer_digits);
  dst[integer_digits] = '.';
  put_digits(dst + integer_digits + 1 + k, digits_of_m % scale, k);
  return dst + fixed;
}

void JsonWriter::number(double d) {
  before_value();
  need_comma_ = true;
  if (!std::isfinite(d)) {
    put("null");
    return;
  }
  char* dst = room(32);  // shortest round-trip doubles take at most 24 characters
  // Most doubles in traces (costs, latencies, rewards) have a few decimals: written directly,
  // several times faster than the general shortest-form search.
  char* end = short_decimal(dst, d);
  if (!end) end = std::to_chars(dst, dst + 32, d).ptr;
  // An integral value gets ".0", so that it reads back as a double. (A loop over the few
  // characters: two memchr calls cost more.)
  if (std::find_if(dst, end, [](char c) { return c == '.' || c == 'e'; }) == end) {
    *end++ = '.';
    *end++ = '0';
  }
  pos_ = static_cast<std::size_t>(end - out_.data());
}

void JsonWriter::string(std::string_view s) {
  before_value();
  quoted(s);
  need_comma_ = true;
}

void JsonWriter::timestamp(Timestamp t) {
  const std::int64_t ns = t.time_since_epoch().count();
  if (ns == 0) {
    null();
    return;
  }
  before_value();
  constexpr std::int64_t kNanosPerSecond = 1'000'000'000;
  std::int64_t second = ns / kNanosPerSecond;
  std::int64_t nanos = ns % kNanosPerSecond;
  if (nanos < 0) {  // before 1970: the fraction counts up from the second below
    nanos += kNanosPerSecond;
    --second;
  }
  char* dst = room(kMaxTimestampChars + 2);
  *dst++ = '"';
  if (second == last_second_) {
    std::memcpy(dst, last_second_text_, kTimestampSecondChars);
    dst = write_timestamp_fraction(dst + kTimestampSecondChars, static_cast<unsigned>(nanos));
  } else {
    char* end = write_timestamp(dst, t);
    std::memcpy(last_second_text_, dst, kTimestampSecondChars);
    last_second_ = second;
    dst = end;
  }
  *dst++ = '"';
  pos_ = static_cast<std::size_t>(dst - out_.data());
  need_comma_ = true;
}

void JsonWriter::copy_value(std::size_t begin, std::size_t end) {
  if (begin < end && out_[begin] == ',') ++begin;
  before_value();
  const std::size_t n = end - begin;
  char* dst = room(n);  // may move out_'s bytes: read the source after it
  std::memcpy(dst, out_.data() + begin, n);
  pos_ += n;
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
  {
    detail::JsonWriter w(out, format);
    w.value(*this);
  }  // the writer trims `out` to what was written
  return out;
}

}  // namespace synth::tracing
