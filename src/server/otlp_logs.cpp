// GenAI log records folded into their span, so that their content reaches the LLM call event by
// the same mapping as content put on spans (collector-and-viewer.md §7: the legacy
// `gen_ai.*.message` / `gen_ai.choice` records, and `gen_ai.client.inference.operation.details`).
#include <algorithm>

#include "server/otlp_map.hpp"

namespace synth::tracing::server {

namespace {

// The role a legacy message event names ("gen_ai.user.message" → "user"), else "".
std::string role_of_event(std::string_view name) {
  for (const char* role : {"system", "user", "assistant", "tool"}) {
    if (name == std::string("gen_ai.") + role + ".message") return role;
  }
  return {};
}

// A message in the mapping's shape {role, content, ...} from an event body: an object keeps its
// fields (a tool message's `id` is its tool_call_id), anything else is the content.
Value message_of(const Value& body, const std::string& role) {
  Value m = body.is_object() ? body : Value::object();
  if (!body.is_object() && !body.is_null()) m.set("content", body);
  if (const Value* r = m.find("role"); r == nullptr || !r->is_string() || r->as_string().empty()) m.set("role", role);
  if (role == "tool" && m.find("id") != nullptr && m.find("tool_call_id") == nullptr) {
    m.set("tool_call_id", m["id"]);
    std::erase_if(m.as_object(), [](const auto& member) { return member.first == "id"; });
  }
  return m;
}

// The span event a record becomes when its content is not folded.
OtlpEvent as_span_event(const OtlpLog& log) {
  OtlpEvent e{log.event_name, log.time_unix_nano, log.attributes};
  if (!log.body.is_null()) e.attributes.set("body", log.body);
  return e;
}

}  // namespace

void fold_logs_into_span(OtlpSpan& span, std::vector<OtlpLog> logs) {
  std::stable_sort(logs.begin(), logs.end(),
                   [](const OtlpLog& a, const OtlpLog& b) { return a.time_unix_nano < b.time_unix_nano; });
  Value& attributes = span.attributes;
  // What the span says itself wins (first key present): records only fill what it lacks.
  const bool own_input = !otlp::read_messages(span).input.is_null();
  const bool own_output = !otlp::read_messages(span).output.is_null();
  span.messages.reset();  // the attributes change below
  Value inputs = Value::array();
  std::vector<std::pair<std::int64_t, Value>> outputs;  // by choice index
  std::vector<const OtlpLog*> unfolded;
  for (const OtlpLog& log : logs) {
    if (const std::string role = role_of_event(log.event_name); !role.empty()) {
      if (own_input) {
        unfolded.push_back(&log);
      } else {
        inputs.push_back(message_of(log.body, role));
      }
    } else if (log.event_name == "gen_ai.choice") {
      if (own_output) {
        unfolded.push_back(&log);
        continue;
      }
      const Value& body = log.body;
      const Value* message = body.is_object() ? body.find("message") : nullptr;
      Value m = message_of(message != nullptr && message->is_object() ? *message : body, "assistant");
      std::erase_if(m.as_object(), [](const auto& member) { return member.first == "message"; });
      std::int64_t index = static_cast<std::int64_t>(outputs.size());
      if (body.is_object()) {
        if (const Value* fr = body.find("finish_reason"); fr != nullptr && !fr->is_null()) m.set("finish_reason", *fr);
        if (const Value* i = body.find("index"); i != nullptr && i->kind() == Value::Kind::integer) index = i->as_int();
      }
      outputs.emplace_back(index, std::move(m));
    } else if (log.event_name == "gen_ai.client.inference.operation.details") {
      // Its attributes are the span's (content included); the span's own values win.
      bool folded = false;
      for (const auto& [key, value] : log.attributes.as_object()) {
        if (key == "event.name") continue;
        const bool content = key == "gen_ai.input.messages" || key == "gen_ai.system_instructions" ||
                             key == "gen_ai.output.messages";
        if (content && (key == "gen_ai.output.messages" ? own_output : own_input)) continue;
        if (attributes.find(key) == nullptr) {
          attributes.set(key, value);
          folded = folded || content;
        }
      }
      if (!folded) unfolded.push_back(&log);
    } else {
      unfolded.push_back(&log);
    }
  }
  if (!inputs.empty()) attributes.set("gen_ai.input.messages", std::move(inputs));
  if (!outputs.empty()) {
    std::stable_sort(outputs.begin(), outputs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    Value list = Value::array();
    Value reasons = Value::array();
    for (auto& [index, m] : outputs) {
      if (const Value* fr = m.find("finish_reason")) reasons.push_back(*fr);
      list.push_back(std::move(m));
    }
    attributes.set("gen_ai.output.messages", std::move(list));
    if (attributes.find("gen_ai.response.finish_reasons") == nullptr && !reasons.empty()) {
      attributes.set("gen_ai.response.finish_reasons", std::move(reasons));
    }
  }
  for (const OtlpLog* log : unfolded) span.events.push_back(as_span_event(*log));
}

}  // namespace synth::tracing::server
