#include "time.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

namespace synth::tracing {

namespace {

using std::int64_t;
constexpr int64_t kNanosPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86'400;

// Howard Hinnant's civil calendar algorithms (proleptic Gregorian, days since 1970-01-01).
constexpr int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

struct Civil {
  int64_t year;
  unsigned month, day, hour, minute, second;
  int64_t nanos;
};

Civil civil_from_time(Timestamp t) {
  const int64_t ns = t.time_since_epoch().count();
  int64_t secs = ns / kNanosPerSecond;
  int64_t frac = ns % kNanosPerSecond;
  if (frac < 0) {
    frac += kNanosPerSecond;
    --secs;
  }
  int64_t days = secs / kSecondsPerDay;
  int64_t sod = secs % kSecondsPerDay;
  if (sod < 0) {
    sod += kSecondsPerDay;
    --days;
  }
  int64_t z = days + 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t y = static_cast<int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  y += (m <= 2);
  return {y,
          m,
          d,
          static_cast<unsigned>(sod / 3600),
          static_cast<unsigned>(sod % 3600 / 60),
          static_cast<unsigned>(sod % 60),
          frac};
}

void put_digits(std::string& out, int64_t v, int width) {
  char buf[20];
  for (int i = width - 1; i >= 0; --i) {
    buf[i] = static_cast<char>('0' + v % 10);
    v /= 10;
  }
  out.append(buf, static_cast<std::size_t>(width));
}

constexpr char kDigitPairs[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

// Writes v (0..99) as two digits.
char* put2(char* out, unsigned v) noexcept {
  std::memcpy(out, &kDigitPairs[2 * v], 2);
  return out + 2;
}

bool is_leap(int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

unsigned days_in_month(int64_t y, unsigned m) {
  static constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

// Reads exactly `n` digits at text[pos]; advances pos.
bool read_digits(std::string_view text, std::size_t& pos, int n, int64_t& out) {
  if (pos + static_cast<std::size_t>(n) > text.size()) return false;
  int64_t v = 0;
  for (int i = 0; i < n; ++i) {
    const char c = text[pos + static_cast<std::size_t>(i)];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (c - '0');
  }
  pos += static_cast<std::size_t>(n);
  out = v;
  return true;
}

bool accept(std::string_view text, std::size_t& pos, char c) {
  if (pos < text.size() && text[pos] == c) {
    ++pos;
    return true;
  }
  return false;
}

}  // namespace

Timestamp now() noexcept {
  const auto t = std::chrono::time_point_cast<std::chrono::microseconds>(std::chrono::system_clock::now());
  return Timestamp(std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()));
}

std::optional<Timestamp> detail::timestamp_from_epoch_seconds(double seconds) noexcept {
  // Whole seconds in [-9223372036, 9223372035] keep whole * 1e9 plus the fraction inside int64
  // (NaN fails both comparisons).
  if (!(seconds >= -9223372036.0 && seconds < 9223372036.0)) return std::nullopt;
  // Whole and fractional seconds apart: seconds * 1e9 alone is a double near 1.7e18, whose
  // spacing is 256 ns, so 1735725601.25 would read as ...01.249999872.
  const double whole = std::floor(seconds);
  return Timestamp(std::chrono::nanoseconds(static_cast<std::int64_t>(whole) * 1'000'000'000 +
                                            std::llround((seconds - whole) * 1e9)));
}

std::string format_timestamp(Timestamp t) {
  char buf[detail::kMaxTimestampChars];
  return std::string(buf, detail::write_timestamp(buf, t));
}

std::optional<Timestamp> parse_timestamp(std::string_view text) noexcept {
  std::size_t pos = 0;
  int64_t year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0, nanos = 0;
  if (!read_digits(text, pos, 4, year) || !accept(text, pos, '-') || !read_digits(text, pos, 2, month) ||
      !accept(text, pos, '-') || !read_digits(text, pos, 2, day)) {
    return std::nullopt;
  }
  if (month < 1 || month > 12 || day < 1 || day > days_in_month(year, static_cast<unsigned>(month))) {
    return std::nullopt;
  }
  int64_t offset_seconds = 0;
  if (pos < text.size()) {
    if (text[pos] != 'T' && text[pos] != 't' && text[pos] != ' ') return std::nullopt;
    ++pos;
    if (!read_digits(text, pos, 2, hour) || !accept(text, pos, ':') || !read_digits(text, pos, 2, minute)) {
      return std::nullopt;
    }
    if (accept(text, pos, ':')) {
      if (!read_digits(text, pos, 2, second)) return std::nullopt;
      if (accept(text, pos, '.') || accept(text, pos, ',')) {
        int digits = 0;
        while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
          if (digits < 9) {
            nanos = nanos * 10 + (text[pos] - '0');
            ++digits;
          }
          ++pos;
        }
        if (digits == 0) return std::nullopt;
        for (int i = digits; i < 9; ++i) nanos *= 10;
      }
    }
    if (hour > 23 || minute > 59 || second > 59) return std::nullopt;
    if (pos < text.size()) {
      const char sign = text[pos];
      if (sign == 'Z' || sign == 'z') {
        ++pos;
      } else if (sign == '+' || sign == '-') {
        ++pos;
        int64_t oh = 0, om = 0;
        if (!read_digits(text, pos, 2, oh)) return std::nullopt;
        if (accept(text, pos, ':')) {
          if (!read_digits(text, pos, 2, om)) return std::nullopt;
        } else if (pos < text.size()) {
          if (!read_digits(text, pos, 2, om)) return std::nullopt;
        }
        if (oh > 23 || om > 59) return std::nullopt;
        offset_seconds = (oh * 3600 + om * 60) * (sign == '-' ? -1 : 1);
      } else {
        return std::nullopt;
      }
    }
  }
  if (pos != text.size()) return std::nullopt;
  // int64 nanoseconds reach from 1677-09-21 to 2262-04-11.
  const int64_t days = days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  int64_t secs = days * kSecondsPerDay + hour * 3600 + minute * 60 + second - offset_seconds;
  // Before 1970 count from the next second down, so that times less than a second above the
  // lower limit (where secs * 1e9 alone would overflow) still parse.
  if (secs < 0 && nanos > 0) {
    ++secs;
    nanos -= kNanosPerSecond;
  }
  int64_t total = 0;
  if (__builtin_mul_overflow(secs, kNanosPerSecond, &total) || __builtin_add_overflow(total, nanos, &total)) {
    return std::nullopt;
  }
  return Timestamp(std::chrono::nanoseconds(total));
}

namespace detail {

char* write_timestamp(char* out, Timestamp t) noexcept {
  const Civil c = civil_from_time(t);  // years 1677..2262: always four digits
  out = put2(out, static_cast<unsigned>(c.year / 100));
  out = put2(out, static_cast<unsigned>(c.year % 100));
  *out++ = '-';
  out = put2(out, c.month);
  *out++ = '-';
  out = put2(out, c.day);
  *out++ = 'T';
  out = put2(out, c.hour);
  *out++ = ':';
  out = put2(out, c.minute);
  *out++ = ':';
  out = put2(out, c.second);
  return write_timestamp_fraction(out, static_cast<unsigned>(c.nanos));
}

char* write_timestamp_fraction(char* out, unsigned nanos) noexcept {
  *out++ = '.';
  auto frac = nanos;
  if (frac % 1000 == 0) {
    frac /= 1000;  // microseconds: six digits
  } else {
    *out++ = static_cast<char>('0' + frac / 100'000'000);  // nanoseconds: nine digits
    frac %= 100'000'000;
    out = put2(out, frac / 1'000'000);
    frac %= 1'000'000;
  }
  out = put2(out, frac / 10'000);
  out = put2(out, frac / 100 % 100);
  out = put2(out, frac % 100);
  *out++ = 'Z';
  return out;
}

void append_compact_timestamp(std::string& out, Timestamp t) {
  const Civil c = civil_from_time(t);
  put_digits(out, c.year, 4);
  put_digits(out, c.month, 2);
  put_digits(out, c.day, 2);
  out.push_back('_');
  put_digits(out, c.hour, 2);
  put_digits(out, c.minute, 2);
  put_digits(out, c.second, 2);
}

}  // namespace detail
}  // namespace synth::tracing
