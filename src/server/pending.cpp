// Held OTLP spans and records in the database file (otlp_pending), and GenAI log records that
// come after their LLM call was stored, folded into the stored event.
#include "server/pending.hpp"

#include <algorithm>
#include <map>
#include <set>
#include <unordered_set>

#include "diagnostics.hpp"
#include "duckdb/access.hpp"
#include "server/http.hpp"

namespace synth::tracing::server {

namespace {

using detail::duck::StoreAccess;

std::uint64_t u64(const Value& v) {
  if (v.kind() == Value::Kind::unsigned_integer) return v.as_uint();
  if (v.kind() == Value::Kind::integer) return static_cast<std::uint64_t>(std::max<std::int64_t>(v.as_int(), 0));
  return 0;
}

std::string text(const Value& v) { return v.is_string() ? v.as_string() : std::string(); }

Value session_value(const std::string& session) { return session.empty() ? Value() : Value(session); }

HeldSpan span_of(const Value& b) {
  HeldSpan h;
  OtlpSpan& s = h.span;
  s.trace_id = text(b["trace_id"]);
  s.span_id = text(b["span_id"]);
  s.parent_span_id = text(b["parent_span_id"]);
  s.name = text(b["name"]);
  s.kind = static_cast<int>(u64(b["kind"]));
  s.start_unix_nano = u64(b["start"]);
  s.end_unix_nano = u64(b["end"]);
  if (b["attributes"].is_object()) s.attributes = b["attributes"];
  if (b["events"].is_array()) {
    for (const Value& e : b["events"].as_array()) {
      s.events.push_back(OtlpEvent{text(e["name"]), u64(e["time"]), e["attributes"].is_object() ? e["attributes"] : Value::object()});
    }
  }
  s.status_code = static_cast<int>(u64(b["status_code"]));
  s.status_message = text(b["status_message"]);
  s.scope_name = text(b["scope_name"]);
  if (b["resource"].is_object()) h.resource = b["resource"];
  h.session = text(b["session"]);
  return h;
}

HeldLog log_of(const Value& b) {
  HeldLog h;
  OtlpLog& l = h.log;
  l.trace_id = text(b["trace_id"]);
  l.span_id = text(b["span_id"]);
  l.time_unix_nano = u64(b["time"]);
  l.event_name = text(b["event_name"]);
  l.body = b["body"];
  if (b["attributes"].is_object()) l.attributes = b["attributes"];
  if (b["resource"].is_object()) h.resource = b["resource"];
  h.session = text(b["session"]);
  return h;
}

// A parked part's row (part_row) as the writer's item, deleting the row in the commit storing it.
IngestItem part_of(const Value& b, std::int64_t id) {
  IngestItem item{SessionTrace::from_json(text(b["trace"]), "otlp_pending"), OnExistingSession::merge, 0, nullptr, 0};
  item.bytes = text(b["trace"]).size();
  item.unnamed = true;
  auto origins = std::make_shared<SpanOrigins>();
  const auto each = [&b](const char* member, auto&& f) {
    if (const Value& list = b[member]; list.is_array()) {
      for (const Value& v : list.as_array()) f(v);
    }
  };
  each("keys", [&](const Value& k) {
    if (k.is_array() && k.size() == 2) origins->keys.push_back(SpanKey{u64(k.as_array()[0]), u64(k.as_array()[1])});
  });
  each("steps", [&](const Value& v) { origins->steps.push_back(v.is_number() ? static_cast<std::int32_t>(v.as_int()) : -1); });
  each("events", [&](const Value& v) { origins->events.push_back(static_cast<std::uint32_t>(u64(v))); });
  each("messages", [&](const Value& v) { origins->messages.push_back(static_cast<std::uint32_t>(u64(v))); });
  if (origins->steps.size() != origins->keys.size() || origins->events.size() != item.trace.event_history.size() ||
      origins->messages.size() != item.trace.message_history.size()) {
    throw Error("its span origins do not match its session");
  }
  item.spans = std::move(origins);
  item.otlp = std::make_shared<OtlpWork>();
  item.otlp->drop.push_back(id);
  return item;
}

// When something received at `received_unix_ms` and waiting `timeout` is due, on the steady clock.
std::chrono::steady_clock::time_point due_of(std::int64_t received_unix_ms, std::chrono::milliseconds timeout) {
  const std::int64_t left = std::clamp<std::int64_t>(received_unix_ms + timeout.count() - unix_ms_now(), 0, timeout.count());
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(left);
}

// The records of a stored LLM call's event folded into it, as fold_logs_into_span folds held
// ones into their span: the event's messages are its span's content (which wins), the records
// fill what it lacks, the others join metadata.span_events.
void fold_into_event(Value& before, Value& after, Value& metadata, std::vector<OtlpLog> logs) {
  OtlpSpan span;
  const bool had_input = before.is_object() && before.find("messages") != nullptr;
  const bool had_output = after.is_object() && after.find("messages") != nullptr;
  if (had_input) span.attributes.set("gen_ai.input.messages", before["messages"]);
  if (had_output) span.attributes.set("gen_ai.output.messages", after["messages"]);
  fold_logs_into_span(span, std::move(logs));
  if (!had_input) {
    if (Value in = otlp::input_messages(span.attributes); !in.is_null()) {
      if (!before.is_object()) before = Value::object();
      before.set("messages", std::move(in));
    }
  }
  if (!had_output) {
    if (Value out = otlp::output_messages(span.attributes); !out.is_null()) {
      if (!after.is_object()) after = Value::object();
      after.set("messages", std::move(out));
      const Value* reasons = span.attributes.find("gen_ai.response.finish_reasons");
      if (reasons != nullptr && reasons->is_array() && !reasons->empty() && after.find("finish_reason") == nullptr) {
        after.set("finish_reason", reasons->as_array().front());
      }
    }
  }
  if (span.events.empty()) return;
  if (!metadata.is_object()) metadata = Value::object();
  Value kept = metadata.find("span_events") != nullptr && metadata["span_events"].is_array() ? metadata["span_events"]
                                                                                             : Value::array();
  for (const OtlpEvent& e : span.events) {
    kept.push_back(Value{{"name", e.name}, {"time", format_timestamp(otlp::timestamp_of(e.time_unix_nano))},
                         {"attributes", e.attributes}});
  }
  metadata.set("span_events", std::move(kept));
}

// A message made of a log record (map_otlp_logs) as the record again: what folding reads.
OtlpLog log_of_message(const SessionEventMessage& m, const std::string& trace_id) {
  OtlpLog log;
  log.trace_id = trace_id;
  log.span_id = text(m.content["span_id"]);
  log.event_name = m.message_type;
  log.time_unix_nano = static_cast<std::uint64_t>(std::max<std::int64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(m.timestamp.time_since_epoch()).count(), 0));
  log.body = m.content["body"];
  if (m.content["attributes"].is_object()) log.attributes = m.content["attributes"];
  return log;
}

bool same_message(const SessionEventMessage& a, const SessionEventMessage& b) {
  return a.message_type == b.message_type && a.timestamp == b.timestamp && a.content == b.content;
}

Value json_of(const Value& cell) {
  if (!cell.is_string()) return Value();
  try {
    return Value::parse(cell.as_string());
  } catch (const Error&) {
    return Value();
  }
}

}  // namespace

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

PendingRow pending_row(const HeldSpan& h) {
  const OtlpSpan& s = h.span;
  Value events = Value::array();
  for (const OtlpEvent& e : s.events) events.push_back(Value{{"name", e.name}, {"time", e.time_unix_nano}, {"attributes", e.attributes}});
  Value body{{"trace_id", s.trace_id},         {"span_id", s.span_id},       {"parent_span_id", s.parent_span_id},
             {"name", s.name},                 {"kind", s.kind},             {"start", s.start_unix_nano},
             {"end", s.end_unix_nano},         {"attributes", s.attributes}, {"events", std::move(events)},
             {"status_code", s.status_code},   {"status_message", s.status_message},
             {"scope_name", s.scope_name},     {"resource", h.resource},     {"session", session_value(h.session)}};
  return PendingRow{h.pending_id, "span", h.received_unix_ms, std::move(body)};
}

PendingRow part_row(std::int64_t id, const SessionTrace& trace, const SpanOrigins& origins) {
  Value keys = Value::array();
  for (const SpanKey& k : origins.keys) keys.push_back(Value::array({k.trace, k.span}));
  Value steps = Value::array();
  for (const std::int32_t s : origins.steps) steps.push_back(s);
  Value events = Value::array();
  for (const std::uint32_t e : origins.events) events.push_back(e);
  Value messages = Value::array();
  for (const std::uint32_t m : origins.messages) messages.push_back(m);
  // The session as its JSON text: what SessionTrace::from_json reads back.
  Value body{{"trace", trace.to_json()}, {"keys", std::move(keys)},         {"steps", std::move(steps)},
             {"events", std::move(events)}, {"messages", std::move(messages)}};
  return PendingRow{id, "part", unix_ms_now(), std::move(body)};
}

PendingRow pending_row(const HeldLog& h) {
  const OtlpLog& l = h.log;
  Value body{{"trace_id", l.trace_id},   {"span_id", l.span_id},       {"time", l.time_unix_nano},
             {"event_name", l.event_name}, {"body", l.body},           {"attributes", l.attributes},
             {"resource", h.resource},   {"session", session_value(h.session)}};
  return PendingRow{h.pending_id, "log", h.received_unix_ms, std::move(body)};
}

std::pair<std::size_t, std::size_t> restore_pending(ServerContext& ctx) {
  std::unique_ptr<detail::duck::Connection> reader = StoreAccess::reader(ctx.store);
  detail::duck::Result r = detail::duck::query(
      *reader, "SELECT id, kind, received_unix_ms, CAST(body AS VARCHAR) FROM otlp_pending ORDER BY id");
  std::vector<HeldSpan> spans;
  std::vector<HeldLog> logs;
  std::vector<IngestItem> parts;
  std::int64_t largest = 0;
  for (std::size_t row = 0; row < r.rows(); ++row) {
    const std::int64_t id = r.integer(0, row).value_or(0);
    largest = std::max(largest, id);
    const std::int64_t received = r.integer(2, row).value_or(0);
    Value body;
    try {
      body = Value::parse(r.text(3, row).value_or("{}"));
    } catch (const Error& e) {
      detail::report("synth-trace serve: otlp_pending row " + std::to_string(id) + " of '" + ctx.options.db.string() +
                     "' is not JSON (" + e.what() + "); left in the table, not restored");
      continue;
    }
    const std::string kind = r.text(1, row).value_or("");
    if (kind == "part") {
      try {
        parts.push_back(part_of(body, id));
      } catch (const Error& e) {
        detail::report("synth-trace serve: otlp_pending row " + std::to_string(id) + " of '" +
                       ctx.options.db.string() + "' is not a session part (" + e.what() + "); left in the table");
      }
    } else if (kind == "span") {
      HeldSpan h = span_of(body);
      h.pending_id = id;
      h.received_unix_ms = received;
      h.due = due_of(received, ctx.options.span_hold);
      spans.push_back(std::move(h));
    } else {
      HeldLog h = log_of(body);
      h.pending_id = id;
      h.received_unix_ms = received;
      h.due = due_of(received, ctx.options.log_hold);
      logs.push_back(std::move(h));
    }
  }
  ctx.pending_ids->start_after(largest);
  for (const HeldSpan& h : spans) {
    if (!h.session.empty()) ctx.trace_sessions->remember(h.span.trace_id, h.session);
  }
  for (const HeldLog& h : logs) {
    if (!h.session.empty() && !h.log.trace_id.empty()) ctx.trace_sessions->remember(h.log.trace_id, h.session);
  }
  for (IngestItem& part : parts) {
    const std::string trace_id = part.trace.session_id;
    if (const std::optional<std::string> named = ctx.trace_sessions->find_or_note_unnamed(trace_id)) {
      part.trace.session_id = *named;
      part.unnamed = false;
    }
    std::vector<IngestItem> one;
    one.push_back(std::move(part));
    if (ctx.queue.push(one) != IngestQueue::Push::queued) {
      detail::report("synth-trace serve: a session part of trace '" + trace_id + "' kept in otlp_pending of '" +
                     ctx.options.db.string() + "' could not be queued; left in the table for the next start");
      continue;
    }
    ctx.counters.accepted.fetch_add(1, std::memory_order_relaxed);
  }
  const std::pair<std::size_t, std::size_t> counts{spans.size(), logs.size()};
  ctx.span_hold->restore(std::move(spans));
  ctx.log_hold->add_restored(std::move(logs));
  return counts;
}

void PendingBatch::add(std::shared_ptr<const OtlpWork> work) {
  if (!work->put.empty() || !work->drop.empty()) works_.push_back(std::move(work));
}

void PendingBatch::write(DuckDBTraceManager& store, DeletedEarly& deleted_early) {
  if (works_.empty()) return;
  std::unordered_set<std::int64_t> dropped;
  for (const auto& work : works_) dropped.insert(work->drop.begin(), work->drop.end());
  // The rows as four lists of one type each (list parameters keep DuckDB's plan of the insert).
  Value::Array ids, kinds, received, bodies;
  for (const auto& work : works_) {
    for (const PendingRow& row : work->put) {
      if (dropped.erase(row.id) > 0) continue;  // taken in the same batch: never written
      if (deleted_early.erase(row.id)) continue;  // already stored by the request that took it
      ids.emplace_back(row.id);
      kinds.emplace_back(row.kind);
      received.emplace_back(row.received_unix_ms);
      bodies.emplace_back(row.body.dump());
    }
  }
  works_.clear();
  if (!dropped.empty()) {
    Value::Array taken(dropped.begin(), dropped.end());
    const QueryResult deleted = StoreAccess::batch_run(
        store, "DELETE FROM otlp_pending WHERE id IN (SELECT unnest(CAST(? AS BIGINT[]))) RETURNING id",
        {Value(std::move(taken))}, false);
    for (const auto& row : deleted.rows) dropped.erase(row.at(0).as_int());
    for (const std::int64_t id : dropped) deleted_early.set(id, true);
  }
  if (ids.empty()) return;
  StoreAccess::batch_run(store,
                         "INSERT INTO otlp_pending (id, kind, received_unix_ms, body) "
                         "SELECT unnest(CAST(? AS BIGINT[])), unnest(CAST(? AS VARCHAR[])), unnest(CAST(? AS BIGINT[])), "
                         "CAST(unnest(CAST(? AS VARCHAR[])) AS JSON)",
                         {Value(std::move(ids)), Value(std::move(kinds)), Value(std::move(received)), Value(std::move(bodies))},
                         false);
}

void attach_late_logs(DuckDBTraceManager& store, SessionTrace& trace, OtlpWork& work) {
  work.attached = 0;
  // The records with a span id, by the timestep of their trace (map_otlp_logs puts them there).
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<std::size_t, std::size_t>>> by_span;
  Value::Array span_ids;
  for (std::size_t s = 0; s < trace.session_time_steps.size(); ++s) {
    const SessionTimeStep& step = trace.session_time_steps[s];
    for (std::size_t m = 0; m < step.step_messages.size(); ++m) {
      const std::string span = text(step.step_messages[m].content["span_id"]);
      if (span.empty()) continue;
      auto& at = by_span[{step.step_id, span}];
      if (at.empty()) span_ids.emplace_back(span);
      at.emplace_back(s, m);
    }
  }
  if (!by_span.empty()) {
    const QueryResult events = StoreAccess::batch_run(
        store,
        "SELECT id, trace_id, span_id, CAST(system_state_before AS VARCHAR), CAST(system_state_after AS VARCHAR), "
        "CAST(metadata AS VARCHAR) FROM events WHERE event_type = 'cais' AND span_id IN "
        "(SELECT unnest(CAST(? AS VARCHAR[]))) ORDER BY id",
        {Value(std::move(span_ids))}, true);
    std::vector<SessionEventMessage> attached;
    std::set<std::pair<std::size_t, std::size_t>> taken;
    for (const auto& row : events.rows) {
      const auto found = by_span.find({text(row.at(1)), text(row.at(2))});
      if (found == by_span.end() || found->second.empty()) continue;  // another trace's span, or done
      std::vector<OtlpLog> logs;
      for (const auto& [s, m] : found->second) {
        const SessionTimeStep& step = trace.session_time_steps[s];
        logs.push_back(log_of_message(step.step_messages[m], step.step_id));
        attached.push_back(step.step_messages[m]);
        taken.emplace(s, m);
      }
      found->second.clear();  // the first event of the span gets them
      Value before = json_of(row.at(3));
      Value after = json_of(row.at(4));
      Value metadata = json_of(row.at(5));
      fold_into_event(before, after, metadata, std::move(logs));
      StoreAccess::batch_run(store,
                             "UPDATE events SET system_state_before = CAST(? AS JSON), system_state_after = CAST(? AS JSON), "
                             "metadata = CAST(? AS JSON) WHERE id = ?",
                             {before, after, metadata, row.at(0)}, false);
    }
    work.attached = attached.size();
    // Out of the session part: from their timesteps, from the history, and the timesteps left empty.
    for (std::size_t s = 0; s < trace.session_time_steps.size(); ++s) {
      auto& messages = trace.session_time_steps[s].step_messages;
      std::size_t m = 0;
      std::erase_if(messages, [&](const SessionEventMessage&) { return taken.contains({s, m++}); });
    }
    for (const SessionEventMessage& gone : attached) {
      const auto it = std::find_if(trace.message_history.begin(), trace.message_history.end(),
                                   [&](const SessionEventMessage& m) { return same_message(m, gone); });
      if (it != trace.message_history.end()) trace.message_history.erase(it);
    }
    std::erase_if(trace.session_time_steps,
                  [](const SessionTimeStep& step) { return step.events.empty() && step.step_messages.empty(); });
  }
  work.messages = trace.message_history.size();
}

}  // namespace synth::tracing::server
