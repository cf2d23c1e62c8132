#include "json/trace_random.hpp"

#include <bit>
#include <cmath>
#include <limits>
#include <string_view>
#include <utility>
#include <vector>

namespace synth_test {

using synth::tracing::CAISEvent;
using synth::tracing::EnvironmentEvent;
using synth::tracing::Event;
using synth::tracing::RuntimeEvent;
using synth::tracing::SessionEventMessage;
using synth::tracing::SessionMetadataEntry;
using synth::tracing::SessionTimeStep;
using synth::tracing::SessionTrace;
using synth::tracing::TimeRecord;
using synth::tracing::Timestamp;
using synth::tracing::Value;

namespace {

void append_utf8(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

std::uint32_t random_code_point(Rng& rng) {
  switch (rng.below(10)) {
    case 0:
    case 1:
    case 2:
      return static_cast<std::uint32_t>(rng.between(0x20, 0x7E));  // printable ASCII
    case 3:
      return rng.coin() ? '"' : '\\';
    case 4:  // every control character, and DEL
      return rng.chance(1, 8) ? 0x7F : static_cast<std::uint32_t>(rng.below(0x20));
    case 5:
      return static_cast<std::uint32_t>(rng.between(0x80, 0x7FF));  // 2-byte UTF-8
    case 6: {
      std::uint32_t cp;
      do {
        cp = static_cast<std::uint32_t>(rng.between(0x800, 0xFFFF));  // 3-byte, not a surrogate
      } while (cp >= 0xD800 && cp <= 0xDFFF);
      return cp;
    }
    case 7:
      return static_cast<std::uint32_t>(rng.between(0x10000, 0x10FFFF));  // 4-byte
    case 8: {
      static constexpr std::uint32_t kSpecial[] = {0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFF, 0x10FFFF,
                                                   0x1F600, 0xE9, 0x20AC, '/', 0, 0x7F};
      return kSpecial[rng.below(std::size(kSpecial))];
    }
    default:
      return static_cast<std::uint32_t>(rng.between('a', 'z'));
  }
}

Value random_scalar(Rng& rng) {
  switch (rng.below(8)) {
    case 0:
      return Value();
    case 1:
      return Value(rng.coin());
    case 2:
      return Value(random_int64(rng));
    case 3: {  // uint64 above INT64_MAX
      const std::uint64_t u = rng.chance(1, 3) ? std::numeric_limits<std::uint64_t>::max()
                                               : (std::uint64_t{1} << 63) | rng.next();
      return Value(u);
    }
    case 4:
    case 5:
      return Value(random_double(rng));
    default:
      return Value(random_string(rng));
  }
}

std::optional<std::string> maybe_string(Rng& rng) {
  if (rng.coin()) return std::nullopt;
  return random_string(rng, 20);
}

std::optional<std::int64_t> maybe_int(Rng& rng) {
  if (rng.coin()) return std::nullopt;
  return rng.chance(1, 4) ? random_int64(rng) : rng.between(0, 100000);
}

std::optional<double> maybe_double(Rng& rng) {
  if (rng.coin()) return std::nullopt;
  return random_double(rng);
}

std::optional<bool> maybe_bool(Rng& rng) {
  if (rng.coin()) return std::nullopt;
  return rng.coin();
}

std::optional<TimeRecord> maybe_time_record(Rng& rng) {
  if (rng.chance(1, 4)) return std::nullopt;
  TimeRecord tr;
  tr.event_time = random_timestamp(rng);
  tr.message_time = rng.chance(1, 5) ? random_int64(rng) : rng.between(0, 50);
  return tr;
}

std::vector<Value> random_values(Rng& rng, std::size_t max_count) {
  std::vector<Value> out(rng.below(max_count + 1));
  for (auto& v : out) v = random_value(rng, 2);
  return out;
}

// States are usually objects, but the model allows any JSON value (and null when unset).
Value random_state(Rng& rng) {
  switch (rng.below(4)) {
    case 0:
      return Value();
    case 1:
      return random_value(rng, 3);
    default:
      return random_object(rng, 3, 5);
  }
}

}  // namespace

std::string random_string(Rng& rng, std::size_t max_length) {
  std::string out;
  const std::size_t length = rng.below(max_length + 1);
  for (std::size_t i = 0; i < length; ++i) append_utf8(out, random_code_point(rng));
  return out;
}

double random_double(Rng& rng) {
  static const double kSpecial[] = {
      0.0,
      -0.0,
      3.0,
      -3.0,
      420.0,
      0.1,
      1e-05,
      0.5,
      1e300,
      -1e300,
      1e-300,
      1e308,
      1e-308,
      1e21,
      1e22,
      1e15,
      1e16,
      100000.0,
      123456.789,
      9007199254740992.0,   // 2^53
      9007199254740994.0,   // 2^53 + 2
      9223372036854775808.0,  // 2^63
      18446744073709551616.0,  // 2^64
      std::numeric_limits<double>::min(),
      std::numeric_limits<double>::denorm_min(),
      -std::numeric_limits<double>::denorm_min(),
      std::numeric_limits<double>::max(),
      std::numeric_limits<double>::lowest(),
      std::numeric_limits<double>::epsilon(),
      0.00054,
  };
  switch (rng.below(6)) {
    case 0:
    case 1:
      return kSpecial[rng.below(std::size(kSpecial))];
    case 2: {  // subnormal: zero exponent, random mantissa
      const std::uint64_t bits = (rng.next() & 0x800FFFFFFFFFFFFFULL) | 1;
      return std::bit_cast<double>(bits);
    }
    case 3: {  // any finite bit pattern
      double d;
      do {
        d = std::bit_cast<double>(rng.next());
      } while (!std::isfinite(d));
      return d;
    }
    case 4:  // integral
      return static_cast<double>(rng.between(-1000000, 1000000));
    default:
      return static_cast<double>(rng.between(-1000000, 1000000)) / 1024.0 + 0.1;
  }
}

std::int64_t random_int64(Rng& rng) {
  switch (rng.below(6)) {
    case 0:
      return std::numeric_limits<std::int64_t>::min();
    case 1:
      return std::numeric_limits<std::int64_t>::max();
    case 2:
      return static_cast<std::int64_t>(rng.next());
    case 3:
      return rng.between(-1000, 1000);
    case 4:
      return rng.coin() ? -1 : 0;
    default:
      return rng.between(0, 1'000'000'000);
  }
}

Value random_value(Rng& rng, int max_depth) {
  if (max_depth <= 0 || rng.chance(3, 5)) return random_scalar(rng);
  if (rng.coin()) {
    Value::Array a(rng.below(5));
    for (auto& e : a) e = random_value(rng, max_depth - 1);
    return Value(std::move(a));
  }
  return random_object(rng, max_depth - 1, 4);
}

Value random_object(Rng& rng, int max_depth, std::size_t max_members) {
  Value::Object members;
  const std::size_t n = rng.below(max_members + 1);
  for (std::size_t i = 0; i < n; ++i) {
    std::string key = rng.chance(1, 3) ? random_string(rng, 8) : "k" + std::to_string(rng.below(20));
    bool duplicate = false;
    for (const auto& m : members) duplicate = duplicate || m.first == key;
    if (duplicate) continue;
    members.emplace_back(std::move(key), random_value(rng, max_depth));
  }
  return Value(std::move(members));
}

Timestamp random_timestamp(Rng& rng) {
  using std::chrono::nanoseconds;
  // 1970-01-01 .. 2100-01-01 in seconds.
  constexpr std::int64_t kSpan = 4'102'444'800;
  const std::int64_t secs = rng.between(1, kSpan);
  switch (rng.below(8)) {
    case 0:
      return Timestamp{};  // unset
    case 1:  // whole seconds
      return Timestamp(nanoseconds(secs * 1'000'000'000));
    case 2:
    case 3:  // microseconds, as Python writes them
      return Timestamp(nanoseconds(secs * 1'000'000'000 + rng.between(0, 999'999) * 1000));
    case 4:
    case 5: {  // nanoseconds (not a whole microsecond)
      std::int64_t ns = rng.between(0, 999'999'999);
      if (ns % 1000 == 0) ns += 1;
      return Timestamp(nanoseconds(secs * 1'000'000'000 + ns));
    }
    case 6:  // before 1970, down to 1678
      return Timestamp(nanoseconds(-rng.between(1, 9'200'000'000LL) * 1'000'000'000 + rng.between(0, 999'999'999)));
    default: {
      static const std::int64_t kEdges[] = {
          std::numeric_limits<std::int64_t>::max(),
          std::numeric_limits<std::int64_t>::min(),
          std::numeric_limits<std::int64_t>::min() + 1,
          -1,
          1,
          1000,
          -1000,
          951'782'400'000'000'000,  // 2000-02-29
      };
      return Timestamp(nanoseconds(kEdges[rng.below(std::size(kEdges))]));
    }
  }
}

Event random_event(Rng& rng) {
  switch (rng.below(3)) {
    case 0: {
      CAISEvent e;
      e.time_record = maybe_time_record(rng);
      if (rng.coin()) e.system_instance_id = random_string(rng);
      e.system_state_before = random_state(rng);
      e.system_state_after = random_state(rng);
      e.llm_call_records = random_values(rng, 3);
      e.span_id = maybe_string(rng);
      e.trace_id = maybe_string(rng);
      e.model_name = maybe_string(rng);
      e.provider = maybe_string(rng);
      e.prompt_tokens = maybe_int(rng);
      e.completion_tokens = maybe_int(rng);
      e.total_tokens = maybe_int(rng);
      e.cached_tokens = maybe_int(rng);
      e.reasoning_tokens = maybe_int(rng);
      e.cost = maybe_double(rng);
      e.latency_ms = maybe_double(rng);
      e.metadata = random_object(rng);
      e.event_metadata = random_values(rng, 3);
      return e;
    }
    case 1: {
      EnvironmentEvent e;
      e.time_record = maybe_time_record(rng);
      if (rng.coin()) e.system_instance_id = random_string(rng);
      e.system_state_before = random_state(rng);
      e.system_state_after = random_state(rng);
      e.reward = maybe_double(rng);
      e.terminated = maybe_bool(rng);
      e.truncated = maybe_bool(rng);
      e.observation_diff = rng.coin() ? Value() : random_value(rng, 3);
      e.metadata = random_object(rng);
      e.event_metadata = random_values(rng, 3);
      return e;
    }
    default: {
      RuntimeEvent e;
      e.time_record = maybe_time_record(rng);
      if (rng.coin()) e.system_instance_id = random_string(rng);
      e.system_state_before = random_state(rng);
      e.system_state_after = random_state(rng);
      e.actions = rng.coin() ? Value() : random_value(rng, 3);
      e.metadata = random_object(rng);
      e.event_metadata = random_values(rng, 3);
      return e;
    }
  }
}

SessionEventMessage random_message(Rng& rng) {
  SessionEventMessage m;
  if (rng.coin()) {
    m.content = Value::object({{"origin_system_id", random_string(rng, 8)}, {"payload", random_value(rng, 3)}});
  } else {
    m.content = random_value(rng, 3);
  }
  if (rng.chance(3, 4)) m.message_type = random_string(rng, 10);
  m.timestamp = random_timestamp(rng);
  m.time_record = maybe_time_record(rng);
  return m;
}

SessionTrace random_trace(Rng& rng, std::size_t max_steps) {
  SessionTrace t;
  t.session_id = rng.chance(1, 10) ? std::string() : random_string(rng, 24);
  t.created_at = random_timestamp(rng);

  const std::size_t n_meta = rng.below(4);
  for (std::size_t i = 0; i < n_meta; ++i) {
    SessionMetadataEntry m;
    m.metadata_type = rng.chance(1, 3) ? std::string(synth::tracing::kSessionStartMetadata) : random_string(rng, 10);
    m.data = rng.chance(3, 4) ? random_object(rng, 2, 4) : random_value(rng, 2);
    m.timestamp = random_timestamp(rng);
    t.session_metadata.push_back(std::move(m));
  }

  // History-only items recorded outside any timestep (as the original's decorators do).
  const auto history_only = [&] {
    if (rng.chance(1, 4)) t.event_history.push_back(random_event(rng));
    if (rng.chance(1, 6)) t.message_history.push_back(random_message(rng));
  };

  history_only();
  const std::size_t n_steps = rng.below(max_steps + 1);
  for (std::size_t s = 0; s < n_steps; ++s) {
    SessionTimeStep step;
    step.step_id = rng.chance(2, 3) ? "step_" + std::to_string(s) : random_string(rng, 10);
    step.step_index = static_cast<std::int64_t>(s);
    step.turn_number = rng.chance(1, 10) ? random_int64(rng) : static_cast<std::int64_t>(s);
    step.timestamp = random_timestamp(rng);
    step.step_metadata = random_object(rng, 2, 3);
    const std::size_t n_items = rng.below(6);
    for (std::size_t i = 0; i < n_items; ++i) {
      if (rng.coin()) {
        Event e = random_event(rng);
        step.events.push_back(e);
        t.event_history.push_back(std::move(e));
      } else {
        SessionEventMessage m = random_message(rng);
        step.step_messages.push_back(m);
        t.message_history.push_back(std::move(m));
      }
      history_only();
    }
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

void make_histories_repeat_the_timesteps(SessionTrace& t) {
  t.event_history.clear();
  t.message_history.clear();
  for (const auto& step : t.session_time_steps) {
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    t.message_history.insert(t.message_history.end(), step.step_messages.begin(), step.step_messages.end());
  }
}

}  // namespace synth_test
