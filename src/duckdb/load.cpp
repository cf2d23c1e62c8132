// Reading a stored session back (DuckDBTraceManager::load_trace and the trace server's readers),
// and the Parquet export statement.
#include <map>

#include "duckdb/access.hpp"

namespace synth::tracing::detail::duck {

namespace {

std::vector<Value> array_to_values(const Value& v) {
  if (!v.is_array()) return {};
  return v.as_array();
}

std::string sql_string_literal(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

}  // namespace

Value parse_json_column(Result& r, std::size_t col, std::size_t row, const std::string& db) {
  auto text = r.text(col, row);
  if (!text) return Value();
  return Value::parse(*text, db);
}

std::optional<SessionTrace> load_trace(Connection& conn, std::string_view session_id) {
  const std::string& db = conn.name();
  SessionTrace t;
  {
    Prepared stmt(conn, "SELECT session_id, created_at, metadata FROM session_traces WHERE session_id = ?");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    if (r.rows() == 0) return std::nullopt;
    t.session_id = r.text(0, 0).value_or("");
    t.created_at = r.timestamp(1, 0);
    const Value metadata = parse_json_column(r, 2, 0, db);
    if (metadata.is_array()) {
      for (const Value& m : metadata.as_array()) {
        SessionMetadataEntry entry;
        entry.metadata_type = m["metadata_type"].is_string() ? m["metadata_type"].as_string() : "";
        entry.data = m["data"];
        if (m["timestamp"].is_string()) entry.timestamp = parse_timestamp(m["timestamp"].as_string()).value_or(Timestamp{});
        t.session_metadata.push_back(std::move(entry));
      }
    }
  }
  std::map<std::int64_t, std::size_t> step_of_id;  // session_timesteps.id -> index
  {
    Prepared stmt(conn,
                  "SELECT id, step_id, step_index, turn_number, timestamp, step_metadata FROM session_timesteps "
                  "WHERE session_id = ? ORDER BY id");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    for (std::size_t row = 0; row < r.rows(); ++row) {
      SessionTimeStep step;
      step.step_id = r.text(1, row).value_or("");
      step.step_index = r.integer(2, row).value_or(0);
      step.turn_number = r.integer(3, row).value_or(0);
      step.timestamp = r.timestamp(4, row);
      step.step_metadata = parse_json_column(r, 5, row, db);
      step_of_id[r.integer(0, row).value_or(0)] = t.session_time_steps.size();
      t.session_time_steps.push_back(std::move(step));
    }
  }
  const auto time_record_at = [](Result& r, std::size_t time_col, std::size_t turn_col,
                                 std::size_t row) -> std::optional<TimeRecord> {
    const auto turn = r.integer(turn_col, row);
    if (!turn && r.is_null(time_col, row)) return std::nullopt;
    return TimeRecord{r.timestamp(time_col, row), turn.value_or(0)};
  };
  // Items go to the history by history_index and to their timestep by step_position.
  struct Slot {
    std::int64_t order;
    std::size_t item;
  };
  {
    Prepared stmt(conn,
                  "SELECT timestep_id, event_type, system_instance_id, event_time, message_time, span_id, trace_id, "
                  "model_name, event_provider, prompt_tokens, completion_tokens, total_tokens, cached_tokens, "
                  "reasoning_tokens, cost, latency_ms, reward, terminated, truncated, system_state_before, "
                  "system_state_after, metadata, event_metadata, llm_call_records, observation_diff, actions, "
                  "history_index, step_position, cache_write_tokens FROM events WHERE session_id = ? ORDER BY id");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    std::vector<Event> events;
    std::vector<Slot> history;
    std::vector<std::vector<Slot>> in_steps(t.session_time_steps.size());
    for (std::size_t row = 0; row < r.rows(); ++row) {
      const auto type = parse_event_type(r.text(1, row).value_or(""));
      if (!type) throw StorageError("'" + db + "': unknown event_type in events of session '" + std::string(session_id) + "'");
      const auto fill_common = [&](auto& e) {
        e.time_record = time_record_at(r, 3, 4, row);
        e.system_instance_id = r.text(2, row).value_or("");
        e.system_state_before = parse_json_column(r, 19, row, db);
        e.system_state_after = parse_json_column(r, 20, row, db);
        e.metadata = parse_json_column(r, 21, row, db);
        e.event_metadata = array_to_values(parse_json_column(r, 22, row, db));
      };
      switch (*type) {
        case EventType::cais: {
          CAISEvent e;
          fill_common(e);
          e.span_id = r.text(5, row);
          e.trace_id = r.text(6, row);
          e.model_name = r.text(7, row);
          e.provider = r.text(8, row);
          e.prompt_tokens = r.integer(9, row);
          e.completion_tokens = r.integer(10, row);
          e.total_tokens = r.integer(11, row);
          e.cached_tokens = r.integer(12, row);
          e.cache_write_tokens = r.integer(28, row);
          e.reasoning_tokens = r.integer(13, row);
          e.cost = r.number(14, row);
          e.latency_ms = r.number(15, row);
          e.llm_call_records = array_to_values(parse_json_column(r, 23, row, db));
          events.emplace_back(std::move(e));
          break;
        }
        case EventType::environment: {
          EnvironmentEvent e;
          fill_common(e);
          e.reward = r.number(16, row);
          e.terminated = r.boolean(17, row);
          e.truncated = r.boolean(18, row);
          e.observation_diff = parse_json_column(r, 24, row, db);
          events.emplace_back(std::move(e));
          break;
        }
        case EventType::runtime: {
          RuntimeEvent e;
          fill_common(e);
          e.actions = parse_json_column(r, 25, row, db);
          events.emplace_back(std::move(e));
          break;
        }
      }
      if (auto h = r.integer(26, row)) history.push_back({*h, row});
      if (auto step_row = r.integer(0, row)) {
        const auto it = step_of_id.find(*step_row);
        if (it != step_of_id.end()) in_steps[it->second].push_back({r.integer(27, row).value_or(0), row});
      }
    }
    const auto by_order = [](const Slot& a, const Slot& b) { return a.order < b.order; };
    std::sort(history.begin(), history.end(), by_order);
    for (std::size_t s = 0; s < in_steps.size(); ++s) {
      std::sort(in_steps[s].begin(), in_steps[s].end(), by_order);
      for (const Slot& slot : in_steps[s]) t.session_time_steps[s].events.push_back(events[slot.item]);
    }
    for (const Slot& slot : history) t.event_history.push_back(std::move(events[slot.item]));
  }
  {
    Prepared stmt(conn,
                  "SELECT timestep_id, message_type, content, timestamp, event_time, message_time, history_index, "
                  "step_position FROM messages WHERE session_id = ? ORDER BY id");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    std::vector<SessionEventMessage> messages;
    std::vector<Slot> history;
    std::vector<std::vector<Slot>> in_steps(t.session_time_steps.size());
    for (std::size_t row = 0; row < r.rows(); ++row) {
      SessionEventMessage m;
      m.message_type = r.text(1, row).value_or("unknown");
      m.content = parse_json_column(r, 2, row, db);
      m.timestamp = r.timestamp(3, row);
      m.time_record = time_record_at(r, 4, 5, row);
      messages.push_back(std::move(m));
      if (auto h = r.integer(6, row)) history.push_back({*h, row});
      if (auto step_row = r.integer(0, row)) {
        const auto it = step_of_id.find(*step_row);
        if (it != step_of_id.end()) in_steps[it->second].push_back({r.integer(7, row).value_or(0), row});
      }
    }
    const auto by_order = [](const Slot& a, const Slot& b) { return a.order < b.order; };
    std::sort(history.begin(), history.end(), by_order);
    for (std::size_t s = 0; s < in_steps.size(); ++s) {
      std::sort(in_steps[s].begin(), in_steps[s].end(), by_order);
      for (const Slot& slot : in_steps[s]) t.session_time_steps[s].step_messages.push_back(messages[slot.item]);
    }
    for (const Slot& slot : history) t.message_history.push_back(std::move(messages[slot.item]));
  }
  return t;
}

std::string parquet_export_sql(std::string_view table, const std::filesystem::path& file) {
  // COPY takes no bound parameter for its file: the path is quoted as a literal instead.
  return "COPY (SELECT * FROM " + std::string(table) + " ORDER BY ALL) TO " + sql_string_literal(file.string()) +
         " (FORMAT parquet, COMPRESSION zstd)";
}

}  // namespace synth::tracing::detail::duck
