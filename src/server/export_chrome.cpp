// A session as Chrome Trace Event JSON (Perfetto): slices per lane, nested on each lane.
#include <algorithm>
#include <cstdio>

#include "server/exports.hpp"

namespace synth::tracing::server {

namespace {

constexpr int kPid = 1;

struct Slice {
  Timestamp start;
  Timestamp end;
  std::string name;
  const char* category;
  Value args;
};

// One kind's lanes: a slice goes to the first lane where it nests (starts after the lane's open
// slices end, or inside the innermost one), else to a new lane.
struct Lanes {
  const char* name;
  std::vector<std::vector<Timestamp>> open_ends;  // per lane, the ends of its open slices, innermost last
  std::vector<std::vector<Slice>> slices;

  void add(Slice s) {
    for (std::size_t lane = 0; lane < open_ends.size(); ++lane) {
      auto& ends = open_ends[lane];
      while (!ends.empty() && ends.back() <= s.start) ends.pop_back();
      if (ends.empty() || s.end <= ends.back()) {
        ends.push_back(s.end);
        slices[lane].push_back(std::move(s));
        return;
      }
    }
    open_ends.push_back({s.end});
    slices.push_back({});
    slices.back().push_back(std::move(s));
  }
};

Value cais_args(const CAISEvent& e) {
  Value args = Value::object();
  if (e.model_name) args.set("model", *e.model_name);
  if (e.provider) args.set("provider", *e.provider);
  if (e.prompt_tokens) args.set("prompt_tokens", *e.prompt_tokens);
  if (e.completion_tokens) args.set("completion_tokens", *e.completion_tokens);
  if (e.total_tokens) args.set("total_tokens", *e.total_tokens);
  if (e.cached_tokens) args.set("cached_tokens", *e.cached_tokens);
  if (e.cost) args.set("cost_usd", *e.cost);
  if (e.latency_ms) args.set("latency_ms", *e.latency_ms);
  return args;
}

Value event_args(const Event& event) {
  Value args = std::visit(
      [](const auto& e) -> Value {
        using T = std::decay_t<decltype(e)>;
        if constexpr (std::is_same_v<T, CAISEvent>) {
          return cais_args(e);
        } else if constexpr (std::is_same_v<T, EnvironmentEvent>) {
          Value a = Value::object();
          if (e.reward) a.set("reward", *e.reward);
          if (e.terminated) a.set("terminated", *e.terminated);
          if (e.truncated) a.set("truncated", *e.truncated);
          return a;
        } else {
          return Value::object();
        }
      },
      event);
  args.set("system", system_instance_id(event));
  if (const Value& error = metadata(event)["error"]; !error.is_null()) args.set("error", error);
  return args;
}

}  // namespace

std::string chrome_trace_json(const SessionTrace& trace) {
  // The session's start: times are microseconds from here.
  Timestamp origin = trace.created_at;
  const auto earlier = [&](Timestamp t) {
    if (t.time_since_epoch().count() != 0 && (origin.time_since_epoch().count() == 0 || t < origin)) origin = t;
  };
  for (const auto& e : trace.event_history) earlier(time_record(e) ? time_record(e)->event_time : Timestamp{});
  for (const auto& s : trace.session_time_steps) earlier(s.timestamp);
  for (const auto& m : trace.message_history) earlier(m.timestamp);
  // An item without a time is placed at the start, not at the epoch decades before it.
  const auto placed = [&](Timestamp t) { return t.time_since_epoch().count() == 0 ? origin : t; };

  Lanes steps{"timesteps"}, llm{"llm"}, env{"env"}, runtime{"runtime"};
  struct Instant {
    Timestamp at;
    std::string name;
    Value args;
  };
  std::vector<Instant> messages;
  std::vector<std::pair<Timestamp, std::pair<const char*, double>>> counters;  // (time, (name, delta))

  std::vector<const Event*> events;
  for (const auto& e : trace.event_history) events.push_back(&e);
  const auto start_of = [&](const Event& e) { return placed(time_record(e) ? time_record(e)->event_time : Timestamp{}); };
  std::stable_sort(events.begin(), events.end(), [&](const Event* a, const Event* b) {
    const Timestamp sa = start_of(*a), sb = start_of(*b);
    return sa != sb ? sa < sb : event_end(*a) > event_end(*b);  // an enclosing slice first
  });
  Timestamp last_end = origin;
  for (const Event* e : events) {
    const Timestamp start = start_of(*e);
    const Timestamp end = std::max(start, event_end(*e));
    last_end = std::max(last_end, end);
    Slice s{start, end, event_name(*e), event_type_name(event_type(*e)).data(), event_args(*e)};
    switch (event_type(*e)) {
      case EventType::cais:
        if (const auto* c = std::get_if<CAISEvent>(e); c->cost) counters.push_back({end, {"cost_usd", *c->cost}});
        llm.add(std::move(s));
        break;
      case EventType::environment:
        if (const auto* v = std::get_if<EnvironmentEvent>(e); v->reward) counters.push_back({end, {"reward", *v->reward}});
        env.add(std::move(s));
        break;
      case EventType::runtime:
        runtime.add(std::move(s));
        break;
    }
  }
  for (const auto& m : trace.message_history) {
    last_end = std::max(last_end, placed(m.timestamp));
    messages.push_back(Instant{placed(m.timestamp), m.message_type, Value{{"content", m.content}}});
  }
  // A timestep lasts until the next one starts; the last one until the session's last item.
  const auto& st = trace.session_time_steps;
  for (std::size_t i = 0; i < st.size(); ++i) {
    const Timestamp start = placed(st[i].timestamp);
    const Timestamp end = i + 1 < st.size() ? std::max(start, placed(st[i + 1].timestamp)) : std::max(start, last_end);
    steps.add(Slice{start, end, st[i].step_id, "timestep",
                    Value{{"turn", st[i].turn_number}, {"step_index", st[i].step_index}}});
  }

  const auto micros = [&](Timestamp t) {
    return static_cast<double>((t - origin).count()) / 1000.0;  // nanoseconds -> microseconds
  };
  Value::Array out;
  const auto metadata_event = [&](const char* name, int tid, Value args) {
    Value m{{"ph", "M"}, {"pid", kPid}};
    if (tid > 0) m.set("tid", tid);
    m.set("name", name);
    m.set("args", std::move(args));
    out.push_back(std::move(m));
  };
  metadata_event("process_name", 0, Value{{"name", "session " + trace.session_id}});
  int tid = 0;
  for (Lanes* lanes : {&steps, &llm, &env, &runtime}) {
    for (std::size_t lane = 0; lane < lanes->slices.size(); ++lane) {
      ++tid;
      std::string lane_name = lanes->name;  // appended to: GCC 12 warns of "a" + std::string&& here
      if (lane > 0) lane_name += ' ' + std::to_string(lane + 1);
      metadata_event("thread_name", tid, Value{{"name", std::move(lane_name)}});
      metadata_event("thread_sort_index", tid, Value{{"sort_index", tid}});
      for (Slice& s : lanes->slices[lane]) {
        out.push_back(Value{{"ph", "X"},
                            {"pid", kPid},
                            {"tid", tid},
                            {"ts", micros(s.start)},
                            {"dur", micros(s.end) - micros(s.start)},
                            {"name", std::move(s.name)},
                            {"cat", s.category},
                            {"args", std::move(s.args)}});
      }
    }
  }
  if (!messages.empty()) {
    ++tid;
    metadata_event("thread_name", tid, Value{{"name", "messages"}});
    metadata_event("thread_sort_index", tid, Value{{"sort_index", tid}});
    for (Instant& m : messages) {
      out.push_back(Value{{"ph", "i"},
                          {"s", "t"},
                          {"pid", kPid},
                          {"tid", tid},
                          {"ts", micros(m.at)},
                          {"name", std::move(m.name)},
                          {"cat", "message"},
                          {"args", std::move(m.args)}});
    }
  }
  std::stable_sort(counters.begin(), counters.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  double reward = 0, cost = 0;
  for (const auto& [at, change] : counters) {
    double& total = std::string_view(change.first) == "reward" ? reward : cost;
    total += change.second;
    out.push_back(Value{{"ph", "C"},
                        {"pid", kPid},
                        {"ts", micros(at)},
                        {"name", std::string("cumulative ") + change.first},
                        {"args", Value{{change.first, total}}}});
  }
  return Value{{"traceEvents", Value(std::move(out))}, {"displayTimeUnit", "ms"}}.dump();
}

}  // namespace synth::tracing::server
