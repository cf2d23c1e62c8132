// synth-trace sessions / show / stats / query / migrate: looking at what is stored.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <unordered_map>

#include <synth/tracing.hpp>

#include "cli.hpp"

namespace synth_trace {

namespace {

// A session's status, as a scalar subquery on session_summary: that of its last session_status
// metadata entry ("aborted": recovered after its process died, or ended by end_all_sessions or a
// signal), else "ended".
constexpr std::string_view kStatusColumn =
    "(SELECT COALESCE(list_filter(CAST(t.metadata AS JSON[]), m -> json_extract_string(m, '$.metadata_type') = "
    "'session_status')[-1] ->> '$.data.status', 'ended') FROM session_traces t "
    "WHERE t.session_id = session_summary.session_id)";

std::string shorten(std::string s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max - 3;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;  // whole UTF-8 characters
  return s.substr(0, cut) + "...";
}

std::string money(double usd) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.6f", usd);
  return buf;
}

std::string millis(double ms) {
  char buf[32];
  if (ms < 10) {
    std::snprintf(buf, sizeof buf, "%.2f ms", ms);
  } else if (ms < 10000) {
    std::snprintf(buf, sizeof buf, "%.0f ms", ms);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f s", ms / 1000);
  }
  return buf;
}

std::string number(double d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", d);
  return buf;
}

// One line for an event in `show`.
std::string describe(const st::Event& event) {
  std::string out(st::event_type_name(st::event_type(event)));
  out += "  " + st::system_instance_id(event);
  if (const auto* c = std::get_if<st::CAISEvent>(&event)) {
    if (c->model_name) out += "  " + *c->model_name + (c->provider ? " (" + *c->provider + ")" : "");
    if (c->prompt_tokens || c->completion_tokens) {
      out += "  " + std::to_string(c->prompt_tokens.value_or(0)) + "+" + std::to_string(c->completion_tokens.value_or(0)) +
             " tokens";
    }
    if (c->cost) out += "  " + money(*c->cost);
    if (c->latency_ms) out += "  " + millis(*c->latency_ms);
  } else if (const auto* e = std::get_if<st::EnvironmentEvent>(&event)) {
    if (e->reward) out += "  reward " + number(*e->reward);
    if (e->terminated.value_or(false)) out += "  terminated";
    if (e->truncated.value_or(false)) out += "  truncated";
    if (!e->observation_diff.is_null()) out += "  " + shorten(e->observation_diff.dump(), 60);
  } else if (const auto* r = std::get_if<st::RuntimeEvent>(&event)) {
    if (!r->actions.is_null()) out += "  actions " + shorten(r->actions.dump(), 60);
  }
  if (const st::Value& error = st::metadata(event)["error"]; !error.is_null()) {
    out += "  ERROR " + shorten(error.is_string() ? error.as_string() : error.dump(), 80);
  }
  return out;
}

std::string describe(const st::SessionEventMessage& m) {
  std::string out = "message " + m.message_type;
  const st::Value& origin = m.content["origin_system_id"];
  if (origin.is_string()) {
    out += "  from " + origin.as_string() + ": " + shorten(m.content["payload"].dump(), 80);
  } else {
    out += ": " + shorten(m.content.dump(), 80);
  }
  return out;
}

st::Timestamp time_of(const st::Event& e) {
  const auto& tr = st::time_record(e);
  return tr ? tr->event_time : st::Timestamp{};
}

st::Timestamp time_of(const st::SessionEventMessage& m) {
  if (m.time_record && m.time_record->event_time.time_since_epoch().count() != 0) return m.time_record->event_time;
  return m.timestamp;
}

// The timestep's events and messages, merged by time (stable: equal times keep recording order).
std::vector<std::pair<st::Timestamp, std::string>> lines_of(const st::SessionTimeStep& step) {
  std::vector<std::pair<st::Timestamp, std::string>> lines;
  for (const auto& m : step.step_messages) lines.emplace_back(time_of(m), describe(m));
  const std::size_t messages = lines.size();
  for (const auto& e : step.events) lines.emplace_back(time_of(e), describe(e));
  std::inplace_merge(lines.begin(), lines.begin() + static_cast<std::ptrdiff_t>(messages), lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
  return lines;
}

template <class Number>
std::optional<Number> whole_number(std::string_view text) {
  Number n{};
  const auto r = std::from_chars(text.data(), text.data() + text.size(), n);
  if (r.ec != std::errc() || r.ptr != text.data() + text.size() || text.empty()) return std::nullopt;
  return n;
}

// A --param value: the text as given ("007" stays "007"), or TYPE:VALUE for another type (int,
// float, bool, null, or text to keep a text that starts like one of those).
st::Value parse_param(const std::string& param) {
  const auto colon = param.find(':');
  if (colon == std::string::npos) return st::Value(param);
  const std::string_view type = std::string_view(param).substr(0, colon);
  const std::string_view value = std::string_view(param).substr(colon + 1);
  const auto bad = [&](const char* expected) {
    return UsageError("--param \"" + param + "\": \"" + std::string(value) + "\" is not " + expected +
                      " (write --param text:" + param + " to bind this text)");
  };
  if (type == "text") return st::Value(value);
  if (type == "int") {
    if (const auto i = whole_number<std::int64_t>(value)) return st::Value(*i);
    throw bad("an integer");
  }
  if (type == "float") {
    if (const auto d = whole_number<double>(value)) return st::Value(*d);
    throw bad("a number");
  }
  if (type == "bool") {
    if (value == "true" || value == "false") return st::Value(value == "true");
    throw bad("true or false");
  }
  if (type == "null") {
    if (value.empty()) return st::Value();
    throw bad("empty (null: binds NULL)");
  }
  return st::Value(param);  // a text with a colon, such as a URL
}

// `show` prints trace content, which may hold terminal escape sequences: every line goes out
// with its control characters made visible.
void print_line(std::string_view line) { std::cout << st::terminal_safe(line) << "\n"; }

st::Timestamp parse_time_option(const char* option, const std::string& text) {
  if (auto t = st::parse_timestamp(text)) return *t;
  throw UsageError(std::string(option) + " \"" + text + "\" is not an ISO-8601 time (e.g. 2025-01-31 or 2025-01-31T12:00:00Z)");
}

}  // namespace

int run_sessions(const Target& target, const SessionsOptions& options) {
  std::string where;
  std::vector<st::Value> params;
  const auto add = [&](const char* condition, st::Value v) {
    where += where.empty() ? " WHERE " : " AND ";
    where += condition;
    params.push_back(std::move(v));
  };
  if (options.experiment) add("experiment_id = ?", st::Value(*options.experiment));
  if (options.since) add("created_at >= CAST(? AS TIMESTAMP)", st::format_timestamp(parse_time_option("--since", *options.since)));
  if (options.until) add("created_at <= CAST(? AS TIMESTAMP)", st::format_timestamp(parse_time_option("--until", *options.until)));
  params.emplace_back(options.limit);
  const auto store = open_for_reading(target);
  print(store->query("SELECT session_id, created_at, num_timesteps AS steps, num_events AS events, num_messages AS messages, "
                    "models_used, total_tokens_used AS tokens, total_cost AS cost_usd, total_reward AS reward, "
                    "experiment_id, " + std::string(kStatusColumn) + " AS status FROM session_summary" + where +
                        " ORDER BY created_at DESC, session_id LIMIT ?",
                    params),
        options.format);
  return kOk;
}

int run_show(const Target& target, const std::string& session_id) {
  const auto store = open_for_reading(target);
  const auto trace = store->load_trace(session_id);
  if (!trace) {
    std::cerr << "synth-trace: no session '" << st::terminal_safe(session_id) << "' in " << target.db.string()
              << " (list them with `synth-trace sessions`)\n";
    return kBadInput;
  }
  std::int64_t tokens = 0;
  double cost = 0;
  double reward = 0;
  for (const auto& e : trace->event_history) {
    if (const auto* c = std::get_if<st::CAISEvent>(&e)) {
      tokens += c->total_tokens.value_or(c->prompt_tokens.value_or(0) + c->completion_tokens.value_or(0));
      cost += c->cost.value_or(0);
    } else if (const auto* env = std::get_if<st::EnvironmentEvent>(&e)) {
      reward += env->reward.value_or(0);
    }
  }
  print_line("session " + trace->session_id + "   created " + st::format_timestamp(trace->created_at));
  print_line("  " + std::to_string(trace->session_time_steps.size()) + " timesteps, " +
             std::to_string(trace->event_history.size()) + " events, " + std::to_string(trace->message_history.size()) +
             " messages, " + std::to_string(tokens) + " tokens, " + money(cost) + ", reward " + number(reward));
  for (const auto& m : trace->session_metadata) print_line("  " + m.metadata_type + ": " + shorten(m.data.dump(), 100));
  const auto& steps = trace->session_time_steps;
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const bool last_step = i + 1 == steps.size();
    const auto lines = lines_of(steps[i]);
    // A timestep lasts until the next one starts (the last: until its last item).
    st::Timestamp end = last_step ? (lines.empty() ? steps[i].timestamp : lines.back().first) : steps[i + 1].timestamp;
    const double ms = std::chrono::duration<double, std::milli>(end - steps[i].timestamp).count();
    std::string head = (last_step ? "└── " : "├── ") + steps[i].step_id + "  turn " + std::to_string(steps[i].turn_number);
    if (steps[i].timestamp.time_since_epoch().count() != 0 && ms >= 0) head += "  " + millis(ms);
    if (!steps[i].step_metadata.empty()) head += "  " + shorten(steps[i].step_metadata.dump(), 60);
    print_line(head);
    for (std::size_t j = 0; j < lines.size(); ++j) {
      print_line(std::string(last_step ? "    " : "│   ") + (j + 1 == lines.size() ? "└── " : "├── ") + lines[j].second);
    }
  }
  // Items recorded outside any timestep: history items with no equal item left in a timestep.
  const auto outside = [&](const auto& history, auto in_step) {
    using Item = std::decay_t<decltype(history.front())>;
    std::unordered_map<std::int64_t, std::vector<const Item*>> in_steps;  // by time, then equality
    for (const auto& s : steps) {
      for (const auto& item : s.*in_step) in_steps[time_of(item).time_since_epoch().count()].push_back(&item);
    }
    std::vector<const Item*> out;
    for (const auto& item : history) {
      auto& candidates = in_steps[time_of(item).time_since_epoch().count()];
      const auto it = std::find_if(candidates.begin(), candidates.end(), [&](const Item* c) { return *c == item; });
      if (it == candidates.end()) {
        out.push_back(&item);
      } else {
        candidates.erase(it);
      }
    }
    return out;
  };
  const auto events_outside = outside(trace->event_history, &st::SessionTimeStep::events);
  const auto messages_outside = outside(trace->message_history, &st::SessionTimeStep::step_messages);
  if (!events_outside.empty() || !messages_outside.empty()) {
    print_line("outside timesteps:");
    for (const auto* e : events_outside) print_line("    " + describe(*e));
    for (const auto* m : messages_outside) print_line("    " + describe(*m));
  }
  return kOk;
}

int run_stats(const Target& target, const StatsOptions& options) {
  const auto store = open_for_reading(target);
  const st::QueryResult models = store->query(
      "SELECT * FROM model_usage_stats ORDER BY total_cost DESC NULLS LAST, call_count DESC, model_name");
  const st::QueryResult sessions = store->query(
      "SELECT session_id, num_events AS events, total_tokens_used AS tokens, total_cost AS cost_usd, "
      "total_reward AS reward, " + std::string(kStatusColumn) + " AS status FROM session_summary "
      "ORDER BY total_cost DESC NULLS LAST, session_id LIMIT ?",
      {st::Value(options.top)});
  const st::QueryResult totals = store->query(
      "SELECT (SELECT COUNT(*) FROM session_traces) AS sessions, COUNT(*) AS events, "
      "COUNT(*) FILTER (WHERE event_type = 'cais') AS llm_calls, "
      "SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS tokens, SUM(cost) AS cost_usd, "
      "SUM(reward) AS reward, (SELECT COUNT(*) FROM messages) AS messages, "
      "(SELECT COUNT(*) FROM session_summary WHERE " + std::string(kStatusColumn) + " = 'aborted') AS aborted_sessions "
      "FROM events");
  if (options.format == Format::json) {
    std::cout << "{\"models\": " << models.to_json() << ",\n\"sessions\": " << sessions.to_json()
              << ",\n\"totals\": " << totals.to_json() << "}\n";
    return kOk;
  }
  const auto section = [&](const char* title, const st::QueryResult& r) {
    std::cout << (options.format == Format::csv ? "# " : "") << title << "\n";
    print(r, options.format);
    std::cout << "\n";
  };
  section("usage by model and provider", models);
  section("most expensive sessions", sessions);
  section("totals", totals);
  return kOk;
}

int run_query(const Target& target, const QueryOptions& options) {
  std::vector<st::Value> params;
  for (const auto& p : options.params) params.push_back(parse_param(p));
  if (!options.write) {
    const auto store = open_for_reading(target);
    try {
      print(store->query(options.sql, params), options.format);
    } catch (const st::StorageError& e) {
      if (std::string_view(e.what()).find("read-only") == std::string_view::npos) throw;
      throw st::StorageError(std::string(e.what()) + "\n(query opens the database read-only: add --write to change it)");
    }
    return kOk;
  }
  refuse_if_served(target, "query --write");
  st::DuckDBTraceManager store(target.db);
  print(store.query(options.sql, params), options.format);
  return kOk;
}

int run_migrate(const Target& target) {
  const std::filesystem::path& db = target.db;
  refuse_if_served(target, "migrate");
  if (!std::filesystem::exists(db)) {
    throw st::StorageError("no trace database at '" + db.string() + "': nothing to migrate (--db / SYNTH_TRACING_DB)");
  }
  st::DuckDBTraceManager store(db);  // a writable open migrates, reporting what it changed
  const st::QueryResult version = store.query("SELECT MAX(version) FROM synth_tracing_schema");
  std::cout << "trace database '" << db.string() << "' is at schema version " << version.rows.at(0).at(0).dump()
            << "\n";
  return kOk;
}

}  // namespace synth_trace
