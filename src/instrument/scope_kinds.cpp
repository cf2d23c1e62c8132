// The four scope kinds: ai_call, environment_step, runtime_operation and trace_span, each its
// start, setters and the event its end() records.
#include "synth/tracing/instrument.hpp"

#include <cstdint>
#include <memory>

#include "instrument/scope_lifecycle.hpp"

namespace synth::tracing {

using detail::state_of;

// ---- ai_call ----

void AiCallScope::start(Context& where, std::string_view operation, const AiCallOptions& options) noexcept {
  open(where, operation, [&] {
    auto s = std::make_unique<detail::AiCallState>(operation, options.system_id, options.model);
    if (!options.provider.empty()) {
      // A thread's calls name the same provider over and over (an LM client's, say): the last
      // one normalized is kept rather than normalized again (lowercasing, ~50 aliases compared).
      thread_local std::string last_given, last_normalized;
      if (options.provider != last_given) {
        std::string normalized = normalize_provider(options.provider);
        std::string given(options.provider);
        last_normalized.swap(normalized);  // both or neither: out of memory leaves the old pair
        last_given.swap(given);
      }
      s->provider = last_normalized;
    }
    return s;
  });
}

AiCallScope& AiCallScope::request(Value request) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->request = std::move(request);
  return *this;
}
AiCallScope& AiCallScope::response(Value response) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->response = std::move(response);
  return *this;
}
AiCallScope& AiCallScope::usage(const TokenUsage& usage) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->usage = usage;
  return *this;
}
AiCallScope& AiCallScope::cost(double usd) {
  if (auto* s = state_of<detail::AiCallState>(state_)) s->cost = usd;
  return *this;
}
AiCallScope& AiCallScope::response_model(std::string_view model) {
  detail::change_state<detail::AiCallState>(state_, [&](auto& s) { s.response_model = model; });
  return *this;
}

void AiCallScope::end() noexcept {
  close<detail::AiCallState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    CAISEvent e;
    e.time_record = TimeRecord{s.started_at, s.turn};
    e.system_instance_id = take(s.system_id);
    e.system_state_before =
        s.call.has_arguments() ? Value{{"arguments", detail::captured_arguments(s.call, take)}} : take(s.request);
    e.system_state_after = s.call.result ? Value{{"output", take(*s.call.result)}} : take(s.response);
    e.span_id = std::move(id.span_id);
    e.trace_id = std::move(id.trace_id);
    // The model that answered, when it differs from the one asked for.
    const bool renamed = !s.response_model.empty() && s.response_model != s.model;
    if (renamed && !s.model.empty()) md.put("request_model", take(s.model));
    auto& model = renamed ? s.response_model : s.model;
    if (!model.empty()) e.model_name = take(model);
    if (!s.provider.empty()) e.provider = take(s.provider);  // else detected when assembled
    if (s.usage) {
      e.prompt_tokens = s.usage->prompt_tokens;
      e.completion_tokens = s.usage->completion_tokens;
      std::int64_t total = 0;
      if (__builtin_add_overflow(s.usage->prompt_tokens, s.usage->completion_tokens, &total)) {
        total = s.usage->prompt_tokens > 0 ? INT64_MAX : INT64_MIN;  // nonsense counts saturate, never wrap
      }
      e.total_tokens = total;
      if (s.usage->cached_tokens > 0) e.cached_tokens = s.usage->cached_tokens;
      if (s.usage->cache_write_tokens > 0) e.cache_write_tokens = s.usage->cache_write_tokens;
      if (s.usage->reasoning_tokens > 0) e.reasoning_tokens = s.usage->reasoning_tokens;
    }
    e.cost = s.cost;
    // A cost set on the scope is the provider's; the viewer shows where each cost came from. A
    // call without one is priced when it leaves the process (OutgoingPolicy::price records the
    // price table's date there).
    if (s.cost) md.put("cost_source", "provider");
    e.latency_ms = s.duration_ms;
    md.put("operation", s.name);
    e.metadata = std::move(md.value);
    return std::optional<Event>(std::move(e));
  });
}

// ---- environment_step ----

void EnvironmentStepScope::start(Context& where, std::string_view name,
                                 const EnvironmentStepOptions& options) noexcept {
  open(where, name, [&] {
    auto s = std::make_unique<detail::EnvironmentStepState>(name, options.system_id);
    return s;
  });
}

namespace {
// `member` of the state object `into`: kept aside while `into` is null or an object (set into it
// when the event is built, with the same result), set at once otherwise.
void set_state_member(Value& into, std::optional<Value>& kept, std::string_view key, Value value) {
  if (into.is_null() || into.is_object()) {
    kept = std::move(value);
  } else {
    into.set(key, std::move(value));
  }
}
// Sets a member kept aside by set_state_member into its state object, before that object changes.
void settle_state_member(Value& into, std::optional<Value>& kept, std::string_view key) {
  if (!kept) return;
  into.set(key, std::move(*kept));
  kept.reset();
}
}  // namespace

EnvironmentStepScope& EnvironmentStepScope::action(Value action) {
  detail::change_state<detail::EnvironmentStepState>(
      state_, [&](auto& s) { set_state_member(s.before, s.action, "action", std::move(action)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation(Value observation) {
  detail::change_state<detail::EnvironmentStepState>(
      state_, [&](auto& s) { set_state_member(s.after, s.observation, "observation", std::move(observation)); });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::reward(double reward) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->reward = reward;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::terminated(bool terminated) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->terminated = terminated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::truncated(bool truncated) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->truncated = truncated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_before(Value state) {
  detail::change_state<detail::EnvironmentStepState>(state_, [&](auto& s) {
    settle_state_member(s.before, s.action, "action");
    detail::merge_state(s.before, std::move(state));
  });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_after(Value state) {
  detail::change_state<detail::EnvironmentStepState>(state_, [&](auto& s) {
    settle_state_member(s.after, s.observation, "observation");
    detail::merge_state(s.after, std::move(state));
  });
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation_diff(Value diff) {
  if (auto* s = state_of<detail::EnvironmentStepState>(state_)) s->diff = std::move(diff);
  return *this;
}

void EnvironmentStepScope::end() noexcept {
  close<detail::EnvironmentStepState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    md.put("step", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    Value before = take(s.before);
    if (s.action) before.set("action", take(*s.action));
    if (s.call.has_arguments()) before.set("action", detail::captured_arguments(s.call, take));
    Value after = take(s.after);
    if (s.observation) after.set("observation", take(*s.observation));
    return std::optional<Event>(EnvironmentEvent{.time_record = TimeRecord{s.started_at, s.turn},
                                                 .system_instance_id = take(s.system_id),
                                                 .system_state_before = std::move(before),
                                                 .system_state_after = std::move(after),
                                                 .reward = s.reward,
                                                 .terminated = s.terminated,
                                                 .truncated = s.truncated,
                                                 .observation_diff = take(s.diff),
                                                 .metadata = std::move(md.value)});
  });
}

// ---- runtime_operation ----

void RuntimeOperationScope::start(Context& where, std::string_view operation_type,
                                  const RuntimeOperationOptions& options) noexcept {
  open(where, operation_type, [&] {
    auto s = std::make_unique<detail::RuntimeOperationState>(operation_type, options.system_id);
    return s;
  });
}

RuntimeOperationScope& RuntimeOperationScope::actions(Value actions) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->actions = std::move(actions);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::success(bool success) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->success = success;
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_before(Value state) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->before = std::move(state);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_after(Value state) {
  if (auto* s = state_of<detail::RuntimeOperationState>(state_)) s->after = std::move(state);
  return *this;
}

void RuntimeOperationScope::end() noexcept {
  close<detail::RuntimeOperationState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) {
    md.put("operation_type", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    md.put("success", s.success.value_or(!md.value.contains("error")));
    return std::optional<Event>(RuntimeEvent{.time_record = TimeRecord{s.started_at, s.turn},
                                             .system_instance_id = take(s.system_id),
                                             .system_state_before = take(s.before),
                                             .system_state_after = s.call.result
                                                                       ? Value{{"output", take(*s.call.result)}}
                                                                       : take(s.after),
                                             .actions = s.call.has_arguments()
                                                            ? detail::captured_arguments(s.call, take)
                                                            : take(s.actions),
                                             .metadata = std::move(md.value)});
  });
}

// ---- trace_span ----

void SpanScope::start(Context& where, std::string_view name, Value attributes, const SpanOptions& options) noexcept {
  open(where, name, [&] {
    auto s = std::make_unique<detail::SpanState>(name, options.system_id);
    s->record_event = options.record_event;
    s->attributes = std::move(attributes);
    return s;
  });
}

SpanScope& SpanScope::set(std::string_view key, Value value) {
  detail::change_state<detail::SpanState>(state_, [&](auto& s) { s.attributes.set(key, std::move(value)); });
  return *this;
}

void SpanScope::end() noexcept {
  close<detail::SpanState>([](auto& s, auto take, detail::ScopeMetadata md, SpanIdentity& id) -> std::optional<Event> {
    if (!s.record_event) return std::nullopt;
    md.put("span", s.name);
    md.put("span_id", std::move(id.span_id));
    md.put("trace_id", std::move(id.trace_id));
    md.put("attributes", take(s.attributes));
    return RuntimeEvent{.time_record = TimeRecord{s.started_at, s.turn},
                        .system_instance_id = take(s.system_id),
                        .metadata = std::move(md.value)};
  });
}

}  // namespace synth::tracing
