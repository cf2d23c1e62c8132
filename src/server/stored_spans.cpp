#include "server/stored_spans.hpp"

#include "duckdb/access.hpp"

namespace synth::tracing::server {

namespace {

using detail::duck::StoreAccess;

// BIGINT columns keep the keys' bits.
std::int64_t column_of(std::uint64_t key) { return static_cast<std::int64_t>(key); }
std::uint64_t key_of(const Value& column) { return static_cast<std::uint64_t>(column.as_int()); }

}  // namespace

void drop_spans(SessionTrace& trace, SpanOrigins& origins, const std::vector<bool>& drop) {
  SpanOrigins kept;
  kept.copies_left_out = origins.copies_left_out;
  const bool copies = !origins.copies_left_out;
  std::vector<std::uint32_t> renumbered(origins.keys.size(), 0);
  std::vector<bool> step_kept(trace.session_time_steps.size(), false);
  for (std::size_t i = 0; i < origins.keys.size(); ++i) {
    if (drop[i]) continue;
    renumbered[i] = static_cast<std::uint32_t>(kept.keys.size());
    kept.keys.push_back(std::move(origins.keys[i]));
    kept.steps.push_back(origins.steps[i]);
    if (origins.steps[i] >= 0) step_kept[static_cast<std::size_t>(origins.steps[i])] = true;
  }
  // The kept timesteps, emptied, then filled again in history order as map_otlp_spans fills them
  // (when it made the copies).
  std::vector<std::int32_t> step_at(trace.session_time_steps.size(), -1);
  std::vector<SessionTimeStep> steps;
  for (std::size_t t = 0; t < trace.session_time_steps.size(); ++t) {
    if (!step_kept[t]) continue;
    step_at[t] = static_cast<std::int32_t>(steps.size());
    steps.push_back(std::move(trace.session_time_steps[t]));
    steps.back().events.clear();
    steps.back().step_messages.clear();
  }
  for (std::int32_t& step : kept.steps) {
    if (step >= 0) step = step_at[static_cast<std::size_t>(step)];
  }
  std::vector<Event> events;
  for (std::size_t e = 0; e < trace.event_history.size(); ++e) {
    const std::uint32_t span = origins.events[e];
    if (drop[span]) continue;
    const std::int32_t step = kept.steps[renumbered[span]];
    if (step >= 0 && copies) steps[static_cast<std::size_t>(step)].events.push_back(trace.event_history[e]);
    events.push_back(std::move(trace.event_history[e]));
    kept.events.push_back(renumbered[span]);
  }
  std::vector<SessionEventMessage> messages;
  for (std::size_t m = 0; m < trace.message_history.size(); ++m) {
    const std::uint32_t span = origins.messages[m];
    if (drop[span]) continue;
    const std::int32_t step = kept.steps[renumbered[span]];
    if (step >= 0 && copies) steps[static_cast<std::size_t>(step)].step_messages.push_back(trace.message_history[m]);
    messages.push_back(std::move(trace.message_history[m]));
    kept.messages.push_back(renumbered[span]);
  }
  trace.session_time_steps = std::move(steps);
  trace.event_history = std::move(events);
  trace.message_history = std::move(messages);
  origins = std::move(kept);
}

std::vector<bool> StoredSpans::stored(DuckDBTraceManager& store, const std::string& session_id,
                                      const SpanOrigins& origins, bool new_session) {
  Session& s = entry(session_id, new_session);
  if (!s.complete) {
    // Stored before this run, or forgotten: the spans of the part's traces not looked up yet.
    Value::Array traces;
    for (const SpanKey& key : origins.keys) {
      if (s.traces.insert(key.trace).second) {
        ++remembered_;
        traces.emplace_back(column_of(key.trace));
      }
    }
    if (!traces.empty()) {
      write(store);  // the spans noted in the open batch are found too (flushed for the query)
      const QueryResult found = StoreAccess::batch_run(
          store,
          "SELECT trace_key, span_key FROM otlp_spans WHERE trace_key IN "
          "(SELECT unnest(CAST(? AS BIGINT[])))",
          {Value(std::move(traces))}, true);
      for (const auto& row : found.rows) {
        if (s.keys.insert(SpanKey{key_of(row.at(0)), key_of(row.at(1))}).second) ++remembered_;
      }
    }
  }
  std::vector<bool> out(origins.keys.size(), false);
  for (std::size_t i = 0; i < origins.keys.size(); ++i) out[i] = s.keys.contains(origins.keys[i]);
  evict();
  return out;
}

void StoredSpans::note(const std::string& session_id, const SpanOrigins& origins) {
  Session& s = entry(session_id, false);
  for (const SpanKey& key : origins.keys) {
    if (s.keys.insert(key).second) ++remembered_;
    unwritten_.push_back({column_of(key.trace), column_of(key.span)});
  }
  evict();
}

void StoredSpans::moved(const std::string& from, const std::string& to, bool to_new) {
  const auto f = sessions_.find(from);
  const bool from_known = f != sessions_.end();
  const bool from_complete = from_known && f->second.complete;
  const bool had_to = sessions_.contains(to);
  // Complete only when both sides are known whole (a missing `to` is known whole when it is new).
  Session& t = entry(to, from_complete && to_new);
  if (had_to && !from_complete) t.complete = false;
  if (!from_known) return;
  Session& moving = sessions_.find(from)->second;  // entry() may have rehashed
  for (const SpanKey& key : moving.keys) {
    if (!t.keys.insert(key).second) --remembered_;
  }
  for (const std::uint64_t trace : moving.traces) {
    if (!t.traces.insert(trace).second) --remembered_;
  }
  sessions_.erase(from);  // its keys and traces are counted in `t` now
  evict();
}

void StoredSpans::write(DuckDBTraceManager& store) {
  if (unwritten_.empty()) return;
  StoreAccess::batch_add_spans(store, unwritten_);
  unwritten_.clear();
}

void StoredSpans::forget() {
  sessions_.clear();
  order_.clear();
  remembered_ = 0;
  unwritten_.clear();
}

StoredSpans::Session& StoredSpans::entry(const std::string& session_id, bool complete) {
  const auto [it, added] = sessions_.try_emplace(session_id);
  if (added) {
    it->second.complete = complete;
    it->second.generation = next_generation_++;
    order_.emplace_back(session_id, it->second.generation);
  }
  return it->second;
}

void StoredSpans::evict() {
  // The oldest sessions go whole; an entry of `order_` whose session went (moved) or was made
  // again since is passed over.
  while (!order_.empty() && (remembered_ > capacity_ || order_.size() > capacity_)) {
    const auto& [id, generation] = order_.front();
    const auto it = sessions_.find(id);
    if (it != sessions_.end() && it->second.generation == generation) {
      remembered_ -= it->second.keys.size() + it->second.traces.size();
      sessions_.erase(it);
    }
    order_.pop_front();
  }
}

}  // namespace synth::tracing::server
