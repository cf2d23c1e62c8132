// A stored session as the OTLP/JSON spans the tracer would have exported, and what the exports
// share about events (name, end).
#include <charconv>
#include <algorithm>

#include "span/spans.hpp"
#include "server/exports.hpp"
#include "synth/tracing/version.hpp"

namespace synth::tracing::server {

namespace {

// FNV-1a: ids for spans the session did not record, stable for a session.
std::uint64_t derived_id(std::string_view session_id, std::string_view what) {
  std::uint64_t h = 14695981039346656037ull;
  for (const std::string_view part : {session_id, std::string_view("\x1f"), what}) {
    for (const unsigned char c : part) h = (h ^ c) * 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

// 16 hex digits as an id (not zero); nullopt for anything else.
std::optional<std::uint64_t> hex_id(std::string_view text) {
  std::uint64_t id = 0;
  if (text.size() != 16) return std::nullopt;
  const auto r = std::from_chars(text.data(), text.data() + 16, id, 16);
  if (r.ec != std::errc() || r.ptr != text.data() + 16 || id == 0) return std::nullopt;
  return id;
}

std::optional<std::uint64_t> hex_id(const Value& v) { return v.is_string() ? hex_id(std::string_view(v.as_string())) : std::nullopt; }

// A span or trace id the event recorded as hex (an LLM call's column, else its metadata).
std::string recorded_id(const Event& e, std::string_view key) {
  if (const auto* c = std::get_if<CAISEvent>(&e)) {
    const std::optional<std::string>& field = key == "span_id" ? c->span_id : c->trace_id;
    if (field) return *field;
  }
  const Value& v = metadata(e)[key];
  return v.is_string() ? v.as_string() : std::string();
}

const char* scope_kind(const Event& e) {
  switch (event_type(e)) {
    case EventType::cais:
      return "ai_call";
    case EventType::environment:
      return "environment_step";
    case EventType::runtime:
      return metadata(e).find("span") != nullptr ? "trace_span" : "runtime_operation";
  }
  return "trace_span";
}

}  // namespace

std::string event_name(const Event& event) {
  const Value& md = metadata(event);
  for (const char* key : {"operation", "step", "operation_type", "span"}) {
    if (md[key].is_string()) return md[key].as_string();
  }
  return std::string(event_type_name(event_type(event)));
}

Timestamp event_end(const Event& event) {
  const Timestamp start = time_record(event) ? time_record(event)->event_time : Timestamp{};
  double ms = 0;
  if (const auto* c = std::get_if<CAISEvent>(&event); c != nullptr && c->latency_ms) {
    ms = *c->latency_ms;
  } else if (const Value& d = metadata(event)["duration_ms"]; d.is_number()) {
    ms = d.as_double();
  }
  return start + std::chrono::duration_cast<Timestamp::duration>(std::chrono::duration<double, std::milli>(std::max(ms, 0.0)));
}

OtlpSpans otlp_spans(const SessionTrace& trace) {
  const std::string& sid = trace.session_id;
  // The recorded trace id, else one derived from the session id.
  std::uint64_t trace_high = derived_id(sid, "trace-high"), trace_low = derived_id(sid, "trace-low");
  for (const Event& e : trace.event_history) {
    const std::string id = recorded_id(e, "trace_id");
    const auto high = hex_id(std::string_view(id).substr(0, 16));
    const auto low = id.size() == 32 ? hex_id(std::string_view(id).substr(16)) : std::nullopt;
    if (high && low) {
      trace_high = *high;
      trace_low = *low;
      break;
    }
  }
  const std::uint64_t root = derived_id(sid, "session");
  std::vector<SpanData> spans;
  SpanData session{.trace_id_high = trace_high, .trace_id_low = trace_low, .span_id = root, .name = "session",
                   .start = trace.created_at};
  session.end = trace.created_at;

  // A timestep's span: the parent its top-level scopes recorded, else a derived id.
  std::vector<std::uint64_t> event_spans;
  for (const Event& e : trace.event_history) {
    if (const auto id = hex_id(std::string_view(recorded_id(e, "span_id")))) event_spans.push_back(*id);
  }
  const auto is_event_span = [&](std::uint64_t id) {
    return std::find(event_spans.begin(), event_spans.end(), id) != event_spans.end();
  };
  std::vector<SpanData> step_spans;
  for (std::size_t i = 0; i < trace.session_time_steps.size(); ++i) {
    const SessionTimeStep& step = trace.session_time_steps[i];
    std::uint64_t span_id = derived_id(sid, "step/" + step.step_id);
    for (const Event& e : step.events) {
      const auto parent = hex_id(metadata(e)["parent_span_id"]);
      if (parent && !is_event_span(*parent)) {
        span_id = *parent;
        break;
      }
    }
    SpanData s{.trace_id_high = trace_high, .trace_id_low = trace_low, .span_id = span_id, .parent_span_id = root,
               .name = "timestep", .start = step.timestamp};
    s.end = step.timestamp;
    s.attributes = detail::timestep_span_attributes(step, step.step_index);
    s.attributes.set("gen_ai.conversation.id", sid);
    s.attributes.set("synth.kind", "timestep");
    for (const Event& e : step.events) s.end = std::max(s.end, event_end(e));
    step_spans.push_back(std::move(s));
  }
  // Which timestep holds an event or message (by equality, as the store pairs them).
  const auto step_of = [&](const auto& item, auto member) -> SpanData* {
    for (std::size_t i = 0; i < trace.session_time_steps.size(); ++i) {
      const auto& items = trace.session_time_steps[i].*member;
      if (std::find(items.begin(), items.end(), item) != items.end()) return &step_spans[i];
    }
    return &session;
  };
  for (const Event& e : trace.event_history) {
    SpanData* holder = step_of(e, &SessionTimeStep::events);
    const Timestamp start = time_record(e) ? time_record(e)->event_time : Timestamp{};
    session.end = std::max(session.end, event_end(e));
    const auto span_id = hex_id(std::string_view(recorded_id(e, "span_id")));
    if (!span_id) {
      holder->events.push_back(detail::span_event(e));  // recorded directly, not by a scope
      continue;
    }
    const Value& md = metadata(e);
    const Value& step_index = std::as_const(holder->attributes)["synth.step_index"];  // null: the session holds it
    const Value& step_id = std::as_const(holder->attributes)["synth.step_id"];
    const std::string name = event_name(e);
    const Value& error = md["error"];
    detail::ScopeSpanInput in{.kind = scope_kind(e),
                              .name = name,
                              .session_id = sid,
                              .trace_id_high = trace_high,
                              .trace_id_low = trace_low,
                              .span_id = *span_id,
                              .parent_span_id = hex_id(md["parent_span_id"]).value_or(holder->span_id),
                              .start = start,
                              .end = event_end(e),
                              .turn = time_record(e) ? time_record(e)->message_time : 0,
                              .step_index = step_index.is_integer() ? step_index.as_int() : -1,
                              .step_id = step_id.is_string() ? std::string_view(step_id.as_string()) : std::string_view(),
                              .event = &e,
                              .attributes = md.find("attributes"),
                              .error = error.is_object() ? &error : nullptr};
    spans.push_back(detail::scope_span(in));
  }
  for (const SessionEventMessage& m : trace.message_history) {
    step_of(m, &SessionTimeStep::step_messages)->events.push_back(detail::span_event(m));
    session.end = std::max(session.end, m.timestamp);
  }
  session.attributes = Value{{"gen_ai.conversation.id", sid},
                             {"synth.kind", "session"},
                             {"synth.events", trace.event_history.size()},
                             {"synth.messages", trace.message_history.size()}};
  spans.push_back(std::move(session));
  for (SpanData& s : step_spans) spans.push_back(std::move(s));
  OtlpResource resource;
  resource.attributes = Value{{"service.name", "synth-tracing"}, {"telemetry.sdk.name", "synth-tracing"},
                              {"telemetry.sdk.language", "cpp"}, {"telemetry.sdk.version", kVersion}};
  resource.scope_version = kVersion;
  return OtlpSpans{std::move(spans), std::move(resource)};
}

std::string otlp_json(const SessionTrace& trace) {
  const OtlpSpans s = otlp_spans(trace);
  return encode_otlp_json(s.spans, s.resource);
}

}  // namespace synth::tracing::server
