// One OTLP span as one of our events: which kind, the model, tokens, cost, messages, tool,
// reward and error, looked up in the keys of the GenAI conventions, OpenInference, OpenLLMetry
// and our own `synth.*` (collector-and-viewer.md §7, first key present wins).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "server/otlp_map.hpp"

namespace synth::tracing::server::otlp {

namespace {

// Indexed keys past this are ignored: a flattened list this long is not a conversation.
constexpr std::size_t kMaxIndex = 4096;

std::optional<std::int64_t> int_of(const Value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->kind() == Value::Kind::integer) return v->as_int();
  if (v->is_number() && v->as_double() >= -9.2e18 && v->as_double() <= 9.2e18) return static_cast<std::int64_t>(v->as_double());
  if (v->is_string()) {
    std::int64_t out = 0;
    const std::string& s = v->as_string();
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return out;
  }
  return std::nullopt;
}

// A finite number (a NaN cost or latency would poison every sum it enters).
std::optional<double> double_of(const Value* v) {
  if (v == nullptr) return std::nullopt;
  double out = 0;
  if (v->is_number()) {
    out = v->as_double();
  } else if (v->is_string()) {
    const std::string& s = v->as_string();
    const auto r = std::from_chars(s.data(), s.data() + s.size(), out);
    if (r.ec != std::errc() || r.ptr != s.data() + s.size()) return std::nullopt;
  } else {
    return std::nullopt;
  }
  return std::isfinite(out) ? std::optional(out) : std::nullopt;
}

std::optional<std::string> string_of(const Value* v) {
  if (v == nullptr || !v->is_string() || v->as_string().empty()) return std::nullopt;
  return v->as_string();
}

std::optional<bool> bool_of(const Value* v) {
  if (v != nullptr && v->is_bool()) return v->as_bool();
  return std::nullopt;
}

// A JSON-looking string parsed (SDKs send structured values as JSON text); anything else as is.
Value parsed(const Value& v) {
  if (!v.is_string()) return v;
  const std::string& s = v.as_string();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (s[first] != '[' && s[first] != '{')) return v;
  try {
    return Value::parse(s);
  } catch (const Error&) {
    return v;
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Sets `path` (dot-separated; numeric segments index arrays) under `into`.
void set_path(Value& into, std::string_view path, const Value& value, int depth = 0) {
  if (depth > kOtlpMaxDepth) return;
  const auto dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  if (all_digits(head) && (into.is_null() || into.is_array())) {
    const std::size_t index = std::stoul(std::string(head));
    if (index >= kMaxIndex) return;
    if (into.is_null()) into = Value::array();
    while (into.as_array().size() <= index) into.push_back(Value());
    Value& slot = into.as_array()[index];
    if (dot == std::string_view::npos) {
      slot = parsed(value);
    } else {
      set_path(slot, path.substr(dot + 1), value, depth + 1);
    }
    return;
  }
  if (!into.is_object()) into = Value::object();
  Value& slot = into[head];
  if (dot == std::string_view::npos) {
    slot = parsed(value);
  } else {
    set_path(slot, path.substr(dot + 1), value, depth + 1);
  }
}

// Attributes "<prefix>.N.<rest>" un-flattened into an array (null when there are none); an
// attribute named just `prefix` holding a list (or its JSON text) is taken as it is.
Value indexed(const Value& attributes, std::string_view prefix) {
  Value out;
  if (const Value* whole = attributes.find(prefix)) {
    Value v = parsed(*whole);
    if (v.is_array()) return v;
  }
  for (const auto& [key, value] : attributes.as_object()) {
    if (key.size() <= prefix.size() + 1 || !key.starts_with(prefix) || key[prefix.size()] != '.') continue;
    const std::string_view rest = std::string_view(key).substr(prefix.size() + 1);
    if (!all_digits(rest.substr(0, rest.find('.')))) continue;
    set_path(out, rest, value);
  }
  return out;
}

// The text of a GenAI message's parts ({type:"text", content}).
std::string parts_text(const Value& parts) {
  std::string text;
  if (!parts.is_array()) return text;
  for (const Value& part : parts.as_array()) {
    if (!part.is_object() || part["type"] != Value("text")) continue;
    if (const auto content = string_of(part.find("content"))) text += text.empty() ? *content : "\n" + *content;
  }
  return text;
}

// Messages in one shape: {role, content, ...the source's other fields}. OpenInference wraps each
// in {"message": {...}} and calls tool calls' fields tool_call.*; GenAI has parts.
Value normalized_messages(Value list) {
  if (!list.is_array()) return Value();
  Value out = Value::array();
  for (Value& m : list.as_array()) {
    if (m.is_null()) continue;
    if (m.is_object() && m.find("message") != nullptr && m["message"].is_object()) m = Value(m["message"]);
    if (!m.is_object()) {
      out.push_back(Value{{"role", "user"}, {"content", m}});
      continue;
    }
    if (m.find("content") == nullptr && m.find("parts") != nullptr) {
      const std::string text = parts_text(m["parts"]);
      if (!text.empty()) m.set("content", text);
    }
    out.push_back(std::move(m));
  }
  if (out.empty()) return Value();
  return out;  // moved (a conditional expression would copy the whole list)
}

enum class Kind { llm, environment, runtime };

Kind kind_of(const OtlpSpan& s) {
  const Value& a = s.attributes;
  if (const auto synth = string_of(a.find("synth.kind"))) {
    if (*synth == "ai_call") return Kind::llm;
    if (*synth == "environment_step") return Kind::environment;
    return Kind::runtime;
  }
  if (const auto oi = string_of(a.find("openinference.span.kind"))) return *oi == "LLM" ? Kind::llm : Kind::runtime;
  if (const auto op = string_of(a.find("gen_ai.operation.name"))) {
    return *op == "chat" || *op == "text_completion" || *op == "generate_content" ? Kind::llm : Kind::runtime;
  }
  if (a.find("traceloop.span.kind") != nullptr) return Kind::runtime;
  if (a.find("gen_ai.tool.name") != nullptr || a.find("tool.name") != nullptr) return Kind::runtime;
  if (first_of(a, {"gen_ai.response.model", "gen_ai.request.model", "llm.model_name", "ai.model.id"}) != nullptr) {
    return Kind::llm;
  }
  return Kind::runtime;
}

// Status ERROR, error.type, or an `exception` event: {"type", "message"}.
Value error_of(const OtlpSpan& s) {
  for (const OtlpEvent& e : s.events) {
    if (e.name != "exception") continue;
    return Value{{"type", string_of(e.attributes.find("exception.type")).value_or("exception")},
                 {"message", string_of(e.attributes.find("exception.message")).value_or(s.status_message)}};
  }
  if (s.status_code != 2) return Value();
  return Value{{"type", string_of(s.attributes.find("error.type")).value_or("error")}, {"message", s.status_message}};
}

// Keys that only say where a span belongs: not kept among a span's own attributes.
bool placement_key(std::string_view key) { return key.starts_with("synth.") || key == "gen_ai.conversation.id"; }

template <class E>
void common(E& e, const OtlpSpan& s, const Value& resource, const Value& metadata) {
  const Value& a = s.attributes;
  const bool synth = a.find("synth.kind") != nullptr;
  e.time_record = TimeRecord{timestamp_of(s.start_unix_nano), int_of(a.find("synth.turn")).value_or(0)};
  if (const auto id = string_of(first_of(a, {"gen_ai.agent.name", "synth.system_id"}))) {
    e.system_instance_id = *id;
  } else if (!synth) {
    if (const auto service = string_of(resource.find("service.name"))) e.system_instance_id = *service;
  }
  e.metadata = metadata;
  if constexpr (!std::is_same_v<E, CAISEvent>) {  // an LLM call has columns for them
    if (!s.span_id.empty()) e.metadata.set("span_id", s.span_id);
    if (!s.trace_id.empty()) e.metadata.set("trace_id", s.trace_id);
  }
  if (!s.parent_span_id.empty()) e.metadata.set("parent_span_id", s.parent_span_id);
  if (Value error = error_of(s); !error.is_null()) e.metadata.set("error", std::move(error));
  Value others = Value::array();
  for (const OtlpEvent& ev : s.events) {
    if (ev.name == "exception" || ev.name.starts_with("synth.")) continue;
    others.push_back(Value{{"name", ev.name}, {"time", format_timestamp(timestamp_of(ev.time_unix_nano))},
                           {"attributes", ev.attributes}});
  }
  if (!others.empty()) e.metadata.set("span_events", std::move(others));
}

double duration_ms(const OtlpSpan& s) {
  return s.end_unix_nano > s.start_unix_nano ? static_cast<double>(s.end_unix_nano - s.start_unix_nano) / 1e6 : 0.0;
}

CAISEvent llm_event(OtlpSpan& s, const Value& resource) {
  const Value& a = s.attributes;
  CAISEvent e;
  const auto operation = string_of(a.find("gen_ai.operation.name"));
  Value md{{"operation", operation.value_or(s.name)}};
  const auto requested = string_of(first_of(a, {"gen_ai.request.model", "llm.request.model_name"}));
  e.model_name = string_of(first_of(a, {"gen_ai.response.model", "llm.response.model_name", "llm.model_name",
                                        "gen_ai.request.model", "llm.request.model_name", "ai.model.id"}));
  if (requested && requested != e.model_name) md.set("request_model", *requested);
  if (const auto ttft = double_of(a.find("gen_ai.response.time_to_first_chunk"))) md.set("time_to_first_token_ms", *ttft * 1000.0);
  common(e, s, resource, md);
  e.span_id = s.span_id.empty() ? std::nullopt : std::optional(s.span_id);
  e.trace_id = s.trace_id.empty() ? std::nullopt : std::optional(s.trace_id);
  if (const auto provider = string_of(first_of(a, {"gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system"}))) {
    e.provider = normalize_provider(*provider);
  }
  e.prompt_tokens = int_of(first_of(a, {"gen_ai.usage.input_tokens", "llm.token_count.prompt", "gen_ai.usage.prompt_tokens",
                                        "llm.usage.prompt_tokens"}));
  e.completion_tokens = int_of(first_of(a, {"gen_ai.usage.output_tokens", "llm.token_count.completion",
                                            "gen_ai.usage.completion_tokens", "llm.usage.completion_tokens"}));
  e.total_tokens = int_of(first_of(a, {"synth.total_tokens", "llm.token_count.total", "llm.usage.total_tokens", "gen_ai.usage.total_tokens"}));
  if (!e.total_tokens && e.prompt_tokens && e.completion_tokens && a.find("synth.kind") == nullptr) {
    e.total_tokens = *e.prompt_tokens + *e.completion_tokens;
  }
  e.cached_tokens = int_of(first_of(a, {"gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens",
                                        "llm.token_count.prompt_details.cache_read"}));
  e.cache_write_tokens = int_of(first_of(a, {"gen_ai.usage.cache_creation.input_tokens",
                                             "gen_ai.usage.cache_creation_input_tokens",
                                             "llm.token_count.prompt_details.cache_write"}));
  e.reasoning_tokens = int_of(first_of(a, {"gen_ai.usage.reasoning.output_tokens", "llm.token_count.completion_details.reasoning"}));
  e.cost = double_of(first_of(a, {"synth.cost_usd", "llm.cost.total", "gen_ai.usage.cost"}));
  e.latency_ms = duration_ms(s);

  Value before = Value::object();
  if (const Value* params = a.find("llm.invocation_parameters")) {
    if (Value p = parsed(*params); p.is_object()) before = std::move(p);
  }
  // The attribute names spelt out: building them per call allocated seven strings per LLM span.
  static constexpr std::pair<std::string_view, std::string_view> kRequestParams[] = {
      {"temperature", "gen_ai.request.temperature"}, {"max_tokens", "gen_ai.request.max_tokens"},
      {"top_p", "gen_ai.request.top_p"},             {"top_k", "gen_ai.request.top_k"},
      {"seed", "gen_ai.request.seed"},               {"stream", "gen_ai.request.stream"},
      {"stop_sequences", "gen_ai.request.stop_sequences"}};
  for (const auto& [param, attribute] : kRequestParams) {
    if (const Value* v = a.find(attribute)) before.set(param, *v);
  }
  if (requested) before.set("model", *requested);
  read_messages(s);
  OtlpMessages messages = std::move(*s.messages);
  s.messages.reset();
  if (!messages.input.is_null()) {
    before.set("messages", std::move(messages.input));
  } else if (const Value* raw = first_of(a, {"input.value", "traceloop.entity.input"})) {
    before.set("input", parsed(*raw));
  }
  Value after = Value::object();
  if (!messages.output.is_null()) {
    after.set("messages", std::move(messages.output));
  } else if (const Value* raw = first_of(a, {"output.value", "traceloop.entity.output"})) {
    after.set("output", parsed(*raw));
  }
  if (const Value* reasons = a.find("gen_ai.response.finish_reasons"); reasons && reasons->is_array() && !reasons->empty()) {
    after.set("finish_reason", reasons->as_array().front());
  }
  if (const Value* id = a.find("gen_ai.response.id")) after.set("response_id", *id);
  if (!before.empty()) e.system_state_before = std::move(before);
  if (!after.empty()) e.system_state_after = std::move(after);
  return e;
}

EnvironmentEvent environment_event(const OtlpSpan& s, const Value& resource) {
  const Value& a = s.attributes;
  EnvironmentEvent e;
  std::string step = s.name;
  if (step.starts_with("environment_step ")) step = step.substr(17);
  common(e, s, resource, Value{{"step", step}, {"duration_ms", duration_ms(s)}});
  e.reward = double_of(a.find("synth.reward"));
  e.terminated = bool_of(a.find("synth.terminated"));
  e.truncated = bool_of(a.find("synth.truncated"));
  return e;
}

RuntimeEvent runtime_event(const OtlpSpan& s, const Value& resource) {
  const Value& a = s.attributes;
  RuntimeEvent e;
  Value md = Value::object();
  const auto synth = string_of(a.find("synth.kind"));
  if (const auto tool = string_of(first_of(a, {"gen_ai.tool.name", "tool.name"})); tool && synth != "trace_span") {
    md.set("operation", *tool);
    if (const Value* ok = a.find("synth.success")) md.set("success", *ok);
    if (const Value* id = first_of(a, {"gen_ai.tool.call.id", "tool.id"})) md.set("tool_call_id", *id);
    if (const Value* args = first_of(a, {"gen_ai.tool.call.arguments", "tool.parameters", "input.value"})) {
      e.system_state_before = Value{{"arguments", parsed(*args)}};
    }
    if (const Value* result = first_of(a, {"gen_ai.tool.call.result", "output.value"})) {
      e.system_state_after = Value{{"result", parsed(*result)}};
    }
  } else {
    md.set("span", s.name);
    Value own = Value::object();
    for (const auto& [key, value] : a.as_object()) {
      if (!placement_key(key)) own.set(key, value);
    }
    if (!own.empty()) md.set("attributes", std::move(own));
  }
  md.set("duration_ms", duration_ms(s));
  common(e, s, resource, md);
  return e;
}

}  // namespace

const Value* first_of(const Value& attributes, std::initializer_list<std::string_view> keys) {
  for (const std::string_view key : keys) {
    if (const Value* v = attributes.find(key); v != nullptr && !v->is_null()) return v;
  }
  return nullptr;
}

Timestamp timestamp_of(std::uint64_t unix_nano) {
  // Beyond int64 nanoseconds (year 2262) is no real time: clamp rather than wrap.
  return Timestamp{std::chrono::nanoseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(unix_nano, INT64_MAX)))};
}

Value input_messages(const Value& a) {
  Value m = normalized_messages(indexed(a, "gen_ai.input.messages"));
  if (!m.is_null()) {
    if (const Value* system = a.find("gen_ai.system_instructions")) {
      Value parts = parsed(*system);
      Value sys{{"role", "system"}, {"parts", parts}};
      const std::string text = parts.is_string() ? parts.as_string() : parts_text(parts);
      if (!text.empty()) sys.set("content", text);
      m.as_array().insert(m.as_array().begin(), std::move(sys));
    }
    return m;
  }
  m = normalized_messages(indexed(a, "llm.input_messages"));
  if (!m.is_null()) return m;
  return normalized_messages(indexed(a, "gen_ai.prompt"));
}

Value output_messages(const Value& a) {
  for (const char* key : {"gen_ai.output.messages", "llm.output_messages", "gen_ai.completion"}) {
    Value m = normalized_messages(indexed(a, key));
    if (!m.is_null()) return m;
  }
  return Value();
}

const OtlpMessages& read_messages(OtlpSpan& span) {
  if (!span.messages) span.messages = OtlpMessages{input_messages(span.attributes), output_messages(span.attributes)};
  return *span.messages;
}

bool is_foreign_llm_call(const OtlpSpan& span) {
  return span.attributes.find("synth.kind") == nullptr && kind_of(span) == Kind::llm;
}

Event span_to_event(OtlpSpan& span, const Value& resource) {
  switch (kind_of(span)) {
    case Kind::llm:
      return llm_event(span, resource);
    case Kind::environment:
      return environment_event(span, resource);
    case Kind::runtime:
      break;
  }
  return runtime_event(span, resource);
}

}  // namespace synth::tracing::server::otlp
