// Google Gemini generateContent / streamGenerateContent (the Generative Language API).
#include <unordered_map>
#include <utility>

#include "lm/wire.hpp"

namespace synth::tracing::lm_detail {
namespace {

std::string finish_reason_of(std::string_view r, bool has_tool_calls) {
  if (r.empty()) return {};
  if (r == "STOP") return has_tool_calls ? "tool_calls" : "stop";
  if (r == "MAX_TOKENS") return "length";
  if (r == "SAFETY" || r == "RECITATION" || r == "BLOCKLIST" || r == "PROHIBITED_CONTENT" || r == "SPII" ||
      r == "IMAGE_SAFETY") {
    return "content_filter";
  }
  std::string out(r);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// candidatesTokenCount leaves out the thinking; our output tokens include it. The cached part of
// the prompt (cachedContentTokenCount) is included in promptTokenCount, as in ours.
void read_usage(const Value& u, std::optional<TokenUsage>& reported) {
  if (!u.is_object()) return;
  TokenUsage& usage = reported.emplace();
  usage.prompt_tokens = int_of(u["promptTokenCount"]) + int_of(u["toolUsePromptTokenCount"]);
  usage.reasoning_tokens = int_of(u["thoughtsTokenCount"]);
  usage.completion_tokens = int_of(u["candidatesTokenCount"]) + usage.reasoning_tokens;
  usage.cached_tokens = int_of(u["cachedContentTokenCount"]);
}

// Text and function calls of a candidate's parts (thought summaries left out). Returns whether
// anything new arrived.
bool read_parts(const Value& candidate, LMResponse& out, const OnText* on_text) {
  bool seen = false;
  const Value& parts = candidate["content"]["parts"];
  if (!parts.is_array()) return false;
  for (const Value& part : parts.as_array()) {
    if (part["thought"].is_bool() && part["thought"].as_bool()) continue;
    if (const Value& text = part["text"]; text.is_string() && !text.as_string().empty()) {
      out.text += text.as_string();
      if (on_text != nullptr && *on_text) (*on_text)(text.as_string());
      seen = true;
    } else if (const Value& call = part["functionCall"]; call.is_object()) {
      std::string id = text_of(call["id"]);
      if (id.empty()) id = "call_" + std::to_string(out.tool_calls.size());
      out.tool_calls.push_back(ToolCall{std::move(id), text_of(call["name"]),
                                        call["args"].is_null() ? std::string("{}") : call["args"].dump()});
      seen = true;
    }
  }
  return seen;
}

void read_metadata(const Value& v, LMResponse& out) {
  if (const std::string id = text_of(v["responseId"]); !id.empty()) out.response_id = id;
  if (const std::string m = text_of(v["modelVersion"]); !m.empty()) out.model = m;
  read_usage(v["usageMetadata"], out.usage);
}

class GeminiStream final : public StreamAccumulator {
 public:
  explicit GeminiStream(std::string provider) : provider_(std::move(provider)) { out_.provider = provider_; }

  bool on_event(std::string_view, std::string_view data, const OnText& on_text) override {
    const Value chunk = parse_json(data, provider_);
    if (const Value& error = chunk["error"]; !error.is_null()) {
      throw LMResponseError(provider_ + " reported an error in the stream: " + error_message(data), provider_);
    }
    read_metadata(chunk, out_);
    const Value& candidates = chunk["candidates"];
    if (!candidates.is_array() || candidates.empty()) return false;
    const bool seen = read_parts(candidates[0], out_, &on_text);
    if (const std::string r = text_of(candidates[0]["finishReason"]); !r.empty()) reason_ = r;
    return seen;
  }

  LMResponse finish() override {
    if (reason_.empty()) throw LMResponseError(provider_ + "'s stream ended without a finishReason", provider_);
    out_.finish_reason = finish_reason_of(reason_, !out_.tool_calls.empty());
    return std::move(out_);
  }

 private:
  std::string provider_;
  LMResponse out_;
  std::string reason_;
};

}  // namespace

std::string gemini_body(const CallSpec& spec) {
  const GenerateOptions& o = spec.options;
  Value body = Value::object();
  std::string system;
  Value contents = Value::array();
  std::unordered_map<std::string, std::string> call_names;  // tool call id -> function name
  for (const auto& m : spec.messages) {
    if (m.role == "system") {
      system += (system.empty() ? "" : "\n\n") + m.content;
    } else if (m.role == "tool") {
      const auto name = call_names.find(m.tool_call_id);
      Value response = arguments_value(m.content);
      if (!response.is_object() || response.contains("_raw")) response = Value{{"result", m.content}};
      Value part = {{"functionResponse",
                     {{"name", name == call_names.end() ? m.tool_call_id : name->second},
                      {"response", std::move(response)}}}};
      // The results of parallel calls go back in one turn: Gemini wants as many functionResponse
      // parts in it as the model's turn had functionCall parts.
      Value::Array& list = contents.as_array();
      Value* previous = list.empty() ? nullptr : list.back().find("parts");
      if (previous != nullptr && !previous->empty() && std::as_const(*previous)[0].contains("functionResponse")) {
        previous->push_back(std::move(part));
      } else {
        contents.push_back({{"role", "user"}, {"parts", Value::array({std::move(part)})}});
      }
    } else if (m.role == "assistant") {
      Value parts = Value::array();
      if (!m.content.empty()) parts.push_back({{"text", m.content}});
      for (const auto& c : m.tool_calls) {
        call_names[c.id] = c.name;
        parts.push_back({{"functionCall", {{"name", c.name}, {"args", arguments_value(c.arguments)}}}});
      }
      contents.push_back({{"role", "model"}, {"parts", std::move(parts)}});
    } else {
      contents.push_back({{"role", "user"}, {"parts", Value::array({{{"text", m.content}}})}});
    }
  }
  body.set("contents", std::move(contents));
  if (!system.empty()) body.set("systemInstruction", {{"parts", Value::array({{{"text", system}}})}});
  Value config = Value::object();
  if (o.temperature) config.set("temperature", *o.temperature);
  if (o.max_tokens) config.set("maxOutputTokens", *o.max_tokens);
  if (o.top_p) config.set("topP", *o.top_p);
  if (!o.stop.empty()) config.set("stopSequences", string_array(o.stop));
  if (o.json) {
    config.set("responseMimeType", "application/json");
    if (!o.json->schema.is_null()) config.set("responseSchema", o.json->schema);
  }
  if (!config.empty()) body.set("generationConfig", std::move(config));
  if (!o.tools.empty()) {
    Value declarations = Value::array();
    for (const auto& t : o.tools) {
      Value d = Value::object({{"name", t.name}});
      if (!t.description.empty()) d.set("description", t.description);
      if (!t.parameters.is_null()) d.set("parameters", t.parameters);
      declarations.push_back(std::move(d));
    }
    body.set("tools", Value::array({{{"functionDeclarations", std::move(declarations)}}}));
    if (o.tool_choice == "auto") {
      body.set("toolConfig", {{"functionCallingConfig", {{"mode", "AUTO"}}}});
    } else if (o.tool_choice == "none") {
      body.set("toolConfig", {{"functionCallingConfig", {{"mode", "NONE"}}}});
    } else if (o.tool_choice == "required") {
      body.set("toolConfig", {{"functionCallingConfig", {{"mode", "ANY"}}}});
    } else if (!o.tool_choice.empty()) {
      body.set("toolConfig",
               {{"functionCallingConfig", {{"mode", "ANY"}, {"allowedFunctionNames", Value::array({o.tool_choice})}}}});
    }
  }
  return body.dump();
}

LMResponse gemini_parse(std::string_view text, std::string_view provider) {
  const Value v = parse_json(text, provider);
  LMResponse out;
  out.provider = provider;
  read_metadata(v, out);
  const Value& candidates = v["candidates"];
  if (!candidates.is_array() || candidates.empty()) {
    const std::string blocked = text_of(v["promptFeedback"]["blockReason"]);
    throw LMResponseError(std::string(provider) + "'s answer has no candidates" +
                              (blocked.empty() ? std::string() : " (prompt blocked: " + blocked + ")"),
                          std::string(provider));
  }
  read_parts(candidates[0], out, nullptr);
  out.finish_reason = finish_reason_of(text_of(candidates[0]["finishReason"]), !out.tool_calls.empty());
  return out;
}

std::unique_ptr<StreamAccumulator> gemini_stream(std::string provider) {
  return std::make_unique<GeminiStream>(std::move(provider));
}

}  // namespace synth::tracing::lm_detail
