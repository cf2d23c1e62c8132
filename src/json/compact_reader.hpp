// Internal: the reader of values in the compact JSON our writer writes (no whitespace), without
// simdjson, for compact_trace_reader.cpp. It reads the caller's text as it is (no padding) and
// throws NotCompact at anything it does not read exactly as the general reader (JsonReader) would.
#pragma once

#include <simdjson.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "json/reader.hpp"

namespace synth::tracing::detail {

// Thrown when the text is not in our compact shape; caught in read_compact_prefix.
struct NotCompact {};

// Deeper values are left to the general reader (which enforces kMaxJsonDepth and names it).
constexpr int kCompactDepth = 64;

// Reads values one after another from the text, each at the position the last one ended:
// expect()/accept() the literal text between them (keys, punctuation), then the value's reader.
class CompactReader {
 public:
  explicit CompactReader(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  const char* position() const noexcept { return p_; }

  // Literals of a size known here, so that the comparison is inlined (a call to memcmp per key
  // cost more than the rest of reading it).
  template <std::size_t N>
  void expect(const char (&literal)[N]) {
    if (!accept(literal)) throw NotCompact{};
  }
  template <std::size_t N>
  bool accept(const char (&literal)[N]) noexcept {
    constexpr std::size_t size = N - 1;
    if (static_cast<std::size_t>(end_ - p_) < size || std::memcmp(p_, literal, size) != 0) return false;
    p_ += size;
    return true;
  }
  bool accept(char c) noexcept {
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  // A string's unescaped text: a view of the input, or of scratch_ (valid until the next call)
  // when it has escapes.
  std::string_view string() {
    expect("\"");
    const char* const begin = p_;
    p_ = special_byte(p_);
    if (p_ != end_ && *p_ == '"') {  // plain ASCII, nearly every string
      ++p_;
      return std::string_view(begin, static_cast<std::size_t>(p_ - 1 - begin));
    }
    return string_rest(begin);
  }

  std::optional<std::string> optional_string() {
    if (accept("null")) return std::nullopt;
    return std::string(string());
  }

  Value value(int depth = 0) {
    if (depth > kCompactDepth || p_ == end_) throw NotCompact{};
    switch (*p_) {
      case '{': {
        ++p_;
        Value::Object members;
        if (!accept('}')) {
          do {
            std::string key(string());
            expect(":");
            Value member = value(depth + 1);
            members.emplace_back(std::move(key), std::move(member));
          } while (accept(','));
          expect("}");
        }
        return Value(std::move(members));
      }
      case '[': {
        ++p_;
        Value::Array elements;
        if (!accept(']')) {
          do {
            elements.push_back(value(depth + 1));
          } while (accept(','));
          expect("]");
        }
        return Value(std::move(elements));
      }
      case '"':
        return Value(std::string(string()));
      case 't':
        expect("true");
        return Value(true);
      case 'f':
        expect("false");
        return Value(false);
      case 'n':
        expect("null");
        return Value();
      default:
        return number();
    }
  }

  // An array of values; null reads as empty (read_value_list).
  std::vector<Value> value_list() {
    std::vector<Value> out;
    if (accept("null")) return out;
    expect("[");
    if (accept(']')) return out;
    do {
      out.push_back(value(1));
    } while (accept(','));
    expect("]");
    return out;
  }

  // metadata / step_metadata: null reads as {} (read_metadata).
  Value metadata() {
    if (accept("null")) return Value::object();
    return value();
  }

  // An integer in int64 range (integer(): the general reader also takes integral doubles).
  std::int64_t integer() {
    const IntegerToken token = integer_token();
    constexpr std::uint64_t kMinMagnitude = std::uint64_t{1} << 63;
    if (token.negative) {
      if (token.magnitude > kMinMagnitude) throw NotCompact{};
      return static_cast<std::int64_t>(0 - token.magnitude);  // two's complement: INT64_MIN too
    }
    if (token.magnitude >= kMinMagnitude) throw NotCompact{};
    return static_cast<std::int64_t>(token.magnitude);
  }
  std::optional<std::int64_t> optional_integer() {
    if (accept("null")) return std::nullopt;
    return integer();
  }

  // Any number as a double (optional_number), rounded to the nearest as simdjson rounds it.
  std::optional<double> optional_number() {
    if (accept("null")) return std::nullopt;
    const Value v = number();
    return v.as_double();
  }

  std::optional<bool> optional_boolean() {
    if (accept("null")) return std::nullopt;
    if (accept("true")) return true;
    expect("false");
    return false;
  }

  // ISO-8601 text or null.
  Timestamp timestamp() {
    if (accept("null")) return Timestamp{};
    const std::string_view s = string();
    if (s.data() == scratch_.data()) throw NotCompact{};  // escaped: not our writer's timestamp
    const auto t = timestamps_.parse(s);
    if (!t) throw NotCompact{};
    return *t;
  }

  std::optional<TimeRecord> time_record() {
    if (accept("null")) return std::nullopt;
    TimeRecord tr;
    expect(R"({"event_time":)");
    tr.event_time = timestamp();
    expect(R"(,"message_time":)");
    tr.message_time = optional_integer().value_or(0);
    expect("}");
    return tr;
  }

 private:
  // The rest of a string from `begin` (its first byte), with escapes or non-ASCII bytes; p_ is at
  // the first of them.
  [[gnu::noinline]] std::string_view string_rest(const char* begin) {
    bool escaped = false;
    bool high = false;
    while (true) {
      if (p_ >= end_) throw NotCompact{};
      p_ = special_byte(p_);
      if (p_ == end_) throw NotCompact{};
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') break;
      if (c >= 0x80) {
        high = true;
        ++p_;
      } else if (c == '\\') {
        escaped = true;
        p_ += 2;  // the escaped character, checked when unescaping
      } else {
        throw NotCompact{};  // a control character: invalid JSON
      }
    }
    const std::string_view raw(begin, static_cast<std::size_t>(p_ - begin));
    ++p_;
    if (high && !simdjson::validate_utf8(raw.data(), raw.size())) throw NotCompact{};
    if (!escaped) return raw;
    scratch_.clear();
    for (std::size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] != '\\') {
        scratch_.push_back(raw[i]);
        continue;
      }
      switch (raw[++i]) {
        case '"': scratch_.push_back('"'); break;
        case '\\': scratch_.push_back('\\'); break;
        case '/': scratch_.push_back('/'); break;
        case 'b': scratch_.push_back('\b'); break;
        case 'f': scratch_.push_back('\f'); break;
        case 'n': scratch_.push_back('\n'); break;
        case 'r': scratch_.push_back('\r'); break;
        case 't': scratch_.push_back('\t'); break;
        default: throw NotCompact{};  // \u (surrogates are simdjson's to judge) or invalid
      }
    }
    return scratch_;
  }

  struct IntegerToken {
    bool negative;
    std::uint64_t magnitude;
  };

  // An integer's text: no fraction or exponent, not "-0", its magnitude at most 2^64-1.
  IntegerToken integer_token() {
    const bool negative = accept('-');
    const char* const digits = p_;
    std::uint64_t n = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, static_cast<unsigned>(*p_ - '0'), &n)) {
        throw NotCompact{};
      }
      ++p_;
    }
    const auto count = p_ - digits;
    if (count == 0 || (count > 1 && *digits == '0') || (negative && n == 0)) throw NotCompact{};
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) throw NotCompact{};
    return {negative, n};
  }

  // A number: an integer of either signedness, or a decimal of any kind that parses finite.
  Value number() {
    const char* const begin = p_;
    const bool negative = accept('-');
    // The digits as one integer (while it is exact in a double) and the power of ten it is
    // scaled by: short decimals, as our writer writes costs and rewards, need no from_chars.
    std::uint64_t mantissa = 0;
    int significant = 0;
    int scale = 0;
    const auto read_digits = [&](bool fraction) {
      const char* const from = p_;
      for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
        if (mantissa != 0 || *p_ != '0') ++significant;
        if (significant <= 15) {
          mantissa = mantissa * 10 + static_cast<std::uint64_t>(*p_ - '0');
          scale -= fraction ? 1 : 0;
        } else {
          scale += fraction ? 0 : 1;
        }
      }
      return p_ - from;
    };
    const char* const digits = p_;
    const auto count = read_digits(false);
    if (count == 0 || (count > 1 && *digits == '0')) throw NotCompact{};
    bool decimal = false;
    if (accept('.')) {
      decimal = true;
      if (read_digits(true) == 0) throw NotCompact{};
    }
    if (accept('e') || accept('E')) {
      decimal = true;
      const bool negative_exponent = !accept('+') && accept('-');
      const char* const from = p_;
      int exponent = 0;
      for (; p_ != end_ && *p_ >= '0' && *p_ <= '9'; ++p_) {
        if (exponent < 10000) exponent = exponent * 10 + (*p_ - '0');
      }
      if (p_ == from) throw NotCompact{};
      scale += negative_exponent ? -exponent : exponent;
    }
    if (!decimal) {
      p_ = begin;
      // As simdjson: in int64 range a signed integer, above it (up to 2^64-1) an unsigned one.
      if (negative) return Value(integer());
      return Value(integer_token().magnitude);
    }
    // Clinger's fast path: the mantissa and 10^|scale| are exact doubles, so one multiplication
    // or division rounds once, correctly, as from_chars and simdjson do.
    static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                         1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    if (significant <= 15 && scale >= -22 && scale <= 22) {
      const double m = static_cast<double>(mantissa);
      const double d = scale < 0 ? m / kPowers[-scale] : m * kPowers[scale];
      return Value(negative ? -d : d);
    }
    double d = 0;
    const auto [end, error] = std::from_chars(begin, p_, d);
    if (error != std::errc() || end != p_ || !std::isfinite(d)) throw NotCompact{};
    return Value(d);
  }

  // The first '"', '\\', control character or non-ASCII byte at or after `p`, or end_: 8 bytes at
  // a time, the last few one by one (the input has no padding).
  const char* special_byte(const char* p) const noexcept {
    constexpr std::uint64_t kOnes = 0x0101010101010101u;
    constexpr std::uint64_t kHighs = 0x8080808080808080u;
    const auto bytes_equal = [](std::uint64_t w, unsigned char c) {
      const std::uint64_t x = w ^ (kOnes * c);
      return (x - kOnes) & ~x & kHighs;
    };
    for (; end_ - p >= 8; p += 8) {
      std::uint64_t w;
      std::memcpy(&w, p, 8);
      // Bytes below 0x20 set their high bit in w - 0x20..., bytes from 0x80 have it in w; the
      // lowest set bit is the first such byte (borrows only mark bytes above it).
      const std::uint64_t hit = bytes_equal(w, '"') | bytes_equal(w, '\\') | (((w - kOnes * 0x20) | w) & kHighs);
      if (hit) return p + std::countr_zero(hit) / 8;
    }
    for (; p < end_; ++p) {
      const auto c = static_cast<unsigned char>(*p);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) return p;
    }
    return p;
  }

  const char* p_;
  const char* const end_;
  std::string scratch_;
  TimestampParser timestamps_;  // its texts are views of the input
};

}  // namespace synth::tracing::detail
