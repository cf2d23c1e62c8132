// _core.LMClient: the C++ LM client for synth_tracing.lm.LM. Each call runs with the GIL released
// and is traced by the C++ LM into a private in-memory tracer (one short session per call); the
// recorded CAISEvent is handed back as a dict, and the Python LM adds it to the Python tracer, so
// the event is the one the C++ library records, field for field.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "synth/tracing/config.hpp"
#include "synth/tracing/lm.hpp"
#include "synth/tracing/tracer.hpp"

namespace synth::tracing::python {

namespace {

// Thrown out of a stream's on_text when the Python callback raised: the C++ LM ends the call
// (recording it as failed), and the Python exception is handed back to the caller.
struct CallbackRaised : std::exception {
  const char* what() const noexcept override { return "the stream's consumer stopped or raised"; }
};

std::string text_of(py::handle content) {
  if (content.is_none()) return {};
  if (py::isinstance<py::str>(content)) return content.cast<std::string>();
  // OpenAI's list of parts: the text parts, joined.
  if (py::isinstance<py::list>(content)) {
    std::string out;
    for (py::handle part : content) {
      if (py::isinstance<py::str>(part)) {
        out += part.cast<std::string>();
      } else if (py::isinstance<py::dict>(part) && part.contains("text")) {
        out += py::str(part["text"]).cast<std::string>();
      }
    }
    return out;
  }
  return py::str(content).cast<std::string>();
}

std::string str_item(py::handle d, const char* key) {
  if (!d.contains(key)) return {};
  py::object v = d[key];
  return v.is_none() ? std::string() : py::str(v).cast<std::string>();
}

// A prompt (str) or the OpenAI-style message list [{"role", "content", "tool_calls"?,
// "tool_call_id"?}].
std::vector<Message> to_messages(py::handle prompt) {
  if (py::isinstance<py::str>(prompt)) return {Message::user(prompt.cast<std::string>())};
  std::vector<Message> out;
  for (py::handle m : prompt) {
    if (!py::isinstance<py::dict>(m)) {
      throw py::type_error("LM messages must be dicts with \"role\" and \"content\" (got " +
                           py::str(py::type::of(m)).cast<std::string>() + ")");
    }
    Message msg{str_item(m, "role"), m.contains("content") ? text_of(m["content"]) : std::string(), {}, {}};
    if (msg.role.empty()) throw py::value_error("an LM message has no \"role\"");
    msg.tool_call_id = str_item(m, "tool_call_id");
    if (m.contains("tool_calls") && !m["tool_calls"].is_none()) {
      for (py::handle c : m["tool_calls"]) {
        // Either our flat form {id, name, arguments} or OpenAI's {id, function: {name, arguments}}.
        py::handle fn = c.contains("function") ? py::handle(c["function"]) : c;
        msg.tool_calls.push_back(ToolCall{str_item(c, "id"), str_item(fn, "name"), str_item(fn, "arguments")});
      }
    }
    out.push_back(std::move(msg));
  }
  return out;
}

py::list tool_calls_list(const std::vector<ToolCall>& calls) {
  py::list out;
  for (const auto& c : calls) {
    py::dict d;
    d["id"] = c.id;
    d["name"] = c.name;
    d["arguments"] = c.arguments;
    out.append(d);
  }
  return out;
}

py::dict response_dict(const LMResponse& r) {
  py::dict d;
  d["text"] = r.text;
  d["tool_calls"] = tool_calls_list(r.tool_calls);
  d["finish_reason"] = r.finish_reason;
  if (r.usage) {
    py::dict u;
    u["prompt_tokens"] = r.usage->prompt_tokens;
    u["completion_tokens"] = r.usage->completion_tokens;
    u["total_tokens"] = r.usage->prompt_tokens + r.usage->completion_tokens;
    u["cached_tokens"] = r.usage->cached_tokens;
    u["reasoning_tokens"] = r.usage->reasoning_tokens;
    u["cache_write_tokens"] = r.usage->cache_write_tokens;
    d["usage"] = u;
  } else {
    d["usage"] = py::none();
  }
  d["cost"] = r.cost ? py::cast(*r.cost) : py::none();
  d["model"] = r.model;
  d["response_id"] = r.response_id;
  d["provider"] = r.provider;
  d["latency_ms"] = r.latency_ms;
  d["time_to_first_token_ms"] = r.time_to_first_token_ms ? py::cast(*r.time_to_first_token_ms) : py::none();
  d["attempts"] = r.attempts;
  return d;
}

// The name of the LMError subclass `e` is, for synth_tracing.lm's exception of the same name.
const char* error_kind(const LMError& e) {
  if (dynamic_cast<const LMAuthenticationError*>(&e)) return "LMAuthenticationError";
  if (dynamic_cast<const LMRateLimitError*>(&e)) return "LMRateLimitError";
  if (dynamic_cast<const LMBadRequestError*>(&e)) return "LMBadRequestError";
  if (dynamic_cast<const LMServerError*>(&e)) return "LMServerError";
  if (dynamic_cast<const LMTimeoutError*>(&e)) return "LMTimeoutError";
  if (dynamic_cast<const LMConnectionError*>(&e)) return "LMConnectionError";
  if (dynamic_cast<const LMResponseError*>(&e)) return "LMResponseError";
  return "LMError";
}

class LMClient {
 public:
  LMClient(const std::string& model, const std::string& provider, const std::string& base_url,
           const std::string& api_key, double timeout_s, int max_retries, const std::string& system_id,
           TracingConfig tracing) {
    // The recorder only holds each call's event until it is handed to Python: no files, no
    // spill, no spans, no sampling (the Python side decides what is traced).
    tracing.enabled = true;
    tracing.mode = TracingMode::v2;
    tracing.sampling_rate = 1.0;
    tracing.save_dir = std::filesystem::path();
    tracing.otel_endpoint = std::string();
    tracing.max_finished_sessions = std::size_t{1};
    tracing.checkpoint = false;  // nothing to keep on disk: the event goes to Python at once
    tracing.recover_spill = false;
    tracing.handle_signals = false;
    recorder_ = std::make_unique<SessionTracer>(std::move(tracing));
    lm_ = std::make_unique<LM>(LMOptions{
        .model = model,
        .provider = provider,
        .base_url = base_url,
        .api_key = api_key,
        .timeout = std::chrono::milliseconds(static_cast<std::int64_t>(timeout_s * 1000.0)),
        .max_retries = max_retries,
        .session_tracer = recorder_.get(),
        .system_id = system_id,
        .async_threads = 1,
    });
  }

  /// One call: returns {"response": dict | None, "event": dict | None, "error": None |
  /// (kind, message, provider, status), "callback_error": the exception `on_text` raised, or
  /// None}. Errors come back as values so that the caller records the event before raising.
  py::dict call(py::handle prompt, std::optional<double> temperature, std::optional<std::int64_t> max_tokens,
                bool record, std::int64_t turn, py::object on_text) {
    std::vector<Message> messages = to_messages(prompt);
    GenerateOptions options{.temperature = temperature, .max_tokens = max_tokens};
    std::optional<LMResponse> response;
    std::optional<Event> event;
    std::optional<std::tuple<std::string, std::string, std::string, int>> error;
    std::optional<py::error_already_set> raised;
    {
      py::gil_scoped_release release;
      std::optional<SessionScope> session;
      std::optional<TimestepScope> step;
      if (record) {
        session.emplace(recorder_->start_session(""));
        step.emplace(recorder_->timestep(turn));
      }
      try {
        if (on_text.is_none()) {
          response = lm_->generate(messages, options);
        } else {
          response = lm_->stream(
              messages,
              [&](std::string_view text) {
                py::gil_scoped_acquire acquire;
                try {
                  on_text(py::str(text.data(), text.size()));
                } catch (py::error_already_set& e) {
                  raised.emplace(std::move(e));
                  throw CallbackRaised();
                }
              },
              options);
        }
      } catch (const LMError& e) {
        error.emplace(error_kind(e), e.what(), e.provider(), e.status());
      } catch (const CallbackRaised&) {
        // raised holds the Python exception
      }
      if (session) {
        // Ended first: the finished session is the one with the tracer's outgoing policy applied
        // (pricing, PII masking, payload limits), as its sinks would store it.
        const std::string id(session->session_id());
        step.reset();
        session->end();
        if (auto trace = recorder_->get_session_trace(id); trace && !trace->event_history.empty()) {
          event = trace->event_history.back();
        }
      }
    }
    py::dict out;
    out["response"] = response ? py::object(response_dict(*response)) : py::none();
    out["event"] = event ? py::object(from_event(*event)) : py::none();
    out["error"] = error ? py::cast(*error) : py::none();
    out["callback_error"] = raised ? raised->value() : py::none();
    return out;
  }

  const std::string& provider() const { return lm_->provider(); }

 private:
  // Declared first: the LM (which records into it) is destroyed before it.
  std::unique_ptr<SessionTracer> recorder_;
  std::unique_ptr<LM> lm_;
};

}  // namespace

void bind_lm(py::module_& m) {
  py::class_<LMClient>(m, "LMClient", "The C++ LM client; synth_tracing.lm.LM drives it.")
      .def(py::init([](const std::string& model, const std::string& provider, const std::string& base_url,
                       const std::string& api_key, double timeout_s, int max_retries, const std::string& system_id,
                       const TracingConfig& tracing) {
             try {
               return std::make_unique<LMClient>(model, provider, base_url, api_key, timeout_s, max_retries,
                                                 system_id, tracing);
             } catch (const Error& e) {
               throw py::value_error(e.what());
             }
           }),
           py::arg("model"), py::arg("provider") = "", py::arg("base_url") = "", py::arg("api_key") = "",
           py::arg("timeout_s") = 60.0, py::arg("max_retries") = 2, py::arg("system_id") = "",
           py::arg("tracing") = TracingConfig{},
           "Never touches the network. ValueError when the provider cannot be told.")
      .def("call", &LMClient::call, py::arg("prompt"), py::arg("temperature") = py::none(),
           py::arg("max_tokens") = py::none(), py::arg("record") = true, py::arg("turn") = 0,
           py::arg("on_text") = py::none(),
           "One call with the GIL released: {response, event, error, callback_error}; on_text(str) receives "
           "streamed text.")
      .def_property_readonly("provider", &LMClient::provider);
}

}  // namespace synth::tracing::python
