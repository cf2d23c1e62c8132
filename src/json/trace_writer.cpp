#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "json/trace_json.hpp"

namespace synth::tracing::detail {

namespace {

void write_time_record(JsonWriter& w, const std::optional<TimeRecord>& tr) {
  if (!tr) {
    w.null();
    return;
  }
  w.begin_object();
  w.plain_key("event_time");
  w.timestamp(tr->event_time);
  w.plain_key("message_time");
  w.integer(tr->message_time);
  w.end_object();
}

void write_optional(JsonWriter& w, const std::optional<std::string>& s) {
  if (s) {
    w.string(*s);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<std::int64_t>& i) {
  if (i) {
    w.integer(*i);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<double>& d) {
  if (d) {
    w.number(*d);
  } else {
    w.null();
  }
}

void write_optional(JsonWriter& w, const std::optional<bool>& b) {
  if (b) {
    w.boolean(*b);
  } else {
    w.null();
  }
}

void write_values(JsonWriter& w, const std::vector<Value>& values) {
  w.begin_array();
  for (const Value& v : values) w.value(v);
  w.end_array();
}

// Fields every event kind starts with, in the original's order (after our event_type).
template <class E>
void write_event_head(JsonWriter& w, const E& e, EventType type) {
  w.plain_key("event_type");
  w.string(event_type_name(type));
  w.plain_key("time_record");
  write_time_record(w, e.time_record);
  w.plain_key("system_instance_id");
  w.string(e.system_instance_id);
  w.plain_key("system_state_before");
  w.value(e.system_state_before);
  w.plain_key("system_state_after");
  w.value(e.system_state_after);
}

// Null metadata is written as {} (and so reads back as {}), as the original always has a dict.
void write_metadata(JsonWriter& w, const Value& metadata) {
  if (metadata.is_null()) {
    w.begin_object();
    w.end_object();
  } else {
    w.value(metadata);
  }
}

template <class E>
void write_event_tail(JsonWriter& w, const E& e) {
  w.plain_key("metadata");
  write_metadata(w, e.metadata);
  w.plain_key("event_metadata");
  write_values(w, e.event_metadata);
}

void write_fields(JsonWriter& w, const CAISEvent& e) {
  write_event_head(w, e, EventType::cais);
  w.plain_key("llm_call_records");
  write_values(w, e.llm_call_records);
  w.plain_key("span_id");
  write_optional(w, e.span_id);
  w.plain_key("trace_id");
  write_optional(w, e.trace_id);
  w.plain_key("model_name");
  write_optional(w, e.model_name);
  w.plain_key("provider");
  write_optional(w, e.provider);
  w.plain_key("prompt_tokens");
  write_optional(w, e.prompt_tokens);
  w.plain_key("completion_tokens");
  write_optional(w, e.completion_tokens);
  w.plain_key("total_tokens");
  write_optional(w, e.total_tokens);
  w.plain_key("cached_tokens");
  write_optional(w, e.cached_tokens);
  w.plain_key("cache_write_tokens");
  write_optional(w, e.cache_write_tokens);
  w.plain_key("reasoning_tokens");
  write_optional(w, e.reasoning_tokens);
  w.plain_key("cost");
  write_optional(w, e.cost);
  w.plain_key("latency_ms");
  write_optional(w, e.latency_ms);
  write_event_tail(w, e);
}

void write_fields(JsonWriter& w, const EnvironmentEvent& e) {
  write_event_head(w, e, EventType::environment);
  w.plain_key("reward");
  write_optional(w, e.reward);
  w.plain_key("terminated");
  write_optional(w, e.terminated);
  w.plain_key("truncated");
  write_optional(w, e.truncated);
  w.plain_key("observation_diff");
  w.value(e.observation_diff);
  write_event_tail(w, e);
}

void write_fields(JsonWriter& w, const RuntimeEvent& e) {
  write_event_head(w, e, EventType::runtime);
  w.plain_key("actions");
  w.value(e.actions);
  write_event_tail(w, e);
}

// a == b word by word, without a memcmp call: the strings compared are mostly short keys and
// names, for which the call costs more than the comparison.
inline bool same_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = a.size();
  if (n != b.size()) return false;
  const char* x = a.data();
  const char* y = b.data();
  if (n >= 8) {
    std::uint64_t u, v;
    for (std::size_t i = 0; i + 8 < n; i += 8) {
      std::memcpy(&u, x + i, 8);
      std::memcpy(&v, y + i, 8);
      if (u != v) return false;
    }
    std::memcpy(&u, x + n - 8, 8);
    std::memcpy(&v, y + n - 8, 8);
    return u == v;
  }
  if (n >= 4) {
    std::uint32_t u0, u1, v0, v1;
    std::memcpy(&u0, x, 4);
    std::memcpy(&u1, x + n - 4, 4);
    std::memcpy(&v0, y, 4);
    std::memcpy(&v1, y + n - 4, 4);
    return u0 == v0 && u1 == v1;
  }
  return n == 0 || (x[0] == y[0] && x[n / 2] == y[n / 2] && x[n - 1] == y[n - 1]);
}

// True when `a` and `b` are written as the same text. Stricter than ==, which holds across
// number kinds (1 == 1.0), for objects in another member order, and for 0.0 == -0.0.
bool same_text(const Value& a, const Value& b) noexcept {
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::null:
      return true;
    case Value::Kind::boolean:
      return a.as_bool() == b.as_bool();
    case Value::Kind::integer:
      return a.as_int() == b.as_int();
    case Value::Kind::unsigned_integer:
      return a.as_uint() == b.as_uint();
    case Value::Kind::floating:
      // Bit patterns: 0.0 and -0.0 are written differently; equal NaNs both write null.
      return std::bit_cast<std::uint64_t>(a.as_double()) == std::bit_cast<std::uint64_t>(b.as_double());
    case Value::Kind::string:
      return same_bytes(a.as_string(), b.as_string());
    case Value::Kind::array: {
      const auto& x = a.as_array();
      const auto& y = b.as_array();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same_text(x[i], y[i])) return false;
      }
      return true;
    }
    case Value::Kind::object: {
      const auto& x = a.as_object();
      const auto& y = b.as_object();
      if (x.size() != y.size()) return false;
      for (std::size_t i = 0; i < x.size(); ++i) {
        if (!same_bytes(x[i].first, y[i].first) || !same_text(x[i].second, y[i].second)) return false;
      }
      return true;
    }
  }
  return false;
}

// Whether two members are written as the same text: == where it is exact, the exact values
// where == is looser than the text (Values, see same_text; doubles: 0.0 and -0.0).
bool same_member(const Value& a, const Value& b) { return same_text(a, b); }

bool same_member(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || std::bit_cast<std::uint64_t>(*a) == std::bit_cast<std::uint64_t>(*b));
}

bool same_member(const std::vector<Value>& a, const std::vector<Value>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (!same_text(a[i], b[i])) return false;
  }
  return true;
}

bool same_member(const std::string& a, const std::string& b) { return same_bytes(a, b); }

bool same_member(const std::optional<std::string>& a, const std::optional<std::string>& b) {
  return a.has_value() == b.has_value() && (!a || same_bytes(*a, *b));
}

template <class T>
bool same_member(const T& a, const T& b) {
  return a == b;
}

// Every member of an item, in order, as a tuple of references. The structured binding names
// them all, so a member added to the type stops this compiling until it is listed here too.
auto members(const CAISEvent& e) {
  const auto& [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16, m17, m18] = e;
  return std::tie(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9, m10, m11, m12, m13, m14, m15, m16, m17, m18);
}
auto members(const EnvironmentEvent& e) {
  const auto& [m0, m1, m2, m3, m4, m5, m6, m7, m8, m9] = e;
  return std::tie(m0, m1, m2, m3, m4, m5, m6, m7, m8, m9);
}
auto members(const RuntimeEvent& e) {
  const auto& [m0, m1, m2, m3, m4, m5, m6] = e;
  return std::tie(m0, m1, m2, m3, m4, m5, m6);
}
auto members(const SessionEventMessage& m) {
  const auto& [m0, m1, m2, m3] = m;
  return std::tie(m0, m1, m2, m3);
}

// True when `a` and `b` are written as the same text: each member compared once, in order
// (== on the whole item and then the exact values would compare the Values twice).
template <class Item>
bool same_text_members(const Item& a, const Item& b) {
  const auto x = members(a);
  const auto y = members(b);
  return [&]<std::size_t... I>(std::index_sequence<I...>) {
    return (same_member(std::get<I>(x), std::get<I>(y)) && ...);
  }(std::make_index_sequence<std::tuple_size_v<decltype(x)>>());
}

bool same_text(const Event& a, const Event& b) {
  if (a.index() != b.index()) return false;
  return std::visit(
      [&b](const auto& x) { return same_text_members(x, std::get<std::decay_t<decltype(x)>>(b)); }, a);
}

bool same_text(const SessionEventMessage& a, const SessionEventMessage& b) { return same_text_members(a, b); }

// The histories usually repeat the timesteps' items in the same order: a history item whose
// text would be that of the timesteps' item at its position is copied from where that was
// written (a memcpy instead of formatting it again). The two are compared as the timesteps' item
// is written, while its Value trees are in the cache; compared afterwards, both items' trees
// were read from memory again (a sixth of the write's time).
template <class Item>
class HistoryCopies {
 public:
  explicit HistoryCopies(const std::vector<Item>& history) : history_(history) { written_.clear(); }
  HistoryCopies(const HistoryCopies&) = delete;
  HistoryCopies& operator=(const HistoryCopies&) = delete;

  /// The timesteps' next item, written by `write_item`.
  template <class WriteItem>
  void write(JsonWriter& w, const Item& item, WriteItem write_item) {
    const std::size_t begin = w.position();
    write_item(w, item);
    if (!w.compact()) return;  // indented text depends on the depth, which differs in the history
    const std::size_t i = count_++;
    if (i < history_.size() && same_text(history_[i], item)) {
      written_.push_back({i, begin, w.position()});
    }
  }
  /// The history, copying each item noted as the same.
  template <class WriteItem>
  void write_history(JsonWriter& w, WriteItem write_item) const {
    w.begin_array();
    auto copy = written_.begin();
    for (std::size_t i = 0; i < history_.size(); ++i) {
      if (copy != written_.end() && copy->index == i) {
        w.copy_value(copy->begin, copy->end);
        ++copy;
      } else {
        write_item(w, history_[i]);
      }
    }
    w.end_array();
  }

 private:
  struct Copy {
    std::size_t index, begin, end;  // the history item's position, and its text in the output
  };
  const std::vector<Item>& history_;
  std::size_t count_ = 0;
  // Reused by the thread's next trace (one trace at a time): no allocation once grown.
  static inline thread_local std::vector<Copy> written_;
};

void write_timestep(JsonWriter& w, const SessionTimeStep& step, HistoryCopies<Event>* events,
                    HistoryCopies<SessionEventMessage>* messages);

}  // namespace

void write_event(JsonWriter& w, const Event& event) {
  w.begin_object();
  std::visit([&w](const auto& e) { write_fields(w, e); }, event);
  w.end_object();
}

void write_message(JsonWriter& w, const SessionEventMessage& m) {
  w.begin_object();
  w.plain_key("content");
  w.value(m.content);
  w.plain_key("timestamp");
  w.timestamp(m.timestamp);
  w.plain_key("message_type");
  w.string(m.message_type);
  w.plain_key("time_record");
  write_time_record(w, m.time_record);
  w.end_object();
}

void write_timestep(JsonWriter& w, const SessionTimeStep& step) { write_timestep(w, step, nullptr, nullptr); }

namespace {

void write_timestep(JsonWriter& w, const SessionTimeStep& step, HistoryCopies<Event>* events,
                    HistoryCopies<SessionEventMessage>* messages) {
  w.begin_object();
  w.plain_key("step_id");
  w.string(step.step_id);
  w.plain_key("step_index");
  w.integer(step.step_index);
  w.plain_key("turn_number");
  w.integer(step.turn_number);
  w.plain_key("events");
  w.begin_array();
  for (const Event& e : step.events) {
    if (events) {
      events->write(w, e, write_event);
    } else {
      write_event(w, e);
    }
  }
  w.end_array();
  w.plain_key("step_messages");
  w.begin_array();
  for (const SessionEventMessage& m : step.step_messages) {
    if (messages) {
      messages->write(w, m, write_message);
    } else {
      write_message(w, m);
    }
  }
  w.end_array();
  w.plain_key("timestamp");
  w.timestamp(step.timestamp);
  w.plain_key("step_metadata");
  write_metadata(w, step.step_metadata);
  w.end_object();
}

}  // namespace

void write_metadata_entry(JsonWriter& w, const SessionMetadataEntry& m) {
  w.begin_object();
  w.plain_key("metadata_type");
  w.string(m.metadata_type);
  w.plain_key("data");
  w.value(m.data);
  w.plain_key("timestamp");
  w.timestamp(m.timestamp);
  w.end_object();
}

void write_trace(JsonWriter& w, const SessionTrace& t) {
  w.begin_object();
  w.plain_key("session_id");
  w.string(t.session_id);
  w.plain_key("session_time_steps");
  HistoryCopies<Event> events(t.event_history);
  HistoryCopies<SessionEventMessage> messages(t.message_history);
  w.begin_array();
  for (const SessionTimeStep& step : t.session_time_steps) write_timestep(w, step, &events, &messages);
  w.end_array();
  w.plain_key("session_metadata");
  w.begin_array();
  for (const SessionMetadataEntry& m : t.session_metadata) write_metadata_entry(w, m);
  w.end_array();
  w.plain_key("message_history");
  messages.write_history(w, write_message);
  w.plain_key("event_history");
  events.write_history(w, write_event);
  w.plain_key("created_at");
  w.timestamp(t.created_at);
  w.end_object();
}

}  // namespace synth::tracing::detail
