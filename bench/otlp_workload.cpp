// Bodies of realistic OTLP traffic: our exporter's session/timestep/event spans (built by the
// server's own OTLP export, src/server/export_otlp.cpp) and a foreign GenAI instrumentation's
// agent turns, interleaved and batched as an SDK's BatchSpanProcessor exports them.
#include "otlp_workload.hpp"

#include <algorithm>
#include <cstdio>

#include <synth/tracing/otel.hpp>

#include "server/exports.hpp"

namespace st = synth::tracing;
using st::Value;

namespace synth_bench {

namespace {

constexpr int kInFlight = 8;  // sessions of a client in progress at once
constexpr int kSteps = 10;
constexpr int kTurns = 5;

std::string hex16(std::uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

// Distinct ids for (client, session, item): no two spans of a run share one.
std::uint64_t id_of(int client, int session, int item) {
  return (static_cast<std::uint64_t>(client + 1) << 48) ^ (static_cast<std::uint64_t>(session + 1) << 20) ^
         static_cast<std::uint64_t>(item + 1);
}

const st::Timestamp kEpoch = st::Timestamp(std::chrono::seconds(1'735'725'600));

std::vector<st::SpanData> our_spans(int client, int i, st::OtlpResource* resource) {
  // Sessions of one client overlap: a new one starts every eighth of a session's length.
  const st::Timestamp start = kEpoch + std::chrono::milliseconds(static_cast<std::int64_t>(i) * kSteps * 1500 / kInFlight);
  st::SessionTrace t = bench_session("otlp-c" + std::to_string(client) + "-" + std::to_string(i), kSteps, i, start, true);
  // The trace id as the tracer's scopes record it.
  const std::string trace = hex16(id_of(client, i, 0)) + hex16(id_of(client, i, 1));
  for (st::SessionTimeStep& step : t.session_time_steps) {
    for (st::Event& e : step.events) {
      if (auto* c = std::get_if<st::CAISEvent>(&e)) c->trace_id = trace;
    }
  }
  t.event_history.clear();
  for (const st::SessionTimeStep& step : t.session_time_steps) {
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
  }
  st::server::OtlpSpans spans = st::server::otlp_spans(t);
  if (resource != nullptr) *resource = spans.resource;
  return std::move(spans.spans);
}

std::string json_string(const Value& v) { return v.dump(); }

std::vector<st::SpanData> foreign_spans(int client, int c) {
  std::vector<st::SpanData> out;
  const std::string conversation = "conv-c" + std::to_string(client) + "-" + std::to_string(c);
  const st::Timestamp begin = kEpoch + std::chrono::milliseconds(static_cast<std::int64_t>(c) * kTurns * 4000 / kInFlight);
  for (int turn = 0; turn < kTurns; ++turn) {
    const std::uint64_t high = id_of(client, c, 1000 + turn), low = id_of(client, c, 2000 + turn);
    const std::uint64_t root = id_of(client, c, 100 * turn + 10);
    const st::Timestamp at = begin + std::chrono::milliseconds(turn * 4000);
    const auto span = [&](std::uint64_t id, std::uint64_t parent, std::string name, st::SpanKind kind, st::Timestamp s,
                          std::chrono::milliseconds d, Value attributes) {
      st::SpanData x{.trace_id_high = high, .trace_id_low = low, .span_id = id, .parent_span_id = parent,
                     .name = std::move(name), .kind = kind, .start = s, .end = s + d};
      x.attributes = std::move(attributes);
      return x;
    };
    const std::string question = "Turn " + std::to_string(turn) + ": what is the weather in Paris, and should I take an umbrella?";
    Value input = Value::array({Value{{"role", "system"}, {"parts", Value::array({Value{{"type", "text"}, {"content", "You are a helpful travel assistant. Use tools when needed."}}})}},
                                Value{{"role", "user"}, {"parts", Value::array({Value{{"type", "text"}, {"content", question}}})}}});
    const Value call_out = Value::array({Value{
        {"role", "assistant"},
        {"parts", Value::array({Value{{"type", "tool_call"}, {"id", "call_" + std::to_string(turn)}, {"name", "get_weather"},
                                      {"arguments", Value{{"city", "Paris"}}}}})},
        {"finish_reason", "tool_calls"}}});
    const auto chat = [&](std::uint64_t id, st::Timestamp s, const Value& in, const Value& out_messages, const char* finish,
                          int input_tokens, int output_tokens) {
      return span(id, root, "chat gpt-4o-mini", st::SpanKind::client, s, std::chrono::milliseconds(900),
                  Value{{"gen_ai.operation.name", "chat"},
                        {"gen_ai.provider.name", "openai"},
                        {"gen_ai.request.model", "gpt-4o-mini"},
                        {"gen_ai.request.temperature", 0.2},
                        {"gen_ai.request.max_tokens", 512},
                        {"gen_ai.response.model", "gpt-4o-mini-2024-07-18"},
                        {"gen_ai.response.id", "chatcmpl-" + hex16(id)},
                        {"gen_ai.response.finish_reasons", Value::array({finish})},
                        {"gen_ai.usage.input_tokens", input_tokens},
                        {"gen_ai.usage.output_tokens", output_tokens},
                        {"gen_ai.input.messages", json_string(in)},
                        {"gen_ai.output.messages", json_string(out_messages)},
                        {"server.address", "api.openai.com"},
                        {"server.port", 443}});
    };
    out.push_back(chat(root + 1, at + std::chrono::milliseconds(50), input, call_out, "tool_calls", 180 + turn * 40, 22));
    out.push_back(span(root + 2, root, "execute_tool get_weather", st::SpanKind::internal, at + std::chrono::milliseconds(960),
                       std::chrono::milliseconds(120),
                       Value{{"gen_ai.operation.name", "execute_tool"},
                             {"gen_ai.tool.name", "get_weather"},
                             {"gen_ai.tool.type", "function"},
                             {"gen_ai.tool.call.id", "call_" + std::to_string(turn)}}));
    input.push_back(call_out[0]);
    input.push_back(Value{{"role", "tool"},
                          {"parts", Value::array({Value{{"type", "tool_call_response"}, {"id", "call_" + std::to_string(turn)},
                                                        {"response", "Paris: 14°C, light rain until 18:00"}}})}});
    const Value answer = Value::array({Value{
        {"role", "assistant"},
        {"parts", Value::array({Value{{"type", "text"}, {"content", "It is 14°C with light rain until 6 pm: take an umbrella."}}})},
        {"finish_reason", "stop"}}});
    out.push_back(chat(root + 3, at + std::chrono::milliseconds(1100), input, answer, "stop", 260 + turn * 40, 31));
    out.push_back(span(root, 0, "invoke_agent travel_assistant", st::SpanKind::internal, at, std::chrono::milliseconds(2100),
                       Value{{"gen_ai.operation.name", "invoke_agent"},
                             {"gen_ai.agent.name", "travel_assistant"},
                             {"gen_ai.provider.name", "openai"},
                             {"gen_ai.conversation.id", conversation}}));
  }
  return out;
}

st::OtlpResource foreign_resource() {
  st::OtlpResource r;
  r.attributes = Value{{"service.name", "travel-agent"}, {"telemetry.sdk.name", "opentelemetry"},
                       {"telemetry.sdk.language", "python"}, {"telemetry.sdk.version", "1.27.0"}};
  r.scope_name = "opentelemetry.instrumentation.openai_v2";
  r.scope_version = "2.1b0";
  return r;
}

}  // namespace

st::SessionTrace bench_session(const std::string& id, int steps, std::int64_t seed, st::Timestamp start, bool scope_ids) {
  st::SessionTrace t;
  t.session_id = id;
  t.created_at = start;
  std::uint64_t next_span = std::hash<std::string>{}(id) | 1;
  const auto span_id = [&] { return hex16(next_span++); };
  for (int s = 0; s < steps; ++s) {
    const st::Timestamp at = start + std::chrono::milliseconds(s * 1500);
    st::SessionTimeStep step;
    step.step_id = "step_" + std::to_string(s);
    step.step_index = s;
    step.timestamp = at;
    st::CAISEvent llm{.time_record = st::TimeRecord{at + std::chrono::microseconds(120), s},
                      .system_instance_id = "agent",
                      .system_state_before = {{"messages", Value::array({Value{{"role", "user"}, {"content", "What next?"}}})}},
                      .system_state_after = {{"content", "collect_stone"}},
                      .model_name = seed % 3 == 0 ? "gpt-4o" : "gpt-4o-mini",
                      .provider = "openai",
                      .prompt_tokens = 412 + s,
                      .completion_tokens = 9,
                      .total_tokens = 421 + s,
                      .cost = 0.0000672,
                      .latency_ms = 640.5};
    st::EnvironmentEvent env{.time_record = st::TimeRecord{at + std::chrono::milliseconds(650), s},
                             .system_instance_id = "crafter",
                             .reward = static_cast<double>((seed + s) % 7) / 10.0,
                             .terminated = s + 1 == steps};
    st::RuntimeEvent tool{.time_record = st::TimeRecord{at + std::chrono::milliseconds(660), s},
                          .system_instance_id = "runtime",
                          .actions = Value::array({"collect_stone"}),
                          .metadata = {{"duration_ms", 3.25}}};
    if (scope_ids) {
      llm.span_id = span_id();
      llm.metadata = Value{{"operation", "chat"}};
      env.metadata = Value{{"span_id", span_id()}, {"step", "crafter.step"}, {"duration_ms", 8.0}};
      tool.metadata = Value{{"span_id", span_id()}, {"operation", "collect_stone"}, {"duration_ms", 3.25}};
    }
    st::SessionEventMessage observation{.content = {{"origin_system_id", "crafter"}, {"payload", "stone " + std::to_string(s)}},
                                        .message_type = "observation",
                                        .timestamp = at,
                                        .time_record = st::TimeRecord{at, s}};
    step.events = {llm, env, tool};
    step.step_messages = {observation};
    t.event_history.insert(t.event_history.end(), step.events.begin(), step.events.end());
    t.message_history.push_back(observation);
    t.session_time_steps.push_back(std::move(step));
  }
  return t;
}

OtlpClientBodies otlp_client_bodies(OtlpShape shape, bool json, int client, int sessions, std::size_t batch_spans) {
  OtlpClientBodies out;
  out.sessions = static_cast<std::uint64_t>(sessions);
  std::vector<st::SpanData> spans;
  st::OtlpResource resource = shape == OtlpShape::foreign ? foreign_resource() : st::OtlpResource{};
  for (int i = 0; i < sessions; ++i) {
    std::vector<st::SpanData> s = shape == OtlpShape::ours ? our_spans(client, i, i == 0 ? &resource : nullptr)
                                                           : foreign_spans(client, i);
    spans.insert(spans.end(), std::make_move_iterator(s.begin()), std::make_move_iterator(s.end()));
  }
  // Exported as they end: a parent after its children, sessions in progress interleaved.
  std::stable_sort(spans.begin(), spans.end(), [](const st::SpanData& a, const st::SpanData& b) { return a.end < b.end; });
  out.spans = spans.size();
  for (std::size_t at = 0; at < spans.size(); at += batch_spans) {
    const std::span<const st::SpanData> batch(spans.data() + at, std::min(batch_spans, spans.size() - at));
    out.bodies.push_back(json ? st::encode_otlp_json(batch, resource) : st::encode_otlp_protobuf(batch, resource));
  }
  return out;
}

std::string otlp_one_session_body(const std::string& session_id, bool json) {
  const st::SessionTrace t = bench_session(session_id, kSteps, 1, st::now(), true);
  const st::server::OtlpSpans s = st::server::otlp_spans(t);
  return json ? st::encode_otlp_json(s.spans, s.resource) : st::encode_otlp_protobuf(s.spans, s.resource);
}

}  // namespace synth_bench
