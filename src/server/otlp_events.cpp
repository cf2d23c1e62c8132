// One OTLP span as one of our events: which kind, the model, tokens, cost, messages (read by
// otlp_messages.cpp), tool, reward and error, looked up in the keys of the GenAI conventions,
// OpenInference, OpenLLMetry and our own `synth.*` (collector-and-viewer.md §7, first key present
// wins).
#include <algorithm>
#include <charconv>
#include <cmath>

#include "server/otlp_map.hpp"
#include "server/otlp_values.hpp"

namespace synth::tracing::server::otlp {

namespace {

using Known = KnownAttributes;

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

enum class Kind { llm, environment, runtime };

Kind kind_of(const Known& a) {
  if (const std::string_view synth = text_of(a[Known::synth_kind]); !synth.empty()) {
    if (synth == "ai_call") return Kind::llm;
    if (synth == "environment_step") return Kind::environment;
    return Kind::runtime;
  }
  if (const std::string_view oi = text_of(a[Known::openinference_span_kind]); !oi.empty()) {
    return oi == "LLM" ? Kind::llm : Kind::runtime;
  }
  if (const std::string_view op = text_of(a[Known::gen_ai_operation_name]); !op.empty()) {
    return op == "chat" || op == "text_completion" || op == "generate_content" ? Kind::llm : Kind::runtime;
  }
  if (a[Known::traceloop_span_kind] != nullptr) return Kind::runtime;
  if (a[Known::gen_ai_tool_name] != nullptr || a[Known::tool_name] != nullptr) return Kind::runtime;
  if (a.first_of({Known::gen_ai_response_model, Known::gen_ai_request_model, Known::llm_model_name, Known::ai_model_id}) !=
      nullptr) {
    return Kind::llm;
  }
  return Kind::runtime;
}

// Status ERROR, error.type, or an `exception` event: {"type", "message"}.
Value error_of(const OtlpSpan& s, const Known& a) {
  for (const OtlpEvent& e : s.events) {
    if (e.name != "exception") continue;
    return Value{{"type", string_of(e.attributes.find("exception.type")).value_or("exception")},
                 {"message", string_of(e.attributes.find("exception.message")).value_or(s.status_message)}};
  }
  if (s.status_code != 2) return Value();
  return Value{{"type", string_of(a[Known::error_type]).value_or("error")}, {"message", s.status_message}};
}

// Keys that only say where a span belongs: not kept among a span's own attributes.
bool placement_key(std::string_view key) { return key.starts_with("synth.") || key == "gen_ai.conversation.id"; }

// The attributes of a span outside the mapping table (server.address, a user's own), the first of
// a repeated key as KnownAttributes takes it, kept in its event's metadata as "attributes"; an
// empty object when there are none. Those naming its session are its session's id.
Value unread_attributes(const Value& attributes, const Known& known) {
  Value out = Value::object();
  if (known.unknown() == 0) return out;
  out.as_object().reserve(known.unknown());
  for (const auto& [key, value] : attributes.as_object()) {
    if (placement_key(key) || is_session_key(key) || Known::is_known(key) || out.find(key) != nullptr) continue;
    out.as_object().emplace_back(key, value);
  }
  return out;
}

// What common() adds to a span's event's metadata after the kind's own entries, decided once, so
// that the metadata is allocated at its size with them: it stays in memory until the writer
// stores it, and room reserved for every entry that might come was a sixth of an event's memory
// (page faults, BENCHMARKS.md).
struct CommonEntries {
  bool span_id = false;  // the span's and trace's ids: not for an LLM call, which has columns for them
  bool trace_id = false;
  bool parent_span_id = false;
  Value error;                        // error_of()
  Value span_events = Value::array();  // the span events kept
  std::size_t size() const noexcept {
    return (span_id ? 1 : 0) + (trace_id ? 1 : 0) + (parent_span_id ? 1 : 0) + (error.is_null() ? 0 : 1) +
           (span_events.empty() ? 0 : 1);
  }
};

template <class E>
CommonEntries common_entries(const OtlpSpan& s, const Known& a) {
  CommonEntries c;
  if constexpr (!std::is_same_v<E, CAISEvent>) {
    c.span_id = !s.span_id.empty();
    c.trace_id = !s.trace_id.empty();
  }
  c.parent_span_id = !s.parent_span_id.empty();
  c.error = error_of(s, a);
  for (const OtlpEvent& ev : s.events) {
    if (ev.name == "exception" || ev.name.starts_with("synth.")) continue;
    c.span_events.push_back(Value{{"name", ev.name}, {"time", format_timestamp(timestamp_of(ev.time_unix_nano))},
                                  {"attributes", ev.attributes}});
  }
  return c;
}

// `metadata`: the kind's own entries, with room for `added` (common_entries()).
template <class E>
void common(E& e, const OtlpSpan& s, const Known& a, const Value& resource, Value&& metadata, CommonEntries&& added) {
  const bool synth = a[Known::synth_kind] != nullptr;
  e.time_record = TimeRecord{timestamp_of(s.start_unix_nano), int_of(a[Known::synth_turn]).value_or(0)};
  if (const Value* id = a.first_of({Known::gen_ai_agent_name, Known::synth_system_id}); !text_of(id).empty()) {
    e.system_instance_id = id->as_string();
  } else if (!synth) {
    if (const Value* service = resource.find("service.name"); !text_of(service).empty()) {
      e.system_instance_id = service->as_string();
    }
  }
  e.metadata = std::move(metadata);
  if (added.span_id) e.metadata.set("span_id", s.span_id);
  if (added.trace_id) e.metadata.set("trace_id", s.trace_id);
  if (added.parent_span_id) e.metadata.set("parent_span_id", s.parent_span_id);
  if (!added.error.is_null()) e.metadata.set("error", std::move(added.error));
  if (!added.span_events.empty()) e.metadata.set("span_events", std::move(added.span_events));
}

double duration_ms(const OtlpSpan& s) {
  return s.end_unix_nano > s.start_unix_nano ? static_cast<double>(s.end_unix_nano - s.start_unix_nano) / 1e6 : 0.0;
}

constexpr std::size_t kRequestParamCount = 7;

CAISEvent llm_event(OtlpSpan& s, const Known& a, const Value& resource) {
  CAISEvent e;
  const Value* operation = a[Known::gen_ai_operation_name];
  const Value* requested = a.first_of({Known::gen_ai_request_model, Known::llm_request_model_name});
  if (text_of(requested).empty()) requested = nullptr;
  e.model_name = string_of(a.first_of({Known::gen_ai_response_model, Known::llm_response_model_name, Known::llm_model_name,
                                       Known::gen_ai_request_model, Known::llm_request_model_name, Known::ai_model_id}));
  const bool request_model = requested != nullptr && requested->as_string() != e.model_name;
  const auto ttft = double_of(a[Known::gen_ai_response_time_to_first_chunk]);
  Value md = Value::object();
  CommonEntries added = common_entries<CAISEvent>(s, a);
  Value unread = unread_attributes(s.attributes, a);
  md.as_object().reserve(1 + (request_model ? 1 : 0) + (ttft ? 1 : 0) + (unread.empty() ? 0 : 1) + added.size());
  md.as_object().emplace_back("operation", text_of(operation).empty() ? s.name : operation->as_string());
  if (request_model) md.as_object().emplace_back("request_model", *requested);
  if (ttft) md.as_object().emplace_back("time_to_first_token_ms", *ttft * 1000.0);
  if (!unread.empty()) md.as_object().emplace_back("attributes", std::move(unread));
  common(e, s, a, resource, std::move(md), std::move(added));
  e.span_id = s.span_id.empty() ? std::nullopt : std::optional(s.span_id);
  e.trace_id = s.trace_id.empty() ? std::nullopt : std::optional(s.trace_id);
  if (const Value* provider = a.first_of({Known::gen_ai_provider_name, Known::gen_ai_system, Known::llm_provider, Known::llm_system});
      !text_of(provider).empty()) {
    e.provider = normalize_provider(provider->as_string());
  }
  e.prompt_tokens = int_of(a.first_of({Known::gen_ai_usage_input_tokens, Known::llm_token_count_prompt,
                                       Known::gen_ai_usage_prompt_tokens, Known::llm_usage_prompt_tokens}));
  e.completion_tokens = int_of(a.first_of({Known::gen_ai_usage_output_tokens, Known::llm_token_count_completion,
                                           Known::gen_ai_usage_completion_tokens, Known::llm_usage_completion_tokens}));
  e.total_tokens = int_of(a.first_of({Known::synth_total_tokens, Known::llm_token_count_total, Known::llm_usage_total_tokens,
                                      Known::gen_ai_usage_total_tokens}));
  if (!e.total_tokens && e.prompt_tokens && e.completion_tokens && a[Known::synth_kind] == nullptr) {
    e.total_tokens = *e.prompt_tokens + *e.completion_tokens;
  }
  e.cached_tokens = int_of(a.first_of({Known::gen_ai_usage_cache_read_input_tokens, Known::gen_ai_usage_cache_read_input_tokens_flat,
                                       Known::llm_token_count_cache_read}));
  e.cache_write_tokens = int_of(a.first_of({Known::gen_ai_usage_cache_creation_input_tokens,
                                            Known::gen_ai_usage_cache_creation_input_tokens_flat,
                                            Known::llm_token_count_cache_write}));
  e.reasoning_tokens = int_of(a.first_of({Known::gen_ai_usage_reasoning_output_tokens, Known::llm_token_count_reasoning}));
  e.cost = double_of(a.first_of({Known::synth_cost_usd, Known::llm_cost_total, Known::gen_ai_usage_cost}));
  e.latency_ms = duration_ms(s);

  read_messages(s, a);
  OtlpMessages messages = std::move(*s.messages);
  s.messages.reset();
  const Value* raw_input = messages.input.is_null() ? a.first_of({Known::input_value, Known::traceloop_entity_input}) : nullptr;
  // Instructions without any input messages (none on the span, none came as log records).
  if (messages.input.is_null() && raw_input == nullptr) {
    if (Value sys = system_message(a); !sys.is_null()) messages.input = Value::array({std::move(sys)});
  }
  const Value* raw_output = messages.output.is_null() ? a.first_of({Known::output_value, Known::traceloop_entity_output}) : nullptr;
  const Value* reasons = a[Known::gen_ai_response_finish_reasons];
  if (reasons != nullptr && (!reasons->is_array() || reasons->empty())) reasons = nullptr;
  const Value* response_id = a[Known::gen_ai_response_id];

  Value before = Value::object();
  if (const Value* params = a[Known::llm_invocation_parameters]) {
    if (Value p = parsed(*params); p.is_object()) before = std::move(p);
  }
  static constexpr std::pair<std::string_view, Known::Key> kRequestParams[kRequestParamCount] = {
      {"temperature", Known::gen_ai_request_temperature}, {"max_tokens", Known::gen_ai_request_max_tokens},
      {"top_p", Known::gen_ai_request_top_p},             {"top_k", Known::gen_ai_request_top_k},
      {"seed", Known::gen_ai_request_seed},               {"stream", Known::gen_ai_request_stream},
      {"stop_sequences", Known::gen_ai_request_stop_sequences}};
  std::size_t entries = before.size() + (requested != nullptr ? 1 : 0) +
                        (!messages.input.is_null() || raw_input != nullptr ? 1 : 0);
  for (const auto& [param, attribute] : kRequestParams) entries += a[attribute] != nullptr ? 1 : 0;
  before.as_object().reserve(entries);
  for (const auto& [param, attribute] : kRequestParams) {
    if (const Value* v = a[attribute]) before.set(param, *v);
  }
  if (requested != nullptr) before.set("model", requested->as_string());
  if (!messages.input.is_null()) {
    before.set("messages", std::move(messages.input));
  } else if (raw_input != nullptr) {
    before.set("input", parsed(*raw_input));
  }
  Value after = Value::object();
  after.as_object().reserve((!messages.output.is_null() || raw_output != nullptr ? 1 : 0) + (reasons != nullptr ? 2 : 0) +
                            (response_id != nullptr ? 1 : 0));
  if (!messages.output.is_null()) {
    after.set("messages", std::move(messages.output));
  } else if (raw_output != nullptr) {
    after.set("output", parsed(*raw_output));
  }
  if (reasons != nullptr) {
    after.set("finish_reason", reasons->as_array().front());
    if (reasons->size() > 1) after.set("finish_reasons", *reasons);  // one per choice (n > 1)
  }
  if (response_id != nullptr) after.set("response_id", *response_id);
  if (!before.empty()) e.system_state_before = std::move(before);
  if (!after.empty()) e.system_state_after = std::move(after);
  return e;
}

EnvironmentEvent environment_event(const OtlpSpan& s, const Known& a, const Value& resource) {
  EnvironmentEvent e;
  std::string step = s.name;
  if (step.starts_with("environment_step ")) step = step.substr(17);
  Value md = Value::object();
  CommonEntries added = common_entries<EnvironmentEvent>(s, a);
  md.as_object().reserve(2 + added.size());
  md.as_object().emplace_back("step", std::move(step));
  md.as_object().emplace_back("duration_ms", duration_ms(s));
  common(e, s, a, resource, std::move(md), std::move(added));
  e.reward = double_of(a[Known::synth_reward]);
  e.terminated = bool_of(a[Known::synth_terminated]);
  e.truncated = bool_of(a[Known::synth_truncated]);
  return e;
}

RuntimeEvent runtime_event(const OtlpSpan& s, const Known& known, const Value& resource) {
  const Value& a = s.attributes;
  RuntimeEvent e;
  Value md = Value::object();
  CommonEntries added = common_entries<RuntimeEvent>(s, known);
  const Value* tool = known.first_of({Known::gen_ai_tool_name, Known::tool_name});
  if (!text_of(tool).empty() && text_of(known[Known::synth_kind]) != "trace_span") {
    const Value* ok = known[Known::synth_success];
    const Value* id = known.first_of({Known::gen_ai_tool_call_id, Known::tool_id});
    Value unread = unread_attributes(a, known);
    md.as_object().reserve(2 + (ok != nullptr ? 1 : 0) + (id != nullptr ? 1 : 0) + (unread.empty() ? 0 : 1) + added.size());
    md.set("operation", tool->as_string());
    if (ok != nullptr) md.set("success", *ok);
    if (id != nullptr) md.set("tool_call_id", *id);
    if (!unread.empty()) md.set("attributes", std::move(unread));
    if (const Value* args = known.first_of({Known::gen_ai_tool_call_arguments, Known::tool_parameters, Known::input_value})) {
      e.system_state_before = Value{{"arguments", parsed(*args)}};
    }
    if (const Value* result = known.first_of({Known::gen_ai_tool_call_result, Known::output_value})) {
      e.system_state_after = Value{{"result", parsed(*result)}};
    }
  } else {
    const auto kept = static_cast<std::size_t>(std::count_if(
        a.as_object().begin(), a.as_object().end(), [](const Value::Member& m) { return !placement_key(m.first); }));
    md.as_object().reserve(2 + (kept > 0 ? 1 : 0) + added.size());
    md.set("span", s.name);
    Value own = Value::object();
    own.as_object().reserve(kept);
    for (const auto& [key, value] : a.as_object()) {
      if (!placement_key(key)) own.set(key, value);
    }
    if (!own.empty()) md.set("attributes", std::move(own));
  }
  md.set("duration_ms", duration_ms(s));
  common(e, s, known, resource, std::move(md), std::move(added));
  return e;
}

}  // namespace

Timestamp timestamp_of(std::uint64_t unix_nano) {
  // Beyond int64 nanoseconds (year 2262) is no real time: clamp rather than wrap.
  return Timestamp{std::chrono::nanoseconds(static_cast<std::int64_t>(std::min<std::uint64_t>(unix_nano, INT64_MAX)))};
}

bool is_foreign_llm_call(const Known& known) { return known[Known::synth_kind] == nullptr && kind_of(known) == Kind::llm; }

bool is_foreign_llm_call(const OtlpSpan& span) { return is_foreign_llm_call(Known(span.attributes)); }

Event span_to_event(OtlpSpan& span, const Value& resource) {
  const Known known(span.attributes);
  switch (kind_of(known)) {
    case Kind::llm:
      return llm_event(span, known, resource);
    case Kind::environment:
      return environment_event(span, known, resource);
    case Kind::runtime:
      break;
  }
  return runtime_event(span, known, resource);
}

}  // namespace synth::tracing::server::otlp
