// Writing a session's rows (DuckDBTraceManager::Impl): the policy for an id already stored, the
// checks that refuse a session before any of its rows is written, the rows of sessions,
// timesteps, events and messages (new, or merged into a stored session), and session_stats.
#include <algorithm>
#include <limits>

#include "diagnostics.hpp"
#include "duckdb/manager_impl.hpp"
#include "json/writer.hpp"

namespace synth::tracing {

namespace {

using detail::duck::event_key;
using detail::duck::message_key;
using detail::duck::place_items;
using detail::duck::place_known_items;

// What an event of another kind has in a kind's column: referenced, so that the conditionals in
// append_event copy nothing.
const Value kNoValue;
const std::optional<std::string> kNoText;

}  // namespace

void DuckDBTraceManager::Impl::validate(const SessionTrace& t, const detail::duck::ItemSteps* known) const {
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
    // The original's INTEGER column; found here, the session is refused before any of its rows
    // is appended rather than failing its whole batch.
    if (step.step_index < std::numeric_limits<std::int32_t>::min() ||
        step.step_index > std::numeric_limits<std::int32_t>::max()) {
      refuse("timestep '" + step.step_id + "' has step_index " + std::to_string(step.step_index) +
             ", beyond the database's INTEGER column (-2147483648 to 2147483647)");
    }
    if (!step_ids.insert(step.step_id).second) {
      refuse("two timesteps have step_id '" + step.step_id + "' (step ids are unique within a session)");
    }
    for (const Event& e : step.events) event_texts(e);
    for (const SessionEventMessage& m : step.step_messages) text(m.message_type, "a message_type");
  }
  for (const Event& e : t.event_history) event_texts(e);
  for (const SessionEventMessage& m : t.message_history) text(m.message_type, "a message_type");
  if (known == nullptr) return;
  // A producer's mistake, refused before it stores items in the wrong places or twice.
  const auto fits = [&](const std::vector<std::int32_t>& steps, std::size_t items) {
    return steps.size() == items && std::all_of(steps.begin(), steps.end(), [&](std::int32_t s) {
             return s >= -1 && s < static_cast<std::int64_t>(t.session_time_steps.size());
           });
  };
  if (!fits(known->events, t.event_history.size()) || !fits(known->messages, t.message_history.size())) {
    refuse("the placement of its items does not fit its history and timesteps");
  }
  for (const SessionTimeStep& step : t.session_time_steps) {
    if (!step.events.empty() || !step.step_messages.empty()) {
      refuse("its items are placed by their history, but timestep '" + step.step_id + "' holds copies of some");
    }
  }
}

detail::duck::Appended DuckDBTraceManager::Impl::append(Appenders& a, const SessionTrace& t, std::unordered_set<std::string>& seen,
                              InsertSummary& summary, OnExistingSession on_existing, bool report_skip,
                              const std::unordered_set<std::string>* stored, const detail::duck::ItemSteps* known) {
  using detail::duck::Appended;
  validate(t, known);
  const bool in_batch = seen.contains(t.session_id);
  if (!in_batch && !(stored ? stored->contains(t.session_id) : exists(t.session_id))) {
    ++summary.inserted;
    seen.insert(t.session_id);
    append_new(a, t, known);
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
      flush_rows(a);
      delete_session(t.session_id);
      ++summary.replaced;
      seen.insert(t.session_id);
      append_new(a, t, known);
      return Appended::replaced;
    case OnExistingSession::merge:
      ++summary.merged;
      if (const auto it = held_index.find(t.session_id); in_batch && it != held_index.end()) {
        // New in this batch: merged in memory, its aggregates kept as for a new session.
        const auto stats = pending_stats.find(t.session_id);
        append_held(a, t, held[it->second], stats == pending_stats.end() ? nullptr : &stats->second, known);
        return Appended::merged;
      }
      // The stored part's rows must be visible to stored_part(): flushed unless the part is
      // remembered (its UPDATEs wait until the rows are flushed: they see every row).
      if (in_batch && !parts.contains(t.session_id)) flush_rows(a);
      seen.insert(t.session_id);
      {
        // The aggregates of the rows it adds: to those of a session new in this batch (no
        // session_stats row yet), else to what is combined with its row at the commit.
        auto stats = pending_stats.find(t.session_id);
        if (stats == pending_stats.end()) stats = merged_stats.try_emplace(t.session_id, t.created_at).first;
        stats->second.lower_created_at(t.created_at);
        StoredPart part = take_part(t.session_id);
        append_to_stored(a, t, part, stats->second, known);
        remember_part(t.session_id, std::move(part));
      }
      return Appended::merged;
  }
  return Appended::skipped;
}

DuckDBTraceManager::Impl::StoredPart DuckDBTraceManager::Impl::stored_part(std::string_view session_id) {
  StoredPart part;
  {
    Prepared& stmt = cached(part_stmt, "SELECT num_events, num_messages, metadata FROM session_traces WHERE session_id = ?");
    stmt.bind(1, session_id);
    Result r = stmt.execute();
    part.events = r.integer(0, 0).value_or(0);
    part.messages = r.integer(1, 0).value_or(0);
    const Value metadata = parse_json_column(r, 2, 0, conn.name());
    if (metadata.is_array()) part.metadata = metadata.as_array();
  }
  // The last column is has_metadata() of the stored step_metadata, read as text.
  Prepared& stmt = cached(part_steps_stmt,
                          "SELECT step_id, id, num_events, num_messages, step_index, timestamp, "
                          "COALESCE(CAST(step_metadata AS VARCHAR) NOT IN ('{}', 'null'), false) FROM session_timesteps "
                          "WHERE session_id = ?");
  stmt.bind(1, session_id);
  Result r = stmt.execute();
  for (std::size_t row = 0; row < r.rows(); ++row) {
    part.steps[r.text(0, row).value_or("")] =
        StoredPart::Step{r.integer(1, row).value_or(0), r.integer(2, row).value_or(0), r.integer(3, row).value_or(0),
                         r.integer(4, row).value_or(0), r.timestamp(5, row), r.boolean(6, row).value_or(false)};
  }
  return part;
}

namespace {

// A session's metadata entries as the metadata column stores them.
void add_metadata(Value::Array& metadata, const SessionTrace& t) {
  for (const auto& m : t.session_metadata) {
    metadata.push_back(Value{{"metadata_type", m.metadata_type},
                             {"data", m.data},
                             {"timestamp", m.timestamp.time_since_epoch().count() == 0
                                               ? Value()
                                               : Value(format_timestamp(m.timestamp))}});
  }
}

bool unset(Timestamp t) { return t.time_since_epoch().count() == 0; }

bool has_metadata(const Value& step_metadata) {
  return !step_metadata.is_null() && !(step_metadata.is_object() && step_metadata.as_object().empty());
}

// Whether `t` is earlier than `than`, an unset time being later than any (it tells nothing).
bool earlier(Timestamp t, Timestamp than) { return !unset(t) && (unset(than) || t < than); }

// A part that leaves its timesteps' numbers to the store (a negative step_index: OTLP spans of a
// turn know no number): the session's timesteps are numbered by their start.
bool numbered_by_time(const SessionTrace& t) {
  return std::any_of(t.session_time_steps.begin(), t.session_time_steps.end(),
                     [](const SessionTimeStep& s) { return s.step_index < 0; });
}

// Numbers `steps` 0, 1, ... by their start, then by row id (the order they came); calls
// `renumbered(step, index)` for each whose step_index changes.
template <class Step, class Renumbered>
void number_by_time(std::vector<Step*>& steps, Renumbered renumbered) {
  std::sort(steps.begin(), steps.end(), [](const Step* x, const Step* y) {
    if (x->timestamp != y->timestamp) return x->timestamp < y->timestamp;
    return x->id < y->id;
  });
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (steps[i]->step_index != static_cast<std::int64_t>(i)) renumbered(*steps[i], static_cast<std::int64_t>(i));
  }
}

}  // namespace

void DuckDBTraceManager::Impl::append_new(Appenders& a, const SessionTrace& t, const detail::duck::ItemSteps* known) {
  detail::duck::SessionStats stats(t.created_at);
  held_index[t.session_id] = held.size();
  HeldSession& h = held.emplace_back();
  h.session_id = t.session_id;
  h.created_at = t.created_at;
  append_held(a, t, h, &stats, known);
  // A session merged earlier in this batch, then replaced: its rows are all new.
  merged_stats.erase(t.session_id);
  pending_stats.insert_or_assign(t.session_id, std::move(stats));
}

void DuckDBTraceManager::Impl::append_held(Appenders& a, const SessionTrace& t, HeldSession& h,
                                           detail::duck::SessionStats* stats, const detail::duck::ItemSteps* known) {
  add_metadata(h.metadata, t);
  const detail::duck::StepSizes sizes(t, known);
  // created_at = least(created_at, part's), as a merge into a stored session sets it (NULLs ignored).
  if (earlier(t.created_at, h.created_at)) {
    h.created_at = t.created_at;
    if (stats) stats->lower_created_at(t.created_at);
  }
  std::vector<StepRow> step_rows(t.session_time_steps.size());
  for (std::size_t s = 0; s < t.session_time_steps.size(); ++s) {
    const SessionTimeStep& step = t.session_time_steps[s];
    const auto [it, added] = h.step_of.try_emplace(step.step_id, h.steps.size());
    if (added) {
      if (stats) stats->add_timestep();
      h.steps.push_back(HeldSession::Step{next_timestep_id++, step.step_id, step.step_index, step.turn_number,
                                          step.timestamp, 0, 0, step.step_metadata});
    }
    HeldSession::Step& row = h.steps[it->second];
    if (earlier(step.timestamp, row.timestamp)) row.timestamp = step.timestamp;
    if (!has_metadata(row.metadata) && has_metadata(step.step_metadata)) row.metadata = step.step_metadata;
    step_rows[s] = StepRow{row.id, row.events, row.messages};
    row.events += sizes.events(s);
    row.messages += sizes.messages(s);
  }
  if (numbered_by_time(t)) {
    std::vector<HeldSession::Step*> steps;
    for (HeldSession::Step& step : h.steps) steps.push_back(&step);
    number_by_time(steps, [](HeldSession::Step& step, std::int64_t index) { step.step_index = index; });
  }
  append_items(a, t, step_rows, h.events, h.messages, stats, known);
  h.events += static_cast<std::int64_t>(t.event_history.size());
  h.messages += static_cast<std::int64_t>(t.message_history.size());
}

void DuckDBTraceManager::Impl::flush_rows(Appenders& a) {
  for (HeldSession& h : held) {
    StoredPart part{h.events, h.messages, h.metadata, {}, std::nullopt};
    for (const HeldSession::Step& step : h.steps) {
      part.steps[step.step_id] =
          StoredPart::Step{step.id, step.events, step.messages, step.step_index, step.timestamp, has_metadata(step.metadata)};
    }
    remember_part(h.session_id, std::move(part));
    a.sessions.text(std::string_view(h.session_id))
        .timestamp(h.created_at)
        .integer(static_cast<std::int64_t>(h.steps.size()))
        .integer(h.events)
        .integer(h.messages)
        .json(Value(h.metadata))
        .null();
    a.sessions.end_row();
    for (const HeldSession::Step& step : h.steps) {
      a.steps.integer(step.id)
          .text(std::string_view(h.session_id))
          .text(std::string_view(step.step_id))
          .integer(step.step_index)
          .integer(step.turn_number)
          .timestamp(step.timestamp)
          .integer(step.events)
          .integer(step.messages)
          .json(step.metadata);
      a.steps.end_row();
    }
  }
  held.clear();
  held_index.clear();
  a.flush();
  write_merge_updates();
}

namespace {

// The UPDATEs of write_merge_updates(), on an appender's rows (table `delta`).
// A timestep's counts, its number and start, and its metadata are updated apart, each only in
// the rows where it changed: most merges change only counts, and DuckDB writes every column an
// UPDATE names, the JSON column's text too, for every row it touches.
constexpr const char* kUpdateMergedStepCounts =
    "UPDATE session_timesteps SET num_events = session_timesteps.num_events + delta.num_events, "
    "num_messages = session_timesteps.num_messages + delta.num_messages FROM delta WHERE session_timesteps.id = delta.id";
constexpr const char* kUpdateMergedStepPlaces =
    "UPDATE session_timesteps SET step_index = COALESCE(delta.step_index, session_timesteps.step_index), "
    "timestamp = COALESCE(delta.timestamp, session_timesteps.timestamp) FROM delta WHERE session_timesteps.id = delta.id";
constexpr const char* kUpdateMergedStepMetadata =
    "UPDATE session_timesteps SET step_metadata = delta.step_metadata FROM delta WHERE session_timesteps.id = delta.id";
constexpr const char* kUpdateMergedSessions =
    "UPDATE session_traces SET num_timesteps = session_traces.num_timesteps + delta.num_timesteps, "
    "num_events = session_traces.num_events + delta.num_events, "
    "num_messages = session_traces.num_messages + delta.num_messages, metadata = delta.metadata, "
    "created_at = least(session_traces.created_at, delta.created_at) "
    "FROM delta WHERE session_traces.session_id = delta.session_id";

}  // namespace

void DuckDBTraceManager::Impl::write_merge_updates() {
  if (!step_adds.empty()) {
    static const std::vector<std::string> kCounts = {"id", "num_events", "num_messages"};
    static const std::vector<std::string> kPlaces = {"id", "step_index", "timestamp"};
    static const std::vector<std::string> kMetadata = {"id", "step_metadata"};
    const auto update = [&](const char* sql, const std::vector<std::string>& columns, auto changes, auto row) {
      if (std::none_of(step_adds.begin(), step_adds.end(), [&](const auto& add) { return changes(add.second); })) return;
      Appender rows(conn, sql, "delta", "session_timesteps", columns);
      for (const auto& [id, add] : step_adds) {
        if (!changes(add)) continue;
        row(rows.integer(id), add);
        rows.end_row();
      }
      rows.flush();
    };
    update(kUpdateMergedStepCounts, kCounts, [](const StepAdd& add) { return add.events != 0 || add.messages != 0; },
           [](Appender& rows, const StepAdd& add) { rows.integer(add.events).integer(add.messages); });
    update(kUpdateMergedStepPlaces, kPlaces, [](const StepAdd& add) { return add.step_index || !unset(add.timestamp); },
           [](Appender& rows, const StepAdd& add) { rows.integer(add.step_index).timestamp(add.timestamp); });
    update(kUpdateMergedStepMetadata, kMetadata, [](const StepAdd& add) { return !add.metadata.is_null(); },
           [](Appender& rows, const StepAdd& add) { rows.json(add.metadata); });
    step_adds.clear();
  }
  if (!session_adds.empty()) {
    static const std::vector<std::string> kColumns = {"session_id", "num_timesteps", "num_events",
                                                      "num_messages", "metadata",   "created_at"};
    Appender rows(conn, kUpdateMergedSessions, "delta", "session_traces", kColumns);
    for (const auto& [session_id, add] : session_adds) {
      rows.text(std::string_view(session_id))
          .integer(add.steps)
          .integer(add.events)
          .integer(add.messages)
          .json(Value(add.metadata))
          .timestamp(add.created_at);
      rows.end_row();
    }
    rows.flush();
    session_adds.clear();
  }
}

void DuckDBTraceManager::Impl::append_to_stored(Appenders& a, const SessionTrace& t, StoredPart& into,
                                                detail::duck::SessionStats& stats, const detail::duck::ItemSteps* known) {
  add_metadata(into.metadata, t);
  const detail::duck::StepSizes sizes(t, known);
  std::int64_t added_steps = 0;
  std::vector<StepRow> step_rows(t.session_time_steps.size());
  std::vector<std::size_t> new_steps;  // appended once numbered
  for (std::size_t s = 0; s < t.session_time_steps.size(); ++s) {
    const SessionTimeStep& step = t.session_time_steps[s];
    if (const auto stored = into.steps.find(step.step_id); stored != into.steps.end()) {
      step_rows[s] = StepRow{stored->second.id, stored->second.events, stored->second.messages};
      stored->second.events += sizes.events(s);
      stored->second.messages += sizes.messages(s);
      StepAdd& add = step_adds[stored->second.id];
      add.events += sizes.events(s);
      add.messages += sizes.messages(s);
      if (earlier(step.timestamp, stored->second.timestamp)) add.timestamp = stored->second.timestamp = step.timestamp;
      if (!stored->second.has_metadata && has_metadata(step.step_metadata)) {
        add.metadata = step.step_metadata;
        stored->second.has_metadata = true;
      }
      continue;
    }
    ++added_steps;
    stats.add_timestep();
    step_rows[s].id = next_timestep_id++;
    into.steps[step.step_id] =
        StoredPart::Step{step_rows[s].id, sizes.events(s), sizes.messages(s), step.step_index, step.timestamp,
                         has_metadata(step.step_metadata)};
    new_steps.push_back(s);
  }
  if (numbered_by_time(t)) {
    std::vector<StoredPart::Step*> steps;
    for (auto& [step_id, step] : into.steps) steps.push_back(&step);
    const std::int64_t first_new = new_steps.empty() ? next_timestep_id : step_rows[new_steps.front()].id;
    number_by_time(steps, [&](StoredPart::Step& step, std::int64_t index) {
      step.step_index = index;
      if (step.id < first_new) step_adds[step.id].step_index = index;  // a stored row
    });
  }
  for (const std::size_t s : new_steps) {
    const SessionTimeStep& step = t.session_time_steps[s];
    const StoredPart::Step& numbered = into.steps.at(step.step_id);
    a.steps.integer(step_rows[s].id)
        .text(std::string_view(t.session_id))
        .text(std::string_view(step.step_id))
        .integer(numbered.step_index)
        .integer(step.turn_number)
        .timestamp(step.timestamp)
        .integer(sizes.events(s))
        .integer(sizes.messages(s))
        .json(step.step_metadata);
    a.steps.end_row();
  }
  append_items(a, t, step_rows, into.events, into.messages, &stats, known);
  into.events += static_cast<std::int64_t>(t.event_history.size());
  into.messages += static_cast<std::int64_t>(t.message_history.size());
  SessionAdd& add = session_adds[t.session_id];
  add.steps += added_steps;
  add.events += static_cast<std::int64_t>(t.event_history.size());
  add.messages += static_cast<std::int64_t>(t.message_history.size());
  add.metadata = into.metadata;
  if (!unset(t.created_at) && (unset(add.created_at) || t.created_at < add.created_at)) add.created_at = t.created_at;
}

void DuckDBTraceManager::Impl::append_items(Appenders& a, const SessionTrace& t, const std::vector<StepRow>& step_rows,
                                            std::int64_t history_events, std::int64_t history_messages,
                                            detail::duck::SessionStats* stats, const detail::duck::ItemSteps* known) {
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

  const std::size_t steps = t.session_time_steps.size();
  for (const auto& [event, place] :
       known ? place_known_items(t.event_history, known->events, steps)
             : place_items(t.event_history, t.session_time_steps, &SessionTimeStep::events, event_key)) {
    const auto [step_id, at] = placed(place, history_events, &StepRow::first_event);
    const std::int64_t id = next_event_id;
    const std::optional<std::string> provider = append_event(a.events, t.session_id, *event, step_id, at);
    if (stats) stats->add_event(id, *event, provider);
  }
  for (const auto& [message, place] :
       known ? place_known_items(t.message_history, known->messages, steps)
             : place_items(t.message_history, t.session_time_steps, &SessionTimeStep::step_messages, message_key)) {
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
  if (stats) stats->settle();  // `t` may be freed before the stats are stored (move_in_batch's)
}

std::optional<std::string> DuckDBTraceManager::Impl::append_event(Appender& a, const std::string& session_id, const Event& event,
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

}  // namespace synth::tracing
