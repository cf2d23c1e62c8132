// TimestampParser: ISO-8601 timestamps read with what the last one gave (a repeated text, the
// same minute).
#include <cstring>

#include "json/reader.hpp"

namespace synth::tracing::detail {

namespace {
// "YYYY-MM-DDTHH:MM:" of an ISO-8601 timestamp.
constexpr std::size_t kMinuteChars = 17;

// The nanoseconds within the minute of `s` when it reads "YYYY-MM-DDTHH:MM:SS[.fraction]Z"
// after its first kMinuteChars (the shape we write), or -1 for any other text.
std::int64_t seconds_in_minute(std::string_view s) noexcept {
  const auto digit = [&](std::size_t i) { return i < s.size() && s[i] >= '0' && s[i] <= '9'; };
  if (s.size() < kMinuteChars + 3 || s[kMinuteChars - 1] != ':' || s.back() != 'Z' || !digit(kMinuteChars) ||
      !digit(kMinuteChars + 1)) {
    return -1;
  }
  const std::int64_t second = (s[kMinuteChars] - '0') * 10 + (s[kMinuteChars + 1] - '0');
  if (second > 59) return -1;
  std::size_t i = kMinuteChars + 2;
  std::int64_t nanos = 0;
  if (s[i] == '.') {
    ++i;
    int digits = 0;
    for (; digit(i); ++i, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (s[i] - '0');
    }
    if (digits == 0 || digits > 9) return -1;
    for (; digits < 9; ++digits) nanos *= 10;
  }
  if (i != s.size() - 1) return -1;
  return second * 1'000'000'000 + nanos;
}

}  // namespace

std::optional<Timestamp> TimestampParser::parse(std::string_view text) noexcept {
  if (!text.empty() && text == last_text_) return last_;
  // The same minute as the last timestamp (the items of one step, usually): only the seconds
  // differ, so shift the last value by their difference.
  if (last_seconds_ >= 0 && text.size() == last_text_.size() &&
      std::memcmp(text.data(), last_text_.data(), kMinuteChars) == 0) {
    const std::int64_t seconds = seconds_in_minute(text);
    if (seconds >= 0) {
      last_ += std::chrono::nanoseconds(seconds - last_seconds_);
      last_text_ = text;
      last_seconds_ = seconds;
      return last_;
    }
  }
  const auto t = parse_timestamp(text);
  if (t) {
    last_text_ = text;
    last_ = *t;
    last_seconds_ = seconds_in_minute(text);
  }
  return t;
}

}  // namespace synth::tracing::detail
