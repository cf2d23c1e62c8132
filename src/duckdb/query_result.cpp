#include <algorithm>
#include <charconv>

#include "json/writer.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing {

namespace {
constexpr std::size_t kMaxCellWidth = 60;

// Exact text of a value (CSV keeps every digit of a double).
std::string cell_text(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::null:
      return "NULL";
    case Value::Kind::string:
      return v.as_string();
    case Value::Kind::floating: {
      char buf[32];
      const auto r = std::to_chars(buf, buf + sizeof buf, v.as_double());
      return std::string(buf, r.ptr);
    }
    default:
      return v.dump();
  }
}

// Text for people: doubles to 6 significant digits, so sums like 0.9299999999999999 read 0.93.
std::string display_text(const Value& v) {
  if (v.kind() != Value::Kind::floating) return cell_text(v);
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, v.as_double(), std::chars_format::general, 6);
  return std::string(buf, r.ptr);
}

// Display width of UTF-8 text: one column per code point (good enough for aligned tables).
std::size_t width_of(std::string_view s) {
  std::size_t w = 0;
  for (unsigned char c : s) w += (c & 0xC0) != 0x80;
  return w;
}

// Cuts to `max` columns, marking the cut; control characters escaped (rows stay whole).
std::string fit(std::string_view text, std::size_t max) {
  std::string s = terminal_safe(text);
  if (width_of(s) <= max) return s;
  std::size_t cols = 0;
  std::size_t i = 0;
  while (i < s.size() && cols < max - 1) {
    ++i;
    while (i < s.size() && (static_cast<unsigned char>(s[i]) & 0xC0) == 0x80) ++i;
    ++cols;
  }
  return s.substr(0, i) + "\xE2\x80\xA6";  // …
}

void append_escape(std::string& out, const char* prefix, unsigned value) {
  static constexpr char kHex[] = "0123456789abcdef";
  out += prefix;
  out += kHex[(value >> 4) & 0xF];
  out += kHex[value & 0xF];
}

// Bytes in a UTF-8 sequence starting with `lead` (1 for ASCII and stray continuation bytes).
std::size_t sequence_length(unsigned char lead) {
  if (lead >= 0xF0) return 4;
  if (lead >= 0xE0) return 3;
  if (lead >= 0xC0) return 2;
  return 1;
}

std::string csv_field(const Value& v) {
  if (v.is_null()) return "";
  const std::string s = cell_text(v);
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) {
    out += c;
    if (c == '"') out += '"';
  }
  return out + "\"";
}
}  // namespace

std::string terminal_safe(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size();) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte < 0x80) {
      if (byte >= 0x20 && byte != 0x7F) {
        out += static_cast<char>(byte);
      } else if (byte == '\n') {
        out += "\\n";
      } else if (byte == '\r') {
        out += "\\r";
      } else if (byte == '\t') {
        out += "\\t";
      } else {
        append_escape(out, "\\x", byte);
      }
      ++i;
      continue;
    }
    const std::string_view sequence = text.substr(i, sequence_length(byte));
    if (sequence.size() == 1 || detail::first_invalid_utf8(sequence) != sequence.size()) {
      append_escape(out, "\\x", byte);  // not UTF-8: a terminal could read it as a C1 control
      ++i;
      continue;
    }
    const auto second = static_cast<unsigned char>(sequence[1]);
    if (byte == 0xC2 && second < 0xA0) {
      append_escape(out, "\\u00", second);  // U+0080..U+009F, the C1 controls
    } else {
      out += sequence;
    }
    i += sequence.size();
  }
  return out;
}

std::string QueryResult::to_table() const {
  const std::size_t n = columns.size();
  std::vector<std::vector<std::string>> cells(rows.size(), std::vector<std::string>(n));
  std::vector<std::size_t> widths(n);
  std::vector<int> kind(n, 0);  // right-align columns holding numbers (and NULLs) only
  std::vector<std::string> header(n);
  for (std::size_t c = 0; c < n; ++c) {
    header[c] = terminal_safe(columns[c]);
    widths[c] = width_of(header[c]);
  }
  for (std::size_t r = 0; r < rows.size(); ++r) {
    for (std::size_t c = 0; c < n && c < rows[r].size(); ++c) {
      cells[r][c] = fit(display_text(rows[r][c]), kMaxCellWidth);
      widths[c] = std::max(widths[c], width_of(cells[r][c]));
      if (rows[r][c].is_number()) {
        kind[c] = kind[c] == 0 ? 1 : kind[c];
      } else if (!rows[r][c].is_null()) {
        kind[c] = 2;
      }
    }
  }
  std::vector<bool> numeric(n);
  for (std::size_t c = 0; c < n; ++c) numeric[c] = kind[c] == 1;
  const auto end_line = [](std::string& s) {
    while (!s.empty() && s.back() == ' ') s.pop_back();
    s += '\n';
  };
  std::string out;
  const auto pad = [&out](const std::string& s, std::size_t width, bool right) {
    const std::string spaces(width - std::min(width, width_of(s)), ' ');
    out += right ? spaces + s : s + spaces;
  };
  for (std::size_t c = 0; c < n; ++c) {
    if (c > 0) out += "  ";
    pad(header[c], widths[c], numeric[c]);
  }
  end_line(out);
  for (std::size_t c = 0; c < n; ++c) {
    if (c > 0) out += "  ";
    out += std::string(widths[c], '-');
  }
  end_line(out);
  for (const auto& row : cells) {
    for (std::size_t c = 0; c < n; ++c) {
      if (c > 0) out += "  ";
      pad(row[c], widths[c], numeric[c]);
    }
    end_line(out);
  }
  out.append("(").append(std::to_string(rows.size())).append(rows.size() == 1 ? " row)\n" : " rows)\n");
  return out;
}

std::string QueryResult::to_csv() const {
  std::string out;
  for (std::size_t c = 0; c < columns.size(); ++c) {
    if (c > 0) out += ',';
    out += csv_field(Value(columns[c]));
  }
  out += "\r\n";
  for (const auto& row : rows) {
    for (std::size_t c = 0; c < row.size(); ++c) {
      if (c > 0) out += ',';
      out += csv_field(row[c]);
    }
    out += "\r\n";
  }
  return out;
}

std::string QueryResult::to_json() const {
  Value::Array out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    Value::Object object;
    object.reserve(columns.size());
    for (std::size_t c = 0; c < columns.size() && c < row.size(); ++c) {
      Value v = row[c];
      // JSON columns come back as text; nest them as JSON again.
      if (c < types.size() && types[c] == "JSON" && v.is_string()) {
        try {
          v = Value::parse(v.as_string());
        } catch (const TraceFormatError&) {
          // Keep the text as it is.
        }
      }
      object.emplace_back(columns[c], std::move(v));
    }
    out.emplace_back(std::move(object));
  }
  return Value(std::move(out)).dump({.indent = 2});
}

}  // namespace synth::tracing
