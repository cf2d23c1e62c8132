// How JsonReader reports a problem: a TraceFormatError with the source, byte offset, line,
// column and JSON path; simdjson's errors described in words; the input's own faults (cut off,
// raw control characters, invalid UTF-8) located.
#include <algorithm>
#include <string>

#include "json/reader.hpp"
#include "json/writer.hpp"

namespace synth::tracing::detail {

namespace {
using simdjson::error_code;

// Offset of the first raw control character inside a string (simdjson's UNESCAPED_CHARS).
std::size_t first_unescaped_control(std::string_view s) {
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!in_string) {
      in_string = c == '"';
    } else if (c == '\\') {
      ++i;
    } else if (c == '"') {
      in_string = false;
    } else if (c < 0x20) {
      return i;
    }
  }
  return s.size();
}

constexpr std::string_view kJsonSpace = " \t\n\r";

// The length of the literal (null, true, false) or number (RFC 8259's grammar) `s` starts with,
// 0 when it starts with neither.
std::size_t whole_scalar_length(std::string_view s, od::json_type type) {
  if (type != od::json_type::number) {
    for (const std::string_view literal : {"null", "true", "false"}) {
      if (s.starts_with(literal)) return literal.size();
    }
    return 0;
  }
  std::size_t i = 0;
  const auto digits = [&] {
    const std::size_t from = i;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
    return i > from;
  };
  if (i < s.size() && s[i] == '-') ++i;
  if (i < s.size() && s[i] == '0') {
    ++i;
  } else if (!digits()) {
    return 0;
  }
  if (i < s.size() && s[i] == '.' && (++i, !digits())) return 0;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (!digits()) return 0;
  }
  return i;
}

// "an object", "a string", ... for messages.
std::string_view type_phrase(od::json_type type) {
  switch (type) {
    case od::json_type::object:
      return "an object";
    case od::json_type::array:
      return "an array";
    case od::json_type::number:
      return "a number";
    case od::json_type::string:
      return "a string";
    case od::json_type::boolean:
      return "a boolean";
    case od::json_type::null:
      return "null";
  }
  return "an unknown token";
}

// True when the text ends inside a string or with brackets still open: a cut-off file. Only
// consulted on the error path, where simdjson may report such input as some other problem.
bool is_truncated(std::string_view s) {
  std::int64_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return in_string || depth > 0;
}
std::string describe(error_code code) {
  switch (code) {
    case error_code::UTF8_ERROR:
      return "invalid UTF-8";
    case error_code::UNCLOSED_STRING:
    case error_code::INCOMPLETE_ARRAY_OR_OBJECT:
      return "unexpected end of input: the JSON is truncated";
    case error_code::EMPTY:
      return "no JSON value (the input is empty or only whitespace)";
    case error_code::DEPTH_ERROR:
      return "JSON nested deeper than 1024 levels";
    case error_code::NUMBER_ERROR:
    case error_code::NUMBER_OUT_OF_RANGE:
      return "number out of range or malformed (integers must fit in 64 bits, doubles must be finite)";
    case error_code::STRING_ERROR:
      return "malformed string escape";
    case error_code::UNESCAPED_CHARS:
      return "control character inside a string must be escaped";
    case error_code::T_ATOM_ERROR:
    case error_code::F_ATOM_ERROR:
    case error_code::N_ATOM_ERROR:
      return "invalid literal (expected true, false or null)";
    case error_code::TRAILING_CONTENT:
      return "unexpected content after the JSON value";
    case error_code::CAPACITY:
      return "input larger than 4 GiB";
    default:
      return std::string("malformed JSON (") + simdjson::error_message(code) + ")";
  }
}
}  // namespace

// A scalar's text for messages: simdjson's raw token runs up to the next structural character,
// so it includes the whitespace (newlines, indentation) that follows the value.
std::string token_text(od::value v) {
  std::string_view s = v.raw_json_token();
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

std::string JsonReader::found(od::value v) {
  const od::json_type type = v.type();
  if (type == od::json_type::number) return "the number " + token_text(v);
  return std::string(type_phrase(type));
}
std::string JsonReader::found_document() {
  const od::json_type type = doc_.type();
  if (type == od::json_type::null || type == od::json_type::boolean || type == od::json_type::number) {
    copy_input();
    std::string_view s = text_;
    s.remove_prefix(std::min(s.find_first_not_of(kJsonSpace), s.size()));
    const std::size_t n = whole_scalar_length(s, type);
    if (n == 0 || (n < s.size() && kJsonSpace.find(s[n]) == std::string_view::npos)) {
      fail_at(s.data(), std::string(type == od::json_type::number ? "malformed number" : "invalid literal") +
                            " (expected a JSON object)");
    }
  }
  return std::string(type_phrase(type));
}

void JsonReader::fail(od::value v, std::string problem) { fail_at(v.raw_json_token().data(), std::move(problem)); }

void JsonReader::fail_at(const char* where, std::string problem) {
  copy_input();  // offsets are counted in the copy
  const std::string path = path_string(depth_);
  if (!path.empty()) problem = path + ": " + problem;
  std::size_t offset = text_.size();
  if (where >= text_.data() && where <= text_.data() + text_.size()) {
    offset = static_cast<std::size_t>(where - text_.data());
  }
  fail_offset(offset, std::move(problem));
}

void JsonReader::fail_simdjson(error_code code, bool started) {
  copy_input();
  std::size_t offset = text_.size();
  if (code == error_code::UTF8_ERROR) {
    offset = first_invalid_utf8(std::string_view(text_.data(), text_.size()));
  } else if (code == error_code::UNESCAPED_CHARS) {
    offset = first_unescaped_control(std::string_view(text_.data(), text_.size()));
  } else if (started && code != error_code::UNCLOSED_STRING && code != error_code::INCOMPLETE_ARRAY_OR_OBJECT &&
             code != error_code::EMPTY) {
    const char* where = nullptr;
    if (doc_.current_location().get(where) == error_code::SUCCESS && where >= text_.data()) {
      offset = static_cast<std::size_t>(where - text_.data());
    }
  }
  std::string problem = describe(code);
  // Reached after unwinding (depth_ is back to 0): the path still holds the failing field's.
  const std::string path = path_string(path_.size());
  if (!path.empty()) problem = path + ": " + problem;
  fail_offset(offset, std::move(problem));
}

void JsonReader::fail_offset(std::size_t offset, std::string problem) {
  if (is_truncated(std::string_view(text_.data(), text_.size()))) {
    offset = text_.size();
    problem = "unexpected end of input: the JSON is truncated";
  }
  offset = std::min(offset, text_.size());
  std::uint64_t line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < offset; ++i) {
    if (text_.data()[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  throw TraceFormatError(source_, offset, line, offset - line_start + 1, std::move(problem));
}

std::string JsonReader::path_string(std::size_t depth) const {
  // Deep paths keep their first and last segments: enough to find the place, short to read.
  constexpr std::size_t kEdge = 6;
  depth = std::min(depth, path_.size());
  std::string out;
  for (std::size_t i = 0; i < depth; ++i) {
    if (depth > 2 * kEdge + 1 && i == kEdge) {
      out += ".(" + std::to_string(depth - 2 * kEdge) + " more levels)";
      i = depth - kEdge - 1;
      continue;
    }
    if (const auto* key = std::get_if<std::string_view>(&path_[i])) {
      if (!out.empty()) out.push_back('.');
      out.append(*key);
    } else {
      out += '[' + std::to_string(std::get<std::size_t>(path_[i])) + ']';
    }
  }
  return out;
}

}  // namespace synth::tracing::detail
