// Spans of a real tracer, exported over OTLP/HTTP to the receiver built on the official
// OpenTelemetry decoder: names, kinds, links across timesteps, scopes and threads, GenAI
// attributes, errors, resource, masking; the three modes; the file exporter; W3C context. Faults
// are in span_export_faults_test.cpp.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "otel/span_export_fixture.hpp"

using namespace span_export_fixture;

TEST_F(SpanExport, SessionTimestepAndScopesBecomeLinkedSpansWithGenAiAttributes) {
  std::string trace_id, call_span_id;
  {
    st::SessionTracer tracer(config_for(receiver));
    run_episode(tracer, "episode-1");
    const auto trace = tracer.get_session_trace("episode-1");
    ASSERT_TRUE(trace);
    const auto& call = std::get<st::CAISEvent>(trace->session_time_steps.at(0).events.at(0));
    trace_id = call.trace_id.value();
    call_span_id = call.span_id.value();
    ASSERT_TRUE(tracer.flush(10s));
    EXPECT_EQ(tracer.stats().spans_ended, 6u);
    EXPECT_EQ(tracer.stats().spans_exported, 6u);
  }
  ASSERT_TRUE(receiver.wait_for_spans(6, 5s));
  EXPECT_EQ(receiver.errors(), json::array());
  const json spans = receiver.spans();
  ASSERT_EQ(spans.size(), 6u);

  const json session = one_named(spans, "session");
  const json step = one_named(spans, "timestep");
  const json call = one_named(spans, "chat gpt-4o-mini");
  const json parse = one_named(spans, "parse");
  const json tool = one_named(spans, "execute_tool search");
  const json env = one_named(spans, "environment_step move");
  for (const json& s : spans) EXPECT_EQ(s["traceId"], trace_id) << s["name"];

  EXPECT_EQ(session["parentSpanId"], "");
  EXPECT_EQ(step["parentSpanId"], session["spanId"]);
  EXPECT_EQ(call["parentSpanId"], step["spanId"]);
  EXPECT_EQ(parse["parentSpanId"], call["spanId"]);
  EXPECT_EQ(tool["parentSpanId"], step["spanId"]);
  EXPECT_EQ(env["parentSpanId"], step["spanId"]);
  // The v2 event and its span share ids.
  EXPECT_EQ(call["spanId"], call_span_id);

  EXPECT_EQ(call["kind"], 3);  // CLIENT
  EXPECT_EQ(tool["kind"], 1);  // INTERNAL
  EXPECT_EQ(session["kind"], 1);
  const json a = attrs(call);
  EXPECT_EQ(a["gen_ai.operation.name"], "chat");
  EXPECT_EQ(a["gen_ai.provider.name"], "openai");
  EXPECT_EQ(a["gen_ai.request.model"], "gpt-4o-mini");
  EXPECT_EQ(a["gen_ai.response.model"], "gpt-4o-mini");
  EXPECT_DOUBLE_EQ(a["gen_ai.request.temperature"].get<double>(), 0.2);
  EXPECT_EQ(a["gen_ai.request.max_tokens"], 64);
  EXPECT_EQ(a["gen_ai.response.id"], "chatcmpl-1");
  EXPECT_EQ(a["gen_ai.response.finish_reasons"], json::array({"stop"}));
  EXPECT_EQ(a["gen_ai.usage.input_tokens"], 1000);
  EXPECT_EQ(a["gen_ai.usage.output_tokens"], 200);
  EXPECT_EQ(a["gen_ai.usage.cache_read.input_tokens"], 100);
  EXPECT_EQ(a["gen_ai.conversation.id"], "episode-1");
  EXPECT_EQ(a["gen_ai.agent.name"], "planner");
  EXPECT_EQ(a["synth.turn"], 0);
  ASSERT_TRUE(a.contains("synth.cost_usd"));  // priced on the export thread
  EXPECT_GT(a["synth.cost_usd"].get<double>(), 0.0);
  EXPECT_EQ(attrs(parse)["format"], "json");
  EXPECT_EQ(attrs(tool)["gen_ai.tool.name"], "search");
  EXPECT_EQ(attrs(tool)["gen_ai.operation.name"], "execute_tool");
  EXPECT_DOUBLE_EQ(attrs(env)["synth.reward"].get<double>(), 1.5);
  EXPECT_EQ(attrs(env)["synth.terminated"], true);
  EXPECT_EQ(attrs(step)["synth.step_id"], "step_0");
  EXPECT_EQ(attrs(session)["gen_ai.conversation.id"], "episode-1");
  for (const json& s : spans) {
    EXPECT_LE(std::stoull(s["startTimeUnixNano"].get<std::string>()), std::stoull(s["endTimeUnixNano"].get<std::string>()));
  }
  // Children lie within their parents.
  const auto start = [](const json& s) { return std::stoull(s["startTimeUnixNano"].get<std::string>()); };
  const auto end = [](const json& s) { return std::stoull(s["endTimeUnixNano"].get<std::string>()); };
  EXPECT_LE(start(session), start(step));
  EXPECT_LE(end(step), end(session));
  EXPECT_LE(start(call), start(parse));
  EXPECT_LE(end(parse), end(call));

  const json resource = OtlpReceiver::attributes(call["resource"]["attributes"]);
  EXPECT_EQ(resource["service.name"], "synth-tracing");
  EXPECT_EQ(resource["telemetry.sdk.name"], "synth-tracing");
  EXPECT_EQ(resource["telemetry.sdk.language"], "cpp");
  EXPECT_TRUE(resource.contains("service.version"));
  EXPECT_TRUE(resource.contains("deployment.environment"));
  EXPECT_EQ(call["scope"]["name"], "synth-tracing");
}

TEST_F(SpanExport, CacheWritesAreAttributesAndPricedAndMissingUsageIsNoAttribute) {
  const st::TokenUsage usage{
      .prompt_tokens = 1000, .completion_tokens = 50, .cached_tokens = 200, .cache_write_tokens = 700};
  {
    st::SessionTracer tracer(config_for(receiver));
    auto session = tracer.start_session("usage");
    {
      auto call = st::ai_call("chat", {.model = "claude-sonnet-4-20250514", .tracer = &tracer});
      call.usage(usage);
    }
    {
      auto call = st::ai_call("stream", {.model = "gpt-4o-mini", .tracer = &tracer});
      call.response({{"content", "no usage came back"}});
    }
  }
  ASSERT_TRUE(receiver.wait_for_spans(3, 5s));
  const json spans = receiver.spans();
  const json cached = attrs(one_named(spans, "chat claude-sonnet-4-20250514"));
  EXPECT_EQ(cached["gen_ai.usage.input_tokens"], 1000);
  EXPECT_EQ(cached["gen_ai.usage.cache_read.input_tokens"], 200);
  EXPECT_EQ(cached["gen_ai.usage.cache_creation.input_tokens"], 700);
  ASSERT_TRUE(cached.contains("synth.cost_usd"));
  EXPECT_DOUBLE_EQ(cached["synth.cost_usd"].get<double>(), *st::calculate_cost("claude-sonnet-4-20250514", usage));

  const json unreported = attrs(one_named(spans, "stream gpt-4o-mini"));
  for (const auto& [key, value] : unreported.items()) {
    EXPECT_EQ(key.find("gen_ai.usage."), std::string::npos) << key << " = " << value << ": absent, not 0";
  }
  EXPECT_FALSE(unreported.contains("synth.cost_usd"));
  EXPECT_EQ(unreported["synth.cost_status"], "no_usage");
}

TEST_F(SpanExport, ScopesOnOtherThreadsAreChildrenOfTheirContext) {
  {
    st::SessionTracer tracer(config_for(receiver));
    auto session = tracer.start_session("threads");
    auto step = tracer.timestep(3);
    auto outer = st::trace_span("fan-out", {}, {.tracer = &tracer});
    const st::Context here = tracer.current_context();
    std::vector<std::thread> workers;
    for (int i = 0; i < 4; ++i) {
      workers.emplace_back([&tracer, here, i] {
        st::ContextScope attach(here);
        auto call = st::ai_call("chat", {.model = "claude-3-5-haiku", .tracer = &tracer});
        call.usage({.prompt_tokens = 10 + i, .completion_tokens = 1});
      });
    }
    for (auto& w : workers) w.join();
    outer.end();
  }
  ASSERT_TRUE(receiver.wait_for_spans(7, 10s));
  const json spans = receiver.spans();
  const json outer = one_named(spans, "fan-out");
  const auto calls = named(spans, "chat claude-3-5-haiku");
  ASSERT_EQ(calls.size(), 4u);
  std::set<std::string> ids;
  for (const json& c : calls) {
    EXPECT_EQ(c["parentSpanId"], outer["spanId"]);
    EXPECT_EQ(attrs(c)["gen_ai.provider.name"], "anthropic");
    EXPECT_EQ(attrs(c)["synth.turn"], 3);
    ids.insert(c["spanId"]);
  }
  EXPECT_EQ(ids.size(), 4u);
  EXPECT_EQ(outer["parentSpanId"], one_named(spans, "timestep")["spanId"]);
}

TEST_F(SpanExport, ErrorsBecomeStatusAndAnExceptionEventAndSecretsAreMasked) {
  {
    st::SessionTracer tracer(config_for(receiver));
    auto session = tracer.start_session("errors");
    try {
      auto call = st::ai_call("chat", {.model = "gpt-4o", .tracer = &tracer});
      call.error("RateLimitError", "slow down, key sk-abcdefghijklmnopqrstuvwx1234 owner bob@example.com");
    } catch (...) {
    }
    auto span = st::trace_span("lookup", {{"user", "alice@example.com"}, {"n", 3}}, {.tracer = &tracer});
  }
  ASSERT_TRUE(receiver.wait_for_spans(3, 10s));
  const json spans = receiver.spans();
  const json call = one_named(spans, "chat gpt-4o");
  EXPECT_EQ(call["status"]["code"], 2);  // ERROR
  const std::string message = call["status"]["message"];
  EXPECT_EQ(message.find("sk-abc"), std::string::npos) << message;
  EXPECT_EQ(message.find("bob@example.com"), std::string::npos) << message;
  EXPECT_NE(message.find("[EMAIL]"), std::string::npos) << message;
  ASSERT_EQ(call["events"].size(), 1u);
  EXPECT_EQ(call["events"][0]["name"], "exception");
  const json ev = OtlpReceiver::attributes(call["events"][0]["attributes"]);
  EXPECT_EQ(ev["exception.type"], "RateLimitError");
  EXPECT_EQ(ev["exception.message"].get<std::string>().find("bob@"), std::string::npos);
  EXPECT_EQ(attrs(call)["error.type"], "RateLimitError");
  const json lookup = attrs(one_named(spans, "lookup"));
  EXPECT_EQ(lookup["user"], "[EMAIL]");
  EXPECT_EQ(lookup["n"], 3);
  EXPECT_EQ(one_named(spans, "lookup")["status"]["code"], 0);
}

TEST_F(SpanExport, ModesDecideBetweenEventsAndSpans) {
  const auto record = [&](st::TracingMode mode, const std::string& id) {
    st::SessionTracer tracer(config_for(receiver, mode));
    {
      auto session = tracer.start_session(id);
      auto step = tracer.timestep(0);
      auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .tracer = &tracer});
    }
    tracer.flush(10s);
    const auto trace = tracer.get_session_trace(id);
    return std::make_pair(trace ? trace->event_history.size() : 0, tracer.stats().spans_ended);
  };
  EXPECT_EQ(record(st::TracingMode::v2, "v2"), std::make_pair(std::size_t{1}, std::uint64_t{0}));
  EXPECT_EQ(receiver.request_count(), 0u);  // v2: no span work at all
  EXPECT_EQ(record(st::TracingMode::otel, "otel"), std::make_pair(std::size_t{0}, std::uint64_t{3}));
  EXPECT_EQ(record(st::TracingMode::dual, "dual"), std::make_pair(std::size_t{1}, std::uint64_t{3}));
  ASSERT_TRUE(receiver.wait_for_spans(6, 5s));
  std::set<std::string> conversations;
  for (const json& s : receiver.spans()) conversations.insert(attrs(s)["gen_ai.conversation.id"]);
  EXPECT_EQ(conversations, (std::set<std::string>{"otel", "dual"}));
}

TEST(SpanExportConfig, NoEndpointMeansNoSpanWork) {
  st::TracingConfig c;
  c.save_dir = std::filesystem::path();
  st::SessionTracer tracer(c);
  {
    auto session = tracer.start_session("quiet");
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .tracer = &tracer});
  }
  EXPECT_EQ(tracer.stats().spans_ended, 0u);
  // Without span export, top-level scopes keep no parent (the v2 events are unchanged).
  const auto trace = tracer.get_session_trace("quiet");
  ASSERT_TRUE(trace);
  EXPECT_FALSE(st::metadata(trace->event_history.at(0)).contains("parent_span_id"));
}

TEST_F(SpanExport, TheStandardEnvironmentVariablesConfigureExport) {
  const std::string base = receiver.base_url();
  {
    ScopedEnv endpoint("OTEL_EXPORTER_OTLP_ENDPOINT", base.c_str());
    ScopedEnv name("OTEL_SERVICE_NAME", "env-agent");
    ScopedEnv resource("OTEL_RESOURCE_ATTRIBUTES", "team=search,service.version=9.9");
    ScopedEnv protocol("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json");
    ScopedEnv compression("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip");
    ScopedEnv headers("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret123");
    st::TracingConfig c;
    c.save_dir = std::filesystem::path();
    st::SessionTracer tracer(c);
    auto session = tracer.start_session("env");
  }
  ASSERT_TRUE(receiver.wait_for_spans(1, 5s));
  const json request = receiver.requests().at(0);
  EXPECT_EQ(request["content_type"], "application/json");
  EXPECT_EQ(request["content_encoding"], "gzip");
  EXPECT_EQ(request["headers"]["x-api-key"], "secret123");
  const json resource = OtlpReceiver::attributes(receiver.spans().at(0)["resource"]["attributes"]);
  EXPECT_EQ(resource["service.name"], "env-agent");
  EXPECT_EQ(resource["service.version"], "9.9");
  EXPECT_EQ(resource["team"], "search");
  EXPECT_EQ(receiver.errors(), json::array());
}

TEST_F(SpanExport, ASessionContinuesARemoteTraceAndPassesItOn) {
  const std::string incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  const auto parent = st::parse_traceparent(incoming, "vendor=abc");
  ASSERT_TRUE(parent);
  std::string outgoing, state;
  {
    st::SessionTracer tracer(config_for(receiver));
    auto session = tracer.start_session("remote", st::Value::object(), *parent);
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .tracer = &tracer});
    outgoing = st::traceparent(tracer.current_context());
    state = st::tracestate(tracer.current_context());
    EXPECT_EQ(outgoing, "00-4bf92f3577b34da6a3ce929d0e0e4736-" + call.identity().span_id + "-01");
  }
  EXPECT_EQ(state, "vendor=abc");
  ASSERT_TRUE(receiver.wait_for_spans(2, 5s));
  const json spans = receiver.spans();
  const json session = one_named(spans, "session");
  EXPECT_EQ(session["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(session["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(session["traceState"], "vendor=abc");
  EXPECT_EQ(one_named(spans, "chat gpt-4o-mini")["parentSpanId"], session["spanId"]);

  // A remote parent that was not sampled: nothing is recorded here either.
  const auto unsampled = st::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  st::SessionTracer tracer(config_for(receiver));
  {
    auto session = tracer.start_session("remote-unsampled", st::Value::object(), *unsampled);
    EXPECT_EQ(st::traceparent(tracer.current_context()).substr(53), "00");
  }
  EXPECT_EQ(tracer.stats().sessions_sampled_out, 1u);
  EXPECT_EQ(tracer.stats().spans_ended, 0u);
}

TEST_F(SpanExport, OtelModeDirectEventsAndMessagesBecomeSpanEventsOfTheCurrentSpan) {
  st::SessionTracer tracer(config_for(receiver, st::TracingMode::otel));
  {
    auto session = tracer.start_session("direct");
    tracer.add_message(st::make_message("env", {{"obs", "a door"}}, "observation", 0));
    {
      auto step = tracer.timestep(2);
      tracer.add_event(st::CAISEvent{.system_instance_id = "agent",
                                     .model_name = "gpt-4o-mini",
                                     .prompt_tokens = 812,
                                     .completion_tokens = 37});
      {
        auto plan = st::trace_span("plan", {}, {.tracer = &tracer});
        tracer.add_event(st::EnvironmentEvent{.reward = 0.5, .terminated = false});
        tracer.add_message(st::make_message("user", {{"text", "mail bob@example.com"}}, "prompt", 2));
      }
    }
    tracer.add_event(st::RuntimeEvent{.actions = {"search"}});
  }
  ASSERT_TRUE(tracer.flush(30s));
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.events_recorded, 3u);
  EXPECT_EQ(stats.messages_recorded, 2u);
  EXPECT_EQ(stats.spans_exported, 3u);
  ASSERT_TRUE(receiver.wait_for_spans(3, 5s));
  EXPECT_EQ(receiver.errors(), json::array());
  const json spans = receiver.spans();
  const auto event_names = [](const json& span) {
    std::multiset<std::string> names;
    for (const json& e : span["events"]) names.insert(e["name"]);
    return names;
  };
  const json session = one_named(spans, "session");
  const json step = one_named(spans, "timestep");
  const json plan = one_named(spans, "plan");
  EXPECT_EQ(event_names(session), (std::multiset<std::string>{"synth.message", "synth.event.runtime"}));
  EXPECT_EQ(event_names(step), (std::multiset<std::string>{"synth.event.cais"}));
  EXPECT_EQ(event_names(plan), (std::multiset<std::string>{"synth.message", "synth.event.environment"}));

  const json call = OtlpReceiver::attributes(step["events"][0]["attributes"]);
  EXPECT_EQ(call["gen_ai.response.model"], "gpt-4o-mini");
  EXPECT_EQ(call["gen_ai.provider.name"], "openai");
  EXPECT_EQ(call["gen_ai.usage.input_tokens"], 812);
  EXPECT_EQ(call["gen_ai.usage.output_tokens"], 37);
  EXPECT_EQ(call["synth.system_id"], "agent");
  EXPECT_EQ(call["synth.turn"], 2);
  for (const json& e : plan["events"]) {
    const json a = OtlpReceiver::attributes(e["attributes"]);
    if (e["name"] == "synth.message") {
      EXPECT_EQ(a["synth.message_type"], "prompt");
      EXPECT_EQ(a["synth.content"]["payload"]["text"], "mail [EMAIL]");  // masked like everything sent
    } else {
      EXPECT_DOUBLE_EQ(a["synth.reward"].get<double>(), 0.5);
      EXPECT_EQ(a["synth.terminated"], false);
    }
  }
}

TEST(SpanFileExport, AFileEndpointWritesOtlpJsonLines) {
  const auto dir = std::filesystem::temp_directory_path() / ("synth-spans-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const auto file = dir / "spans.jsonl";
  {
    st::TracingConfig c;
    c.save_dir = std::filesystem::path();
    c.otel_endpoint = "file://" + file.string();
    st::SessionTracer tracer(c);
    run_episode(tracer, "offline");
  }
  std::ifstream in(file);
  std::string line;
  std::size_t spans = 0;
  while (std::getline(in, line)) {
    const json request = json::parse(line);
    for (const json& rs : request["resourceSpans"]) {
      for (const json& ss : rs["scopeSpans"]) spans += ss["spans"].size();
    }
  }
  EXPECT_EQ(spans, 6u);
  std::filesystem::remove_all(dir);
  EXPECT_THROW(st::OtlpFileExporter("/nonexistent-dir/x/spans.jsonl", {}), st::Error);
  EXPECT_THROW(st::OtlpHttpExporter({.endpoint = "localhost:4318"}), st::Error);
}

// Header values sent to the collector (an Authorization token, an API key header) are secrets:
// the exporter registers them, so they never reach a trace, a span or a diagnostic.
TEST(SpanExportSecrets, HeaderValuesAreMaskedWhereverTheyAppear) {
  const std::string token = "collector-token-7f3a9c2e51d8";
  const std::string key = "hdr-key-0d9e8f7a6b5c4d3e";
  const st::OtlpHttpExporter exporter(
      {.endpoint = "http://127.0.0.1:9/v1/traces", .headers = {{"authorization", "Bearer " + token}, {"x-api-key", key}}});
  const std::string text = "auth " + token + " key " + key + " header Bearer " + token;
  const std::string masked = st::PiiMasker(std::vector<st::PiiPattern>{}, false).mask(std::string_view(text));
  EXPECT_EQ(masked.find(token), std::string::npos) << masked;
  EXPECT_EQ(masked.find(key), std::string::npos) << masked;
  EXPECT_NE(masked.find("[SECRET]"), std::string::npos) << masked;
}
