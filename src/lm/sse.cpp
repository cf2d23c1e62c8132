// Server-sent events, and what the wire formats share.
#include <algorithm>

#include "lm/wire.hpp"

namespace synth::tracing::lm_detail {

void SseParser::feed(std::string_view bytes, const OnEvent& on_event) {
  buffer_.append(bytes);
  std::size_t start = 0;
  while (true) {
    const std::size_t end = buffer_.find('\n', start);
    if (end == std::string::npos) break;
    std::string_view text(buffer_.data() + start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    line(text, on_event);
    start = end + 1;
  }
  buffer_.erase(0, start);
}

void SseParser::line(std::string_view text, const OnEvent& on_event) {
  if (text.empty()) {  // the blank line ending an event
    if (has_data_) on_event(event_, data_);
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (text.front() == ':') return;  // a comment (keep-alive)
  const std::size_t colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) data_ += '\n';
    data_.append(value);
    has_data_ = true;
  } else if (field == "event") {
    event_.assign(value);
  }
}

Value parse_json(std::string_view text, std::string_view provider) {
  try {
    return Value::parse(text, "the answer");
  } catch (const std::exception& e) {
    throw LMResponseError(std::string(provider) + " answered with invalid JSON: " + e.what(), std::string(provider));
  }
}

std::string error_message(std::string_view body) {
  try {
    const Value v = Value::parse(body);
    const Value& error = v["error"];
    if (error.is_object()) {
      if (const std::string m = text_of(error["message"]); !m.empty()) return m;
    } else if (error.is_string()) {
      return error.as_string();
    }
    if (const std::string m = text_of(v["message"]); !m.empty()) return m;
    if (const std::string m = text_of(v["detail"]); !m.empty()) return m;
  } catch (const std::exception&) {
    // not JSON: the body itself
  }
  std::string text(body.substr(0, 500));
  if (body.size() > 500) text += "...";
  return text;
}

Value string_array(const std::vector<std::string>& strings) {
  Value out = Value::array();
  for (const auto& s : strings) out.push_back(s);
  return out;
}

Value parameters_schema(const Tool& tool) {
  return tool.parameters.is_null() ? Value{{"type", "object"}, {"properties", Value::object()}} : tool.parameters;
}

Value arguments_value(std::string_view arguments) {
  if (arguments.empty()) return Value::object();
  try {
    return Value::parse(arguments);
  } catch (const std::exception&) {
    return Value{{"_raw", arguments}};
  }
}

}  // namespace synth::tracing::lm_detail
