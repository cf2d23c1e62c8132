// Test helper: random trace values for property tests (lossless JSON round trips, fuzzing).
// Everything is driven by a caller-provided seed so a failure can be reproduced exactly.
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth_test {

/// A small deterministic random source. std::mt19937_64's output sequence is fixed by the
/// standard; the helpers below avoid the (implementation-defined) std distributions.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}

  std::uint64_t next() { return engine_(); }
  /// Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) { return engine_() % n; }
  /// Uniform in [lo, hi].
  std::int64_t between(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(below(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  /// True with probability num/den.
  bool chance(std::uint64_t num, std::uint64_t den) { return below(den) < num; }
  bool coin() { return chance(1, 2); }

 private:
  std::mt19937_64 engine_;
};

/// A random string: ASCII, quotes, backslashes, every control character, valid multi-byte
/// UTF-8 (2, 3 and 4 bytes, never a surrogate). Always valid UTF-8.
std::string random_string(Rng& rng, std::size_t max_length = 12);

/// A finite double from a mix of special values (negative zero, subnormals, integral values
/// such as 3.0, extreme exponents) and random bit patterns.
double random_double(Rng& rng);

/// A random int64, often one of the extremes.
std::int64_t random_int64(Rng& rng);

/// A random JSON value nested at most `max_depth` levels; objects have duplicate-free keys.
/// Doubles are finite and strings are valid UTF-8, so the value survives JSON text unchanged.
synth::tracing::Value random_value(Rng& rng, int max_depth = 3);

/// A random object (duplicate-free keys) with up to `max_members` members.
synth::tracing::Value random_object(Rng& rng, int max_depth = 2, std::size_t max_members = 4);

/// A random timestamp: unset (the epoch), whole seconds, microsecond or nanosecond precision,
/// sometimes before 1970 or at the ends of the representable range.
synth::tracing::Timestamp random_timestamp(Rng& rng);

synth::tracing::Event random_event(Rng& rng);
synth::tracing::SessionEventMessage random_message(Rng& rng);

/// A random session: 0..max_steps timesteps of random events and messages; every timestep item
/// also appears in the histories (in recording order), mixed with some history-only items.
synth::tracing::SessionTrace random_trace(Rng& rng, std::size_t max_steps = 5);

/// Makes the histories exactly the timesteps' items in order (no history-only items): the shape
/// our tracer records, whose history copies the readers take from the timesteps.
void make_histories_repeat_the_timesteps(synth::tracing::SessionTrace& t);

}  // namespace synth_test
