// OpenAI Chat Completions, which OpenAI-compatible servers (Groq, Together, OpenRouter, DeepSeek,
// Mistral, xAI, vLLM, llama.cpp, Ollama, ...) speak too.
#include <map>

#include "lm/wire.hpp"

namespace synth::tracing::lm_detail {
namespace {

Value message_value(const Message& m) {
  Value out = Value::object({{"role", m.role}});
  if (m.role == "assistant" && !m.tool_calls.empty()) {
    out.set("content", m.content.empty() ? Value() : Value(m.content));
    Value calls = Value::array();
    for (const auto& c : m.tool_calls) {
      calls.push_back(
          {{"id", c.id}, {"type", "function"}, {"function", {{"name", c.name}, {"arguments", c.arguments}}}});
    }
    out.set("tool_calls", std::move(calls));
  } else {
    out.set("content", m.content);
  }
  if (m.role == "tool") out.set("tool_call_id", m.tool_call_id);
  return out;
}

std::string finish_reason_of(const Value& v) {
  // OpenAI's vocabulary already; compatible servers sometimes write "eos" or "function_call".
  std::string r = text_of(v);
  if (r == "eos" || r == "end_turn") return "stop";
  if (r == "function_call") return "tool_calls";
  return r;
}

// No usage object (a stream from a server that ignored stream_options): the usage stays unknown.
// OpenAI reports no cache writes.
void read_usage(const Value& u, LMResponse& out) {
  if (!u.is_object()) return;
  TokenUsage& usage = out.usage.emplace();
  usage.prompt_tokens = int_of(u["prompt_tokens"]);
  usage.completion_tokens = int_of(u["completion_tokens"]);
  usage.cached_tokens = int_of(u["prompt_tokens_details"]["cached_tokens"]);
  usage.reasoning_tokens = int_of(u["completion_tokens_details"]["reasoning_tokens"]);
  if (u["cost"].is_number()) out.cost = u["cost"].as_double();  // OpenRouter reports it
}

ToolCall tool_call_of(const Value& c) {
  return ToolCall{text_of(c["id"]), text_of(c["function"]["name"]), text_of(c["function"]["arguments"])};
}

class OpenAIStream final : public StreamAccumulator {
 public:
  explicit OpenAIStream(std::string provider) : provider_(std::move(provider)) { out_.provider = provider_; }

  bool on_event(std::string_view, std::string_view data, const OnText& on_text) override {
    if (data == "[DONE]") {
      done_ = true;
      return false;
    }
    const Value chunk = parse_json(data, provider_);
    if (const Value& error = chunk["error"]; !error.is_null()) {
      throw LMResponseError(provider_ + " reported an error in the stream: " + error_message(data), provider_);
    }
    if (out_.response_id.empty()) out_.response_id = text_of(chunk["id"]);
    if (out_.model.empty()) out_.model = text_of(chunk["model"]);
    read_usage(chunk["usage"], out_);
    bool delta_seen = false;
    const Value& choices = chunk["choices"];
    if (choices.is_array() && !choices.empty()) {
      const Value& choice = choices[0];
      const Value& delta = choice["delta"];
      if (const Value& content = delta["content"]; content.is_string() && !content.as_string().empty()) {
        out_.text += content.as_string();
        if (on_text) on_text(content.as_string());
        delta_seen = true;
      }
      if (const Value& calls = delta["tool_calls"]; calls.is_array()) {
        for (const Value& c : calls.as_array()) {
          const std::int64_t index = c["index"].is_integer() ? c["index"].as_int() : 0;
          ToolCall& call = calls_[index];
          if (const std::string id = text_of(c["id"]); !id.empty()) call.id = id;
          call.name += text_of(c["function"]["name"]);
          call.arguments += text_of(c["function"]["arguments"]);
          delta_seen = true;
        }
      }
      if (const std::string r = finish_reason_of(choice["finish_reason"]); !r.empty()) out_.finish_reason = r;
    }
    return delta_seen;
  }

  LMResponse finish() override {
    if (!done_ && out_.finish_reason.empty()) {
      throw LMResponseError(provider_ + "'s stream ended before the answer was complete", provider_);
    }
    for (auto& [index, call] : calls_) out_.tool_calls.push_back(std::move(call));
    return std::move(out_);
  }

 private:
  std::string provider_;
  LMResponse out_;
  std::map<std::int64_t, ToolCall> calls_;
  bool done_ = false;
};

}  // namespace

std::string openai_body(const CallSpec& spec) {
  const GenerateOptions& o = spec.options;
  Value body = Value::object({{"model", spec.model}});
  Value messages = Value::array();
  for (const auto& m : spec.messages) messages.push_back(message_value(m));
  body.set("messages", std::move(messages));
  if (o.temperature) body.set("temperature", *o.temperature);
  if (o.max_tokens) body.set(spec.max_completion_tokens ? "max_completion_tokens" : "max_tokens", *o.max_tokens);
  if (o.top_p) body.set("top_p", *o.top_p);
  if (!o.stop.empty()) body.set("stop", string_array(o.stop));
  if (!o.tools.empty()) {
    Value tools = Value::array();
    for (const auto& t : o.tools) {
      Value fn = Value::object({{"name", t.name}});
      if (!t.description.empty()) fn.set("description", t.description);
      fn.set("parameters", parameters_schema(t));
      tools.push_back({{"type", "function"}, {"function", std::move(fn)}});
    }
    body.set("tools", std::move(tools));
    if (o.tool_choice == "auto" || o.tool_choice == "none" || o.tool_choice == "required") {
      body.set("tool_choice", o.tool_choice);
    } else if (!o.tool_choice.empty()) {
      body.set("tool_choice", {{"type", "function"}, {"function", {{"name", o.tool_choice}}}});
    }
  }
  if (o.json) {
    if (o.json->schema.is_null()) {
      body.set("response_format", {{"type", "json_object"}});
    } else {
      body.set("response_format",
               {{"type", "json_schema"}, {"json_schema", {{"name", o.json->name}, {"schema", o.json->schema}}}});
    }
  }
  if (spec.stream) {
    body.set("stream", true);
    if (spec.stream_usage) body.set("stream_options", {{"include_usage", true}});
  }
  return body.dump();
}

LMResponse openai_parse(std::string_view text, std::string_view provider) {
  const Value v = parse_json(text, provider);
  LMResponse out;
  out.provider = provider;
  const Value& choices = v["choices"];
  if (!choices.is_array() || choices.empty() || !choices[0]["message"].is_object()) {
    throw LMResponseError(std::string(provider) + "'s answer has no choices[0].message", std::string(provider));
  }
  const Value& message = choices[0]["message"];
  out.text = text_of(message["content"]);
  if (const Value& calls = message["tool_calls"]; calls.is_array()) {
    for (const Value& c : calls.as_array()) out.tool_calls.push_back(tool_call_of(c));
  }
  out.finish_reason = finish_reason_of(choices[0]["finish_reason"]);
  out.response_id = text_of(v["id"]);
  out.model = text_of(v["model"]);
  read_usage(v["usage"], out);
  return out;
}

std::unique_ptr<StreamAccumulator> openai_stream(std::string provider) {
  return std::make_unique<OpenAIStream>(std::move(provider));
}

}  // namespace synth::tracing::lm_detail
