#include "server/ingest_decode.hpp"

#include "synth/tracing/json.hpp"

namespace synth::tracing::server {

namespace {

constexpr std::size_t npos = std::string_view::npos;

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

std::size_t skip_spaces(std::string_view text, std::size_t pos) {
  while (pos < text.size() && is_space(text[pos])) ++pos;
  return pos;
}

// The end of the JSON value starting at `pos`, found from its strings and nesting only (its
// syntax is checked when it is read); npos when it does not end.
std::size_t value_end(std::string_view text, std::size_t pos) {
  if (pos >= text.size()) return npos;
  if (text[pos] != '{' && text[pos] != '[') {
    while (pos < text.size() && !is_space(text[pos]) && text[pos] != ',' && text[pos] != ']' && text[pos] != '}') ++pos;
    return pos;
  }
  std::size_t depth = 0;
  bool in_string = false;
  for (; pos < text.size(); ++pos) {
    const char c = text[pos];
    if (in_string) {
      if (c == '\\') {
        ++pos;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      ++depth;
    } else if ((c == '}' || c == ']') && --depth == 0) {
      return pos + 1;
    }
  }
  return npos;
}

std::string at(std::size_t offset) { return " (at byte " + std::to_string(offset) + ")"; }

// The session_id of a session that could not be read, when its JSON says it.
std::optional<std::string> session_id_of(std::string_view text) {
  try {
    const Value v = Value::parse(text);
    if (v["session_id"].is_string()) return v["session_id"].as_string();
  } catch (const Error&) {
    // Not even JSON: no id to give.
  }
  return std::nullopt;
}

void read_one(DecodedBody& out, std::string_view text, std::size_t index, const std::string& source) {
  try {
    out.sessions.push_back(DecodedSession{SessionTrace::from_json(text, source), text.size(), index});
  } catch (const Error& e) {
    out.rejected.push_back(RejectedSession{index, session_id_of(text), e.what()});
  }
}

DecodedBody read_array(std::string_view body, std::size_t pos) {
  DecodedBody out;
  pos = skip_spaces(body, pos + 1);
  if (pos < body.size() && body[pos] == ']') return out;
  for (std::size_t index = 0;; ++index) {
    const std::size_t end = value_end(body, pos);
    if (end == npos || end == pos) {
      throw BodyError("the array of sessions is not closed: element " + std::to_string(index) + " does not end" + at(pos));
    }
    read_one(out, body.substr(pos, end - pos), index, "session " + std::to_string(index) + " of the request");
    pos = skip_spaces(body, end);
    if (pos < body.size() && body[pos] == ',') {
      pos = skip_spaces(body, pos + 1);
      continue;
    }
    if (pos < body.size() && body[pos] == ']') return out;
    throw BodyError("expected ',' or ']' after session " + std::to_string(index) + " of the array" + at(pos));
  }
}

}  // namespace

DecodedBody decode_sessions(std::string_view body, BodyFormat format) {
  const std::size_t first = skip_spaces(body, 0);
  if (first == body.size()) {
    throw BodyError("the body is empty: send one session (a JSON object), an array of them, or NDJSON");
  }
  if (format == BodyFormat::ndjson) {
    DecodedBody out;
    std::size_t line = 0;
    for (std::size_t start = 0; start < body.size(); ++line) {
      std::size_t end = body.find('\n', start);
      if (end == npos) end = body.size();
      const std::string_view text = body.substr(start, end - start);
      if (skip_spaces(text, 0) < text.size()) read_one(out, text, line, "line " + std::to_string(line + 1) + " of the request");
      start = end + 1;
    }
    return out;
  }
  const std::size_t end = value_end(body, first);
  if (body[first] == '[') {
    if (end == npos) throw BodyError("the array of sessions is not closed" + at(body.size()));
    if (skip_spaces(body, end) != body.size()) {
      throw BodyError("text after the array of sessions" + at(skip_spaces(body, end)));
    }
    return read_array(body, first);
  }
  if (body[first] != '{') {
    throw BodyError("the body is not a session (a JSON object) or an array of sessions: it starts with '" +
                    std::string(1, body[first]) + "'" + at(first));
  }
  if (end != npos && skip_spaces(body, end) != body.size()) {
    throw BodyError("text after the session object" + at(skip_spaces(body, end)) +
                    ": send several sessions as a JSON array, or as NDJSON (Content-Type: application/x-ndjson)");
  }
  DecodedBody out;
  try {
    out.sessions.push_back(DecodedSession{SessionTrace::from_json(body, "the request"), body.size(), 0});
  } catch (const Error& e) {
    throw BodyError(e.what());
  }
  return out;
}

}  // namespace synth::tracing::server
