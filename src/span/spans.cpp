#include "span/spans.hpp"

#include <algorithm>
#include <variant>

#include "diagnostics.hpp"
#include "model/providers.hpp"

namespace synth::tracing::detail {

namespace {

void set_if(Value& attributes, std::string_view key, const Value& from, std::string_view field) {
  if (!from.is_object()) return;
  if (const Value* v = from.find(field); v != nullptr && !v->is_null()) attributes.set(key, *v);
}

void set_error(SpanData& span, const Value& error) {
  const Value* type = error.find("type");
  const Value* message = error.find("message");
  const std::string type_text = type && type->is_string() ? type->as_string() : "error";
  const std::string message_text = message && message->is_string() ? message->as_string() : "";
  span.status = SpanStatus::error;
  span.status_message = message_text;
  span.attributes.set("error.type", type_text);
  span.events.push_back(SpanEvent{.name = "exception",
                                  .time = span.end,
                                  .attributes = Value{{"exception.type", type_text}, {"exception.message", message_text}}});
}

void llm_call_attributes(SpanData& span, const ScopeSpanInput& in, const CAISEvent& e) {
  Value& a = span.attributes;
  const Value* requested = e.metadata.is_object() ? e.metadata.find("request_model") : nullptr;
  const std::string request_model = requested && requested->is_string() ? requested->as_string() : e.model_name.value_or("");
  span.name = request_model.empty() ? std::string(in.name) : std::string(in.name) + " " + request_model;
  span.kind = SpanKind::client;
  a.set("gen_ai.operation.name", in.name);
  a.set("gen_ai.provider.name",
        genai_provider_name(e.provider ? *e.provider : detect_provider(e.model_name.value_or(""))));
  if (!request_model.empty()) a.set("gen_ai.request.model", request_model);
  set_if(a, "gen_ai.request.temperature", e.system_state_before, "temperature");
  set_if(a, "gen_ai.request.max_tokens", e.system_state_before, "max_tokens");
  set_if(a, "gen_ai.request.top_p", e.system_state_before, "top_p");
  set_if(a, "gen_ai.request.stream", e.system_state_before, "stream");
  if (e.model_name) a.set("gen_ai.response.model", *e.model_name);
  set_if(a, "gen_ai.response.id", e.system_state_after, "response_id");
  if (e.system_state_after.is_object()) {
    if (const Value* reason = e.system_state_after.find("finish_reason"); reason && reason->is_string()) {
      a.set("gen_ai.response.finish_reasons", Value::array({*reason}));
    }
  }
  if (e.metadata.is_object()) {
    if (const Value* ttft = e.metadata.find("time_to_first_token_ms"); ttft && ttft->is_number()) {
      a.set("gen_ai.response.time_to_first_chunk", ttft->as_double() / 1000.0);
    }
  }
  if (e.prompt_tokens) a.set("gen_ai.usage.input_tokens", *e.prompt_tokens);
  if (e.completion_tokens) a.set("gen_ai.usage.output_tokens", *e.completion_tokens);
  if (e.cached_tokens) a.set("gen_ai.usage.cache_read.input_tokens", *e.cached_tokens);
  if (e.cache_write_tokens) a.set("gen_ai.usage.cache_creation.input_tokens", *e.cache_write_tokens);
  if (e.reasoning_tokens) a.set("gen_ai.usage.reasoning.output_tokens", *e.reasoning_tokens);
  if (e.total_tokens) a.set("synth.total_tokens", *e.total_tokens);
  if (e.cost) a.set("synth.cost_usd", *e.cost);
  if (!e.system_instance_id.empty()) a.set("gen_ai.agent.name", e.system_instance_id);
}

}  // namespace

std::string_view genai_provider_name(std::string_view provider) noexcept {
  const ProviderInfo* info = find_provider(provider);
  return info != nullptr ? info->otel_name : provider;
}

namespace {
void set_value(Value& attributes, std::string_view key, const Value& value) {
  if (!value.is_null() && !(value.is_object() && value.empty())) attributes.set(key, value);
}

// What every event kind has.
template <class E>
Value common_event_attributes(const E& e) {
  Value a = Value::object();
  if (!e.system_instance_id.empty()) a.set("synth.system_id", e.system_instance_id);
  if (e.time_record) a.set("synth.turn", e.time_record->message_time);
  set_value(a, "synth.state_before", e.system_state_before);
  set_value(a, "synth.state_after", e.system_state_after);
  set_value(a, "synth.metadata", e.metadata);
  if (!e.event_metadata.empty()) a.set("synth.event_metadata", Value::Array(e.event_metadata.begin(), e.event_metadata.end()));
  return a;
}
}  // namespace

SpanEvent span_event(const Event& event) {
  return std::visit(
      [&](const auto& e) {
        using E = std::decay_t<decltype(e)>;
        SpanEvent out{.name = "synth.event." + std::string(event_type_name(event_type(event))),
                      .time = e.time_record ? e.time_record->event_time : now(),
                      .attributes = common_event_attributes(e)};
        Value& a = out.attributes;
        if constexpr (std::is_same_v<E, CAISEvent>) {
          if (e.model_name) {
            a.set("gen_ai.response.model", *e.model_name);
            a.set("gen_ai.provider.name", genai_provider_name(e.provider ? *e.provider : detect_provider(*e.model_name)));
          }
          if (e.prompt_tokens) a.set("gen_ai.usage.input_tokens", *e.prompt_tokens);
          if (e.completion_tokens) a.set("gen_ai.usage.output_tokens", *e.completion_tokens);
          if (e.cached_tokens) a.set("gen_ai.usage.cache_read.input_tokens", *e.cached_tokens);
          if (e.cache_write_tokens) a.set("gen_ai.usage.cache_creation.input_tokens", *e.cache_write_tokens);
          if (e.reasoning_tokens) a.set("gen_ai.usage.reasoning.output_tokens", *e.reasoning_tokens);
          if (e.total_tokens) a.set("synth.total_tokens", *e.total_tokens);  // no GenAI key: a collector reads it back
          if (e.cost) a.set("synth.cost_usd", *e.cost);
          if (e.latency_ms) a.set("synth.latency_ms", *e.latency_ms);
        } else if constexpr (std::is_same_v<E, EnvironmentEvent>) {
          if (e.reward) a.set("synth.reward", *e.reward);
          if (e.terminated) a.set("synth.terminated", *e.terminated);
          if (e.truncated) a.set("synth.truncated", *e.truncated);
          set_value(a, "synth.observation_diff", e.observation_diff);
        } else {
          set_value(a, "synth.actions", e.actions);
        }
        return out;
      },
      event);
}

SpanEvent span_event(const SessionEventMessage& message) {
  SpanEvent out{.name = "synth.message",
                .time = message.time_record ? message.time_record->event_time : message.timestamp,
                .attributes = {{"synth.message_type", message.message_type}}};
  if (message.time_record) out.attributes.set("synth.turn", message.time_record->message_time);
  set_value(out.attributes, "synth.content", message.content);
  return out;
}

SpanData scope_span(const ScopeSpanInput& in) {
  SpanData span;
  span.trace_id_high = in.trace_id_high;
  span.trace_id_low = in.trace_id_low;
  span.span_id = in.span_id;
  span.parent_span_id = in.parent_span_id;
  span.start = in.start;
  span.end = in.end;
  span.kind = SpanKind::internal;
  Value& a = span.attributes;
  if (const auto* call = in.event ? std::get_if<CAISEvent>(in.event) : nullptr) {
    llm_call_attributes(span, in, *call);
  } else if (in.kind == "runtime_operation") {
    span.name = "execute_tool " + std::string(in.name);
    a.set("gen_ai.operation.name", "execute_tool");
    a.set("gen_ai.tool.name", in.name);
    if (const auto* op = in.event ? std::get_if<RuntimeEvent>(in.event) : nullptr) {
      if (!op->system_instance_id.empty()) a.set("gen_ai.agent.name", op->system_instance_id);
      set_if(a, "synth.success", op->metadata, "success");
    }
  } else if (const auto* step = in.event ? std::get_if<EnvironmentEvent>(in.event) : nullptr) {
    span.name = "environment_step " + std::string(in.name);
    if (!step->system_instance_id.empty()) a.set("synth.system_id", step->system_instance_id);
    if (step->reward) a.set("synth.reward", *step->reward);
    if (step->terminated) a.set("synth.terminated", *step->terminated);
    if (step->truncated) a.set("synth.truncated", *step->truncated);
  } else {
    span.name = std::string(in.name);
    if (in.attributes != nullptr && in.attributes->is_object()) {
      for (const auto& [key, value] : in.attributes->as_object()) a.set(key, value);
    }
  }
  a.set("gen_ai.conversation.id", in.session_id);
  a.set("synth.kind", in.kind);
  a.set("synth.turn", in.turn);
  if (in.step_index >= 0) a.set("synth.step_index", in.step_index);
  if (!in.step_id.empty()) a.set("synth.step_id", in.step_id);
  if (in.error != nullptr && in.error->is_object()) set_error(span, *in.error);
  return span;
}

Value timestep_span_attributes(const SessionTimeStep& step, std::int64_t index) {
  Value attributes{{"synth.step_id", step.step_id}, {"synth.turn", step.turn_number}};
  if (index >= 0) attributes.set("synth.step_index", index);
  if (step.step_metadata.is_object() && !step.step_metadata.as_object().empty()) {
    attributes.set("synth.step_metadata", step.step_metadata);
  }
  return attributes;
}

}  // namespace synth::tracing::detail
