#include <map>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include "diagnostics.hpp"
#include "duckdb/access.hpp"
#include "duckdb/connection.hpp"
#include "duckdb/migration.hpp"
#include "duckdb/schema.hpp"
#include "duckdb/session_stats.hpp"
#include "json/reader.hpp"
#include "json/writer.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing {

namespace {
using detail::duck::Appender;
using detail::duck::Connection;
using detail::duck::parse_json_column;
using detail::duck::Prepared;
using detail::duck::Refused;
using detail::duck::Result;

// Where one stored item sits: its position in the history and/or its timestep.
struct Placement {
  std::optional<std::int64_t> history_index;
  std::optional<std::int64_t> step;  // index into session_time_steps
  std::optional<std::int64_t> step_position;
};

// Pairs each timestep item with an equal, not yet paired history item, so an item that appears
// in both places is stored once. Items only in a timestep or only in the history keep one place.
template <class Item, class KeyOf>
std::vector<std::pair<const Item*, Placement>> place_items(const std::vector<Item>& history,
                                                           const std::vector<SessionTimeStep>& steps,
                                                           const std::vector<Item> SessionTimeStep::*in_step,
                                                           KeyOf key_of) {
  std::vector<Placement> history_places(history.size());
  for (std::size_t h = 0; h < history.size(); ++h) history_places[h].history_index = static_cast<std::int64_t>(h);
  std::vector<std::pair<const Item*, Placement>> out;
  out.reserve(history.size());
  // The usual case (SessionTracer records them so): the history is the timesteps' items in
  // order. The pairing below would pair them by position too (each step item takes the first
  // unpaired equal history item); checked item by item, without its keys and maps.
  std::size_t position = 0;
  bool in_order = true;
  for (std::size_t s = 0; s < steps.size() && in_order; ++s) {
    const auto& items = steps[s].*in_step;
    for (std::size_t p = 0; p < items.size(); ++p, ++position) {
      if (position >= history.size() || !(history[position] == items[p])) {
        in_order = false;
        break;
      }
      history_places[position].step = static_cast<std::int64_t>(s);
      history_places[position].step_position = static_cast<std::int64_t>(p);
    }
  }
  if (in_order && position == history.size()) {
    for (std::size_t h = 0; h < history.size(); ++h) out.push_back({&history[h], history_places[h]});
    return out;
  }
  for (std::size_t h = 0; h < history.size(); ++h) history_places[h] = Placement{static_cast<std::int64_t>(h), {}, {}};
  std::unordered_map<std::string, std::vector<std::size_t>> unpaired;  // key -> history indices
  for (std::size_t h = 0; h < history.size(); ++h) unpaired[key_of(history[h])].push_back(h);
  std::vector<std::pair<const Item*, Placement>> step_only;
  for (std::size_t s = 0; s < steps.size(); ++s) {
    const auto& items = steps[s].*in_step;
    for (std::size_t p = 0; p < items.size(); ++p) {
      auto it = unpaired.find(key_of(items[p]));
      bool paired = false;
      if (it != unpaired.end()) {
        auto& candidates = it->second;
        for (auto c = candidates.begin(); c != candidates.end(); ++c) {
          if (history[*c] == items[p]) {
            history_places[*c].step = static_cast<std::int64_t>(s);
            history_places[*c].step_position = static_cast<std::int64_t>(p);
            candidates.erase(c);
            paired = true;
            break;
          }
        }
      }
      if (!paired) {
        step_only.push_back({&items[p], Placement{std::nullopt, static_cast<std::int64_t>(s), static_cast<std::int64_t>(p)}});
      }
    }
  }
  out.reserve(history.size() + step_only.size());
  for (std::size_t h = 0; h < history.size(); ++h) out.push_back({&history[h], history_places[h]});
  out.insert(out.end(), step_only.begin(), step_only.end());
  return out;
}

std::string time_key(const std::optional<TimeRecord>& tr) {
  if (!tr) return "-";
  return std::to_string(tr->event_time.time_since_epoch().count()) + "/" + std::to_string(tr->message_time);
}

std::string event_key(const Event& e) {
  return std::string(event_type_name(event_type(e))) + "|" + system_instance_id(e) + "|" + time_key(time_record(e));
}

std::string message_key(const SessionEventMessage& m) {
  return m.message_type + "|" + std::to_string(m.timestamp.time_since_epoch().count()) + "|" + time_key(m.time_record);
}

// What an event of another kind has in a kind's column: referenced, so that the conditionals in
// append_event copy nothing.
const Value kNoValue;
const std::optional<std::string> kNoText;

std::string placeholders(std::size_t n) {
  std::string out;
  for (std::size_t i = 0; i < n; ++i) out += i == 0 ? "?" : ", ?";
  return out;
}

// A WHERE clause built from lists of allowed values; values stay bound parameters.
struct Filter {
  std::string sql;
  std::vector<Value> params;
  void in(std::string_view column, const std::vector<std::string>& values) {
    if (values.empty()) return;
    sql += sql.empty() ? " WHERE " : " AND ";
    sql += std::string(column) + " IN (" + placeholders(values.size()) + ")";
    for (const auto& v : values) params.emplace_back(v);
  }
};

}  // namespace

// The first row ids of a batch: its rows are those from here on.
struct BatchStart {
  std::int64_t timestep;
  std::int64_t event;
  std::int64_t message;
};

struct DuckDBTraceManager::Impl {
  Impl(std::filesystem::path p, DuckDBOptions o) : path(std::move(p)), options(o), conn(path, o.read_only) {
    // Both kept by reopen().
    if (options.threads > 0) conn.exec("SET threads TO " + std::to_string(options.threads));
    if (options.memory_limit_mb > 0) conn.exec("SET memory_limit = '" + std::to_string(options.memory_limit_mb) + "MiB'");
    if (options.read_only) {
      detail::duck::check_schema_readable(conn);
    } else {
      detail::duck::prepare_schema(conn, options.indexes);
    }
    next_timestep_id = max_id("session_timesteps") + 1;
    next_event_id = max_id("events") + 1;
    next_message_id = max_id("messages") + 1;
    if (!options.read_only) {
      last_seq = detail::duck::query(conn, "SELECT COALESCE(MAX(seq), 0) FROM session_stats").integer(0, 0).value_or(0);
    }
  }

  std::int64_t max_id(const char* table) {
    Result r = detail::duck::query(conn, std::string("SELECT COALESCE(MAX(id), 0) FROM ") + table);
    return r.integer(0, 0).value_or(0);
  }

  QueryResult run(std::string_view sql, const std::vector<Value>& params) {
    Prepared stmt(conn, sql);
    if (stmt.parameter_count() != params.size()) {
      throw StorageError("query on '" + conn.name() + "' has " + std::to_string(stmt.parameter_count()) +
                         " placeholders but " + std::to_string(params.size()) + " values were given:\n  " +
                         std::string(sql));
    }
    for (std::size_t i = 0; i < params.size(); ++i) stmt.bind(i + 1, params[i]);
    return stmt.execute().to_query_result();
  }

  bool exists(std::string_view session_id) {
    if (!exists_stmt) exists_stmt.emplace(conn, "SELECT 1 FROM session_traces WHERE session_id = ?");
    exists_stmt->bind(1, session_id);
    return exists_stmt->execute().rows() > 0;
  }

  // Which of `traces` are stored: one query for a batch instead of one per session.
  std::unordered_set<std::string> stored_among(std::span<const SessionTrace> traces) {
    Value::Array ids;
    ids.reserve(traces.size());
    for (const SessionTrace& t : traces) ids.emplace_back(t.session_id);
    return stored_ids(std::move(ids));
  }
  std::unordered_set<std::string> stored_ids(Value::Array ids) {
    Prepared stmt(conn,
                  "SELECT session_id FROM session_traces "
                  "WHERE session_id IN (SELECT unnest(CAST(CAST(? AS JSON) AS VARCHAR[])))");
    stmt.bind(1, Value(std::move(ids)));
    Result r = stmt.execute();
    std::unordered_set<std::string> stored;
    for (std::size_t row = 0; row < r.rows(); ++row) stored.insert(r.text(0, row).value_or(""));
    return stored;
  }

  void delete_session(std::string_view session_id) {
    for (const char* table : {"events", "messages", "session_timesteps", "session_traces", "session_stats"}) {
      Prepared stmt(conn, std::string("DELETE FROM ") + table + " WHERE session_id = ?");
      stmt.bind(1, session_id);
      stmt.execute();
    }
  }

  struct Appenders {
    explicit Appenders(Connection& c)
        : sessions(c, "session_traces", detail::duck::schema_columns("session_traces")),
          steps(c, "session_timesteps", detail::duck::schema_columns("session_timesteps")),
          events(c, "events", detail::duck::schema_columns("events")),
          messages(c, "messages", detail::duck::schema_columns("messages")) {}
    void flush() {
      sessions.flush();
      steps.flush();
      events.flush();
      messages.flush();
    }
    Appender sessions, steps, events, messages;
  };

  // Throws Refused for a session the schema cannot hold, before anything is written: two
  // timesteps with one step_id (UNIQUE (session_id, step_id)), or text columns that are not
  // UTF-8 (DuckDB would fail the whole batch when it flushes).
  void validate(const SessionTrace& t) const {
    const auto refuse = [&](const std::string& why) {
      throw Refused("cannot store session '" + t.session_id + "' in '" + conn.name() + "': " + why);
    };
    const auto text = [&](std::string_view value, const char* field) {
      if (detail::first_invalid_utf8(value) != value.size()) refuse(std::string(field) + " is not valid UTF-8");
    };
    const auto optional_text = [&](const std::optional<std::string>& value, const char* field) {
      if (value) text(*value, field);
    };
    const auto event_texts = [&](const Event& e) {
      text(system_instance_id(e), "an event's system_instance_id");
      if (const auto* cais = std::get_if<CAISEvent>(&e)) {
        optional_text(cais->span_id, "an event's span_id");
        optional_text(cais->trace_id, "an event's trace_id");
        optional_text(cais->model_name, "an event's model_name");
        optional_text(cais->provider, "an event's provider");
      }
    };
    text(t.session_id, "the session id");
    std::unordered_set<std::string_view> step_ids;
    for (const SessionTimeStep& step : t.session_time_steps) {
      text(step.step_id, "a step_id");
      if (!step_ids.insert(step.step_id).second) {
        refuse("two timesteps have step_id '" + step.step_id + "' (step ids are unique within a session)");
      }
      for (const Event& e : step.events) event_texts(e);
      for (const SessionEventMessage& m : step.step_messages) text(m.message_type, "a message_type");
    }
    for (const Event& e : t.event_history) event_texts(e);
    for (const SessionEventMessage& m : t.message_history) text(m.message_type, "a message_type");
  }

  // Decides about an existing id by `on_existing`, then appends the session's rows. Throws
  // Refused when the session is refused before any row was appended.
  // `stored`: the ids among the batch's that were stored when it began (else asked one by one).
  detail::duck::Appended append(Appenders& a, const SessionTrace& t, std::unordered_set<std::string>& seen,
                                InsertSummary& summary, OnExistingSession on_existing, bool report_skip = true,
                                const std::unordered_set<std::string>* stored = nullptr) {
    using detail::duck::Appended;
    validate(t);
    const bool in_batch = seen.contains(t.session_id);
    if (!in_batch && !(stored ? stored->contains(t.session_id) : exists(t.session_id))) {
      ++summary.inserted;
      seen.insert(t.session_id);
      append_new(a, t);
      return Appended::inserted;
    }
    switch (on_existing) {
      case OnExistingSession::skip:
        ++summary.skipped;
        if (report_skip) detail::report("session '" + t.session_id + "' is already in '" + conn.name() + "'; skipped it");
        return Appended::skipped;
      case OnExistingSession::fail:
        throw Refused("session '" + t.session_id + "' is already in '" + conn.name() +
                      "' (use OnExistingSession::replace to overwrite it)");
      case OnExistingSession::replace:
        // Rows appended earlier in this batch are not visible to DELETE yet: flush them first.
        a.flush();
        delete_session(t.session_id);
        ++summary.replaced;
        seen.insert(t.session_id);
        append_new(a, t);
        return Appended::replaced;
      case OnExistingSession::merge:
        if (in_batch) a.flush();  // the stored part's rows must be visible to stored_part()
        ++summary.merged;
        seen.insert(t.session_id);
        append_rows(a, t, stored_part(t.session_id), nullptr);
        // Its aggregates come from its stored rows (a part of this batch's included), in SQL.
        pending_stats.erase(t.session_id);
        merged_ids.insert(t.session_id);
        return Appended::merged;
    }
    return Appended::skipped;
  }

  // What a merge continues from: the stored session's counts, timesteps and metadata.
  struct StoredPart {
    std::int64_t events = 0;    // history length: the next history_index
    std::int64_t messages = 0;
    Value::Array metadata;
    struct Step {
      std::int64_t id;
      std::int64_t events;  // the next step_position
      std::int64_t messages;
    };
    std::unordered_map<std::string, Step> steps;  // by step_id
  };

  StoredPart stored_part(std::string_view session_id) {
    StoredPart part;
    {
      Prepared stmt(conn, "SELECT num_events, num_messages, metadata FROM session_traces WHERE session_id = ?");
      stmt.bind(1, session_id);
      Result r = stmt.execute();
      part.events = r.integer(0, 0).value_or(0);
      part.messages = r.integer(1, 0).value_or(0);
      const Value metadata = parse_json_column(r, 2, 0, conn.name());
      if (metadata.is_array()) part.metadata = metadata.as_array();
    }
    Prepared stmt(conn, "SELECT step_id, id, num_events, num_messages FROM session_timesteps WHERE session_id = ?");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    for (std::size_t row = 0; row < r.rows(); ++row) {
      part.steps[r.text(0, row).value_or("")] =
          StoredPart::Step{r.integer(1, row).value_or(0), r.integer(2, row).value_or(0), r.integer(3, row).value_or(0)};
    }
    return part;
  }

  // Appends a session that is not stored (any more), with its aggregates for session_stats.
  void append_new(Appenders& a, const SessionTrace& t) {
    detail::duck::SessionStats stats(t.created_at);
    append_rows(a, t, std::nullopt, &stats);
    // A session merged earlier in this batch, then replaced: its rows are all new, and SQL counts them.
    if (!merged_ids.contains(t.session_id)) pending_stats.insert_or_assign(t.session_id, std::move(stats));
  }

  // Appends the session's rows, adding them to `stats` when given; with `into`, as a part of that
  // stored session (OnExistingSession::merge).
  void append_rows(Appenders& a, const SessionTrace& t, const std::optional<StoredPart>& into,
                   detail::duck::SessionStats* stats) {
    Value::Array metadata = into ? into->metadata : Value::Array{};
    for (const auto& m : t.session_metadata) {
      metadata.push_back(Value{{"metadata_type", m.metadata_type},
                               {"data", m.data},
                               {"timestamp", m.timestamp.time_since_epoch().count() == 0
                                                 ? Value()
                                                 : Value(format_timestamp(m.timestamp))}});
    }
    const std::int64_t history_events = into ? into->events : 0;
    const std::int64_t history_messages = into ? into->messages : 0;
    std::int64_t added_steps = 0;
    if (!into) {
      a.sessions.text(std::string_view(t.session_id))
          .timestamp(t.created_at)
          .integer(static_cast<std::int64_t>(t.session_time_steps.size()))
          .integer(static_cast<std::int64_t>(t.event_history.size()))
          .integer(static_cast<std::int64_t>(t.message_history.size()))
          .json(Value(std::move(metadata)))
          .null();
      a.sessions.end_row();
    }

    // Each timestep's row id, and where its new items start (after a stored step's own).
    struct StepRow {
      std::int64_t id;
      std::int64_t first_event = 0;
      std::int64_t first_message = 0;
    };
    std::vector<StepRow> step_rows(t.session_time_steps.size());
    for (std::size_t s = 0; s < t.session_time_steps.size(); ++s) {
      const SessionTimeStep& step = t.session_time_steps[s];
      if (into) {
        if (const auto stored = into->steps.find(step.step_id); stored != into->steps.end()) {
          step_rows[s] = StepRow{stored->second.id, stored->second.events, stored->second.messages};
          Prepared update(conn,
                          "UPDATE session_timesteps SET num_events = num_events + ?, num_messages = num_messages + ? "
                          "WHERE id = ?");
          update.bind(1, Value(step.events.size())).bind(2, Value(step.step_messages.size())).bind(3, Value(stored->second.id));
          update.execute();
          continue;
        }
      }
      ++added_steps;
      if (stats) stats->add_timestep();
      step_rows[s].id = next_timestep_id++;
      a.steps.integer(step_rows[s].id)
          .text(std::string_view(t.session_id))
          .text(std::string_view(step.step_id))
          .integer(step.step_index)
          .integer(step.turn_number)
          .timestamp(step.timestamp)
          .integer(static_cast<std::int64_t>(step.events.size()))
          .integer(static_cast<std::int64_t>(step.step_messages.size()))
          .json(step.step_metadata);
      a.steps.end_row();
    }
    // A placement within this part, shifted to follow the stored part.
    const auto placed = [&](Placement p, std::int64_t history_offset, std::int64_t StepRow::*step_offset) {
      std::optional<std::int64_t> step_id;
      if (p.history_index) *p.history_index += history_offset;
      if (p.step) {
        const StepRow& row = step_rows[static_cast<std::size_t>(*p.step)];
        step_id = row.id;
        *p.step_position += row.*step_offset;
      }
      return std::pair{step_id, p};
    };

    for (const auto& [event, place] :
         place_items(t.event_history, t.session_time_steps, &SessionTimeStep::events, event_key)) {
      const auto [step_id, at] = placed(place, history_events, &StepRow::first_event);
      const std::int64_t id = next_event_id;
      const std::optional<std::string> provider = append_event(a.events, t.session_id, *event, step_id, at);
      if (stats) stats->add_event(id, *event, provider);
    }
    for (const auto& [message, place] :
         place_items(t.message_history, t.session_time_steps, &SessionTimeStep::step_messages, message_key)) {
      const auto [step_id, at] = placed(place, history_messages, &StepRow::first_message);
      const auto& tr = message->time_record;
      if (stats) stats->add_message(next_message_id, *message);
      a.messages.integer(next_message_id++)
          .text(std::string_view(t.session_id))
          .integer(step_id)
          .text(std::string_view(message->message_type))
          .json(message->content)
          .timestamp(message->timestamp)
          .timestamp(tr ? tr->event_time : Timestamp{})
          .integer(tr ? std::optional<std::int64_t>(tr->message_time) : std::nullopt)
          .integer(at.history_index)
          .integer(at.step_position);
      a.messages.end_row();
    }
    if (into) {
      Prepared update(conn,
                      "UPDATE session_traces SET num_timesteps = num_timesteps + ?, num_events = num_events + ?, "
                      "num_messages = num_messages + ?, metadata = ?, created_at = least(created_at, ?) "
                      "WHERE session_id = ?");
      update.bind(1, Value(added_steps))
          .bind(2, Value(t.event_history.size()))
          .bind(3, Value(t.message_history.size()))
          .bind(4, Value(std::move(metadata)));
      if (t.created_at.time_since_epoch().count() == 0) {
        update.bind(5, Value());
      } else {
        update.bind_timestamp(5, t.created_at);
      }
      update.bind(6, std::string_view(t.session_id)).execute();
    }
  }

  // Stores the aggregates of the sessions appended since `from`, in the open transaction: those
  // computed while appending, and (in SQL) those of the merged sessions.
  void store_stats(const BatchStart& from) {
    if (!pending_stats.empty()) {
      Appender rows(conn, "session_stats", detail::duck::SessionStats::columns());
      for (const auto& [session_id, stats] : pending_stats) stats.append(rows, session_id, ++last_seq);
      rows.flush();
    }
    if (!merged_ids.empty()) {
      Value::Array ids;
      ids.reserve(merged_ids.size());
      for (const auto& id : merged_ids) ids.emplace_back(id);
      Prepared stmt(conn, detail::duck::kRefreshSessionStats);
      stmt.bind(1, Value(last_seq))
          .bind(2, Value(from.timestep))
          .bind(3, Value(from.event))
          .bind(4, Value(from.message))
          .bind(5, Value(std::move(ids)));
      stmt.execute();
      last_seq += static_cast<std::int64_t>(merged_ids.size());
    }
    forget_stats();
  }

  void forget_stats() noexcept {
    pending_stats.clear();
    merged_ids.clear();
  }

  BatchStart batch_start() const { return BatchStart{next_timestep_id, next_event_id, next_message_id}; }

  // The open batch: begun by the first append, ended by commit_batch().
  detail::duck::Appended append_to_batch(const SessionTrace& trace, OnExistingSession on_existing, bool report_skip,
                                         const std::unordered_set<std::string>* stored = nullptr) {
    std::lock_guard lock(mutex);
    if (!batch) {
      conn.exec("BEGIN TRANSACTION");
      try {
        batch.emplace(conn);
      } catch (...) {
        roll_back_batch();
        throw;
      }
      batch_from = batch_start();
      batch_seen.clear();
      forget_stats();
    }
    InsertSummary ignored;
    try {
      return append(*batch, trace, batch_seen, ignored, on_existing, report_skip, stored);
    } catch (const Refused&) {
      throw;  // nothing of this session was appended: the batch's other sessions stay
    } catch (...) {
      roll_back_batch();  // the batch may hold part of this session
      throw;
    }
  }

  void commit_batch() {
    std::lock_guard lock(mutex);
    if (!batch) return;
    try {
      batch->flush();
      batch.reset();
      // DuckDB accepts COMMIT of a transaction that a failed statement (of any caller of this
      // connection) aborted, and keeps nothing; any statement before it fails in that case.
      conn.exec("SELECT 1");
      store_stats(batch_from);
      commit();
    } catch (...) {
      roll_back_batch();
      throw;
    }
  }

  // Appends an events row; returns its provider column.
  std::optional<std::string> append_event(Appender& a, const std::string& session_id, const Event& event,
                                          std::optional<std::int64_t> timestep_id, const Placement& place) {
    const auto& tr = time_record(event);
    a.integer(next_event_id++)
        .text(std::string_view(session_id))
        .integer(timestep_id)
        .text(event_type_name(event_type(event)))
        .text(std::string_view(system_instance_id(event)))
        .timestamp(tr ? tr->event_time : Timestamp{})
        .integer(tr ? std::optional<std::int64_t>(tr->message_time) : std::nullopt);
    const auto* cais = std::get_if<CAISEvent>(&event);
    const auto* env = std::get_if<EnvironmentEvent>(&event);
    const auto* runtime = std::get_if<RuntimeEvent>(&event);
    std::optional<std::string> provider;
    if (cais) provider = cais->provider ? normalize_provider(*cais->provider) : detect_provider(cais->model_name.value_or(""));
    a.text(cais ? cais->span_id : kNoText)
        .text(cais ? cais->trace_id : kNoText)
        .text(cais ? cais->model_name : kNoText)
        .text(provider)
        .integer(cais ? cais->prompt_tokens : std::nullopt)
        .integer(cais ? cais->completion_tokens : std::nullopt)
        .integer(cais ? cais->total_tokens : std::nullopt)
        .integer(cais ? cais->cached_tokens : std::nullopt)
        .integer(cais ? cais->reasoning_tokens : std::nullopt)
        .number(cais ? cais->cost : std::nullopt)
        .number(cais ? cais->latency_ms : std::nullopt)
        .number(env ? env->reward : std::nullopt)
        .boolean(env ? env->terminated : std::nullopt)
        .boolean(env ? env->truncated : std::nullopt);
    std::visit([&](const auto& e) { a.json(e.system_state_before).json(e.system_state_after).json(e.metadata); }, event);
    a.json_array(event_metadata(event));
    if (cais) {
      a.json_array(cais->llm_call_records);
    } else {
      a.null();
    }
    a.json(env ? env->observation_diff : kNoValue)
        .json(runtime ? runtime->actions : kNoValue)
        .text(cais ? cais->provider : kNoText)
        .integer(place.history_index)
        .integer(place.step_position)
        .integer(cais ? cais->cache_write_tokens : std::nullopt);
    a.end_row();
    return provider;
  }

  // COMMIT. When it fails, DuckDB 1.4 has rolled back but keeps corrupt in-memory state (the
  // next commit stores wrong values): the database is opened again, with what was committed.
  void commit() {
    try {
      conn.exec("COMMIT");
    } catch (...) {
      exists_stmt.reset();  // prepared on the connection being closed
      try {
        conn.reopen();
      } catch (...) {
        // Every later call says the connection is closed; this failure is the one to report.
      }
      throw;
    }
  }

  // Runs `body` in one transaction; rolls back and rethrows on failure.
  template <class Body>
  void in_transaction(Body&& body) {
    detail::duck::in_transaction(conn, body, [this] { commit(); });
  }

  InsertSummary insert(std::span<const SessionTrace> traces, std::size_t batch_size) {
    if (options.read_only) throw StorageError("'" + conn.name() + "' is open read-only; cannot insert");
    if (batch_size == 0) batch_size = 1;
    InsertSummary summary;
    for (std::size_t start = 0; start < traces.size(); start += batch_size) {
      const auto chunk = traces.subspan(start, std::min(batch_size, traces.size() - start));
      const BatchStart from = batch_start();
      const std::int64_t saved_seq = last_seq;
      InsertSummary batch_summary;
      try {
        in_transaction([&] {
          Appenders a(conn);
          std::unordered_set<std::string> seen;
          forget_stats();
          const std::unordered_set<std::string> stored = stored_among(chunk);
          for (const SessionTrace& t : chunk) append(a, t, seen, batch_summary, options.on_existing, true, &stored);
          a.flush();
          store_stats(from);
        });
      } catch (...) {
        next_timestep_id = from.timestep;
        next_event_id = from.event;
        next_message_id = from.message;
        last_seq = saved_seq;
        throw;
      }
      summary.inserted += batch_summary.inserted;
      summary.skipped += batch_summary.skipped;
      summary.replaced += batch_summary.replaced;
      summary.merged += batch_summary.merged;
    }
    return summary;
  }

  void roll_back_batch() noexcept {
    batch.reset();
    forget_stats();
    detail::duck::roll_back(conn);
  }

  std::filesystem::path path;
  DuckDBOptions options;
  Connection conn;
  std::mutex mutex;
  std::int64_t next_timestep_id = 1;
  std::int64_t next_event_id = 1;
  std::int64_t next_message_id = 1;
  std::int64_t last_seq = 0;  // session_stats.seq of the latest change
  std::optional<Prepared> exists_stmt;
  // The aggregates of the open transaction's new sessions (by id: their seq follow the ids, as
  // kRefreshSessionStats gives them), and the sessions merged into.
  std::map<std::string, detail::duck::SessionStats> pending_stats;
  std::unordered_set<std::string> merged_ids;
  // DuckDBSink and the server's writer: the open transaction of the current batch, if any.
  std::optional<Appenders> batch;
  BatchStart batch_from{};
  std::unordered_set<std::string> batch_seen;  // the sessions the batch appended
};


DuckDBTraceManager::DuckDBTraceManager(std::filesystem::path path, DuckDBOptions options)
    : impl_(std::make_unique<Impl>(std::move(path), options)) {}
DuckDBTraceManager::~DuckDBTraceManager() = default;
DuckDBTraceManager::DuckDBTraceManager(DuckDBTraceManager&&) noexcept = default;
DuckDBTraceManager& DuckDBTraceManager::operator=(DuckDBTraceManager&&) noexcept = default;

const std::filesystem::path& DuckDBTraceManager::path() const noexcept { return impl_->path; }

bool DuckDBTraceManager::insert_trace(const SessionTrace& trace) {
  std::lock_guard lock(impl_->mutex);
  return impl_->insert(std::span<const SessionTrace>(&trace, 1), 1).skipped == 0;
}

InsertSummary DuckDBTraceManager::insert_traces(std::span<const SessionTrace> traces, std::size_t batch_size) {
  std::lock_guard lock(impl_->mutex);
  return impl_->insert(traces, batch_size);
}

std::optional<SessionTrace> DuckDBTraceManager::load_trace(std::string_view session_id) {
  std::lock_guard lock(impl_->mutex);
  return detail::duck::load_trace(impl_->conn, session_id);
}

std::vector<std::string> DuckDBTraceManager::session_ids() {
  std::lock_guard lock(impl_->mutex);
  Result r = detail::duck::query(impl_->conn, "SELECT session_id FROM session_traces ORDER BY created_at DESC, session_id");
  std::vector<std::string> ids;
  for (std::size_t row = 0; row < r.rows(); ++row) ids.push_back(r.text(0, row).value_or(""));
  return ids;
}

QueryResult DuckDBTraceManager::query(std::string_view sql, const std::vector<Value>& params) {
  std::lock_guard lock(impl_->mutex);
  return impl_->run(sql, params);
}

QueryResult DuckDBTraceManager::query_messages(const std::vector<std::string>& session_ids,
                                               const std::vector<std::string>& message_types) {
  Filter f;
  f.in("m.session_id", session_ids);
  f.in("m.message_type", message_types);
  return query(
      "SELECT m.session_id, t.step_id, m.message_type, m.content, m.timestamp, m.message_time FROM messages m "
      "LEFT JOIN session_timesteps t ON t.id = m.timestep_id" +
          f.sql + " ORDER BY m.session_id, m.history_index NULLS LAST, m.id",
      f.params);
}

QueryResult DuckDBTraceManager::query_events(const std::vector<std::string>& session_ids,
                                             const std::vector<std::string>& event_types,
                                             const std::vector<std::string>& system_ids) {
  Filter f;
  f.in("e.session_id", session_ids);
  f.in("e.event_type", event_types);
  f.in("e.system_instance_id", system_ids);
  return query(
      "SELECT e.session_id, t.step_id, e.event_type, e.system_instance_id, e.event_time, e.message_time, "
      "e.model_name, e.provider, e.prompt_tokens, e.completion_tokens, e.total_tokens, e.cached_tokens, "
      "e.reasoning_tokens, e.cost, e.latency_ms, e.reward, e.terminated, e.truncated, e.metadata FROM events e "
      "LEFT JOIN session_timesteps t ON t.id = e.timestep_id" +
          f.sql + " ORDER BY e.session_id, e.history_index NULLS LAST, e.id",
      f.params);
}

QueryResult DuckDBTraceManager::get_model_usage(std::optional<Timestamp> start, std::optional<Timestamp> end) {
  std::vector<Value> params;
  std::string where = "event_type = 'cais' AND model_name IS NOT NULL";
  // Stored times are whole microseconds: round the bounds inwards, as DuckDB's cast of a
  // nine-digit fraction would not (a call at 11:00:00 is not at or after 11:00:00.000000001).
  if (start) {
    where += " AND event_time >= CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(std::chrono::ceil<std::chrono::microseconds>(*start)));
  }
  if (end) {
    where += " AND event_time <= CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(std::chrono::floor<std::chrono::microseconds>(*end)));
  }
  return query(
      "SELECT model_name, provider, COUNT(*) AS call_count, SUM(prompt_tokens) AS total_prompt_tokens, "
      "SUM(completion_tokens) AS total_completion_tokens, "
      "SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS total_tokens, "
      "SUM(cached_tokens) AS total_cached_tokens, SUM(reasoning_tokens) AS total_reasoning_tokens, "
      "AVG(latency_ms) AS avg_latency_ms, SUM(cost) AS total_cost, MIN(event_time) AS first_call, "
      "MAX(event_time) AS last_call FROM events WHERE " +
          where + " GROUP BY model_name, provider ORDER BY total_cost DESC NULLS LAST, call_count DESC, model_name",
      params);
}

QueryResult DuckDBTraceManager::get_expensive_calls(double threshold) {
  return query(
      "SELECT session_id, model_name, prompt_tokens, completion_tokens, cost, latency_ms FROM events "
      "WHERE event_type = 'cais' AND cost > ? ORDER BY cost DESC",
      {Value(threshold)});
}

QueryResult DuckDBTraceManager::get_session_summary(std::optional<std::string_view> session_id) {
  if (session_id) {
    return query("SELECT * FROM session_summary WHERE session_id = ?", {Value(*session_id)});
  }
  return query("SELECT * FROM session_summary ORDER BY created_at DESC, session_id");
}

void DuckDBTraceManager::export_to_parquet(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw StorageError("cannot create Parquet folder '" + dir.string() + "': " + ec.message());
  std::lock_guard lock(impl_->mutex);
  for (const char* table : {"session_traces", "session_timesteps", "events", "messages"}) {
    impl_->conn.exec(detail::duck::parquet_export_sql(table, dir / (std::string(table) + ".parquet")));
  }
}

void DuckDBTraceManager::create_system(std::string_view system_id, std::string_view name,
                                       std::string_view description) {
  query("INSERT INTO systems (id, name, description) VALUES (?, ?, ?)",
        {Value(system_id), Value(name), description.empty() ? Value() : Value(description)});
}

void DuckDBTraceManager::create_system_version(std::string_view version_id, std::string_view system_id,
                                               std::string_view branch, std::string_view commit,
                                               std::string_view description) {
  const auto opt = [](std::string_view s) { return s.empty() ? Value() : Value(s); };
  query(
      "INSERT INTO system_versions (id, system_id, branch, \"commit\", created_at, description) "
      "VALUES (?, ?, ?, ?, CAST(? AS TIMESTAMP), ?)",
      {Value(version_id), Value(system_id), opt(branch), opt(commit), Value(format_timestamp(now())), opt(description)});
}

void DuckDBTraceManager::create_experiment(std::string_view experiment_id, std::string_view name,
                                           std::string_view description,
                                           const std::vector<std::pair<std::string, std::string>>& systems) {
  std::lock_guard lock(impl_->mutex);
  impl_->in_transaction([&] {
    const Value created(format_timestamp(now()));
    impl_->run(
        "INSERT INTO experiments (id, name, description, created_at, updated_at) "
        "VALUES (?, ?, ?, CAST(? AS TIMESTAMP), CAST(? AS TIMESTAMP))",
        {Value(experiment_id), Value(name), description.empty() ? Value() : Value(description), created, created});
    for (const auto& [system_id, version_id] : systems) {
      impl_->run("INSERT INTO experimental_systems (experiment_id, system_id, system_version_id) VALUES (?, ?, ?)",
                 {Value(experiment_id), Value(system_id), version_id.empty() ? Value() : Value(version_id)});
    }
  });
}

void DuckDBTraceManager::link_session_to_experiment(std::string_view session_id, std::string_view experiment_id) {
  std::lock_guard lock(impl_->mutex);
  if (!impl_->exists(session_id)) {
    throw StorageError("cannot link session '" + std::string(session_id) + "': it is not in '" + impl_->conn.name() + "'");
  }
  impl_->run("UPDATE session_traces SET experiment_id = ? WHERE session_id = ?", {Value(experiment_id), Value(session_id)});
  impl_->run("UPDATE session_stats SET experiment_id = ?, seq = ? WHERE session_id = ?",
             {Value(experiment_id), Value(++impl_->last_seq), Value(session_id)});
  impl_->run("UPDATE experiments SET updated_at = CAST(? AS TIMESTAMP) WHERE id = ?",
             {Value(format_timestamp(now())), Value(experiment_id)});
}

QueryResult DuckDBTraceManager::get_experiment_sessions(std::string_view experiment_id) {
  // Totals by subquery per session: joining events and messages would multiply them.
  return query(
      "SELECT s.*, "
      "(SELECT COUNT(*) FROM events e WHERE e.session_id = s.session_id) AS total_events, "
      "(SELECT COUNT(*) FROM messages m WHERE m.session_id = s.session_id) AS total_messages, "
      "(SELECT SUM(e.cost) FROM events e WHERE e.session_id = s.session_id) AS total_cost, "
      "(SELECT SUM(COALESCE(e.total_tokens, e.prompt_tokens + e.completion_tokens)) FROM events e "
      " WHERE e.session_id = s.session_id) AS total_tokens "
      "FROM session_traces s WHERE s.experiment_id = ? ORDER BY s.created_at, s.session_id",
      {Value(experiment_id)});
}

QueryResult DuckDBTraceManager::get_experiments_by_system_version(std::string_view system_version_id) {
  return query(
      "SELECT x.* FROM experiments x WHERE x.id IN "
      "(SELECT experiment_id FROM experimental_systems WHERE system_version_id = ?) ORDER BY x.created_at, x.id",
      {Value(system_version_id)});
}

// ---- the open transaction of DuckDBSink and of the server's writer ----

void DuckDBTraceManager::batch_append(const SessionTrace& trace) {
  impl_->append_to_batch(trace, impl_->options.on_existing, true);
}

void DuckDBTraceManager::batch_commit() { impl_->commit_batch(); }

namespace detail::duck {

Appended StoreAccess::batch_append(DuckDBTraceManager& store, const SessionTrace& trace, OnExistingSession on_existing,
                                   const std::unordered_set<std::string>* stored) {
  return store.impl_->append_to_batch(trace, on_existing, false, stored);
}

std::unordered_set<std::string> StoreAccess::stored_among(DuckDBTraceManager& store, const std::vector<std::string>& session_ids) {
  std::lock_guard lock(store.impl_->mutex);
  Value::Array ids(session_ids.begin(), session_ids.end());
  return store.impl_->stored_ids(std::move(ids));
}

void StoreAccess::batch_commit(DuckDBTraceManager& store) { store.impl_->commit_batch(); }

void StoreAccess::configure(DuckDBTraceManager& store, std::vector<std::string> settings) {
  std::lock_guard lock(store.impl_->mutex);
  store.impl_->conn.configure(std::move(settings));
}

std::unique_ptr<Connection> StoreAccess::reader(DuckDBTraceManager& store) {
  return std::make_unique<Connection>(store.impl_->conn);
}

}  // namespace detail::duck

}  // namespace synth::tracing
