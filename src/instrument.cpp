#include "synth/tracing/instrument.hpp"

#include <cxxabi.h>

#include <cstdlib>
#include <memory>

#include "diagnostics.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

namespace detail {

namespace {
void append_hex(std::string& out, std::uint64_t v) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (int shift = 60; shift >= 0; shift -= 4) out.push_back(kHex[(v >> shift) & 0xF]);
}

std::string hex64(std::uint64_t v) {
  std::string out;
  out.reserve(16);
  append_hex(out, v);
  return out;
}

// This thread's context to record into: the tracer's, or the most recently made current one.
Context* recording_context(SessionTracer* tracer) {
  Context* c = tracer != nullptr ? SessionTracerAccess::live_context(*tracer) : ContextAccess::innermost();
  if (c == nullptr) return nullptr;
  const auto& session = ContextAccess::session(*c);
  if (!session->recording || session->ended.load(std::memory_order_acquire)) return nullptr;
  return c;
}
}  // namespace

std::string exception_type_name(const std::exception& e) {
  const char* mangled = typeid(e).name();
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(mangled, nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(mangled);
}

ScopeBase::ScopeBase(SessionTracer* tracer, std::string_view name)
    : name_(name), exceptions_at_open_(std::uncaught_exceptions()) {
  Context* c = recording_context(tracer);
  if (c == nullptr) return;  // nothing to record into: an inert scope
  recording_ = true;
  span_ = random_id();
  parent_ = c->span_id();
  ContextAccess::set_span(*c, span_);  // scopes opened inside this one become its children
  where_ = *c;
  started_ = std::chrono::steady_clock::now();
  started_at_ = now();
}

ScopeBase::ScopeBase(ScopeBase&& other) noexcept
    : where_(std::move(other.where_)),
      name_(std::move(other.name_)),
      recording_(other.recording_),
      ended_(other.ended_),
      span_(other.span_),
      parent_(other.parent_),
      started_(other.started_),
      started_at_(other.started_at_),
      exceptions_at_open_(other.exceptions_at_open_),
      error_(std::move(other.error_)),
      metadata_(std::move(other.metadata_)) {
  other.ended_ = true;  // the moved-from scope records nothing
}

ScopeBase::~ScopeBase() = default;

SpanIdentity ScopeBase::identity() const {
  if (!recording_) return {};
  const auto& session = ContextAccess::session(where_);
  SpanIdentity id;
  append_hex(id.trace_id, session->trace_id_high);
  append_hex(id.trace_id, session->trace_id_low);
  id.span_id = hex64(span_);
  if (parent_ != 0) id.parent_span_id = hex64(parent_);
  return id;
}

void ScopeBase::set_error(std::string_view type, std::string_view message) {
  error_ = Value{{"type", type}, {"message", message}};
}

void ScopeBase::set_metadata(std::string_view key, Value value) { metadata_.set(key, std::move(value)); }

std::optional<Value> ScopeBase::finish(double& duration_ms, Timestamp& started_at) noexcept {
  if (ended_ || !recording_) {
    ended_ = true;
    return std::nullopt;
  }
  ended_ = true;
  duration_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started_).count();
  started_at = started_at_;
  // The enclosing scope is current again on this thread (unless something else took over).
  if (Context* c = ContextAccess::find(ContextAccess::core(where_));
      c != nullptr && c->span_id() == span_ && ContextAccess::session(*c) == ContextAccess::session(where_)) {
    ContextAccess::set_span(*c, parent_);
  }
  try {
    if (error_.is_null() && std::uncaught_exceptions() > exceptions_at_open_) {
      // Unwinding: the exception itself is out of reach here; wrappers and error(e) give its type.
      set_error("exception", "the scope was left by an exception");
    }
    Value md = metadata_.is_object() ? std::move(metadata_) : Value::object();
    const SpanIdentity id = identity();
    md.set("span_id", id.span_id);
    md.set("trace_id", id.trace_id);
    if (!id.parent_span_id.empty()) md.set("parent_span_id", id.parent_span_id);
    md.set("duration_ms", duration_ms);
    if (!error_.is_null()) md.set("error", std::move(error_));
    return md;
  } catch (...) {
    report("instrumentation scope '" + name_ + "' could not be recorded: " + current_exception_text());
    return std::nullopt;
  }
}

void ScopeBase::record(Event&& event) noexcept {
  try {
    if (!record_scoped_event(where_, std::move(event))) {
      report("instrumentation scope '" + name_ + "' ended after its session: its event was dropped");
    }
  } catch (...) {
    report("instrumentation scope '" + name_ + "' could not be recorded: " + current_exception_text());
  }
}

}  // namespace detail

// ---- ai_call ----

AiCallScope::AiCallScope(std::string_view operation, AiCallOptions options)
    : ScopeBase(options.tracer, operation), options_(std::move(options)) {}

AiCallScope::~AiCallScope() { end(); }

AiCallScope& AiCallScope::request(Value request) {
  if (recording_) request_ = std::move(request);
  return *this;
}
AiCallScope& AiCallScope::response(Value response) {
  if (recording_) response_ = std::move(response);
  return *this;
}
AiCallScope& AiCallScope::usage(const TokenUsage& usage) {
  usage_ = usage;
  return *this;
}
AiCallScope& AiCallScope::response_model(std::string_view model) {
  response_model_ = model;
  return *this;
}
AiCallScope& AiCallScope::error(std::string_view type, std::string_view message) {
  if (recording_) set_error(type, message);
  return *this;
}
AiCallScope& AiCallScope::error(const std::exception& e) {
  if (recording_) set_error(detail::exception_type_name(e), e.what());
  return *this;
}
AiCallScope& AiCallScope::set(std::string_view key, Value value) {
  if (recording_) set_metadata(key, std::move(value));
  return *this;
}

void AiCallScope::end() noexcept {
  double ms = 0;
  Timestamp at{};
  auto md = finish(ms, at);
  if (!md) return;
  try {
    CAISEvent e;
    e.time_record = TimeRecord{at, where_.turn()};
    e.system_instance_id = options_.system_id;
    e.system_state_before = std::move(request_);
    e.system_state_after = std::move(response_);
    const SpanIdentity id = identity();
    e.span_id = id.span_id;
    e.trace_id = id.trace_id;
    const std::string& model = response_model_.empty() ? options_.model : response_model_;
    if (!model.empty()) e.model_name = model;
    if (!options_.provider.empty()) {
      e.provider = normalize_provider(options_.provider);
    } else if (auto detected = detect_provider(model)) {
      e.provider = std::move(detected);
    }
    if (usage_) {
      e.prompt_tokens = usage_->prompt_tokens;
      e.completion_tokens = usage_->completion_tokens;
      e.total_tokens = usage_->prompt_tokens + usage_->completion_tokens;
      if (usage_->cached_tokens > 0) e.cached_tokens = usage_->cached_tokens;
      if (usage_->reasoning_tokens > 0) e.reasoning_tokens = usage_->reasoning_tokens;
    }
    e.latency_ms = ms;
    md->set("operation", name_);
    if (!options_.model.empty() && !response_model_.empty() && response_model_ != options_.model) {
      md->set("request_model", options_.model);
    }
    e.metadata = std::move(*md);
    record(std::move(e));
  } catch (...) {
    detail::report("ai_call '" + name_ + "' could not be recorded: " + detail::current_exception_text());
  }
}

AiCallScope ai_call(std::string_view operation, AiCallOptions options) { return AiCallScope(operation, std::move(options)); }

// ---- environment_step ----

EnvironmentStepScope::EnvironmentStepScope(std::string_view name, EnvironmentStepOptions options)
    : ScopeBase(options.tracer, name), options_(std::move(options)) {}

EnvironmentStepScope::~EnvironmentStepScope() { end(); }

EnvironmentStepScope& EnvironmentStepScope::action(Value action) {
  if (recording_) before_.set("action", std::move(action));
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation(Value observation) {
  if (recording_) after_.set("observation", std::move(observation));
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::reward(double reward) {
  reward_ = reward;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::terminated(bool terminated) {
  terminated_ = terminated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::truncated(bool truncated) {
  truncated_ = truncated;
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_before(Value state) {
  if (!recording_) return *this;
  if (state.is_object() && before_.is_object()) {
    for (auto& [k, v] : state.as_object()) before_.set(k, std::move(v));
  } else if (before_.is_null()) {
    before_ = std::move(state);
  } else {
    before_.set("state", std::move(state));
  }
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::state_after(Value state) {
  if (!recording_) return *this;
  if (state.is_object() && after_.is_object()) {
    for (auto& [k, v] : state.as_object()) after_.set(k, std::move(v));
  } else if (after_.is_null()) {
    after_ = std::move(state);
  } else {
    after_.set("state", std::move(state));
  }
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::observation_diff(Value diff) {
  if (recording_) diff_ = std::move(diff);
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::error(std::string_view type, std::string_view message) {
  if (recording_) set_error(type, message);
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::error(const std::exception& e) {
  if (recording_) set_error(detail::exception_type_name(e), e.what());
  return *this;
}
EnvironmentStepScope& EnvironmentStepScope::set(std::string_view key, Value value) {
  if (recording_) set_metadata(key, std::move(value));
  return *this;
}

void EnvironmentStepScope::end() noexcept {
  double ms = 0;
  Timestamp at{};
  auto md = finish(ms, at);
  if (!md) return;
  try {
    md->set("step", name_);
    record(EnvironmentEvent{.time_record = TimeRecord{at, where_.turn()},
                            .system_instance_id = options_.system_id,
                            .system_state_before = std::move(before_),
                            .system_state_after = std::move(after_),
                            .reward = reward_,
                            .terminated = terminated_,
                            .truncated = truncated_,
                            .observation_diff = std::move(diff_),
                            .metadata = std::move(*md)});
  } catch (...) {
    detail::report("environment_step '" + name_ + "' could not be recorded: " + detail::current_exception_text());
  }
}

EnvironmentStepScope environment_step(std::string_view name, EnvironmentStepOptions options) {
  return EnvironmentStepScope(name, std::move(options));
}

// ---- runtime_operation ----

RuntimeOperationScope::RuntimeOperationScope(std::string_view operation_type, RuntimeOperationOptions options)
    : ScopeBase(options.tracer, operation_type), options_(std::move(options)) {}

RuntimeOperationScope::~RuntimeOperationScope() { end(); }

RuntimeOperationScope& RuntimeOperationScope::actions(Value actions) {
  if (recording_) actions_ = std::move(actions);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::success(bool success) {
  success_ = success;
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_before(Value state) {
  if (recording_) before_ = std::move(state);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::state_after(Value state) {
  if (recording_) after_ = std::move(state);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::error(std::string_view type, std::string_view message) {
  if (recording_) set_error(type, message);
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::error(const std::exception& e) {
  if (recording_) set_error(detail::exception_type_name(e), e.what());
  return *this;
}
RuntimeOperationScope& RuntimeOperationScope::set(std::string_view key, Value value) {
  if (recording_) set_metadata(key, std::move(value));
  return *this;
}

void RuntimeOperationScope::end() noexcept {
  double ms = 0;
  Timestamp at{};
  auto md = finish(ms, at);
  if (!md) return;
  try {
    md->set("operation_type", name_);
    md->set("success", success_.value_or(!md->contains("error")));
    record(RuntimeEvent{.time_record = TimeRecord{at, where_.turn()},
                        .system_instance_id = options_.system_id,
                        .system_state_before = std::move(before_),
                        .system_state_after = std::move(after_),
                        .actions = std::move(actions_),
                        .metadata = std::move(*md)});
  } catch (...) {
    detail::report("runtime_operation '" + name_ + "' could not be recorded: " + detail::current_exception_text());
  }
}

RuntimeOperationScope runtime_operation(std::string_view operation_type, RuntimeOperationOptions options) {
  return RuntimeOperationScope(operation_type, std::move(options));
}

// ---- trace_span ----

SpanScope::SpanScope(std::string_view name, Value attributes, SpanOptions options)
    : ScopeBase(options.tracer, name), options_(std::move(options)), attributes_(std::move(attributes)) {}

SpanScope::~SpanScope() { end(); }

SpanScope& SpanScope::set(std::string_view key, Value value) {
  if (recording_) attributes_.set(key, std::move(value));
  return *this;
}
SpanScope& SpanScope::error(std::string_view type, std::string_view message) {
  if (recording_) set_error(type, message);
  return *this;
}
SpanScope& SpanScope::error(const std::exception& e) {
  if (recording_) set_error(detail::exception_type_name(e), e.what());
  return *this;
}

void SpanScope::end() noexcept {
  double ms = 0;
  Timestamp at{};
  auto md = finish(ms, at);
  if (!md || !options_.record_event) return;
  try {
    md->set("span", name_);
    md->set("attributes", std::move(attributes_));
    record(RuntimeEvent{.time_record = TimeRecord{at, where_.turn()},
                        .system_instance_id = options_.system_id,
                        .metadata = std::move(*md)});
  } catch (...) {
    detail::report("trace_span '" + name_ + "' could not be recorded: " + detail::current_exception_text());
  }
}

SpanScope trace_span(std::string_view name, Value attributes, SpanOptions options) {
  return SpanScope(name, std::move(attributes), std::move(options));
}

}  // namespace synth::tracing
