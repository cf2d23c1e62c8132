// Configuration values from text and from file values (config_values.hpp).
#include "config/config_values.hpp"

#include <charconv>
#include <cmath>

#include "text.hpp"

namespace synth::tracing::detail {

// ---- text (environment) -> value ----

void parse_text(std::string_view text, bool& out) {
  const std::string s = ascii_lower(trim_blanks(text));
  if (s == "true" || s == "1" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "0" || s == "no" || s == "off") {
    out = false;
  } else {
    throw BadValue{"true/1/yes/on or false/0/no/off"};
  }
}

void parse_text(std::string_view text, std::size_t& out) {
  text = trim_blanks(text);
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size()) throw BadValue{"a non-negative integer"};
}

void parse_text(std::string_view text, double& out) {
  text = trim_blanks(text);
  const auto r = std::from_chars(text.data(), text.data() + text.size(), out);
  if (text.empty() || r.ec != std::errc() || r.ptr != text.data() + text.size() || !std::isfinite(out)) {
    throw BadValue{"a number"};
  }
}

void parse_text(std::string_view text, std::string& out) { out = std::string(text); }
void parse_text(std::string_view text, std::filesystem::path& out) { out = std::string(text); }

void parse_text(std::string_view text, TracingMode& out) {
  const std::string s = ascii_lower(trim_blanks(text));
  if (s == "dual") {
    out = TracingMode::dual;
  } else if (s == "v2") {
    out = TracingMode::v2;
  } else if (s == "otel") {
    out = TracingMode::otel;
  } else if (s == "disabled") {
    out = TracingMode::disabled;
  } else {
    throw BadValue{"dual, v2, otel or disabled"};
  }
}

void parse_text(std::string_view text, OverflowPolicy& out) {
  const std::string s = ascii_lower(trim_blanks(text));
  if (s == "spill") {
    out = OverflowPolicy::spill;
  } else if (s == "block") {
    out = OverflowPolicy::block;
  } else if (s == "drop") {
    out = OverflowPolicy::drop;
  } else {
    throw BadValue{"spill, block or drop"};
  }
}

void parse_text(std::string_view text, OtlpProtocol& out) {
  const std::string s = ascii_lower(trim_blanks(text));
  if (s == "http/protobuf" || s == "protobuf") {
    out = OtlpProtocol::http_protobuf;
  } else if (s == "http/json" || s == "json") {
    out = OtlpProtocol::http_json;
  } else if (s == "grpc") {
    throw BadValue{"http/protobuf or http/json (OTLP over gRPC is not supported: point the endpoint at the "
                   "collector's OTLP/HTTP port, 4318)"};
  } else {
    throw BadValue{"http/protobuf or http/json"};
  }
}

// OTLP header lists: "k1=v1,k2=v2", values percent-decoded (OTEL_EXPORTER_OTLP_HEADERS).
void parse_text(std::string_view text, std::map<std::string, std::string>& out) {
  const auto decode = [](std::string_view s) {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '%' && i + 2 < s.size()) {
        unsigned v = 0;
        if (std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16).ec == std::errc()) {
          r.push_back(static_cast<char>(v));
          i += 2;
          continue;
        }
      }
      r.push_back(s[i]);
    }
    return r;
  };
  out.clear();
  for_each_listed(text, [&](std::string_view item) {
    const auto eq = item.find('=');
    if (eq == std::string_view::npos || trim_blanks(item.substr(0, eq)).empty()) throw BadValue{"key=value pairs separated by commas"};
    out[decode(trim_blanks(item.substr(0, eq)))] = decode(trim_blanks(item.substr(eq + 1)));
  });
}

void parse_text(std::string_view text, std::vector<PiiPattern>& out) {
  Value v;
  try {
    v = Value::parse(text);
  } catch (const TraceFormatError& e) {
    throw BadValue{"a JSON object of patterns (" + e.problem() + ")"};
  }
  from_value(v, out);
}

void from_value(const Value& v, std::vector<PiiPattern>& out) {
  if (!v.is_object()) throw BadValue{"an object {\"name\": \"regex\"} or {\"name\": {\"regex\": ..., \"replacement\": ...}}"};
  out.clear();
  for (const auto& [name, spec] : v.as_object()) {
    std::string upper;
    for (char c : name) upper.push_back(static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c));
    if (spec.is_string()) {
      out.push_back(PiiPattern{name, spec.as_string(), "[" + upper + "]"});
    } else if (spec.is_object() && spec["regex"].is_string()) {
      out.push_back(PiiPattern{name, spec["regex"].as_string(),
                               spec["replacement"].is_string() ? spec["replacement"].as_string() : "[" + upper + "]"});
    } else {
      throw BadValue{"for pattern '" + name + "': a regex string or {\"regex\": ..., \"replacement\": ...}"};
    }
  }
}

}  // namespace synth::tracing::detail
