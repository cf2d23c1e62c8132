// W3C Trace Context: the traceparent header (https://www.w3.org/TR/trace-context/).
#include "hex.hpp"
#include "synth/tracing/otel.hpp"
#include "tracer/state.hpp"

namespace synth::tracing {

namespace {
int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // upper-case hex is not allowed in traceparent
}

// Reads `s` (lower-case hex, up to 16 digits) into `out`.
bool read_hex(std::string_view s, std::uint64_t& out) {
  out = 0;
  for (char c : s) {
    const int d = hex_digit(c);
    if (d < 0) return false;
    out = (out << 4) | static_cast<std::uint64_t>(d);
  }
  return true;
}
}  // namespace

std::optional<RemoteParent> parse_traceparent(std::string_view header, std::string_view tracestate) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  while (!header.empty() && (header.front() == ' ' || header.front() == '\t')) header.remove_prefix(1);
  while (!header.empty() && (header.back() == ' ' || header.back() == '\t')) header.remove_suffix(1);
  if (header.size() < 55 || header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  std::uint64_t version = 0;
  if (!read_hex(header.substr(0, 2), version) || version == 0xff) return std::nullopt;
  // Version 00 has exactly 55 characters; later versions may append "-..." fields.
  if (version == 0 && header.size() != 55) return std::nullopt;
  if (version != 0 && header.size() > 55 && header[55] != '-') return std::nullopt;
  RemoteParent p;
  std::uint64_t flags = 0;
  if (!read_hex(header.substr(3, 16), p.trace_id_high) || !read_hex(header.substr(19, 16), p.trace_id_low) ||
      !read_hex(header.substr(36, 16), p.span_id) || !read_hex(header.substr(53, 2), flags)) {
    return std::nullopt;
  }
  if ((p.trace_id_high == 0 && p.trace_id_low == 0) || p.span_id == 0) return std::nullopt;
  p.sampled = (flags & 0x01) != 0;
  p.trace_state = std::string(tracestate);
  return p;
}

std::string format_traceparent(std::uint64_t trace_id_high, std::uint64_t trace_id_low, std::uint64_t span_id,
                               bool sampled) {
  std::string out = "00-";
  out.reserve(55);
  detail::append_hex(out, trace_id_high);
  detail::append_hex(out, trace_id_low);
  out.push_back('-');
  detail::append_hex(out, span_id);
  out += sampled ? "-01" : "-00";
  return out;
}

std::string traceparent(const Context& context) {
  const auto& session = detail::ContextAccess::session(context);
  if (!session) return {};
  const std::uint64_t span = context.span_id() != 0 ? context.span_id() : session->root_span;
  return format_traceparent(session->trace_id_high, session->trace_id_low, span, session->recording);
}

std::string tracestate(const Context& context) {
  const auto& session = detail::ContextAccess::session(context);
  return session ? session->trace_state : std::string();
}

}  // namespace synth::tracing
