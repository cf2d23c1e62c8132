// The messages of an LLM call's span: GenAI message lists (as JSON text or structured), and lists
// flattened into indexed keys (OpenInference `llm.input_messages.N.*`, OpenLLMetry
// `gen_ai.prompt.N.*`), each message as {role, content, ...} (collector-and-viewer.md §7).
#include <algorithm>
#include <string>

#include "server/otlp_decode.hpp"
#include "server/otlp_map.hpp"
#include "server/otlp_values.hpp"

namespace synth::tracing::server::otlp {

namespace {

// Indexed keys past this are ignored: a flattened list this long is not a conversation.
constexpr std::size_t kMaxIndex = 4096;

using Known = KnownAttributes;

// A flattened leaf's value: JSON text parsed (SDKs flatten structured values, such as tool call
// arguments, as JSON text), except a message's `content` or a content item's `text`, which are
// text even when they read as JSON (a structured or JSON-mode answer). Only a list of typed parts
// as `content` is parsed: OpenLLMetry's multimodal content.
Value leaf_value(std::string_view key, const Value& value) {
  if (key == "text") return value;  // an OpenInference content item's text
  if (key != "content") return parsed(value);
  Value v = parsed(value);
  const bool parts = v.is_array() && !v.empty() && std::all_of(v.as_array().begin(), v.as_array().end(), [](const Value& part) {
    return part.is_object() && part.find("type") != nullptr;
  });
  return parts ? v : value;
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() < 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Sets `path` (dot-separated; numeric segments index arrays) under `into`.
void set_path(Value& into, std::string_view path, const Value& value, int depth = 0) {
  if (depth > kOtlpMaxDepth) return;
  const auto dot = path.find('.');
  const std::string_view head = path.substr(0, dot);
  if (all_digits(head) && (into.is_null() || into.is_array())) {
    const std::size_t index = std::stoul(std::string(head));
    if (index >= kMaxIndex) return;
    if (into.is_null()) into = Value::array();
    while (into.as_array().size() <= index) into.push_back(Value());
    Value& slot = into.as_array()[index];
    if (dot == std::string_view::npos) {
      slot = parsed(value);
    } else {
      set_path(slot, path.substr(dot + 1), value, depth + 1);
    }
    return;
  }
  if (!into.is_object()) into = Value::object();
  Value& slot = into[head];
  if (dot == std::string_view::npos) {
    slot = leaf_value(head, value);
  } else {
    set_path(slot, path.substr(dot + 1), value, depth + 1);
  }
}

// Attributes "<prefix>.N.<rest>" un-flattened into an array (null when there are none); an
// attribute named just `prefix` (`list`, one of the message lists) holding a list (or its JSON
// text) is taken as it is.
Value indexed(const Value& attributes, const Known& known, Known::Key list) {
  Value out;
  if (const Value* whole = known[list]) {
    Value v = parsed(*whole);
    if (v.is_array()) return v;
  }
  if (!known.flattened(list)) return out;
  const std::string_view prefix = Known::name(list);
  for (const auto& [key, value] : attributes.as_object()) {
    if (key.size() <= prefix.size() + 1 || !key.starts_with(prefix) || key[prefix.size()] != '.') continue;
    const std::string_view rest = std::string_view(key).substr(prefix.size() + 1);
    if (!all_digits(rest.substr(0, rest.find('.')))) continue;
    set_path(out, rest, value);
  }
  return out;
}

// The text of a list's text items, one a line: GenAI parts ({type: "text", content}) with
// `wrapper` and `key` "" and "content", OpenInference contents ({message_content: {type: "text",
// text}}) with "message_content" and "text".
std::string text_items(const Value* items, std::string_view wrapper, std::string_view key) {
  std::string text;
  if (items == nullptr || !items->is_array()) return text;
  for (const Value& item : items->as_array()) {
    const Value* content = wrapper.empty() ? &item : item.is_object() ? item.find(wrapper) : nullptr;
    if (content == nullptr || !content->is_object() || text_of(content->find("type")) != "text") continue;
    const std::string_view piece = text_of(content->find(key));
    if (piece.empty()) continue;
    if (!text.empty()) text += '\n';
    text += piece;
  }
  return text;
}

// Messages in one shape: {role, content, ...the source's other fields}. OpenInference wraps each
// in {"message": {...}} and calls tool calls' fields tool_call.*; GenAI has parts. Each message
// is moved from `list` into the result, not copied.
Value normalized_messages(Value list) {
  if (!list.is_array()) return Value();
  Value out = Value::array();
  out.as_array().reserve(list.size());
  for (Value& m : list.as_array()) {
    if (m.is_null()) continue;
    if (Value* inner = m.is_object() ? m.find("message") : nullptr; inner != nullptr && inner->is_object()) {
      Value message = std::move(*inner);
      m = std::move(message);
    }
    if (!m.is_object()) {
      out.push_back(Value{{"role", "user"}, {"content", std::move(m)}});
      continue;
    }
    if (m.find("content") == nullptr) {
      // GenAI `parts`, or OpenInference's multimodal `contents`.
      const Value* parts = m.find("parts");
      std::string text = parts != nullptr ? text_items(parts, "", "content")
                                          : text_items(m.find("contents"), "message_content", "text");
      if (!text.empty()) {
        // Appended (set() would look for the key again), into room for one more: the parser
        // sized the object exactly, and doubling it would keep a slot unused until the writer.
        m.as_object().reserve(m.size() + 1);
        m.as_object().emplace_back("content", std::move(text));
      }
    }
    out.push_back(std::move(m));
  }
  if (out.empty()) return Value();
  return out;  // moved (a conditional expression would copy the whole list)
}

Value input_messages(const Value& a, const Known& known) {
  Value m = normalized_messages(indexed(a, known, Known::gen_ai_input_messages));
  if (!m.is_null()) {
    // The instructions come first. Alone they are no input: the span's messages may still come
    // as log records (llm_event() takes them alone when none came).
    if (Value sys = system_message(known); !sys.is_null()) m.as_array().insert(m.as_array().begin(), std::move(sys));
    return m;
  }
  m = normalized_messages(indexed(a, known, Known::llm_input_messages));
  if (!m.is_null()) return m;
  return normalized_messages(indexed(a, known, Known::gen_ai_prompt));
}

Value output_messages(const Value& a, const Known& known) {
  for (const Known::Key key : {Known::gen_ai_output_messages, Known::llm_output_messages, Known::gen_ai_completion}) {
    Value m = normalized_messages(indexed(a, known, key));
    if (!m.is_null()) return m;
  }
  return Value();
}

}  // namespace

Value parsed(const Value& v) {
  if (!v.is_string()) return v;
  const std::string& s = v.as_string();
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos || (s[first] != '[' && s[first] != '{')) return v;
  try {
    return Value::parse(s);
  } catch (const Error&) {
    return v;
  }
}

Value system_message(const KnownAttributes& known) {
  const Value* system = known[Known::gen_ai_system_instructions];
  if (system == nullptr) return Value();
  Value parts = parsed(*system);
  const std::string text = parts.is_string() ? parts.as_string() : text_items(&parts, "", "content");
  Value sys{{"role", "system"}, {"parts", std::move(parts)}};
  if (!text.empty()) sys.set("content", text);
  return sys;
}

Value input_messages(const Value& a) { return input_messages(a, Known(a)); }

Value output_messages(const Value& a) { return output_messages(a, Known(a)); }

const OtlpMessages& read_messages(OtlpSpan& span, const Known& known) {
  if (!span.messages) {
    span.messages = OtlpMessages{input_messages(span.attributes, known), output_messages(span.attributes, known)};
  }
  return *span.messages;
}

const OtlpMessages& read_messages(OtlpSpan& span) { return read_messages(span, Known(span.attributes)); }

}  // namespace synth::tracing::server::otlp
