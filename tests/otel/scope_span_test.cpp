// A closed scope's span is built on the export thread from the scope's state (ScopeState as a
// PendingSpan) unless on_event hooks make the tracer build it at once. Both must export the
// same span: every scope kind, every field a scope can set, in modes dual and otel, compared
// attribute by attribute through the file exporter; and the attributes the GenAI conventions
// need are pinned by name, so a field missing from both builds fails too.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using nlohmann::json;

namespace {

// Every scope kind with every field set, nested and failing ones included.
void episode(st::SessionTracer& tracer) {
  auto session = tracer.start_session("pinned-spans");
  auto step = tracer.timestep(3);
  {
    auto call = st::ai_call("chat", {.model = "gpt-4o", .system_id = "planner", .provider = "openai", .tracer = &tracer});
    call.request({{"temperature", 0.2}, {"max_tokens", 256}, {"top_p", 0.9}, {"stream", false},
                  {"messages", st::Value::array({{{"role", "user"}, {"content", "write to ops@example.com"}}})}});
    call.response({{"content", "north"}, {"response_id", "chatcmpl-1"}, {"finish_reason", "stop"}});
    call.usage({.prompt_tokens = 60, .completion_tokens = 12, .cached_tokens = 5, .reasoning_tokens = 2,
                .cache_write_tokens = 3});
    call.cost(0.0012);
    call.response_model("gpt-4o-2024-08-06");
    call.set("time_to_first_token_ms", 42.5);
    call.set("user_key", "kept");
  }
  {
    // Not renamed: the user's own request_model is what the span names; priced on export.
    auto call = st::ai_call("chat", {.model = "claude-3-5-sonnet-20241022", .tracer = &tracer});
    call.set("request_model", "asked-for");
    call.usage({.prompt_tokens = 10, .completion_tokens = 1});
    call.error("RateLimitError", "slow down");
  }
  {
    auto op = st::runtime_operation("grep", {.system_id = "tools", .tracer = &tracer});
    op.actions({{"pattern", "x"}}).success(true);
  }
  {
    auto op = st::runtime_operation("rm", {.tracer = &tracer});
    op.error("IOError", "denied");
  }
  {
    auto env = st::environment_step("move", {.system_id = "grid", .tracer = &tracer});
    env.action("north").observation({{"x", 1}}).reward(0.5).terminated(false).truncated(true);
  }
  {
    auto outer = st::trace_span("plan", {{"depth", 3}, {"label", "x"}}, {.record_event = true, .tracer = &tracer});
    outer.set("extra", true);
    auto inner = st::trace_span("think", {{"depth", 1}}, {.tracer = &tracer});
    // Mode otel: a span event of `think`.
    tracer.add_event(st::RuntimeEvent{.system_instance_id = "direct", .metadata = {{"note", "inside"}}});
  }
}

// The spans one episode exports, by name (then by order within a name), with what differs from
// run to run (ids, times, the session's trace) left out.
std::multimap<std::string, json> exported(bool eager, st::TracingMode mode) {
  st::testing::TempDir dir{"scope_spans"};
  const auto file = dir.file("spans.jsonl");
  {
    st::TracingConfig c;
    c.mode = mode;
    c.save_dir = std::filesystem::path();
    c.otel_endpoint = "file://" + file.string();
    st::SessionTracer tracer(c);
    // Any hook makes close() build the event, and so the span, at once.
    if (eager) tracer.add_hook({.on_message = [](std::string_view, const st::SessionEventMessage&) {}});
    episode(tracer);
    EXPECT_TRUE(tracer.flush(std::chrono::seconds(30)));
    const auto stats = tracer.stats();
    EXPECT_EQ(stats.spans_ended, 9u);
    EXPECT_EQ(stats.spans_exported, 9u) << "dropped " << stats.spans_dropped << ", failed " << stats.spans_failed;
  }
  std::multimap<std::string, json> out;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const json request = json::parse(line);
    for (const json& rs : request["resourceSpans"]) {
      for (const json& ss : rs["scopeSpans"]) {
        for (json span : ss["spans"]) {
          for (const char* k : {"traceId", "spanId", "parentSpanId", "startTimeUnixNano", "endTimeUnixNano"}) span.erase(k);
          for (json& e : span["events"]) e.erase("timeUnixNano");
          out.emplace(span["name"].get<std::string>(), span);
        }
      }
    }
  }
  return out;
}

std::set<std::string> keys_of(const json& span) {
  std::set<std::string> keys;
  for (const json& a : span["attributes"]) keys.insert(a["key"].get<std::string>());
  return keys;
}

void expect_same_spans(st::TracingMode mode) {
  const auto deferred = exported(false, mode);
  const auto eager = exported(true, mode);
  ASSERT_EQ(deferred.size(), eager.size());
  ASSERT_EQ(deferred.size(), 9u);  // 8 scopes and the session
  for (auto d = deferred.begin(), e = eager.begin(); d != deferred.end(); ++d, ++e) {
    EXPECT_EQ(d->first, e->first);
    EXPECT_EQ(d->second, e->second) << "span '" << d->first << "' differs:\n deferred " << d->second.dump()
                                    << "\n eager    " << e->second.dump();
  }
  // What the conventions need, by name: a field lost by both builds fails here.
  const json& call = deferred.find("chat gpt-4o")->second;
  for (const char* key : {"gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.request.model",
                          "gen_ai.request.temperature", "gen_ai.request.max_tokens", "gen_ai.request.top_p",
                          "gen_ai.request.stream", "gen_ai.response.model", "gen_ai.response.id",
                          "gen_ai.response.finish_reasons", "gen_ai.response.time_to_first_chunk",
                          "gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens",
                          "gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_creation.input_tokens",
                          "gen_ai.usage.reasoning.output_tokens", "synth.total_tokens", "synth.cost_usd",
                          "gen_ai.agent.name", "gen_ai.conversation.id", "synth.kind", "synth.turn",
                          "synth.step_index"}) {
    EXPECT_TRUE(keys_of(call).contains(key)) << key;
  }
  ASSERT_EQ(deferred.count("chat asked-for"), 1u);
  EXPECT_EQ(deferred.find("chat asked-for")->second["status"]["code"], 2);  // error
  EXPECT_TRUE(keys_of(deferred.find("execute_tool grep")->second).contains("synth.success"));
  EXPECT_TRUE(keys_of(deferred.find("execute_tool rm")->second).contains("error.type"));
  for (const char* key : {"synth.system_id", "synth.reward", "synth.terminated", "synth.truncated"}) {
    EXPECT_TRUE(keys_of(deferred.find("environment_step move")->second).contains(key)) << key;
  }
  for (const char* key : {"depth", "label", "extra"}) {
    EXPECT_TRUE(keys_of(deferred.find("plan")->second).contains(key)) << key;
  }
  const json& think = deferred.find("think")->second;
  EXPECT_EQ(think["events"].size(), mode == st::TracingMode::otel ? 1u : 0u);
}

}  // namespace

TEST(ScopeSpans, BuiltOnTheExportThreadTheyEqualThoseBuiltAtOnce) { expect_same_spans(st::TracingMode::dual); }

TEST(ScopeSpans, InModeOtelToo) { expect_same_spans(st::TracingMode::otel); }

// Removes what differs from run to run (ids, times, durations) from a trace's JSON.
void scrub(json& j) {
  if (j.is_object()) {
    for (const char* k : {"span_id", "trace_id", "parent_span_id", "duration_ms", "latency_ms", "event_time",
                          "created_at", "timestamp", "session_id"}) {
      j.erase(k);
    }
    for (auto& [key, value] : j.items()) scrub(value);
  } else if (j.is_array()) {
    for (json& e : j) scrub(e);
  }
}

// The journal and the export queue share the state: the stored events are those of a tracer
// without span export, in both modes of building them (moved out of the state when the journal
// holds it alone, copied while the export queue still does).
TEST(ScopeSpans, StoredEventsDoNotDependOnSpanExport) {
  const auto events_of = [](bool spans) {
    st::testing::TempDir dir{"scope_span_events"};
    st::TracingConfig c;
    c.save_dir = std::filesystem::path();
    if (spans) c.otel_endpoint = "file://" + dir.file("spans.jsonl").string();
    st::SessionTracer tracer(c);
    episode(tracer);
    EXPECT_TRUE(tracer.flush(std::chrono::seconds(30)));
    const auto trace = tracer.get_session_trace("pinned-spans");
    EXPECT_NE(trace, nullptr);
    if (trace == nullptr) return json();
    json events = json::parse(trace->to_json())["event_history"];
    scrub(events);
    return events;
  };
  const json without = events_of(false);
  EXPECT_EQ(without.size(), 7u);  // every scope but the trace_span without record_event
  EXPECT_EQ(events_of(true), without);
}
