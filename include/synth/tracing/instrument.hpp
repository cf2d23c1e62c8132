// Instrumentation: RAII scopes and callable wrappers that turn an LLM call, an environment step,
// a runtime/tool operation or any span of work into a traced event, with timing, identity,
// errors and usage, in the current session and timestep.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include "synth/tracing/context.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/tracer.hpp"

namespace synth::tracing {

/// Identity of a scope in OpenTelemetry's format: the session's 128-bit trace id and the scope's
/// 64-bit span id as lower-case hex; the parent is the enclosing scope ("" at the top level).
struct SpanIdentity {
  std::string trace_id;
  std::string span_id;
  std::string parent_span_id;
};

namespace detail {
struct ScopeState;

/// Deletes a scope's state (defined where ScopeState is complete, so that scopes that hold none
/// are created and destroyed inline).
struct ScopeStateDeleter {
  void operator()(ScopeState* state) const noexcept;
};

/// The context a new scope records into: `tracer`'s on this thread, or the innermost one when
/// null; nullptr when there is none, or its session is not recording or has ended.
Context* recording_context(SessionTracer* tracer) noexcept;

/// What all scopes share. A scope that records holds its state behind one pointer; one that
/// does not (no session, tracing disabled, session sampled out) holds nothing, and opening and
/// closing it is one call.
class ScopeBase {
 public:
  ScopeBase(ScopeBase&& other) noexcept = default;
  ScopeBase& operator=(ScopeBase&&) = delete;
  ScopeBase(const ScopeBase&) = delete;

  /// False when nothing is recorded; the setters still accept calls.
  bool recording() const noexcept { return state_ != nullptr; }
  /// Empty strings when not recording.
  SpanIdentity identity() const;

 protected:
  ScopeBase() noexcept = default;
  ~ScopeBase() = default;

  /// Starts recording at `where` (this thread's context) with the state `make_state()` builds
  /// (named `name`, which a failure's report gives too). Out of memory leaves the scope not
  /// recording, counted (TracerStats::records_failed).
  template <class MakeState>
  void open(Context& where, std::string_view name, MakeState&& make_state) noexcept;
  /// Ends the scope: restores the enclosing span, fills the common metadata (name, ids,
  /// duration, error) and records the event `make(state)` builds. Runs once.
  template <class State, class Make>
  void close(Make&& make) noexcept;
  // Setters of the scope's state. Out of memory loses that one value, counted
  // (TracerStats::records_failed); never thrown.
  void set_error(std::string_view type, std::string_view message) noexcept;
  void set_error(const std::exception& e) noexcept;
  void set_metadata(std::string_view key, Value value) noexcept;

  std::unique_ptr<ScopeState, ScopeStateDeleter> state_;

 private:
  friend void record_capture_error(ScopeBase& scope, std::string_view part) noexcept;
  friend void keep_call_arguments(ScopeBase& scope, std::span<Value> arguments);
  friend void keep_call_result(ScopeBase& scope, Value result) noexcept;
};

/// The setters every scope has, returning the scope itself so that calls chain.
template <class Scope>
class CommonSetters : public ScopeBase {
 public:
  /// Records an error on the event: metadata.error = {"type": type, "message": message}.
  Scope& error(std::string_view type, std::string_view message) {
    set_error(type, message);
    return static_cast<Scope&>(*this);
  }
  /// Records the exception's type (demangled) and message as the event's error.
  Scope& error(const std::exception& e) {
    set_error(e);
    return static_cast<Scope&>(*this);
  }
  /// Extra event metadata.
  Scope& set(std::string_view key, Value value) {
    set_metadata(key, std::move(value));
    return static_cast<Scope&>(*this);
  }

 protected:
  CommonSetters() noexcept = default;
  CommonSetters(CommonSetters&&) noexcept = default;
  ~CommonSetters() = default;
};

/// Notes on `scope`'s event (metadata.capture_error.<part>) that capturing `part` of a wrapped
/// call failed with the exception being handled, and counts it (TracerStats::capture_errors).
/// Call only inside a catch block. Never throws.
void record_capture_error(ScopeBase& scope, std::string_view part) noexcept;

/// Keeps a wrapped call's captured arguments on `scope`'s state as they are: its event's builder
/// makes them the kind's array (ai_call: request {"arguments": [...]}; environment_step: the
/// action; runtime_operation: the actions), usually off the agent's thread, which spares the
/// agent an allocation per call. Out of memory (more arguments than the state keeps in place)
/// throws, leaving the state unchanged.
void keep_call_arguments(ScopeBase& scope, std::span<Value> arguments);
/// Keeps a wrapped call's captured result on `scope`'s state as it is: its event's builder makes
/// it {"output": result}, the response of an ai_call or the state after a runtime_operation.
void keep_call_result(ScopeBase& scope, Value result) noexcept;

/// Runs `capture`, which records `part` ("arguments", "result", ...) of a wrapped call into
/// `scope`. Whatever it throws (a user's to_json, out of memory) is recorded, never thrown: the
/// wrapped call and its caller are unaffected.
template <class Capture>
void capture_safely(ScopeBase& scope, std::string_view part, Capture&& capture) noexcept {
  try {
    capture();
  } catch (...) {
    record_capture_error(scope, part);
  }
}

/// The name of an exception's dynamic type, demangled.
std::string exception_type_name(const std::exception& e);
}  // namespace detail

/// Options of ai_call(). Strings are copied when the scope opens.
struct AiCallOptions {
  /// The requested model.
  std::string_view model;
  std::string_view system_id = "llm_agent";
  /// Empty: detected from the model name when the session is assembled.
  std::string_view provider;
  /// The tracer to record into; nullptr: the session made current most recently on this thread.
  SessionTracer* tracer = nullptr;
};

/// An LLM call in progress; becomes one CAISEvent when it ends (scope exit or end()).
class AiCallScope : public detail::CommonSetters<AiCallScope> {
 public:
  AiCallScope(std::string_view operation, const AiCallOptions& options) {
    if (Context* c = detail::recording_context(options.tracer)) start(*c, operation, options);
  }
  AiCallScope(AiCallScope&&) noexcept = default;
  ~AiCallScope() {
    if (recording()) end();
  }

  /// What was sent (messages, prompt, parameters): the event's system_state_before.
  AiCallScope& request(Value request);
  /// What came back: the event's system_state_after.
  AiCallScope& response(Value response);
  /// The tokens the provider reported. Without it the event has no token counts and no cost
  /// (metadata.cost_status = "no_usage"), never zeros.
  AiCallScope& usage(const TokenUsage& usage);
  /// The cost in USD when the provider reports it (otherwise it is computed from the usage). The
  /// event records where it came from: metadata.cost_source = "provider".
  AiCallScope& cost(double usd);
  /// The model that answered, when it differs from the one requested.
  AiCallScope& response_model(std::string_view model);
  void end() noexcept;

 private:
  void start(Context& where, std::string_view operation, const AiCallOptions& options) noexcept;
};

/// Starts an LLM call scope: `auto call = ai_call("chat", {.model = "gpt-4o-mini"});`
[[nodiscard]] inline AiCallScope ai_call(std::string_view operation, const AiCallOptions& options = {}) {
  return AiCallScope(operation, options);
}

/// Options of environment_step().
struct EnvironmentStepOptions {
  std::string_view system_id = "environment";
  SessionTracer* tracer = nullptr;
};

/// An environment step in progress; becomes one EnvironmentEvent.
class EnvironmentStepScope : public detail::CommonSetters<EnvironmentStepScope> {
 public:
  EnvironmentStepScope(std::string_view name, const EnvironmentStepOptions& options) {
    if (Context* c = detail::recording_context(options.tracer)) start(*c, name, options);
  }
  EnvironmentStepScope(EnvironmentStepScope&&) noexcept = default;
  ~EnvironmentStepScope() {
    if (recording()) end();
  }

  /// Recorded in the state before the step.
  EnvironmentStepScope& action(Value action);
  /// Recorded in the state after the step.
  EnvironmentStepScope& observation(Value observation);
  EnvironmentStepScope& reward(double reward);
  EnvironmentStepScope& terminated(bool terminated = true);
  EnvironmentStepScope& truncated(bool truncated = true);
  /// Members merged into the state before / after (besides action and observation).
  EnvironmentStepScope& state_before(Value state);
  EnvironmentStepScope& state_after(Value state);
  EnvironmentStepScope& observation_diff(Value diff);
  void end() noexcept;

 private:
  void start(Context& where, std::string_view name, const EnvironmentStepOptions& options) noexcept;
};

[[nodiscard]] inline EnvironmentStepScope environment_step(std::string_view name = "step",
                                                           const EnvironmentStepOptions& options = {}) {
  return EnvironmentStepScope(name, options);
}

/// Options of runtime_operation().
struct RuntimeOperationOptions {
  std::string_view system_id = "runtime";
  SessionTracer* tracer = nullptr;
};

/// A runtime or tool operation in progress; becomes one RuntimeEvent.
class RuntimeOperationScope : public detail::CommonSetters<RuntimeOperationScope> {
 public:
  RuntimeOperationScope(std::string_view operation_type, const RuntimeOperationOptions& options) {
    if (Context* c = detail::recording_context(options.tracer)) start(*c, operation_type, options);
  }
  RuntimeOperationScope(RuntimeOperationScope&&) noexcept = default;
  ~RuntimeOperationScope() {
    if (recording()) end();
  }

  RuntimeOperationScope& actions(Value actions);
  /// Defaults to true, or false when the scope records an error.
  RuntimeOperationScope& success(bool success);
  RuntimeOperationScope& state_before(Value state);
  RuntimeOperationScope& state_after(Value state);
  void end() noexcept;

 private:
  void start(Context& where, std::string_view operation_type, const RuntimeOperationOptions& options) noexcept;
};

[[nodiscard]] inline RuntimeOperationScope runtime_operation(std::string_view operation_type,
                                                             const RuntimeOperationOptions& options = {}) {
  return RuntimeOperationScope(operation_type, options);
}

/// Options of trace_span().
struct SpanOptions {
  /// Also record a RuntimeEvent for the span (spans otherwise only give structure: parents of
  /// the scopes inside them, and OpenTelemetry spans).
  bool record_event = false;
  std::string_view system_id = "runtime";
  SessionTracer* tracer = nullptr;
};

/// A generic span of work that encloses other scopes.
class SpanScope : public detail::CommonSetters<SpanScope> {
 public:
  SpanScope(std::string_view name, Value attributes, const SpanOptions& options) {
    if (Context* c = detail::recording_context(options.tracer)) start(*c, name, std::move(attributes), options);
  }
  SpanScope(SpanScope&&) noexcept = default;
  ~SpanScope() {
    if (recording()) end();
  }

  /// An attribute of the span (the event's metadata.attributes), not a metadata key.
  SpanScope& set(std::string_view key, Value value);
  void end() noexcept;

 private:
  void start(Context& where, std::string_view name, Value attributes, const SpanOptions& options) noexcept;
};

[[nodiscard]] inline SpanScope trace_span(std::string_view name, Value attributes = Value::object(),
                                          const SpanOptions& options = {}) {
  return SpanScope(name, std::move(attributes), options);
}

// ---- capturing arguments and results of wrapped callables ----

/// Customization point: how a wrapped function's result reports the model that answered and the
/// tokens used. The default reads members `model` (string-like) and `usage` (a TokenUsage, or an
/// optional one that is empty when the provider reported none) when a type has them; specialize
/// it for other types.
template <class T>
struct llm_result_traits {
  static std::optional<std::string> model(const T& result) {
    if constexpr (requires { std::string(result.model); }) {
      return std::string(result.model);
    } else {
      return std::nullopt;
    }
  }
  static std::optional<TokenUsage> usage(const T& result) {
    if constexpr (requires { std::optional<TokenUsage>(result.usage); }) {
      return std::optional<TokenUsage>(result.usage);
    } else {
      return std::nullopt;
    }
  }
};

/// How the traced_* wrappers capture an argument or a result of type T into the trace: what
/// converts to Value directly, else the type's name. Specialize it for your types (the
/// specialization must be visible wherever such a value is captured, as with fmt::formatter), or
/// include <synth/tracing/nlohmann.hpp> to capture every type that has an nlohmann `to_json`.
template <class T>
struct capture_traits {
  static Value capture(const T& v) {
    if constexpr (std::is_constructible_v<Value, const T&>) {
      return Value(v);
    } else {
      return Value("<" + std::string(typeid(T).name()) + ">");
    }
  }
};

namespace detail {
/// A value as JSON for a trace, by its capture_traits.
template <class T>
Value capture(const T& v) {
  return capture_traits<std::remove_cvref_t<T>>::capture(v);
}

// Captures a wrapped call's arguments into `scope` (keep_call_arguments).
template <class... Args>
void capture_arguments(ScopeBase& scope, const Args&... args) {
  std::array<Value, sizeof...(Args)> captured{capture(args)...};
  keep_call_arguments(scope, captured);
}

// Records a wrapped call's result into `scope`: for LLM calls also the model that answered and
// the usage.
template <class Scope, class Result>
void capture_result(Scope& scope, const Result& result) {
  if constexpr (std::is_same_v<Scope, AiCallScope>) {
    keep_call_result(scope, capture(result));
    if (auto model = llm_result_traits<Result>::model(result)) scope.response_model(*model);
    if (auto usage = llm_result_traits<Result>::usage(result)) scope.usage(*usage);
  } else if constexpr (std::is_same_v<Scope, EnvironmentStepScope>) {
    scope.observation(capture(result));
  } else if constexpr (std::is_same_v<Scope, RuntimeOperationScope>) {
    keep_call_result(scope, capture(result));
  } else {
    scope.set("output", capture(result));
  }
}

// Calls `fn`, recording an exception it throws in `scope` and rethrowing it unchanged. Only the
// user's function is inside the try: nothing the tracer does can turn a success into a failure.
template <class Scope, class F, class... Args>
decltype(auto) call_recording_errors(Scope& scope, F& fn, Args&&... args) {
  try {
    return std::invoke(fn, std::forward<Args>(args)...);
  } catch (const std::exception& e) {
    capture_safely(scope, "error", [&] { scope.error(e); });
    throw;
  } catch (...) {
    capture_safely(scope, "error", [&] { scope.error("unknown", "a non-standard exception"); });
    throw;
  }
}

// Runs `fn` inside `scope`; the result goes into the state after (a capture that fails is
// recorded on the event, and the result still reaches the caller unchanged).
template <class Scope, class F, class... Args>
decltype(auto) run_in_scope(Scope& scope, F& fn, Args&&... args) {
  using R = std::invoke_result_t<F&, Args&&...>;
  if constexpr (std::is_void_v<R>) {
    call_recording_errors(scope, fn, std::forward<Args>(args)...);
  } else {
    R result = call_recording_errors(scope, fn, std::forward<Args>(args)...);
    if (scope.recording()) {
      capture_safely(scope, "result", [&] { capture_result(scope, result); });
    }
    return result;
  }
}
}  // namespace detail

/// Wraps any callable so that every call is an ai_call scope, keeping its signature:
///
///     auto plan = traced_ai_call("plan", [&](const std::string& goal) { return client.ask(goal); },
///                                {.model = "gpt-4o-mini"});
template <class F>
auto traced_ai_call(std::string operation, F fn, const AiCallOptions& options = {}) {
  // The wrapper outlives the caller's strings: it keeps its own copies.
  return [operation = std::move(operation), fn = std::move(fn), model = std::string(options.model),
          system_id = std::string(options.system_id), provider = std::string(options.provider),
          tracer = options.tracer](auto&&... args) mutable -> decltype(auto) {
    auto scope = ai_call(operation, {.model = model, .system_id = system_id, .provider = provider, .tracer = tracer});
    if (scope.recording()) {
      detail::capture_safely(scope, "arguments", [&] { detail::capture_arguments(scope, args...); });
    }
    return detail::run_in_scope(scope, fn, std::forward<decltype(args)>(args)...);
  };
}

/// Wraps a callable as environment steps: arguments as the action, the result as the observation.
template <class F>
auto traced_environment_step(std::string name, F fn, const EnvironmentStepOptions& options = {}) {
  return [name = std::move(name), fn = std::move(fn), system_id = std::string(options.system_id),
          tracer = options.tracer](auto&&... args) mutable -> decltype(auto) {
    auto scope = environment_step(name, {.system_id = system_id, .tracer = tracer});
    if (scope.recording()) {
      detail::capture_safely(scope, "arguments", [&] { detail::capture_arguments(scope, args...); });
    }
    return detail::run_in_scope(scope, fn, std::forward<decltype(args)>(args)...);
  };
}

/// Wraps a callable as runtime operations: arguments as the actions, the result in the state after.
template <class F>
auto traced_runtime_operation(std::string operation_type, F fn, const RuntimeOperationOptions& options = {}) {
  return [operation_type = std::move(operation_type), fn = std::move(fn), system_id = std::string(options.system_id),
          tracer = options.tracer](auto&&... args) mutable -> decltype(auto) {
    auto scope = runtime_operation(operation_type, {.system_id = system_id, .tracer = tracer});
    if (scope.recording()) {
      detail::capture_safely(scope, "arguments", [&] { detail::capture_arguments(scope, args...); });
    }
    return detail::run_in_scope(scope, fn, std::forward<decltype(args)>(args)...);
  };
}

/// Wraps a callable in a span.
template <class F>
auto traced_span(std::string name, F fn, const SpanOptions& options = {}) {
  return [name = std::move(name), fn = std::move(fn), record_event = options.record_event,
          system_id = std::string(options.system_id), tracer = options.tracer](auto&&... args) mutable -> decltype(auto) {
    auto scope = trace_span(name, Value::object(), {.record_event = record_event, .system_id = system_id, .tracer = tracer});
    return detail::run_in_scope(scope, fn, std::forward<decltype(args)>(args)...);
  };
}

}  // namespace synth::tracing

#define SYNTH_TRACING_CONCAT_INNER(a, b) a##b
#define SYNTH_TRACING_CONCAT(a, b) SYNTH_TRACING_CONCAT_INNER(a, b)
/// One-line span until the end of the enclosing block: `SYNTH_TRACE_SPAN("parse");`
#define SYNTH_TRACE_SPAN(...) \
  auto SYNTH_TRACING_CONCAT(synth_tracing_span_, __LINE__) = ::synth::tracing::trace_span(__VA_ARGS__)
/// One-line runtime operation until the end of the enclosing block: `SYNTH_TRACE_OPERATION("tool.search");`
#define SYNTH_TRACE_OPERATION(...) \
  auto SYNTH_TRACING_CONCAT(synth_tracing_operation_, __LINE__) = ::synth::tracing::runtime_operation(__VA_ARGS__)
