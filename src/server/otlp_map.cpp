// Spans of a request grouped into sessions and timesteps: the session id from the span, its
// trace's other spans, or its resource (else the trace id); the timestep from our timestep span
// above it, `synth.step_id`, or else one timestep per trace (a "turn").
#include "server/otlp_map.hpp"

#include <algorithm>
#include <map>
#include <unordered_map>

namespace synth::tracing::server {

namespace {

using otlp::timestamp_of;

// Spans nested deeper than this are not walked up to find their timestep.
constexpr int kMaxAncestors = 256;

std::string_view synth_kind(const OtlpSpan& s) {
  const Value* k = s.attributes.find("synth.kind");
  return k != nullptr && k->is_string() ? std::string_view(k->as_string()) : std::string_view();
}

// An event or message, placed in time before it goes into the session. Small: the event or
// message itself waits in the request's list (Placed), so that sorting and growing the items
// moves no event.
struct Item {
  Timestamp time;
  std::int32_t step = -1;  ///< its timestep: index in Building::trace.session_time_steps, -1: outside any
  std::uint32_t span = 0;  ///< the span it came from: its index in the session's origins
  std::uint32_t index = 0;  ///< in Placed::events, else Placed::messages
  bool event = false;
};

// The events and messages of a request's spans, in the order they were made; each session's
// items point into them.
struct Placed {
  std::vector<Event> events;
  std::vector<SessionEventMessage> messages;
};

// Copies each history item of `t` into its timestep (`known`), in history order: the shape the
// session has with its timesteps' copies made. Each timestep's list allocated once.
void copy_into_timesteps(SessionTrace& t, const detail::duck::ItemSteps& known) {
  std::vector<SessionTimeStep>& steps = t.session_time_steps;
  {
    const detail::duck::StepSizes placed(t, &known);
    for (std::size_t s = 0; s < steps.size(); ++s) {
      steps[s].events.reserve(steps[s].events.size() + static_cast<std::size_t>(placed.events(s)));
      steps[s].step_messages.reserve(steps[s].step_messages.size() + static_cast<std::size_t>(placed.messages(s)));
    }
  }
  for (std::size_t e = 0; e < known.events.size(); ++e) {
    if (known.events[e] >= 0) steps[static_cast<std::size_t>(known.events[e])].events.push_back(t.event_history[e]);
  }
  for (std::size_t m = 0; m < known.messages.size(); ++m) {
    if (known.messages[m] >= 0) steps[static_cast<std::size_t>(known.messages[m])].step_messages.push_back(t.message_history[m]);
  }
}

// The indices of `items` in time order, equal times in their order.
std::vector<std::uint32_t> time_order(const std::vector<Item>& items) {
  std::vector<std::uint32_t> order(items.size());
  for (std::uint32_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) { return items[x].time < items[y].time; });
  return order;
}

struct Building {
  SessionTrace trace;
  bool has_session_span = false;
  bool unnamed = false;  ///< named after its trace id for want of a session id
  bool has_root = false;  ///< holds a root span of its trace
  std::uint64_t spans = 0;
  std::map<std::string, std::int32_t, std::less<>> steps;  ///< step_id → index in trace.session_time_steps
  std::vector<Item> items;
  std::size_t events = 0;  ///< items that are events
  /// Where its items came from; `steps` holds indices in trace.session_time_steps as they are
  /// made, until finish() sorts the timesteps.
  SpanOrigins origins;

  // The timestep `id`, made at `time` when new, else moved back to `time` when earlier. Made
  // without a number (-1) unless a span gives it one: the store numbers such timesteps by their
  // start among the session's, whatever request brought them.
  std::int32_t step(std::string_view id, Timestamp time) {
    auto [it, added] = steps.try_emplace(std::string(id), static_cast<std::int32_t>(trace.session_time_steps.size()));
    if (added) {
      SessionTimeStep s;
      s.step_id = id;
      s.step_index = -1;
      s.timestamp = time;
      trace.session_time_steps.push_back(std::move(s));
    }
    SessionTimeStep& s = trace.session_time_steps[static_cast<std::size_t>(it->second)];
    if (time < s.timestamp) s.timestamp = time;
    return it->second;
  }

  void add(Placed& placed, Timestamp time, std::int32_t step, std::uint32_t span, Event event) {
    items.push_back(Item{time, step, span, static_cast<std::uint32_t>(placed.events.size()), true});
    placed.events.push_back(std::move(event));
    ++events;
  }
  void add(Placed& placed, Timestamp time, std::int32_t step, std::uint32_t span, SessionEventMessage message) {
    items.push_back(Item{time, step, span, static_cast<std::uint32_t>(placed.messages.size()), false});
    placed.messages.push_back(std::move(message));
  }

  // The timesteps in step_index order (those without one by their start), and the items moved
  // out of `placed` into the histories (time order) and, with `copies` made, each into its
  // timestep (a copy: both hold it).
  void finish(Placed& placed, TimestepCopies copies) {
    std::vector<SessionTimeStep>& timesteps = trace.session_time_steps;
    std::vector<std::uint32_t> order(timesteps.size());
    for (std::uint32_t t = 0; t < order.size(); ++t) order[t] = t;
    std::stable_sort(order.begin(), order.end(), [&](std::uint32_t x, std::uint32_t y) {
      const SessionTimeStep& a = timesteps[x];
      const SessionTimeStep& b = timesteps[y];
      return a.step_index != b.step_index ? a.step_index < b.step_index : a.timestamp < b.timestamp;
    });
    std::vector<std::int32_t> sorted_at(timesteps.size());
    std::vector<SessionTimeStep> sorted;
    sorted.reserve(timesteps.size());
    for (const std::uint32_t t : order) {
      sorted_at[t] = static_cast<std::int32_t>(sorted.size());
      sorted.push_back(std::move(timesteps[t]));
    }
    timesteps = std::move(sorted);
    for (Item& item : items) {
      if (item.step >= 0) item.step = sorted_at[static_cast<std::size_t>(item.step)];
    }
    for (std::int32_t& step : origins.steps) {
      if (step >= 0) step = sorted_at[static_cast<std::size_t>(step)];
    }

    trace.event_history.reserve(events);
    origins.events.reserve(events);
    trace.message_history.reserve(items.size() - events);
    origins.messages.reserve(items.size() - events);
    // Each item's timestep, for the copies; left out, the store gets it from `origins` (item_steps).
    const bool make_copies = copies == TimestepCopies::made;
    detail::duck::ItemSteps placement;
    if (make_copies) {
      placement.events.reserve(events);
      placement.messages.reserve(items.size() - events);
    }
    for (const std::uint32_t i : time_order(items)) {
      const Item& item = items[i];
      if (item.event) {
        trace.event_history.push_back(std::move(placed.events[item.index]));
        origins.events.push_back(item.span);
        if (make_copies) placement.events.push_back(item.step);
      } else {
        trace.message_history.push_back(std::move(placed.messages[item.index]));
        origins.messages.push_back(item.span);
        if (make_copies) placement.messages.push_back(item.step);
      }
    }
    if (make_copies) {
      copy_into_timesteps(trace, placement);
    } else {
      origins.copies_left_out = true;
    }
  }
};

}  // namespace

SpanKey span_key_of(std::string_view trace_id, std::string_view span_id) noexcept {
  const auto fnv1a = [](std::string_view text) {
    std::uint64_t h = 0xcbf29ce484222325ULL;
    for (const char c : text) h = (h ^ static_cast<unsigned char>(c)) * 0x100000001b3ULL;
    return h;
  };
  return SpanKey{fnv1a(trace_id), fnv1a(span_id)};
}

std::optional<detail::duck::ItemSteps> item_steps(const SpanOrigins& origins) {
  if (!origins.copies_left_out) return std::nullopt;
  detail::duck::ItemSteps out;
  out.events.reserve(origins.events.size());
  for (const std::uint32_t span : origins.events) out.events.push_back(origins.steps[span]);
  out.messages.reserve(origins.messages.size());
  for (const std::uint32_t span : origins.messages) out.messages.push_back(origins.steps[span]);
  return out;
}

void fill_timesteps(SessionTrace& trace, SpanOrigins& origins) {
  if (const std::optional<detail::duck::ItemSteps> steps = item_steps(origins)) {
    copy_into_timesteps(trace, *steps);
    origins.copies_left_out = false;
  }
}

OtlpMapped map_otlp_spans(OtlpTraces&& traces, TraceSessions* memory, TimestepCopies copies, OwnSessions own) {
  OtlpMapped out;
  static const Value kNoResource = Value::object();
  const auto resource_of = [&](const OtlpSpan& s) -> const Value& {
    return s.resource < traces.resources.size() ? traces.resources[s.resource] : kNoResource;
  };
  const auto reject = [&](const std::string& why) {
    ++out.rejected_spans;
    if (out.error_message.empty()) out.error_message = why;
  };

  // Each span's session id looked up once (here, unless the caller did).
  if (own.size() != traces.spans.size()) own = own_sessions(traces);
  const std::unordered_map<std::string, std::string> trace_session = sessions_of_traces(traces, own);
  std::vector<SpanKey> keys;
  keys.reserve(traces.spans.size());
  std::unordered_map<SpanKey, std::uint32_t, SpanKeyHash> by_id;
  by_id.reserve(traces.spans.size());
  // A span whose trace and span id came earlier in the request: the same span twice (stored once).
  std::vector<bool> repeated(traces.spans.size(), false);
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    const OtlpSpan& s = traces.spans[i];
    keys.push_back(span_key_of(s.trace_id, s.span_id));
    if (!s.span_id.empty()) repeated[i] = !by_id.emplace(keys.back(), static_cast<std::uint32_t>(i)).second;
  }
  // Each span's synth.kind and parent (the first span of the request with its id; -1: none)
  // found once, for the walks up to a span's timestep.
  std::vector<std::string_view> kinds;
  kinds.reserve(traces.spans.size());
  std::vector<std::int32_t> parents(traces.spans.size(), -1);
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    const OtlpSpan& s = traces.spans[i];
    kinds.push_back(synth_kind(s));
    if (s.parent_span_id.empty()) continue;
    if (auto parent = by_id.find(span_key_of(s.trace_id, s.parent_span_id)); parent != by_id.end()) {
      parents[i] = static_cast<std::int32_t>(parent->second);
    }
  }
  if (memory != nullptr) remember_sessions(trace_session, *memory);

  // Each resource's session id, looked up for the first span that needs it.
  std::vector<std::optional<std::optional<std::string>>> resource_sessions(traces.resources.size());
  Placed placed;
  placed.events.reserve(traces.spans.size());
  std::map<std::string, Building, std::less<>> sessions;
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    OtlpSpan& s = traces.spans[i];
    if (s.span_id.empty()) {
      reject("span " + std::to_string(i) + " ('" + s.name + "') has no span id (absent or all zero)");
      continue;
    }
    if (repeated[i]) {
      ++out.duplicate_spans;
      continue;
    }
    std::optional<std::string> sid = std::move(own[i]);
    if (!sid) {
      if (auto it = trace_session.find(s.trace_id); it != trace_session.end()) sid = it->second;
    }
    if (!sid && memory != nullptr) sid = memory->find(s.trace_id);
    if (!sid && s.resource < resource_sessions.size()) {
      std::optional<std::optional<std::string>>& of_resource = resource_sessions[s.resource];
      if (!of_resource) of_resource = session_key(traces.resources[s.resource]);
      sid = *of_resource;
    }
    bool unnamed = false;
    if (!sid && memory != nullptr) sid = memory->find_or_note_unnamed(s.trace_id);
    if (!sid && !s.trace_id.empty()) {
      sid = s.trace_id;
      unnamed = true;
    }
    if (!sid) {
      reject("span " + std::to_string(i) + " ('" + s.name +
             "') has no trace id (absent or all zero) and no session id");
      continue;
    }
    ++out.spans;
    auto [at_session, added] = sessions.try_emplace(*sid);
    Building& b = at_session->second;
    if (added) b.trace.session_id = *sid;
    b.unnamed = unnamed;
    if (s.parent_span_id.empty()) b.has_root = true;
    ++b.spans;
    const auto span = static_cast<std::uint32_t>(b.origins.keys.size());
    b.origins.keys.push_back(keys[i]);
    const Timestamp start = timestamp_of(s.start_unix_nano);
    const std::string_view kind = kinds[i];
    if (kind == "session") {
      if (!b.has_session_span || start < b.trace.created_at) b.trace.created_at = start;
      b.has_session_span = true;
    } else if (!b.has_session_span && (b.trace.created_at == Timestamp{} || start < b.trace.created_at)) {
      b.trace.created_at = start;
    }

    // Where the span's items go: the timestep span it is in, if any.
    std::optional<std::string_view> step;
    bool placed_in_span = false;
    bool named_by_span = false;  // ours: the span names its timestep, whose own span may come later
    std::int32_t at = static_cast<std::int32_t>(i);
    for (int depth = 0; at >= 0 && depth < kMaxAncestors; ++depth) {
      const OtlpSpan& ancestor = traces.spans[static_cast<std::size_t>(at)];
      const std::string_view k = kinds[static_cast<std::size_t>(at)];
      if (k == "timestep") {
        const Value* id = ancestor.attributes.find("synth.step_id");
        step = id != nullptr && id->is_string() ? std::string_view(id->as_string()) : std::string_view(ancestor.span_id);
        placed_in_span = true;
        break;
      }
      if (k == "session") {
        placed_in_span = true;
        break;
      }
      if (ancestor.parent_span_id.empty()) break;
      at = parents[static_cast<std::size_t>(at)];
    }
    if (!placed_in_span) {
      // Ours name their timestep (synth.step_id), whose span may come in a later request; a
      // scope span of an older version names none and stays outside timesteps rather than in a
      // made-up one. Others: a trace, a turn.
      const Value* id = s.attributes.find("synth.step_id");
      if (id != nullptr && id->is_string()) {
        step = id->as_string();
        named_by_span = true;
      } else if (kind.empty()) {
        step = s.trace_id.empty() ? std::string_view(b.trace.session_id) : std::string_view(s.trace_id);
      }
    }
    std::int32_t step_at = -1;
    if (step) {
      step_at = b.step(*step, start);
      SessionTimeStep& ts = b.trace.session_time_steps[static_cast<std::size_t>(step_at)];
      const Value& a = s.attributes;
      const auto number_from_span = [&] {
        if (const Value* v = a.find("synth.step_index"); v && v->kind() == Value::Kind::integer) ts.step_index = v->as_int();
        if (const Value* v = a.find("synth.turn"); v && v->kind() == Value::Kind::integer) ts.turn_number = v->as_int();
      };
      if (kind == "timestep") {
        number_from_span();
        if (const Value* v = a.find("synth.step_metadata"); v && v->is_object()) ts.step_metadata = *v;
        ts.timestamp = start;
      } else if (named_by_span && ts.step_index < 0) {
        number_from_span();
      }
    }

    b.origins.steps.push_back(step_at);
    for (OtlpEvent& e : s.events) {
      if (auto event = otlp::synth_span_event(e)) {
        b.add(placed, timestamp_of(e.time_unix_nano), step_at, span, std::move(*event));
      } else if (auto message = otlp::synth_span_message(e)) {
        b.add(placed, timestamp_of(e.time_unix_nano), step_at, span, std::move(*message));
      }
    }
    if (kind != "session" && kind != "timestep") {
      b.add(placed, start, step_at, span, otlp::span_to_event(s, resource_of(s)));
    }
  }

  for (auto& [sid, b] : sessions) {
    b.finish(placed, copies);
    out.sessions.push_back(std::move(b.trace));
    out.origins.push_back(std::move(b.origins));
    out.unnamed.push_back(b.unnamed);
    out.rooted.push_back(b.has_root);
    if (traces.body_bytes > 0) {
      out.bytes.push_back(std::max<std::size_t>(1, static_cast<std::size_t>(traces.body_bytes * b.spans / out.spans)));
    }
  }
  if (memory != nullptr) {
    for (const auto& [trace, sid] : trace_session) {
      if (trace != sid && sessions.contains(sid) && memory->take_unnamed(trace)) out.named.emplace_back(trace, sid);
    }
  }
  return out;
}

OtlpMapped map_otlp_logs(const OtlpLogs& logs, TraceSessions* memory) {
  OtlpMapped out;
  Placed placed;
  std::map<std::string, Building, std::less<>> sessions;
  for (std::size_t i = 0; i < logs.logs.size(); ++i) {
    const OtlpLog& log = logs.logs[i];
    if (!log.event_name.starts_with("gen_ai.")) continue;
    std::optional<std::string> sid = session_key(log.attributes);
    if (!sid && memory != nullptr && !log.trace_id.empty()) sid = memory->find(log.trace_id);
    if (!sid && log.resource < logs.resources.size()) sid = session_key(logs.resources[log.resource]);
    bool unnamed = false;
    if (!sid && memory != nullptr) sid = memory->find_or_note_unnamed(log.trace_id);
    if (!sid && !log.trace_id.empty()) {
      sid = log.trace_id;
      unnamed = true;
    }
    if (!sid) {
      ++out.rejected_spans;
      if (out.error_message.empty()) {
        out.error_message = "log record " + std::to_string(i) + " ('" + log.event_name +
                            "') has no trace id (absent or all zero) and no session id";
      }
      continue;
    }
    ++out.spans;
    Building& b = sessions[*sid];
    b.trace.session_id = *sid;
    b.unnamed = unnamed;
    const Timestamp time = timestamp_of(log.time_unix_nano);
    if (b.trace.created_at == Timestamp{} || time < b.trace.created_at) b.trace.created_at = time;
    SessionEventMessage m;
    m.message_type = log.event_name;
    m.timestamp = time;
    m.content = Value{{"body", log.body}};
    if (!log.span_id.empty()) m.content.set("span_id", log.span_id);
    if (!log.attributes.empty()) m.content.set("attributes", log.attributes);
    const std::int32_t step = log.trace_id.empty() ? -1 : b.step(log.trace_id, time);
    b.add(placed, time, step, 0, std::move(m));
  }
  for (auto& [sid, b] : sessions) {
    b.finish(placed, TimestepCopies::made);  // the writer reads their timesteps (attach_late_logs)
    out.sessions.push_back(std::move(b.trace));
    out.unnamed.push_back(b.unnamed);
  }
  return out;
}

}  // namespace synth::tracing::server
