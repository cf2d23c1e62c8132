// OTLP spans and GenAI log records into the ingest queue: GenAI content held for its span's event
// (LogHold), else joining its stored event or as messages; LLM calls without content held briefly
// for their records (SpanHold); held spans and records kept in the file (their otlp_pending rows
// go in the same commit: pending.hpp).
#include "server/otlp_ingest.hpp"

#include <algorithm>
#include <unordered_map>
#include <unordered_set>

#include "diagnostics.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

// The sessions of `mapped` as queue items (appended to `items`). `logs`: their messages are
// GenAI log records, which the writer attaches to their LLM call when it is stored.
void add_items(std::vector<IngestItem>& items, OtlpMapped& mapped, bool logs) {
  items.reserve(items.size() + mapped.sessions.size());
  for (std::size_t i = 0; i < mapped.sessions.size(); ++i) {
    SessionTrace& trace = mapped.sessions[i];
    // What the queue's byte bound counts: its share of the request body, else its JSON size.
    const std::size_t bytes = i < mapped.bytes.size() ? mapped.bytes[i] : trace.to_json().size();
    IngestItem item{std::move(trace), OnExistingSession::merge, bytes, nullptr, 0};
    item.unnamed = i < mapped.unnamed.size() && mapped.unnamed[i];
    item.has_root_span = i < mapped.rooted.size() && mapped.rooted[i];
    if (i < mapped.origins.size()) item.spans = std::make_shared<SpanOrigins>(std::move(mapped.origins[i]));
    for (const auto& [trace_id, session_id] : mapped.named) {
      if (session_id == item.trace.session_id) item.absorbs.push_back(trace_id);
    }
    if (logs) {
      item.otlp = std::make_shared<OtlpWork>();
      item.otlp->attach_logs = true;
    }
    items.push_back(std::move(item));
  }
}

// The item that writes and deletes otlp_pending rows in the commit of the request's sessions.
void add_pending(std::vector<IngestItem>& items, std::vector<PendingRow> put, std::vector<std::int64_t> drop) {
  if (put.empty() && drop.empty()) return;
  const std::size_t bytes = 64 * drop.size() + 1024 * put.size();  // the queue's bound: an estimate is enough
  IngestItem item{SessionTrace{}, OnExistingSession::skip, bytes, nullptr, 0};
  item.otlp = std::make_shared<OtlpWork>();
  item.otlp->no_session = true;
  item.otlp->put = std::move(put);
  item.otlp->drop = std::move(drop);
  items.push_back(std::move(item));
}

// How many sessions of `items` are sessions (not only otlp_pending work).
std::size_t sessions_in(const std::vector<IngestItem>& items) {
  return static_cast<std::size_t>(
      std::count_if(items.begin(), items.end(), [](const IngestItem& i) { return !(i.otlp && i.otlp->no_session); }));
}

// A request's items with the receipt of their outcomes: waited for (--otlp-ack commit), or marking
// the request done in the journal (--otlp-ack journal). What each session holds (events from
// spans, messages from log records) is counted rejected when the database refuses it.
struct Waiting {
  std::shared_ptr<Receipt> receipt;
  bool awaited = false;
  std::vector<std::size_t> events;
};

Waiting wait_for(ServerContext& ctx, std::vector<IngestItem>& items, const JournaledRequest& journaled) {
  Waiting w;
  if (items.empty()) return w;
  if (journaled) {
    w.receipt = std::make_shared<Receipt>(items.size(), journaled.when_recorded());
  } else if (ctx.options.otlp_ack == ServerOptions::OtlpAck::commit) {
    w.receipt = std::make_shared<Receipt>(items.size());
    w.awaited = true;
  } else {
    return w;
  }
  for (std::size_t i = 0; i < items.size(); ++i) {
    items[i].receipt = w.receipt;
    items[i].index = i;
    const SessionTrace& t = items[i].trace;
    w.events.push_back(std::max<std::size_t>(t.event_history.size() + t.message_history.size(), 1));
  }
  return w;
}

// Waits until the request's items are committed: 503 (send again) when some were lost, 504 when
// not in time; sessions the database refused are counted in `rejected` (and named in `error`).
void await_commit(ServerContext& ctx, httplib::Response& res, const Waiting& w, std::uint64_t& rejected,
                  std::string& error) {
  if (!w.awaited) return;
  const auto deadline = std::chrono::steady_clock::now() + ctx.options.shutdown_timeout + ctx.options.commit_interval;
  if (!w.receipt->wait(deadline)) {
    throw ApiError(504, "the data was accepted but not committed in time (the server is overloaded or stopping); it "
                        "is stored when the writer gets to it");
  }
  for (std::size_t i = 0; i < w.receipt->outcomes().size(); ++i) {
    const Receipt::Outcome& o = w.receipt->outcomes()[i];
    if (o.what == Stored::lost) {
      res.set_header("Retry-After", "1");
      throw ApiError(503, "the data could not be committed (" + o.error + "): send it again");
    }
    if (o.what == Stored::refused) {
      rejected += w.events[i];
      if (error.empty()) error = o.error;
    }
  }
}

// The spans of a request with the held log records of their spans folded in; the records of
// their traces that have no span id, or whose span becomes no event, as `loose` (messages); the
// LLM calls that wait for their records, taken out of the request, as `waiting`.
struct WithLogs {
  std::vector<HeldLog> taken;  // to give back when the request cannot be queued
  std::uint64_t attached = 0;
  OtlpLogs loose;
  std::vector<HeldSpan> waiting;
  OwnSessions own;  // own_sessions() of the spans staying in the request, records folded in
};

// Which spans may wait for their log records: LLM calls of GenAI instrumentations with no
// content of their own, in traces without our spans (whose timesteps they would need to be placed).
// The content read stays on the span, for its event.
std::vector<bool> may_wait(OtlpTraces& traces) {
  std::unordered_set<std::string> ours;
  for (const OtlpSpan& s : traces.spans) {
    if (s.attributes.find("synth.kind") != nullptr) ours.insert(s.trace_id);
  }
  std::vector<bool> out(traces.spans.size(), false);
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    OtlpSpan& s = traces.spans[i];
    if (ours.contains(s.trace_id)) continue;
    const otlp::KnownAttributes known(s.attributes);
    if (!otlp::is_foreign_llm_call(known)) continue;
    const OtlpMessages& content = otlp::read_messages(s, known);
    out[i] = content.input.is_null() && content.output.is_null();
  }
  return out;
}

WithLogs fold_held_logs(ServerContext& ctx, OtlpTraces& traces, bool spans_may_wait, std::int64_t received) {
  WithLogs out;
  // Read once for the mapping too (kept in step with the spans below).
  out.own = own_sessions(traces);
  // Before the spans are marked seen: a record of them arriving meanwhile is stored at once, and
  // must find its trace's session.
  remember_sessions(sessions_of_traces(traces, out.own), *ctx.trace_sessions);
  std::vector<std::size_t> waiting;
  if (spans_may_wait && ctx.span_hold->enabled()) {
    const std::vector<bool> candidates = may_wait(traces);  // outside the hold's lock: it reads content
    out.taken = ctx.log_hold->take_for(traces, &candidates, &waiting);
  } else {
    out.taken = ctx.log_hold->take_for(traces);
  }
  if (!waiting.empty()) {
    static const Value kNoResource = Value::object();
    std::vector<bool> wait(traces.spans.size(), false);
    for (const std::size_t i : waiting) wait[i] = true;
    std::vector<OtlpSpan> staying;
    staying.reserve(traces.spans.size() - waiting.size());
    OwnSessions staying_own;
    staying_own.reserve(staying.capacity());
    for (std::size_t i = 0; i < traces.spans.size(); ++i) {
      OtlpSpan& s = traces.spans[i];
      if (!wait[i]) {
        staying.push_back(std::move(s));
        staying_own.push_back(std::move(out.own[i]));
        continue;
      }
      const Value& resource = s.resource < traces.resources.size() ? traces.resources[s.resource] : kNoResource;
      HeldSpan held{std::move(s), resource, {}};
      // Kept in the file with the session its trace has now: a restart must place it alike.
      held.pending_id = ctx.pending_ids->next();
      held.received_unix_ms = received;
      held.session = ctx.trace_sessions->find(held.span.trace_id).value_or("");
      out.waiting.push_back(std::move(held));
    }
    traces.spans = std::move(staying);
    out.own = std::move(staying_own);
  }
  if (out.taken.empty()) return out;
  std::unordered_map<std::string, std::vector<OtlpLog>> by_span;
  std::vector<HeldLog> loose;
  for (const HeldLog& h : out.taken) {
    if (h.log.span_id.empty()) {
      loose.push_back(h);
    } else {
      by_span[h.log.trace_id + "/" + h.log.span_id].push_back(h.log);
    }
  }
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    OtlpSpan& s = traces.spans[i];
    auto it = by_span.find(s.trace_id + "/" + s.span_id);
    if (it == by_span.end()) continue;
    // Our session and timestep spans become no event: their records stay messages.
    const Value* kind = s.attributes.find("synth.kind");
    if (kind != nullptr && (*kind == Value("session") || *kind == Value("timestep"))) continue;
    out.attached += it->second.size();
    fold_logs_into_span(s, std::move(it->second));
    out.own[i] = own_session(s);  // the records' attributes may name the session
    by_span.erase(it);
  }
  for (const HeldLog& h : out.taken) {
    if (!h.log.span_id.empty() && by_span.contains(h.log.trace_id + "/" + h.log.span_id)) loose.push_back(h);
  }
  out.loose = logs_of(loose);
  return out;
}

// The otlp_pending rows of records leaving the hold.
std::vector<std::int64_t> rows_of(const std::vector<HeldLog>& logs, std::vector<std::int64_t> into = {}) {
  for (const HeldLog& h : logs) {
    if (h.pending_id != 0) into.push_back(h.pending_id);
  }
  return into;
}

// Maps spans with their held log records and queues the sessions, with the otlp_pending rows of
// the spans that are to wait for their records and of the records that leave the hold (503 and
// the like as ApiError, after giving the records back). `leaving`: rows of spans leaving the
// SpanHold with them. The mapping takes the spans of `traces`. Returns the mapping (for its
// counts), the spans that are to wait, and what the request waits for.
struct Queued {
  OtlpMapped mapped;
  std::vector<HeldSpan> waiting;
  Waiting commit;
};

Queued map_and_store(ServerContext& ctx, httplib::Response* res, OtlpTraces& traces, bool spans_may_wait,
                     std::optional<IngestQueue::Admission>& admitted, JournaledRequest& journaled,
                     std::int64_t received_unix_ms, std::vector<std::int64_t> leaving = {}) {
  WithLogs logs = fold_held_logs(ctx, traces, spans_may_wait, received_unix_ms);
  Queued out;
  // The timesteps' copies of the items left out: the writer stores the items from the history.
  out.mapped = map_otlp_spans(std::move(traces), ctx.trace_sessions.get(), TimestepCopies::left_out, std::move(logs.own));
  // After the spans: their trace's session is known now.
  OtlpMapped loose = map_otlp_logs(logs.loose, ctx.trace_sessions.get());
  std::vector<IngestItem> items;
  add_items(items, out.mapped, false);
  add_items(items, loose, true);
  std::vector<PendingRow> put;
  for (const HeldSpan& h : logs.waiting) put.push_back(pending_row(h));
  add_pending(items, std::move(put), rows_of(logs.taken, std::move(leaving)));
  const std::size_t sessions = sessions_in(items);
  if (res != nullptr) out.commit = wait_for(ctx, items, journaled);
  try {
    if (res != nullptr) {
      if (!items.empty()) {
        push_to_queue(ctx, *res, items,
                      "export smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), or serve --queue-sessions, --queue-bytes",
                      admitted);
      }
    } else if (!items.empty() && ctx.queue.push(items) != IngestQueue::Push::queued) {
      throw ApiError(503, "the ingest queue is full or closed");
    }
  } catch (...) {
    ctx.log_hold->restore(std::move(logs.taken));  // they wait for the spans sent again
    for (const auto& [trace_id, session_id] : out.mapped.named) ctx.trace_sessions->restore_unnamed(trace_id);
    throw;
  }
  if (out.commit.receipt) journaled.handed_over();
  ctx.counters.accepted.fetch_add(sessions, std::memory_order_relaxed);
  ctx.counters.otlp_rejected_spans.fetch_add(out.mapped.rejected_spans, std::memory_order_relaxed);
  ctx.counters.otlp_spans.fetch_add(out.mapped.spans, std::memory_order_relaxed);
  ctx.counters.otlp_duplicate_spans.fetch_add(out.mapped.duplicate_spans, std::memory_order_relaxed);
  // Those folded into their spans; the others are counted by the writer (they may yet join a
  // stored call).
  ctx.counters.otlp_logs_attached.fetch_add(logs.attached, std::memory_order_relaxed);
  out.waiting = std::move(logs.waiting);
  return out;
}

}  // namespace

Rejected store_traces(ServerContext& ctx, httplib::Response& res, OtlpTraces& traces,
                      std::optional<IngestQueue::Admission>& admitted, JournaledRequest& journaled,
                      std::int64_t received_unix_ms) {
  Queued stored = map_and_store(ctx, &res, traces, true, admitted, journaled, received_unix_ms);
  // The LLM calls waiting for their log records are accepted too (kept in the file in the
  // commit of the request): stored when the wait is over, with the records that came meanwhile.
  ctx.span_hold->hold(std::move(stored.waiting));
  OtlpMapped& mapped = stored.mapped;
  await_commit(ctx, res, stored.commit, mapped.rejected_spans, mapped.error_message);
  return Rejected{mapped.rejected_spans, std::move(mapped.error_message)};
}

Rejected store_logs(ServerContext& ctx, httplib::Response& res, OtlpLogs& logs,
                    std::optional<IngestQueue::Admission>& admitted, JournaledRequest& journaled,
                    std::int64_t received_unix_ms) {
  LogHold::Intake intake =
      ctx.log_hold->take_in(logs, ctx.trace_sessions.get(), ctx.pending_ids.get(), received_unix_ms);
  OtlpMapped mapped = map_otlp_logs(logs_of(intake.now), ctx.trace_sessions.get());
  std::vector<IngestItem> items;
  add_items(items, mapped, true);
  add_pending(items, std::move(intake.put), std::move(intake.drop));
  const std::size_t count = sessions_in(items);
  const Waiting commit = wait_for(ctx, items, journaled);
  try {
    if (!items.empty()) {
      push_to_queue(ctx, res, items,
                    "export smaller batches (OTEL_BLRP_MAX_EXPORT_BATCH_SIZE), or serve --queue-sessions, --queue-bytes",
                    admitted);
    }
  } catch (...) {
    ctx.log_hold->undo(intake);
    throw;
  }
  if (commit.receipt) journaled.handed_over();
  ctx.counters.accepted.fetch_add(count, std::memory_order_relaxed);
  ctx.counters.otlp_log_records.fetch_add(intake.genai, std::memory_order_relaxed);
  ctx.counters.otlp_duplicate_log_records.fetch_add(intake.duplicates, std::memory_order_relaxed);
  // Records that were held and had to leave to keep the hold in its bounds.
  const auto was_held = [&](const HeldLog& h) {
    return h.seq < intake.first_seq || std::binary_search(intake.held.begin(), intake.held.end(), h.seq);
  };
  const auto let_go = static_cast<std::size_t>(std::count_if(intake.now.begin(), intake.now.end(), was_held));
  ctx.counters.otlp_logs_unmatched.fetch_add(let_go, std::memory_order_relaxed);
  try {
    await_commit(ctx, res, commit, mapped.rejected_spans, mapped.error_message);
  } catch (...) {
    ctx.log_hold->forget_stored_now(intake);  // not committed: taken again when sent again
    throw;
  }
  return Rejected{mapped.rejected_spans, std::move(mapped.error_message)};
}

bool release_held_spans(ServerContext& ctx, bool all) {
  std::vector<HeldSpan> due = ctx.span_hold->take_due(all ? SpanHold::Clock::time_point::max() : SpanHold::Clock::now());
  if (due.empty()) return true;
  OtlpTraces traces;
  traces.spans.reserve(due.size());
  std::vector<std::int64_t> leaving;
  for (const HeldSpan& h : due) {
    traces.spans.push_back(h.span);
    traces.spans.back().resource = traces.resources.size();
    traces.resources.push_back(h.resource);
    if (h.pending_id != 0) leaving.push_back(h.pending_id);
  }
  try {
    std::optional<IngestQueue::Admission> none;  // released, not sent: no bound in time
    JournaledRequest not_journaled;               // their otlp_pending rows keep them
    map_and_store(ctx, nullptr, traces, false, none, not_journaled, unix_ms_now(), std::move(leaving));
  } catch (const ApiError&) {
    ctx.span_hold->restore(std::move(due));  // tried again at the next release
    return false;
  }
  return true;
}

bool release_held_logs(ServerContext& ctx, bool all) {
  std::vector<HeldLog> due = ctx.log_hold->take_due(all ? LogHold::Clock::time_point::max() : LogHold::Clock::now());
  if (due.empty()) return true;
  OtlpMapped mapped = map_otlp_logs(logs_of(due), ctx.trace_sessions.get());
  std::vector<IngestItem> items;
  add_items(items, mapped, true);
  add_pending(items, {}, rows_of(due));
  const std::size_t count = sessions_in(items);
  switch (ctx.queue.push(items)) {
    case IngestQueue::Push::queued:
      ctx.counters.accepted.fetch_add(count, std::memory_order_relaxed);
      ctx.counters.otlp_logs_unmatched.fetch_add(due.size(), std::memory_order_relaxed);
      return true;
    case IngestQueue::Push::full:
      ctx.log_hold->restore(std::move(due));  // tried again at the next release
      return false;
    case IngestQueue::Push::too_large:
    case IngestQueue::Push::closed:
      break;
  }
  // Only at shutdown (the queue is closed) or with a queue smaller than one record's session;
  // their rows stay in the file, for the next start.
  ctx.counters.otlp_logs_lost.fetch_add(due.size(), std::memory_order_relaxed);
  detail::report("synth-trace serve: " + std::to_string(due.size()) +
                 " held GenAI log records could not be queued (first of trace " + due.front().log.trace_id +
                 "); they wait in '" + ctx.options.db.string() + "' for the next start");
  return false;
}

}  // namespace synth::tracing::server
