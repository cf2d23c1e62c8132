// Anthropic Messages API.
#include <map>

#include "lm/wire.hpp"

namespace synth::tracing::lm_detail {
namespace {

// Anthropic requires max_tokens; this is used when neither the LM nor the call sets it.
constexpr std::int64_t kDefaultMaxTokens = 4096;

std::string finish_reason_of(std::string_view r) {
  if (r == "end_turn" || r == "stop_sequence") return "stop";
  if (r == "max_tokens") return "length";
  if (r == "tool_use") return "tool_calls";
  if (r == "refusal") return "content_filter";
  return std::string(r);
}

// Anthropic's input_tokens leaves out the tokens read from and written to the prompt cache; our
// prompt_tokens includes both (TokenUsage's and OpenTelemetry's rule): input + cache read + cache
// write. message_delta repeats the counts, updated.
void read_usage(const Value& u, std::optional<TokenUsage>& reported) {
  if (!u.is_object()) return;
  TokenUsage& usage = reported ? *reported : reported.emplace();
  if (u.contains("input_tokens")) {
    usage.cached_tokens = int_of(u["cache_read_input_tokens"]);
    usage.cache_write_tokens = int_of(u["cache_creation_input_tokens"]);
    usage.prompt_tokens = int_of(u["input_tokens"]) + usage.cached_tokens + usage.cache_write_tokens;
  }
  if (u.contains("output_tokens")) usage.completion_tokens = int_of(u["output_tokens"]);
}

class AnthropicStream final : public StreamAccumulator {
 public:
  explicit AnthropicStream(std::string provider) : provider_(std::move(provider)) { out_.provider = provider_; }

  bool on_event(std::string_view, std::string_view data, const OnText& on_text) override {
    const Value e = parse_json(data, provider_);
    const std::string type = text_of(e["type"]);
    if (type == "message_start") {
      const Value& m = e["message"];
      out_.response_id = text_of(m["id"]);
      out_.model = text_of(m["model"]);
      read_usage(m["usage"], out_.usage);
    } else if (type == "content_block_start") {
      const Value& block = e["content_block"];
      if (text_of(block["type"]) == "tool_use") {
        calls_[int_of(e["index"])] = ToolCall{text_of(block["id"]), text_of(block["name"]), ""};
        return true;
      }
    } else if (type == "content_block_delta") {
      const Value& delta = e["delta"];
      const std::string delta_type = text_of(delta["type"]);
      if (delta_type == "text_delta") {
        const std::string& piece = delta["text"].is_string() ? delta["text"].as_string() : empty_;
        if (piece.empty()) return false;
        out_.text += piece;
        if (on_text) on_text(piece);
        return true;
      }
      if (delta_type == "input_json_delta") {
        calls_[int_of(e["index"])].arguments += text_of(delta["partial_json"]);
        return true;
      }
    } else if (type == "message_delta") {
      if (const std::string r = text_of(e["delta"]["stop_reason"]); !r.empty()) out_.finish_reason = finish_reason_of(r);
      read_usage(e["usage"], out_.usage);
    } else if (type == "message_stop") {
      done_ = true;
    } else if (type == "error") {
      throw LMResponseError(provider_ + " reported an error in the stream: " + error_message(data), provider_);
    }
    return false;
  }

  LMResponse finish() override {
    if (!done_) throw LMResponseError(provider_ + "'s stream ended before message_stop", provider_);
    for (auto& [index, call] : calls_) {
      if (call.arguments.empty()) call.arguments = "{}";
      out_.tool_calls.push_back(std::move(call));
    }
    return std::move(out_);
  }

 private:
  std::string provider_;
  LMResponse out_;
  std::map<std::int64_t, ToolCall> calls_;
  bool done_ = false;
  const std::string empty_;
};

}  // namespace

std::string anthropic_body(const CallSpec& spec) {
  const GenerateOptions& o = spec.options;
  Value body = Value::object({{"model", spec.model}, {"max_tokens", o.max_tokens.value_or(kDefaultMaxTokens)}});
  std::string system;
  Value messages = Value::array();
  for (const auto& m : spec.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "tool") {
      Value result = {{"type", "tool_result"}, {"tool_use_id", m.tool_call_id}, {"content", m.content}};
      // Consecutive tool results go into one user turn.
      Value::Array& list = messages.as_array();
      if (!list.empty() && text_of(list.back()["role"]) == "user" && list.back()["content"].is_array() &&
          !list.back()["content"].empty() && text_of(list.back()["content"][0]["type"]) == "tool_result") {
        list.back()["content"].push_back(std::move(result));
      } else {
        messages.push_back({{"role", "user"}, {"content", Value::array({std::move(result)})}});
      }
    } else if (m.role == "assistant" && !m.tool_calls.empty()) {
      Value blocks = Value::array();
      if (!m.content.empty()) blocks.push_back({{"type", "text"}, {"text", m.content}});
      for (const auto& c : m.tool_calls) {
        blocks.push_back({{"type", "tool_use"}, {"id", c.id}, {"name", c.name}, {"input", arguments_value(c.arguments)}});
      }
      messages.push_back({{"role", "assistant"}, {"content", std::move(blocks)}});
    } else {
      messages.push_back({{"role", m.role == "assistant" ? "assistant" : "user"}, {"content", m.content}});
    }
  }
  if (o.json) {
    // No JSON mode in the Messages API: the instruction goes into the system prompt.
    system += (system.empty() ? "" : "\n\n") + std::string("Answer with one JSON object and nothing else.");
    if (!o.json->schema.is_null()) system += " It must follow this JSON schema: " + o.json->schema.dump();
  }
  if (!system.empty()) body.set("system", system);
  body.set("messages", std::move(messages));
  if (o.temperature) body.set("temperature", *o.temperature);
  if (o.top_p) body.set("top_p", *o.top_p);
  if (!o.stop.empty()) body.set("stop_sequences", string_array(o.stop));
  if (!o.tools.empty()) {
    Value tools = Value::array();
    for (const auto& t : o.tools) {
      Value tool = Value::object({{"name", t.name}});
      if (!t.description.empty()) tool.set("description", t.description);
      tool.set("input_schema", parameters_schema(t));
      tools.push_back(std::move(tool));
    }
    body.set("tools", std::move(tools));
    if (o.tool_choice == "auto") {
      body.set("tool_choice", {{"type", "auto"}});
    } else if (o.tool_choice == "none") {
      body.set("tool_choice", {{"type", "none"}});
    } else if (o.tool_choice == "required") {
      body.set("tool_choice", {{"type", "any"}});
    } else if (!o.tool_choice.empty()) {
      body.set("tool_choice", {{"type", "tool"}, {"name", o.tool_choice}});
    }
  }
  if (spec.stream) body.set("stream", true);
  return body.dump();
}

LMResponse anthropic_parse(std::string_view text, std::string_view provider) {
  const Value v = parse_json(text, provider);
  LMResponse out;
  out.provider = provider;
  const Value& content = v["content"];
  if (!content.is_array()) {
    throw LMResponseError(std::string(provider) + "'s answer has no content array", std::string(provider));
  }
  for (const Value& block : content.as_array()) {
    const std::string type = text_of(block["type"]);
    if (type == "text") {
      out.text += text_of(block["text"]);
    } else if (type == "tool_use") {
      out.tool_calls.push_back(ToolCall{text_of(block["id"]), text_of(block["name"]), block["input"].dump()});
    }
  }
  out.finish_reason = finish_reason_of(text_of(v["stop_reason"]));
  out.response_id = text_of(v["id"]);
  out.model = text_of(v["model"]);
  read_usage(v["usage"], out.usage);
  return out;
}

std::unique_ptr<StreamAccumulator> anthropic_stream(std::string provider) {
  return std::make_unique<AnthropicStream>(std::move(provider));
}

}  // namespace synth::tracing::lm_detail
