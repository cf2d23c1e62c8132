// An LM client with built-in tracing: chat with OpenAI, Anthropic, Google Gemini or any
// OpenAI-compatible server, and every call becomes a CAISEvent of the current session.
//
//     synth::tracing::LM lm({.model = "gpt-4o-mini", .session_tracer = &tracer, .system_id = "my_agent"});
//     auto reply = lm.generate("Which move reaches the treasure?");
//     std::cout << reply.text << " (" << reply.usage->completion_tokens << " tokens)\n";
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/cost.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"

namespace synth::tracing {

class SessionTracer;

/// A call of a tool (a function) that the model asks for.
struct ToolCall {
  /// The provider's id of the call; answer it with Message::tool(id, result).
  std::string id;
  std::string name;
  /// The arguments as JSON text, as the model wrote them.
  std::string arguments;

  friend bool operator==(const ToolCall&, const ToolCall&) = default;
};

/// One message of a conversation.
struct Message {
  /// "system", "user", "assistant" or "tool".
  std::string role;
  std::string content;
  /// The tool calls of an assistant message.
  std::vector<ToolCall> tool_calls;
  /// For a "tool" message: the id of the call it answers.
  std::string tool_call_id;

  static Message system(std::string content) { return {"system", std::move(content), {}, {}}; }
  static Message user(std::string content) { return {"user", std::move(content), {}, {}}; }
  static Message assistant(std::string content, std::vector<ToolCall> tool_calls = {}) {
    return {"assistant", std::move(content), std::move(tool_calls), {}};
  }
  /// The result of the tool call `tool_call_id`.
  static Message tool(std::string tool_call_id, std::string content) {
    return {"tool", std::move(content), {}, std::move(tool_call_id)};
  }
};

/// A tool the model may call.
struct Tool {
  std::string name;
  std::string description;
  /// A JSON schema of the arguments; null means "no arguments".
  Value parameters;
};

/// Structured output: the answer is a JSON object (`LMResponse::json()` reads it).
struct JsonOutput {
  /// A JSON schema the object must follow; null asks for any JSON object ("JSON mode").
  Value schema;
  /// A name for the schema (OpenAI asks for one).
  std::string name = "response";
};

/// Settings of one call; each given one overrides the LM's.
struct GenerateOptions {
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> top_p;
  std::vector<std::string> stop;
  std::vector<Tool> tools;
  /// "auto" (the default when tools are given), "none", "required", or the name of a tool.
  std::string tool_choice;
  std::optional<JsonOutput> json;
};

/// What the model answered.
struct LMResponse {
  /// The text of the answer ("" when the model only called tools).
  std::string text;
  std::vector<ToolCall> tool_calls;
  /// In OpenAI's words whatever the provider: "stop", "length", "tool_calls", "content_filter"
  /// (others are kept as the provider wrote them, lower-cased).
  std::string finish_reason;
  /// Input (including cache reads and writes), output (including reasoning), cached, cache-write
  /// and reasoning tokens, as TokenUsage counts them; nullopt when the provider reported none (a
  /// stream from a server that does not send usage, say): the call's event then has no token
  /// counts and no cost, and says `metadata.cost_status = "no_usage"`.
  std::optional<TokenUsage> usage;
  /// Cost in USD when the provider reports it (OpenRouter, an in-process model).
  std::optional<double> cost;
  /// The model that answered, as the provider names it.
  std::string model;
  std::string response_id;
  /// The provider in synth-tracing's vocabulary (detect_provider()).
  std::string provider;
  /// From the call to the complete answer, retries included.
  double latency_ms = 0;
  /// From the call to the first streamed text or tool call (streamed calls only).
  std::optional<double> time_to_first_token_ms;
  /// Requests made (1 + retries).
  int attempts = 1;

  /// The text read as JSON (for JsonOutput); throws LMResponseError when it is not JSON.
  Value json() const;
};

/// What an in-process model receives.
struct LMRequest {
  std::string model;
  std::vector<Message> messages;
  GenerateOptions options;
};

/// A model that runs in this process instead of behind an HTTP server (a scripted policy, a
/// local library). It fills the answer's text, tool calls, finish reason, usage and cost; the LM
/// fills timing and identity, and traces the call like any other.
using InProcessModel = std::function<LMResponse(const LMRequest& request)>;

/// Settings of an LM. Give them with designated initializers, in this order.
struct LMOptions {
  std::string model;
  /// "openai", "anthropic", "google" (or "gemini"), "groq", "deepseek", "mistral", "xai",
  /// "together", "openrouter", "azure_openai", "local", ...; empty: detected from the model name
  /// and base_url (detect_provider()).
  std::string provider;
  std::optional<double> temperature;
  std::optional<std::int64_t> max_tokens;
  std::optional<double> top_p;
  /// The server: for OpenAI-compatible ones the URL before "/chat/completions"
  /// ("http://localhost:8000/v1"); for Anthropic the one before "/v1/messages"; for Gemini the one
  /// before "/v1beta/models/...". Empty: the provider's <NAME>_BASE_URL environment variable
  /// beside its key's (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, GEMINI_BASE_URL, GROQ_BASE_URL, ...)
  /// when set, else the provider's public endpoint.
  std::string base_url;
  /// Empty: the provider's usual environment variable (OPENAI_API_KEY, ANTHROPIC_API_KEY,
  /// GEMINI_API_KEY or GOOGLE_API_KEY, GROQ_API_KEY, DEEPSEEK_API_KEY, MISTRAL_API_KEY,
  /// XAI_API_KEY, TOGETHER_API_KEY, OPENROUTER_API_KEY, AZURE_OPENAI_API_KEY). Local and unknown
  /// servers get no key unless given here.
  std::string api_key;
  /// Bound on each request (connect, send, the whole answer).
  std::chrono::milliseconds timeout = std::chrono::seconds(60);
  /// Requests repeated after 429, 5xx, a connection failure or a timeout (not after a streamed
  /// answer has begun).
  int max_retries = 2;
  /// First wait between attempts; it doubles each time (jittered between 75 % and all of the
  /// step, at most 20 s), unless the server says how long with `retry-after-ms` or Retry-After.
  std::chrono::milliseconds retry_backoff = std::chrono::milliseconds(500);
  /// Whether streams ask for usage with `stream_options.include_usage`. nullopt: only from
  /// servers known to accept it (OpenAI, Azure OpenAI, Groq, DeepSeek, xAI), since strict ones
  /// refuse the field (Mistral) and local servers differ; true: always (a vLLM server, say);
  /// false: never.
  std::optional<bool> stream_usage;
  /// The tracer to record into; nullptr: the session made current most recently on the calling
  /// thread (of any tracer).
  SessionTracer* session_tracer = nullptr;
  /// The system_instance_id of the events; empty: "lm_<model>".
  std::string system_id;
  /// false: calls record nothing.
  bool enable_v2_tracing = true;
  /// Threads that run agenerate() calls, started as needed and joined when the LM is destroyed.
  std::size_t async_threads = 4;
  /// agenerate() calls waiting for a thread; beyond that, agenerate() runs the call on the
  /// caller's thread and returns a ready future (the caller slows down, nothing grows unbounded).
  std::size_t async_queue_capacity = 64;
  /// Set to serve the calls in this process (provider "offline" unless `provider` says otherwise).
  InProcessModel in_process_model;
};

/// Base class of the LM's errors. Messages carry the provider's own explanation, never a
/// credential: API keys, tokens, URL credentials and registered secrets (register_secret())
/// are masked in `message`.
class LMError : public Error {
 public:
  LMError(const std::string& message, std::string provider, int status = 0);
  const std::string& provider() const noexcept { return provider_; }
  /// The HTTP status of the answer, 0 when there was none.
  int status() const noexcept { return status_; }

 private:
  std::string provider_;
  int status_;
};

/// 401/403, or no API key to send.
class LMAuthenticationError : public LMError {
 public:
  using LMError::LMError;
};

/// 429 still after the retries (or with a Retry-After too long to wait).
class LMRateLimitError : public LMError {
 public:
  LMRateLimitError(const std::string& message, std::string provider, int status,
                   std::optional<std::chrono::milliseconds> retry_after)
      : LMError(message, std::move(provider), status), retry_after_(retry_after) {}
  /// What the server's Retry-After asked for.
  std::optional<std::chrono::milliseconds> retry_after() const noexcept { return retry_after_; }

 private:
  std::optional<std::chrono::milliseconds> retry_after_;
};

/// A request the server refused (400, 404, 422, ...): the message is the server's.
class LMBadRequestError : public LMError {
 public:
  using LMError::LMError;
};

/// 5xx still after the retries.
class LMServerError : public LMError {
 public:
  using LMError::LMError;
};

/// No complete answer within LMOptions::timeout, still after the retries.
class LMTimeoutError : public LMError {
 public:
  using LMError::LMError;
};

/// The server could not be reached, or the connection broke, still after the retries.
class LMConnectionError : public LMError {
 public:
  using LMError::LMError;
};

/// An answer that is not what the provider's format says (bad JSON, missing fields, a stream
/// that ended early), or a model that returned no valid answer.
class LMResponseError : public LMError {
 public:
  using LMError::LMError;
};

/// A language model client. Each call (generate, agenerate, stream) is traced as one CAISEvent in
/// the session and timestep current where the call was made: model, provider, tokens, cost,
/// latency, time to first token, the request (messages and parameters) and the answer; a failed
/// call is recorded with metadata.error and its exception reaches the caller. With OpenTelemetry
/// on, the call is a CLIENT span and the server receives its `traceparent`. Tracing never breaks
/// a call: an answer that was received is returned even when recording it fails (the failure is
/// counted in the tracer's `stats().records_failed` and reported).
///
/// Thread-safe: calls may run concurrently from any threads (each in flight uses its own
/// keep-alive connection). agenerate() runs on the LM's own bounded pool of threads
/// (LMOptions::async_threads); the LM must outlive the futures it returns, and its destructor
/// waits for the calls already queued.
class LM {
 public:
  /// Throws LMError when the provider cannot be told (no provider, base_url or known model name).
  explicit LM(LMOptions options);
  ~LM();
  LM(const LM&) = delete;
  LM& operator=(const LM&) = delete;

  /// One user message; blocks until the answer is complete.
  LMResponse generate(std::string_view prompt, const GenerateOptions& options = {});
  /// A conversation; blocks until the answer is complete.
  LMResponse generate(const std::vector<Message>& messages, const GenerateOptions& options = {});

  /// generate() on one of the LM's threads, in the caller's session, timestep and span. When
  /// LMOptions::async_queue_capacity calls already wait, the call runs on the calling thread
  /// instead and the future is ready on return.
  std::future<LMResponse> agenerate(std::string prompt, GenerateOptions options = {});
  std::future<LMResponse> agenerate(std::vector<Message> messages, GenerateOptions options = {});

  /// Streams the answer: `on_text` receives each piece of text as it arrives; returns the whole
  /// answer. An exception from `on_text` ends the call and reaches the caller.
  LMResponse stream(std::string_view prompt, const std::function<void(std::string_view text)>& on_text,
                    const GenerateOptions& options = {});
  LMResponse stream(const std::vector<Message>& messages, const std::function<void(std::string_view text)>& on_text,
                    const GenerateOptions& options = {});

  const std::string& model() const noexcept;
  /// The provider in synth-tracing's vocabulary.
  const std::string& provider() const noexcept;
  const std::string& system_id() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace synth::tracing
