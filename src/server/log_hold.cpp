// GenAI log records held for the spans of their trace: by arrival (the oldest leave first, on
// overflow and timeout) and by trace (to leave with their spans).
#include "server/log_hold.hpp"

#include <unordered_set>

namespace synth::tracing::server {

namespace {

// A record's body and attributes as JSON text, made once: its identity and its size read both.
struct RecordText {
  explicit RecordText(const OtlpLog& log) : body(log.body.dump()), attributes(log.attributes.dump()) {}
  std::string body;
  std::string attributes;
};

// What identifies a record sent again (OTLP gives log records no id of their own), but for its
// place among equal records of its request (record_key's "#N"): an instrumentation with content
// capture off sends the same empty user message twice for one call; a retry resends the request
// as it was.
std::string content_key(const OtlpLog& log, const RecordText& text) {
  const std::size_t content = std::hash<std::string>{}(text.body + '\0' + text.attributes);
  return log.trace_id + "/" + log.span_id + "/" + log.event_name + "/" + std::to_string(log.time_unix_nano) + "/" +
         std::to_string(content);
}

std::string record_key(const std::string& content, std::size_t occurrence) {
  return content + "#" + std::to_string(occurrence);
}

// What a record costs the hold: its text as JSON, and the bookkeeping around it.
std::size_t size_of(const OtlpLog& log, const RecordText& text, const Value& resource) {
  return text.body.size() + text.attributes.size() + resource.dump().size() + log.event_name.size() +
         log.trace_id.size() + log.span_id.size() + 256;
}

}  // namespace

LogHold::LogHold(std::chrono::milliseconds timeout, std::size_t max_bytes, std::size_t max_logs, std::size_t span_memory)
    : timeout_(timeout), max_bytes_(max_bytes), max_logs_(max_logs), seen_(span_memory), admitted_(span_memory) {}

LogHold::Intake LogHold::take_in(const OtlpLogs& logs, TraceSessions* memory, PendingIds* ids,
                                 std::int64_t received) {
  static const Value kNoResource = Value::object();
  Intake out;
  // Records that came earlier (replayed from the journal) wait what is left of their time.
  const auto due = Clock::now() + timeout_ -
                   std::chrono::milliseconds(std::clamp<std::int64_t>(unix_ms_now() - received, 0, timeout_.count()));
  // The sessions of the request's traces, known now: kept with the records, for a restart.
  std::unordered_map<std::string, std::string> sessions;
  if (memory != nullptr && ids != nullptr) {
    for (const OtlpLog& log : logs.logs) {
      if (log.trace_id.empty() || !log.event_name.starts_with("gen_ai.") || sessions.contains(log.trace_id)) continue;
      sessions[log.trace_id] = memory->find(log.trace_id).value_or("");
    }
  }
  // Each GenAI record's text and identity, made before taking the lock every handler shares.
  std::vector<RecordText> texts;
  std::vector<std::string> contents;
  for (const OtlpLog& log : logs.logs) {
    if (!log.event_name.starts_with("gen_ai.")) continue;
    contents.push_back(content_key(log, texts.emplace_back(log)));
  }
  std::unordered_map<std::string, std::size_t> occurrences;  // of equal records in the request
  std::lock_guard lock(mutex_);
  out.first_seq = next_seq_;
  std::size_t genai = 0;  // index into texts and contents
  for (const OtlpLog& log : logs.logs) {
    if (!log.event_name.starts_with("gen_ai.")) continue;
    ++out.genai;
    const RecordText& text = texts[genai];
    std::string content = std::move(contents[genai++]);
    const std::size_t occurrence = occurrences[content]++;
    std::string key = record_key(content, occurrence);
    if (admitted_.find(key) != nullptr) {
      ++out.duplicates;  // stored or held already: a retried export
      continue;
    }
    admitted_.set(key, true);
    out.admitted.push_back(key);
    const Value& resource = log.resource < logs.resources.size() ? logs.resources[log.resource] : kNoResource;
    HeldLog h{log, resource, due, size_of(log, text, resource), next_seq_++};
    h.received_unix_ms = received;
    // Nothing to wait for: no trace; a span already stored; a trace whose session is known
    // (a record without a span id has no event to join, only a session).
    const bool wait = timeout_.count() > 0 && max_logs_ > 0 && !log.trace_id.empty() &&
                      (log.span_id.empty() ? memory == nullptr || !memory->find(log.trace_id)
                                           : !seen_.contains(span_key_of(log.trace_id, log.span_id)));
    if (!wait || h.bytes > max_bytes_) {
      out.now.push_back(std::move(h));
      out.admitted_now.push_back(std::move(key));
      continue;
    }
    out.held.push_back(h.seq);
    if (ids != nullptr) {
      h.pending_id = ids->next();
      if (const auto it = sessions.find(log.trace_id); it != sessions.end()) h.session = it->second;
    }
    insert(std::move(h));
    // Over a bound: the oldest leave now, as messages (a record that waited longest is the
    // least likely to meet its span).
    while (held_.size() > max_logs_ || bytes_ > max_bytes_) out.now.push_back(remove(held_.begin()->first));
  }
  // Kept in the file: the request's records still held; older ones let go leave it.
  for (const std::uint64_t seq : out.held) {
    if (const auto it = held_.find(seq); it != held_.end() && it->second.pending_id != 0) {
      out.put.push_back(pending_row(it->second));
    }
  }
  for (const HeldLog& h : out.now) {
    if (h.seq < out.first_seq && h.pending_id != 0) out.drop.push_back(h.pending_id);
  }
  return out;
}

void LogHold::undo(Intake& intake) {
  std::lock_guard lock(mutex_);
  for (const std::string& key : intake.admitted) admitted_.erase(key);
  for (const std::uint64_t seq : intake.held) {
    if (held_.contains(seq)) remove(seq);
  }
  for (HeldLog& h : intake.now) {
    if (h.seq >= intake.first_seq) continue;  // the request's own: the client sends them again
    insert(std::move(h));
  }
  intake.now.clear();
  intake.held.clear();
}

void LogHold::forget_stored_now(const Intake& intake) {
  std::lock_guard lock(mutex_);
  for (const std::string& key : intake.admitted_now) admitted_.erase(key);
}

std::vector<HeldLog> LogHold::take_for(const OtlpTraces& traces, const std::vector<bool>* may_wait,
                                      std::vector<std::size_t>* waiting) {
  std::vector<HeldLog> out;
  if (timeout_.count() <= 0 || max_logs_ == 0) return out;  // nothing is ever held
  std::lock_guard lock(mutex_);
  // The spans that held records belong to: they leave now, with their records.
  std::unordered_set<SpanKey, SpanKeyHash> with_records;
  std::unordered_set<std::string> traces_done;
  for (const OtlpSpan& s : traces.spans) {
    if (held_.empty()) break;
    if (s.trace_id.empty() || !traces_done.insert(s.trace_id).second) continue;
    const auto it = by_trace_.find(s.trace_id);
    if (it == by_trace_.end()) continue;
    for (const std::uint64_t seq : it->second) {
      const OtlpLog& log = held_.at(seq).log;
      if (!log.span_id.empty()) with_records.insert(span_key_of(log.trace_id, log.span_id));
    }
  }
  std::unordered_set<SpanKey, SpanKeyHash> leaving_spans;
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    const OtlpSpan& s = traces.spans[i];
    if (s.trace_id.empty() || s.span_id.empty()) continue;
    const SpanKey key = span_key_of(s.trace_id, s.span_id);
    if (waiting != nullptr && may_wait != nullptr && i < may_wait->size() && (*may_wait)[i] &&
        !with_records.contains(key)) {
      waiting->push_back(i);  // not seen yet: its records, when they come, wait for it here
      continue;
    }
    seen_.insert(key);
    if (with_records.contains(key)) leaving_spans.insert(key);
  }
  for (const std::string& trace : traces_done) {
    const auto it = by_trace_.find(trace);
    if (it == by_trace_.end()) continue;
    std::vector<std::uint64_t> leaving;
    for (const std::uint64_t seq : it->second) {
      const OtlpLog& log = held_.at(seq).log;
      if (log.span_id.empty() || leaving_spans.contains(span_key_of(log.trace_id, log.span_id))) leaving.push_back(seq);
    }
    for (const std::uint64_t seq : leaving) out.push_back(remove(seq));  // may erase `it`
  }
  return out;
}

std::vector<HeldLog> LogHold::take_due(Clock::time_point now) {
  std::vector<HeldLog> out;
  std::lock_guard lock(mutex_);
  while (!held_.empty() && held_.begin()->second.due <= now) out.push_back(remove(held_.begin()->first));
  return out;
}

void LogHold::restore(std::vector<HeldLog> logs) {
  std::lock_guard lock(mutex_);
  for (HeldLog& h : logs) insert(std::move(h));
}

void LogHold::add_restored(std::vector<HeldLog> logs) {
  std::lock_guard lock(mutex_);
  for (HeldLog& h : logs) {
    h.seq = next_seq_++;
    const RecordText text(h.log);
    h.bytes = size_of(h.log, text, h.resource);
    admitted_.set(record_key(content_key(h.log, text), 0), true);  // sent again after the restart: left out
    insert(std::move(h));
  }
}

std::size_t LogHold::size() const {
  std::lock_guard lock(mutex_);
  return held_.size();
}

std::size_t LogHold::bytes() const {
  std::lock_guard lock(mutex_);
  return bytes_;
}

void LogHold::insert(HeldLog h) {
  bytes_ += h.bytes;
  by_trace_[h.log.trace_id].insert(h.seq);
  const std::uint64_t seq = h.seq;
  held_.emplace(seq, std::move(h));
}

HeldLog LogHold::remove(std::uint64_t seq) {
  auto node = held_.extract(seq);
  HeldLog h = std::move(node.mapped());
  bytes_ -= h.bytes;
  auto it = by_trace_.find(h.log.trace_id);
  it->second.erase(seq);
  if (it->second.empty()) by_trace_.erase(it);
  return h;
}

OtlpLogs logs_of(const std::vector<HeldLog>& held) {
  OtlpLogs out;
  out.logs.reserve(held.size());
  out.resources.reserve(held.size());
  for (const HeldLog& h : held) {
    out.logs.push_back(h.log);
    out.logs.back().resource = out.resources.size();
    out.resources.push_back(h.resource);
  }
  return out;
}

}  // namespace synth::tracing::server
