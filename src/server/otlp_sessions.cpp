// Which session a span, a log record or a resource names (the session keys of the mapping table,
// first present wins), and which session each trace belongs to: from its spans in a request,
// remembered for the requests after it (TraceSessions).
#include "server/otlp_map.hpp"

#include <algorithm>

namespace synth::tracing::server {

namespace {

// The keys naming a span's session, by the mapping table's order (the first present wins).
constexpr std::string_view kSessionKeys[] = {"synth.session_id",
                                             "synth.session.id",
                                             "session.id",
                                             "gen_ai.conversation.id",
                                             "langfuse.session.id",
                                             "traceloop.association.properties.session_id",
                                             "ai.telemetry.metadata.sessionId"};

static_assert(std::all_of(std::begin(kSessionKeys), std::end(kSessionKeys), [](std::string_view k) { return k.ends_with('d'); }),
              "session_key() passes over attributes whose name does not end in 'd'");

}  // namespace

bool is_session_key(std::string_view name) noexcept {
  return std::find(std::begin(kSessionKeys), std::end(kSessionKeys), name) != std::end(kSessionKeys);
}

// A scan for these keys alone rather than KnownAttributes (all the keys the events read): every
// span's session is read on each request, and most attributes are passed over on their last
// character. Each key's first occurrence counts, as Value::find's.
std::optional<std::string> session_key(const Value& attributes) {
  if (!attributes.is_object()) return std::nullopt;
  std::array<const Value*, std::size(kSessionKeys)> found{};
  for (const auto& [name, value] : attributes.as_object()) {
    if (name.empty() || name.back() != 'd') continue;  // as every session key ends
    for (std::size_t k = 0; k < found.size(); ++k) {
      if (name == kSessionKeys[k]) {
        if (found[k] == nullptr) found[k] = &value;
        break;
      }
    }
  }
  const auto present = std::find_if(found.begin(), found.end(), [](const Value* v) { return v != nullptr && !v->is_null(); });
  if (present == found.end()) return std::nullopt;
  const Value* v = *present;
  if (v->is_string()) return v->as_string().empty() ? std::nullopt : std::optional(v->as_string());
  return v->dump();
}

std::optional<std::string> TraceSessions::find(const std::string& trace_id) {
  std::lock_guard lock(mutex_);
  const auto it = sessions_.find(trace_id);
  return it == sessions_.end() ? std::nullopt : std::optional(it->second);
}

std::optional<std::string> TraceSessions::find_or_note_unnamed(const std::string& trace_id) {
  if (trace_id.empty() || capacity_ == 0) return std::nullopt;
  std::lock_guard lock(mutex_);
  if (const auto it = sessions_.find(trace_id); it != sessions_.end()) return it->second;
  if (unnamed_.insert(trace_id).second) remember_order(trace_id);
  return std::nullopt;
}

void TraceSessions::remember(const std::string& trace_id, const std::string& session_id) {
  if (trace_id.empty() || capacity_ == 0) return;
  std::lock_guard lock(mutex_);
  const auto [it, added] = sessions_.insert_or_assign(trace_id, session_id);
  if (added && !unnamed_.contains(trace_id)) remember_order(trace_id);
}

bool TraceSessions::take_unnamed(const std::string& trace_id) {
  std::lock_guard lock(mutex_);
  return unnamed_.erase(trace_id) > 0;
}

void TraceSessions::restore_unnamed(const std::string& trace_id) {
  std::lock_guard lock(mutex_);
  if (sessions_.contains(trace_id)) unnamed_.insert(trace_id);  // else forgotten meanwhile
}

void TraceSessions::remember_order(const std::string& trace_id) {
  order_.push_back(trace_id);
  if (order_.size() > capacity_) {
    sessions_.erase(order_.front());
    unnamed_.erase(order_.front());
    order_.pop_front();
  }
}

std::unordered_map<std::string, std::string> sessions_of_traces(const OtlpTraces& traces, const OwnSessions& own) {
  // From whichever span of a trace names one; the root's wins.
  std::unordered_map<std::string, std::string> out;
  for (std::size_t i = 0; i < traces.spans.size(); ++i) {
    const OtlpSpan& s = traces.spans[i];
    // A span of no trace names no other span's session.
    if (!own[i] || s.trace_id.empty()) continue;
    if (s.parent_span_id.empty()) {
      out[s.trace_id] = *own[i];
    } else {
      out.try_emplace(s.trace_id, *own[i]);
    }
  }
  return out;
}

std::optional<std::string> own_session(const OtlpSpan& span) { return session_key(span.attributes); }

OwnSessions own_sessions(const OtlpTraces& traces) {
  OwnSessions out;
  out.reserve(traces.spans.size());
  for (const OtlpSpan& s : traces.spans) out.push_back(own_session(s));
  return out;
}

std::unordered_map<std::string, std::string> sessions_of_traces(const OtlpTraces& traces) {
  return sessions_of_traces(traces, own_sessions(traces));
}

void remember_sessions(const std::unordered_map<std::string, std::string>& sessions, TraceSessions& memory) {
  for (const auto& [trace, sid] : sessions) memory.remember(trace, sid);
}

}  // namespace synth::tracing::server
