// The LM client: provider resolution, requests with retries, streaming, tracing.
#include "synth/tracing/lm.hpp"

#include <algorithm>
#include <cstdlib>
#include <mutex>
#include <thread>

#include "environment.hpp"
#include "http/client.hpp"
#include "lm/call_pool.hpp"
#include "lm/wire.hpp"
#include "model/providers.hpp"
#include "secrets/secrets.hpp"
#include "synth/tracing/context.hpp"
#include "synth/tracing/instrument.hpp"
#include "synth/tracing/model.hpp"
#include "synth/tracing/secrets.hpp"
#include "synth/tracing/tracer.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

using detail::Wire;

LMError::LMError(const std::string& message, std::string provider, int status)
    : Error(detail::redact_credentials(message)), provider_(std::move(provider)), status_(status) {}

Value LMResponse::json() const {
  try {
    return Value::parse(text, "the model's answer");
  } catch (const std::exception& e) {
    throw LMResponseError(std::string("the model's answer is not JSON: ") + e.what(), provider);
  }
}

namespace {

constexpr auto kMaxBackoff = std::chrono::seconds(20);
// A Retry-After longer than this is not waited for: the call fails with LMRateLimitError.
constexpr auto kMaxRetryAfter = std::chrono::seconds(60);
// The backoff's jitter keeps at least this fraction of each step (LMOptions::retry_backoff).
constexpr double kBackoffJitterFloor = 0.75;

std::string strip_trailing_slash(std::string url) {
  while (!url.empty() && url.back() == '/') url.pop_back();
  return url;
}

// "<PROVIDER>_BASE_URL" beside the key's "<PROVIDER>_API_KEY"; "" for providers without a key variable.
std::string base_url_variable(const detail::ProviderInfo& info) {
  constexpr std::string_view suffix = "_API_KEY";
  const std::string_view key = info.key_variable;
  if (key.size() <= suffix.size() || !key.ends_with(suffix)) return {};
  return std::string(key.substr(0, key.size() - suffix.size())) + "_BASE_URL";
}

// The trace's copies of the call's messages and answer are built member by member, in place: a
// Value literal ({{"role", ...}}) builds each value, then the list, then the object (and a
// set() per member searches the object first), several times the work of the copy itself.
Value tool_calls_state(const std::vector<ToolCall>& calls) {
  Value::Array out;
  out.reserve(calls.size());
  for (const auto& c : calls) {
    Value::Object call;
    call.reserve(3);
    call.emplace_back("id", c.id);
    call.emplace_back("name", c.name);
    call.emplace_back("arguments", c.arguments);
    out.emplace_back(std::move(call));
  }
  return Value(std::move(out));
}

Value messages_state(const std::vector<Message>& messages) {
  Value::Array out;
  out.reserve(messages.size());
  for (const auto& m : messages) {
    Value::Object v;
    v.reserve(2 + (m.tool_calls.empty() ? 0 : 1) + (m.tool_call_id.empty() ? 0 : 1));
    v.emplace_back("role", m.role);
    v.emplace_back("content", m.content);
    if (!m.tool_calls.empty()) v.emplace_back("tool_calls", tool_calls_state(m.tool_calls));
    if (!m.tool_call_id.empty()) v.emplace_back("tool_call_id", m.tool_call_id);
    out.emplace_back(std::move(v));
  }
  return Value(std::move(out));
}

}  // namespace

struct LM::Impl {
  using OnTextFn = std::function<void(std::string_view)>;

  LMOptions options;
  std::string provider;
  bool in_process = false;
  Wire wire = Wire::openai;
  std::string base_url;
  std::string api_key;
  std::string key_variable;
  std::string system_id;
  bool max_completion_tokens = false;
  bool stream_usage = false;

  std::mutex pool_mutex;
  std::vector<std::unique_ptr<http::Client>> idle;
  // Last: destroyed first, so the calls still queued run while the rest of the LM is intact.
  std::unique_ptr<lm_detail::CallPool> async_calls;

  // ---- connections: one keep-alive handle per call in flight ----
  struct Lease {
    Impl& lm;
    std::unique_ptr<http::Client> client;
    ~Lease() {
      std::lock_guard lock(lm.pool_mutex);
      lm.idle.push_back(std::move(client));
    }
  };
  Lease lease() {
    {
      std::lock_guard lock(pool_mutex);
      if (!idle.empty()) {
        auto c = std::move(idle.back());
        idle.pop_back();
        return Lease{*this, std::move(c)};
      }
    }
    return Lease{*this, std::make_unique<http::Client>()};
  }

  std::string url(bool stream) const {
    switch (wire) {
      case Wire::anthropic: return base_url + "/v1/messages";
      case Wire::gemini:
        return base_url + "/v1beta/models/" + options.model +
               (stream ? ":streamGenerateContent?alt=sse" : ":generateContent");
      default: return base_url + "/chat/completions";
    }
  }

  http::Headers headers(bool stream, const std::string& traceparent) const {
    http::Headers h{{"Content-Type", "application/json"}};
    if (stream) h.emplace_back("Accept", "text/event-stream");
    if (!api_key.empty()) {
      switch (wire) {
        case Wire::anthropic: h.emplace_back("x-api-key", api_key); break;
        case Wire::gemini: h.emplace_back("x-goog-api-key", api_key); break;
        default:
          if (provider == "azure_openai") {
            h.emplace_back("api-key", api_key);
          } else {
            h.emplace_back("Authorization", "Bearer " + api_key);
          }
      }
    }
    if (wire == Wire::anthropic) h.emplace_back("anthropic-version", "2023-06-01");
    if (!traceparent.empty()) h.emplace_back("traceparent", traceparent);
    return h;
  }

  std::string body(const std::vector<Message>& messages, const GenerateOptions& resolved, bool stream) const {
    const lm_detail::CallSpec spec{.model = options.model,
                                   .messages = messages,
                                   .options = resolved,
                                   .stream = stream,
                                   .max_completion_tokens = max_completion_tokens,
                                   .stream_usage = stream_usage};
    switch (wire) {
      case Wire::anthropic: return lm_detail::anthropic_body(spec);
      case Wire::gemini: return lm_detail::gemini_body(spec);
      default: return lm_detail::openai_body(spec);
    }
  }

  LMResponse parse(std::string_view text) const {
    switch (wire) {
      case Wire::anthropic: return lm_detail::anthropic_parse(text, provider);
      case Wire::gemini: return lm_detail::gemini_parse(text, provider);
      default: return lm_detail::openai_parse(text, provider);
    }
  }

  std::unique_ptr<lm_detail::StreamAccumulator> accumulator() const {
    switch (wire) {
      case Wire::anthropic: return lm_detail::anthropic_stream(provider);
      case Wire::gemini: return lm_detail::gemini_stream(provider);
      default: return lm_detail::openai_stream(provider);
    }
  }

  // Sends the request until it succeeds, fails for good or the retries run out.
  LMResponse execute(const std::vector<Message>& messages, const GenerateOptions& resolved, const OnTextFn* on_text,
                     const std::string& traceparent, std::chrono::steady_clock::time_point started) {
    if (api_key.empty() && !key_variable.empty()) {
      throw LMAuthenticationError("no API key for " + provider + ": set " + key_variable + " or LMOptions::api_key",
                                  provider);
    }
    const bool stream = on_text != nullptr;
    const std::string request_url = url(stream);
    const http::Headers request_headers = headers(stream, traceparent);
    const std::string request_body = body(messages, resolved, stream);
    auto client = lease();
    // Made at the first retry: most calls never need it (and seeding it reads the system's entropy).
    std::optional<http::RetryBackoff> backoff;
    for (int attempt = 0;; ++attempt) {
      std::unique_ptr<lm_detail::StreamAccumulator> acc;
      lm_detail::SseParser sse;
      std::optional<std::chrono::steady_clock::time_point> first_token;
      http::OnChunk on_chunk;
      if (stream) {
        acc = accumulator();
        on_chunk = [&](std::string_view bytes) {
          sse.feed(bytes, [&](std::string_view name, std::string_view data) {
            if (acc->on_event(name, data, *on_text) && !first_token) first_token = std::chrono::steady_clock::now();
          });
          return true;
        };
      }
      const http::Response r = client.client->post(request_url, request_headers, request_body, options.timeout, on_chunk);
      const bool can_retry = attempt < options.max_retries && !first_token;
      if (r.ok()) {
        LMResponse out = stream ? acc->finish() : parse(r.body);
        out.provider = provider;
        if (out.model.empty()) out.model = options.model;
        out.attempts = attempt + 1;
        const auto now = std::chrono::steady_clock::now();
        out.latency_ms = std::chrono::duration<double, std::milli>(now - started).count();
        if (first_token) out.time_to_first_token_ms = std::chrono::duration<double, std::milli>(*first_token - started).count();
        return out;
      }
      if (r.outcome == http::Outcome::timed_out) {
        if (!can_retry) {
          throw LMTimeoutError(provider + " did not answer within " + std::to_string(options.timeout.count()) +
                                   " ms (" + std::to_string(attempt + 1) + " attempts): " + r.error,
                               provider, r.status);
        }
      } else if (r.outcome != http::Outcome::response) {
        if (!can_retry) {
          throw LMConnectionError(provider + (first_token ? ": the connection broke during the streamed answer: "
                                                          : ": could not reach " + base_url + ": ") +
                                      r.error,
                                  provider, r.status);
        }
      } else {
        const std::string message = lm_detail::error_message(r.body);
        const std::string what = provider + " answered " + std::to_string(r.status) + ": " + message;
        const std::optional<std::chrono::milliseconds> retry_after = http::RetryBackoff::server_wait(r);
        if (r.status == 401 || r.status == 403) throw LMAuthenticationError(what, provider, r.status);
        const bool retryable = r.status == 429 || r.status == 408 || r.status == 409 || r.status >= 500;
        if (!retryable) throw LMBadRequestError(what, provider, r.status);
        const bool too_long = retry_after && *retry_after > kMaxRetryAfter;
        if (!can_retry || too_long) {
          if (r.status == 429) throw LMRateLimitError(what, provider, r.status, retry_after);
          if (r.status == 408) throw LMTimeoutError(what, provider, r.status);
          throw LMServerError(what, provider, r.status);
        }
      }
      // The server's wait (not above kMaxRetryAfter, checked above), else the jittered backoff.
      if (!backoff) backoff.emplace(options.retry_backoff, kMaxBackoff, kMaxRetryAfter, kBackoffJitterFloor);
      std::this_thread::sleep_for(backoff->delay(attempt + 1, r));
    }
  }

  GenerateOptions resolve(const GenerateOptions& call) const {
    GenerateOptions r = call;
    if (!r.temperature) r.temperature = options.temperature;
    if (!r.max_tokens) r.max_tokens = options.max_tokens;
    if (!r.top_p) r.top_p = options.top_p;
    if (!r.tools.empty() && r.tool_choice.empty()) r.tool_choice = "auto";
    return r;
  }

  Value request_state(const std::vector<Message>& messages, const GenerateOptions& r, bool stream) const {
    Value::Object s;
    s.reserve(8);
    s.emplace_back("model", options.model);
    if (r.temperature) s.emplace_back("temperature", *r.temperature);
    if (r.max_tokens) s.emplace_back("max_tokens", *r.max_tokens);
    if (r.top_p) s.emplace_back("top_p", *r.top_p);
    s.emplace_back("messages", messages_state(messages));
    if (!r.tools.empty()) {
      Value tools = Value::array();
      for (const auto& t : r.tools) {
        tools.push_back({{"name", t.name}, {"description", t.description}, {"parameters", t.parameters}});
      }
      s.emplace_back("tools", std::move(tools));
    }
    if (r.json) {
      s.emplace_back("response_format", r.json->schema.is_null()
                                            ? Value{{"type", "json_object"}}
                                            : Value{{"type", "json_schema"}, {"name", r.json->name}, {"schema", r.json->schema}});
    }
    if (stream) s.emplace_back("stream", true);
    return Value(std::move(s));
  }

  // Tracing work of a call. A failure in it (out of memory) is counted in the tracer's
  // records_failed and reported, never thrown: the call goes on and its answer reaches the caller.
  template <class Work>
  static void trace_safely(detail::TracerCore* core, const char* what, Work&& work) noexcept {
    try {
      work();
    } catch (...) {
      if (core == nullptr) return;
      detail::count_failed_record(*core, [&] {
        return std::string("an LM call could not record ") + what + ": " + detail::current_exception_text();
      });
    }
  }

  void record_answer(AiCallScope& scope, const LMResponse& out) const {
    Value::Object after;
    after.reserve(5);
    after.emplace_back("content", out.text);
    after.emplace_back("finish_reason", out.finish_reason);
    if (!out.tool_calls.empty()) after.emplace_back("tool_calls", tool_calls_state(out.tool_calls));
    if (!out.response_id.empty()) after.emplace_back("response_id", out.response_id);
    after.emplace_back("model", out.model);
    scope.response(Value(std::move(after)));
    if (out.usage) scope.usage(*out.usage);  // none reported: no token counts, never zeros
    if (out.model != options.model) scope.response_model(out.model);
    if (out.cost) scope.cost(*out.cost);
    if (out.time_to_first_token_ms) scope.set("time_to_first_token_ms", *out.time_to_first_token_ms);
    if (out.attempts > 1) scope.set("attempts", out.attempts);
  }

  // One traced call.
  LMResponse call(const std::vector<Message>& messages, const GenerateOptions& call_options, const OnTextFn* on_text) {
    const auto started = std::chrono::steady_clock::now();
    const GenerateOptions resolved = resolve(call_options);
    std::optional<AiCallScope> scope;
    std::shared_ptr<detail::TracerCore> core;  // where failures to record are counted
    std::string traceparent;
    if (options.enable_v2_tracing) {
      if (Context* where = detail::recording_context(options.session_tracer)) {
        core = detail::ContextAccess::session(*where)->core;
      }
      trace_safely(core.get(), "the request", [&] {
        scope.emplace(wire == Wire::gemini ? "generate_content" : "chat",
                      AiCallOptions{.model = options.model,
                                    .system_id = system_id,
                                    .provider = provider,
                                    .tracer = options.session_tracer});
        if (!scope->recording()) return;
        scope->request(request_state(messages, resolved, on_text != nullptr));
        if (!in_process) {
          const SpanIdentity id = scope->identity();
          if (id.trace_id.size() == 32 && id.span_id.size() == 16) traceparent = "00-" + id.trace_id + "-" + id.span_id + "-01";
        }
      });
    }
    const bool recording = scope && scope->recording();
    LMResponse out;
    try {
      out = in_process ? run_in_process(messages, resolved, on_text, started)
                       : execute(messages, resolved, on_text, traceparent, started);
    } catch (const std::exception& e) {
      if (recording) trace_safely(core.get(), "the error", [&] { scope->error(e); });
      throw;
    }
    if (recording) trace_safely(core.get(), "the answer", [&] { record_answer(*scope, out); });
    return out;
  }

  LMResponse run_in_process(const std::vector<Message>& messages, const GenerateOptions& resolved,
                            const OnTextFn* on_text, std::chrono::steady_clock::time_point started) const {
    LMResponse out = options.in_process_model(LMRequest{options.model, messages, resolved});
    const auto answered = std::chrono::steady_clock::now();
    if (on_text != nullptr && *on_text && !out.text.empty()) {
      out.time_to_first_token_ms = std::chrono::duration<double, std::milli>(answered - started).count();
      (*on_text)(out.text);
    }
    out.provider = provider;
    if (out.model.empty()) out.model = options.model;
    if (out.finish_reason.empty()) out.finish_reason = out.tool_calls.empty() ? "stop" : "tool_calls";
    out.attempts = 1;
    out.latency_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
    return out;
  }
};

LM::LM(LMOptions options) : impl_(std::make_unique<Impl>()) {
  Impl& d = *impl_;
  d.options = std::move(options);
  const LMOptions& o = d.options;
  if (o.model.empty()) throw LMError("LMOptions::model is empty", o.provider);
  if (o.max_retries < 0) throw LMError("LMOptions::max_retries is negative", o.provider);
  if (o.async_threads == 0) throw LMError("LMOptions::async_threads is 0: agenerate() needs at least 1", o.provider);
  if (o.async_queue_capacity == 0) {
    throw LMError("LMOptions::async_queue_capacity is 0: agenerate() needs room for at least 1 call", o.provider);
  }
  if (o.in_process_model) {
    d.in_process = true;
    d.provider = o.provider.empty() ? "offline" : normalize_provider(o.provider);
  } else {
    d.provider = o.provider.empty() ? detect_provider(o.model, o.base_url) : normalize_provider(o.provider);
    // Local, unknown and unlisted servers speak the OpenAI format and get a key only when given one.
    const detail::ProviderInfo* info = detail::find_provider(d.provider);
    d.base_url = o.base_url;
    if (d.base_url.empty() && info != nullptr) {
      // The provider SDKs' own variable (OPENAI_BASE_URL, ANTHROPIC_BASE_URL, ...) points a
      // program at a proxy or a local server without changing its code.
      d.base_url = detail::env_text(base_url_variable(*info).c_str());
      if (d.base_url.empty()) d.base_url = info->base_url;
    }
    d.api_key = o.api_key;
    if (info != nullptr) {
      d.wire = info->wire;
      d.max_completion_tokens = info->max_completion_tokens;
      d.stream_usage = info->accepts_stream_options;
      if (d.api_key.empty() && !info->key_variable.empty()) {
        d.key_variable = info->key_variable;
        d.api_key = detail::env_text(d.key_variable.c_str());
        if (d.api_key.empty() && d.provider == "google") {
          d.api_key = detail::env_text("GOOGLE_API_KEY");
          if (d.api_key.empty()) d.key_variable = "GEMINI_API_KEY (or GOOGLE_API_KEY)";
        }
        if (!d.api_key.empty()) d.key_variable.clear();
      }
    }
    d.stream_usage = o.stream_usage.value_or(d.stream_usage);
    if (d.base_url.empty()) {
      throw LMError("cannot tell where to send requests for model '" + o.model + "' (provider " + d.provider +
                        "): set LMOptions::provider or LMOptions::base_url",
                    d.provider);
    }
    d.base_url = strip_trailing_slash(d.base_url);
  }
  // The key in use, given or read from the environment, is masked wherever it could be printed.
  register_secret(d.api_key);
  d.system_id = o.system_id.empty() ? "lm_" + o.model : o.system_id;
  d.async_calls = std::make_unique<lm_detail::CallPool>(o.async_threads, o.async_queue_capacity);
}

LM::~LM() = default;

LMResponse LM::generate(std::string_view prompt, const GenerateOptions& options) {
  return impl_->call({Message::user(std::string(prompt))}, options, nullptr);
}

LMResponse LM::generate(const std::vector<Message>& messages, const GenerateOptions& options) {
  return impl_->call(messages, options, nullptr);
}

std::future<LMResponse> LM::agenerate(std::string prompt, GenerateOptions options) {
  return agenerate(std::vector<Message>{Message::user(std::move(prompt))}, std::move(options));
}

std::future<LMResponse> LM::agenerate(std::vector<Message> messages, GenerateOptions options) {
  // The call records where agenerate() was called: the caller's session, timestep and span.
  Context context;
  if (impl_->options.session_tracer != nullptr) {
    context = impl_->options.session_tracer->current_context();
  } else if (const Context* c = detail::ContextAccess::innermost()) {
    context = *c;
  }
  std::packaged_task<LMResponse()> task([impl = impl_.get(), context = std::move(context),
                                          messages = std::move(messages), options = std::move(options)] {
    std::optional<ContextScope> attach;
    if (!context.empty()) attach.emplace(context);
    return impl->call(messages, options, nullptr);
  });
  std::future<LMResponse> result = task.get_future();
  if (!impl_->async_calls->try_submit(task)) task();  // the queue is full: the caller runs the call
  return result;
}

LMResponse LM::stream(std::string_view prompt, const std::function<void(std::string_view)>& on_text,
                      const GenerateOptions& options) {
  return stream(std::vector<Message>{Message::user(std::string(prompt))}, on_text, options);
}

LMResponse LM::stream(const std::vector<Message>& messages, const std::function<void(std::string_view)>& on_text,
                      const GenerateOptions& options) {
  return impl_->call(messages, options, &on_text);
}

const std::string& LM::model() const noexcept { return impl_->options.model; }
const std::string& LM::provider() const noexcept { return impl_->provider; }
const std::string& LM::system_id() const noexcept { return impl_->system_id; }

}  // namespace synth::tracing
