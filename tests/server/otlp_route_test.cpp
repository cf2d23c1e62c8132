// POST /v1/traces, /v1/logs and /v1/metrics on the real routes, queue, writer and DuckDB file:
// protobuf and JSON bodies (gzip too) answered in their own encoding, a session sent in parts
// and out of order stored as one, and the faults: 415, 400, 413, 503 with Retry-After.
#include <gtest/gtest.h>

#include <thread>

#include "http/client.hpp"
#include "server/exports.hpp"
#include "server/fixtures.hpp"
#include "server/otlp_decode.hpp"
#include "server/otlp_routes.hpp"
#include "server/routes.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::Routes;
using synth_test::sample_session;

namespace {

constexpr const char* kProtobuf = "application/x-protobuf";

std::string protobuf_of(const std::vector<SpanData>& spans, const OtlpResource& resource) {
  return encode_otlp_protobuf(spans, resource);
}

}  // namespace

TEST(OtlpRoute, ProtobufGzipIsStoredAndAnsweredInProtobuf) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const SessionTrace original = sample_session("otlp-proto", {.steps = 3});
  const OtlpSpans spans = otlp_spans(original);
  auto r = routes.post("/v1/traces", protobuf_of(spans.spans, spans.resource), "application/x-protobuf; charset=binary", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), kProtobuf);
  EXPECT_EQ(r->body, "") << "an empty ExportTraceServiceResponse: nothing rejected";
  routes.drain();
  const auto stored = routes.store.load_trace("otlp-proto");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->event_history.size(), original.event_history.size());
  for (std::size_t i = 0; i < original.event_history.size(); ++i) {
    EXPECT_TRUE(stored->event_history[i] == original.event_history[i]) << "event " << i;
  }
  EXPECT_TRUE(stored->message_history == original.message_history);
  EXPECT_EQ(stored->session_time_steps.size(), 3u);
  EXPECT_EQ(routes.counters.otlp_spans.load(), spans.spans.size());
}

TEST(OtlpRoute, ContentCodingsAreNamedInAnyCaseAndXGzipIsGzip) {
  // RFC 9110: content codings are case-insensitive, and x-gzip is gzip. "GZIP" was taken for
  // gzip by the check, then read as it came (400, "invalid UTF-8": the SDK drops the data).
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const std::vector<std::string> names = {"GZIP", "Gzip", "x-gzip", "X-GZIP"};
  for (const std::string& name : names) {
    SCOPED_TRACE(name);
    const OtlpSpans spans = otlp_spans(sample_session("otlp-" + name, {.steps = 1}));
    auto r = routes.post("/v1/traces", protobuf_of(spans.spans, spans.resource), kProtobuf, true, name.c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    r = routes.post("/api/v1/sessions", sample_session("native-" + name).to_json(), "application/json", true, name.c_str());
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
  }
  routes.drain();
  for (const std::string& name : names) {
    EXPECT_TRUE(routes.store.load_trace("otlp-" + name)) << name;
    EXPECT_TRUE(routes.store.load_trace("native-" + name)) << name;
  }
}

TEST(OtlpRoute, ASessionInPartsOutOfOrderIsOneSession) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const SessionTrace original = sample_session("in-parts", {.steps = 4});
  OtlpSpans spans = otlp_spans(original);
  // The timestep spans (the last four) first, each alone, in reverse; then the session span.
  ASSERT_EQ(spans.spans.size(), 5u);
  for (std::size_t i = spans.spans.size(); i-- > 1;) {
    auto r = routes.post("/v1/traces", protobuf_of({spans.spans[i]}, spans.resource), kProtobuf);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto r = routes.post("/v1/traces", protobuf_of({spans.spans[0]}, spans.resource), kProtobuf);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  routes.drain();
  EXPECT_EQ(routes.store.session_ids().size(), 1u);
  const auto stored = routes.store.load_trace("in-parts");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->event_history.size(), original.event_history.size());
  EXPECT_EQ(stored->message_history.size(), original.message_history.size());
  ASSERT_EQ(stored->session_time_steps.size(), 4u);
  std::vector<SessionTimeStep> steps = stored->session_time_steps;  // as they came; numbered as they were
  std::stable_sort(steps.begin(), steps.end(), [](const auto& x, const auto& y) { return x.step_index < y.step_index; });
  for (std::size_t s = 0; s < 4; ++s) {
    const SessionTimeStep& step = steps[s];
    EXPECT_EQ(step.step_id, original.session_time_steps[s].step_id);
    EXPECT_EQ(step.step_index, original.session_time_steps[s].step_index);
    EXPECT_EQ(step.turn_number, original.session_time_steps[s].turn_number);
    EXPECT_EQ(step.events.size(), original.session_time_steps[s].events.size());
  }
  EXPECT_EQ(stored->created_at, original.created_at) << "the earliest start stays";
  double reward = 0, cost = 0;
  std::int64_t tokens = 0;
  for (const Event& e : stored->event_history) {
    if (const auto* env = std::get_if<EnvironmentEvent>(&e)) reward += env->reward.value_or(0);
    if (const auto* c = std::get_if<CAISEvent>(&e)) {
      cost += c->cost.value_or(0);
      tokens += c->total_tokens.value_or(0);
    }
  }
  EXPECT_DOUBLE_EQ(reward, 2.0);
  EXPECT_DOUBLE_EQ(cost, 0.004);
  EXPECT_EQ(tokens, 480);
}

namespace {

// One OTLP/JSON span of `trace` (a child of `parent` when given), with `session` as
// gen_ai.conversation.id when given: the shape of the GenAI instrumentations, whose calls carry
// no session id and whose wrapping span, the one that names it, ends (and is exported) last.
std::string foreign_span(const std::string& trace, const char* span_id, const char* parent, const char* name,
                         double start_s, const char* session) {
  const auto nanos = [](double s) { return std::to_string(static_cast<long long>((1735689800.0 + s) * 1e9)); };
  std::string attributes = R"([{"key":"gen_ai.operation.name","value":{"stringValue":")" +
                           std::string(session ? "invoke_agent" : "chat") + R"("}})";
  if (!session) attributes += R"(,{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}})";
  if (session) attributes += R"(,{"key":"gen_ai.conversation.id","value":{"stringValue":")" + std::string(session) + "\"}}";
  attributes += "]";
  return R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + trace + R"(","spanId":")" + span_id +
         R"(","parentSpanId":")" + (parent ? parent : "") + R"(","name":")" + name + R"(","startTimeUnixNano":")" +
         nanos(start_s) + R"(","endTimeUnixNano":")" + nanos(start_s + 0.5) + R"(","attributes":)" + attributes +
         "}]}]}]}";
}

}  // namespace

TEST(OtlpRoute, SpansSentBeforeTheSpanNamingTheirSessionEndUpInThatSession) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .span_hold = std::chrono::milliseconds(0)});
  routes.start_writer();
  const std::string trace = "5bf92f3577b34da6a3ce929d0e0e4736";
  const char* root = "1000000000000001";
  // Two calls and a tool call exported (and committed) before the span naming the session ends.
  for (const auto& [span, name, at] : {std::tuple{"2000000000000001", "chat gpt-4o", 1.0},
                                       std::tuple{"2000000000000002", "chat gpt-4o", 2.0},
                                       std::tuple{"2000000000000003", "execute_tool", 3.0}}) {
    auto r = routes.post("/v1/traces", foreign_span(trace, span, root, name, at, nullptr), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.counters.inserted + routes.counters.merged >= 3; }));
  ASSERT_TRUE(routes.store.load_trace(trace)) << "stored under the trace id while no span named the session";
  auto r = routes.post("/v1/traces", foreign_span(trace, root, nullptr, "invoke_agent", 0.0, "conv-late"), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  r = routes.post("/v1/traces", foreign_span(trace, "2000000000000004", root, "chat gpt-4o", 4.0, nullptr), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  routes.drain();
  EXPECT_EQ(routes.store.session_ids(), std::vector<std::string>{"conv-late"});
  const auto stored = routes.store.load_trace("conv-late");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->event_history.size(), 5u) << "the agent span, three calls before it, one after";
  ASSERT_EQ(stored->session_time_steps.size(), 1u) << "the trace is one turn";
  EXPECT_EQ(stored->session_time_steps[0].events.size(), 5u);
  EXPECT_EQ(stored->created_at, synth_test::at_second(200.0)) << "the earliest start (the naming span's)";
  EXPECT_EQ(routes.counters.otlp_sessions_renamed.load(), 1u);
  const QueryResult stats = routes.store.query("SELECT num_events FROM session_stats ORDER BY session_id", {});
  ASSERT_EQ(stats.rows.size(), 1u) << "no aggregates left of the session under the trace id";
  EXPECT_EQ(stats.rows[0][0], Value(5));
}

TEST(OtlpRoute, TurnsOfAConversationSentInAnyOrderAreNumberedByTheirTime) {
  // GenAI instrumentations: each trace is a turn; its calls end, and are exported, before the
  // span naming the conversation. The later turn is sent first: the timesteps are numbered by
  // when they began, not by when they came, and each holds its own calls.
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .span_hold = std::chrono::milliseconds(0)});
  routes.start_writer();
  const std::string first = "1bf92f3577b34da6a3ce929d0e0e4736";
  const std::string second = "2bf92f3577b34da6a3ce929d0e0e4736";
  const auto send = [&](const std::string& body) {
    auto r = routes.post("/v1/traces", body, "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  };
  // Each request stored before the next is sent.
  std::uint64_t sent = 0;
  const auto stored_one_more = [&] {
    ++sent;
    ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.counters.inserted + routes.counters.merged >= sent; }));
  };
  send(foreign_span(second, "3000000000000002", "3000000000000001", "chat gpt-4o", 21.0, nullptr));
  stored_one_more();
  send(foreign_span(second, "3000000000000001", nullptr, "invoke_agent", 20.0, "conv-turns"));
  stored_one_more();
  send(foreign_span(first, "4000000000000002", "4000000000000001", "chat gpt-4o", 11.0, nullptr));
  stored_one_more();
  send(foreign_span(first, "4000000000000003", "4000000000000001", "chat gpt-4o", 12.0, nullptr));
  stored_one_more();
  send(foreign_span(first, "4000000000000001", nullptr, "invoke_agent", 10.0, "conv-turns"));
  routes.drain();
  EXPECT_EQ(routes.store.session_ids(), std::vector<std::string>{"conv-turns"});
  const auto stored = routes.store.load_trace("conv-turns");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->session_time_steps.size(), 2u);
  std::vector<SessionTimeStep> steps = stored->session_time_steps;  // as they came
  std::sort(steps.begin(), steps.end(), [](const auto& x, const auto& y) { return x.step_index < y.step_index; });
  const SessionTimeStep& earlier = steps[0];
  const SessionTimeStep& later = steps[1];
  EXPECT_EQ(earlier.step_id, first);
  EXPECT_EQ(earlier.step_index, 0);
  EXPECT_EQ(earlier.timestamp, synth_test::at_second(210.0)) << "the turn began with the span naming it";
  EXPECT_EQ(earlier.events.size(), 3u);
  EXPECT_EQ(later.step_id, second);
  EXPECT_EQ(later.step_index, 1);
  EXPECT_EQ(later.timestamp, synth_test::at_second(220.0));
  EXPECT_EQ(later.events.size(), 2u);
  const QueryResult rows = routes.store.query("SELECT step_id, step_index FROM session_timesteps ORDER BY step_index", {});
  ASSERT_EQ(rows.rows.size(), 2u);
  EXPECT_EQ(rows.rows[0][0], Value(first));
  EXPECT_EQ(rows.rows[1][0], Value(second)) << "the read API orders timesteps by step_index";
}

TEST(OtlpRoute, TheWriterStoresAnUnnamedPartQueuedAfterItsTraceWasNamedInTheNamedSession) {
  // A request mapped under the trace id on one HTTP thread may reach the queue after the request
  // naming the session (another thread): the writer sends it after the moved part.
  TempDir dir;
  ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  const std::string trace = "6bf92f3577b34da6a3ce929d0e0e4736";
  SessionTrace named = sample_session("conv-race", {.steps = 1});
  SessionTrace unnamed = sample_session(trace, {.steps = 1});
  unnamed.session_time_steps[0].step_id = named.session_time_steps[0].step_id;
  std::vector<IngestItem> items;
  items.push_back(IngestItem{named, OnExistingSession::merge, 1, nullptr, 0});
  items.back().absorbs = {trace};
  items.push_back(IngestItem{unnamed, OnExistingSession::merge, 1, nullptr, 0});
  items.back().unnamed = true;
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
  {
    StoreWriter writer(store, queue, counters, options);
    ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  EXPECT_EQ(store.session_ids(), std::vector<std::string>{"conv-race"});
  const auto stored = store.load_trace("conv-race");
  ASSERT_TRUE(stored);
  EXPECT_EQ(stored->event_history.size(), named.event_history.size() + unnamed.event_history.size());
  EXPECT_EQ(counters.otlp_sessions_renamed.load(), 0u) << "nothing was stored under the trace id to move";
}

TEST(OtlpRoute, UnnamedPartsTakenWithTheNamingPartGoStraightIntoItsSessionInOrder) {
  // Stored under the trace id by an earlier batch: an older part; then, taken together, a part
  // still unnamed and the part naming the session. The unnamed one goes straight into the named
  // session (nothing of it is stored under the trace id), after the older part moved there.
  TempDir dir;
  ServerOptions options{.db = dir.db()};
  DuckDBTraceManager store(options.db);
  IngestCounters counters;
  const std::string trace = "7bf92f3577b34da6a3ce929d0e0e4736";
  SessionTrace older = sample_session(trace, {.steps = 1});
  SessionTrace unnamed = sample_session(trace, {.steps = 1});
  unnamed.session_time_steps[0].step_id = "later";
  SessionTrace named = sample_session("conv-together", {.steps = 1});
  named.session_time_steps[0].step_id = "last";
  {
    IngestQueue queue(options.queue_sessions, options.queue_bytes);
    std::vector<IngestItem> items;
    items.push_back(IngestItem{older, OnExistingSession::merge, 1, nullptr, 0});
    items.back().unnamed = true;
    ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);
    StoreWriter writer(store, queue, counters, options);
    ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  ASSERT_TRUE(store.load_trace(trace));
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  std::vector<IngestItem> items;
  items.push_back(IngestItem{unnamed, OnExistingSession::merge, 1, nullptr, 0});
  items.back().unnamed = true;
  items.push_back(IngestItem{named, OnExistingSession::merge, 1, nullptr, 0});
  items.back().absorbs = {trace};
  ASSERT_EQ(queue.push(items), IngestQueue::Push::queued);  // taken by the writer in one pop
  {
    StoreWriter writer(store, queue, counters, options);
    ASSERT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  EXPECT_EQ(store.session_ids(), std::vector<std::string>{"conv-together"});
  const auto stored = store.load_trace("conv-together");
  ASSERT_TRUE(stored);
  std::vector<Event> expected = older.event_history;
  expected.insert(expected.end(), unnamed.event_history.begin(), unnamed.event_history.end());
  expected.insert(expected.end(), named.event_history.begin(), named.event_history.end());
  EXPECT_EQ(stored->event_history, expected) << "the parts in the order they came";
  ASSERT_EQ(stored->session_time_steps.size(), 3u);
  EXPECT_EQ(counters.otlp_sessions_renamed.load(), 1u) << "the older part was moved, once";
  EXPECT_EQ(counters.merged.load() + counters.inserted.load(), 3u);
}

TEST(OtlpRoute, JsonIsAnsweredInJsonWithPartialSuccess) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const std::string body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"traceId":"11111111111111111111111111111111","spanId":"1111111111111111","name":"chat",
     "attributes":[{"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}]},
    {"traceId":"11111111111111111111111111111111","name":"orphan"}]}]}]})";
  auto r = routes.post("/v1/traces", body, "application/json; charset=utf-8", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  const Value answer = Value::parse(r->body);
  EXPECT_EQ(answer["partialSuccess"]["rejectedSpans"], Value("1")) << r->body;
  EXPECT_NE(answer["partialSuccess"]["errorMessage"].as_string().find("has no span id"), std::string::npos);
  routes.drain();
  const auto stored = routes.store.load_trace("11111111111111111111111111111111");
  ASSERT_TRUE(stored);
  EXPECT_EQ(std::get<CAISEvent>(stored->event_history.at(0)).model_name, "gpt-4o");
}

TEST(OtlpRoute, ProtobufStringsThatAreNotUtf8AreRepairedRatherThanTheirSessionLost) {
  // Protobuf strings must be UTF-8, but an SDK may send a cut multibyte character. Each bad byte
  // becomes U+FFFD, as in the JSON encoding: the store used to refuse the span's whole session,
  // its good spans with it, after the request had been answered 200.
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  routes.start_writer();
  const Timestamp at = Timestamp(std::chrono::seconds(1'767'000'000));
  const auto span = [&](std::uint64_t id, std::string model) {
    SpanData s{.trace_id_high = 7, .trace_id_low = 7, .span_id = id, .name = "chat", .start = at, .end = at + std::chrono::seconds(1)};
    s.attributes = Value{{"gen_ai.operation.name", "chat"}, {"gen_ai.request.model", std::move(model)}, {"session.id", "utf8-\x03\x04"}};
    return s;
  };
  OtlpResource resource;
  resource.attributes = Value{{"service.name", "sv\x05\x06\x07"}};
  std::string body = protobuf_of({span(1, "gpt-4o"), span(2, "MODE\x01\x02")}, resource);
  // The placeholders, replaced in place by invalid bytes of the same length.
  const auto replace_all = [&](std::string_view from, std::string_view to) {
    for (std::size_t at_byte = body.find(from); at_byte != std::string::npos; at_byte = body.find(from, at_byte)) {
      body.replace(at_byte, from.size(), to);
    }
  };
  replace_all("\x01\x02", "\xC3\x28");
  replace_all("\x03\x04", "\xFF\xFE");
  replace_all("\x05\x06\x07", "\xE2\x82x");
  auto r = routes.post("/v1/traces", body, kProtobuf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  routes.drain();
  EXPECT_EQ(routes.counters.refused.load(), 0u);
  const auto stored = routes.store.load_trace("utf8-\uFFFD\uFFFD");
  ASSERT_TRUE(stored) << "the session was not stored";
  ASSERT_EQ(stored->event_history.size(), 2u);
  EXPECT_EQ(std::get<CAISEvent>(stored->event_history[0]).model_name, "gpt-4o");
  EXPECT_EQ(std::get<CAISEvent>(stored->event_history[1]).model_name, "MODE\uFFFD(");
  // Each bad byte, as the JSON writer does.
  EXPECT_EQ(std::get<CAISEvent>(stored->event_history[1]).system_instance_id, "sv\uFFFD\uFFFDx");
}

TEST(OtlpRoute, GenAiLogsAfterTheirStoredCallJoinItAndMetricsAreDropped) {
  TempDir dir;
  // No span waits for its records (serve --span-hold-ms 0): records after their span join the
  // stored event.
  Routes routes(ServerOptions{.db = dir.db(), .span_hold = std::chrono::milliseconds(0)});
  routes.start_writer();
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  auto r = routes.post("/v1/traces", R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + trace +
                                         R"(","spanId":"53995c3f42cd8ad8","name":"chat gpt-4o","attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
      {"key":"gen_ai.conversation.id","value":{"stringValue":"conv-logs"}},
      {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}]}]}]}]})",
                       "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // The content arrives as log records (as the official OpenAI instrumentations send it).
  r = routes.post("/v1/logs", R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[
      {"timeUnixNano":"1735689800000000000","traceId":")" + trace + R"(","spanId":"53995c3f42cd8ad8",
       "eventName":"gen_ai.user.message","body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"Hi?"}}]}}},
      {"timeUnixNano":"1735689800500000000","traceId":")" + trace + R"(","spanId":"53995c3f42cd8ad8",
       "attributes":[{"key":"event.name","value":{"stringValue":"gen_ai.choice"}}],
       "body":{"kvlistValue":{"values":[{"key":"message","value":{"kvlistValue":{"values":[
         {"key":"content","value":{"stringValue":"Hello."}}]}}}]}}},
      {"timeUnixNano":"1735689800600000000","body":{"stringValue":"GET /health 200"}},
      {"eventName":"gen_ai.user.message","body":{"stringValue":"no trace, no session"}}]}]}]})",
                  "application/json; charset=utf-8", true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  const Value answer = Value::parse(r->body);
  EXPECT_EQ(answer["partialSuccess"]["rejectedLogRecords"], Value("1")) << r->body;
  for (const char* path : {"/v1/logs", "/v1/metrics"}) {
    r = routes.post(path, std::string("\x0a\x00", 2), kProtobuf);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), kProtobuf);
    EXPECT_EQ(r->body, "");
  }
  r = routes.post("/v1/metrics", "{\"resourceMetrics\":[]}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "{}");
  routes.drain();
  EXPECT_EQ(routes.store.session_ids().size(), 1u);
  const auto stored = routes.store.load_trace("conv-logs");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->event_history.size(), 1u);
  EXPECT_TRUE(stored->message_history.empty());
  const auto& call = std::get<CAISEvent>(stored->event_history[0]);
  EXPECT_EQ(call.system_state_before["messages"], Value::parse(R"([{"role":"user","content":"Hi?"}])"));
  EXPECT_EQ(call.system_state_before["model"], Value("gpt-4o"));
  EXPECT_EQ(call.system_state_after["messages"], Value::parse(R"([{"role":"assistant","content":"Hello."}])"));
  ASSERT_EQ(stored->session_time_steps.size(), 1u) << "the trace's timestep";
  EXPECT_TRUE(stored->session_time_steps[0].step_messages.empty());
  EXPECT_EQ(routes.counters.otlp_logs_attached.load(), 2u);
  EXPECT_EQ(routes.counters.otlp_logs_messages.load(), 0u);
}

TEST(OtlpRoute, FaultsAnswer415And400And413) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .max_body_bytes = 4096});
  auto r = routes.post("/v1/traces", "resourceSpans", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_NE(r->body.find("application/x-protobuf or application/json"), std::string::npos) << r->body;

  r = routes.post("/v1/traces", std::string("\x0a\x05\x01", 3), kProtobuf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("malformed OTLP protobuf at byte 2 in ExportTraceServiceRequest"), std::string::npos) << r->body;

  r = routes.post("/v1/traces", "{\"resourceSpans\": {}}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("resourceSpans"), std::string::npos) << r->body;

  // Too large, also when only the decompressed body is (a small gzip bomb).
  r = routes.post("/v1/traces", std::string(8192, 'x'), kProtobuf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  r = routes.post("/v1/traces", std::string(std::size_t{16} << 20, '\0'), kProtobuf, true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(routes.queue.depth(), 0u);
}

// The OTLP specification: the body of every 4xx and 5xx answer is a google.rpc.Status
// { code = 1; message = 2 }, in the request's encoding (protobuf or JSON), with the request's
// Content-Type; SDKs show its message.
struct RpcStatus {
  std::int64_t code = -1;
  std::string message;
};

RpcStatus read_status(const httplib::Result& r) {
  RpcStatus s;
  const std::string type = r->get_header_value("Content-Type");
  if (type == "application/json") {
    const Value v = Value::parse(r->body);
    s.code = v["code"].as_int();
    s.message = v["message"].as_string();
    return s;
  }
  EXPECT_EQ(type, kProtobuf);
  const std::string& b = r->body;
  const auto varint = [&](std::size_t& i) {
    std::uint64_t v = 0;
    for (int shift = 0; i < b.size(); shift += 7) {
      const auto byte = static_cast<unsigned char>(b[i++]);
      v |= std::uint64_t{byte & 0x7Fu} << shift;
      if ((byte & 0x80) == 0) break;
    }
    return v;
  };
  for (std::size_t i = 0; i < b.size();) {
    const std::uint64_t key = varint(i);
    if (key == 0x08) {
      s.code = static_cast<std::int64_t>(varint(i));
    } else if (key == 0x12) {
      const std::size_t n = varint(i);
      s.message = b.substr(i, n);
      i += n;
    } else {
      ADD_FAILURE() << "unexpected field key " << key << " in a Status";
      break;
    }
  }
  return s;
}

TEST(OtlpRoute, FailuresAnswerAStatusInTheRequestsEncoding) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .max_body_bytes = 4096, .queue_sessions = 1});
  auto r = routes.post("/v1/traces", std::string("\x0a\x05\x01", 3), kProtobuf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  RpcStatus s = read_status(r);
  EXPECT_EQ(s.code, 3) << "INVALID_ARGUMENT";
  EXPECT_NE(s.message.find("malformed OTLP protobuf at byte 2"), std::string::npos) << s.message;
  // application/protobuf, which the route takes as protobuf, too (its errors came as JSON).
  r = routes.post("/v1/traces", std::string("\x0a\x05\x01", 3), "application/protobuf");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->get_header_value("Content-Type"), kProtobuf);
  EXPECT_EQ(read_status(r).code, 3);

  r = routes.post("/v1/traces", "{\"resourceSpans\": {}}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  s = read_status(r);
  EXPECT_EQ(s.code, 3);
  EXPECT_NE(s.message.find("resourceSpans"), std::string::npos) << s.message;

  r = routes.post("/v1/logs", std::string(8192, 'x'), kProtobuf);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(read_status(r).message.find("4096"), std::string::npos);

  // Neither encoding asked for: JSON.
  r = routes.post("/v1/traces", "resourceSpans", "text/plain");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 415);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  EXPECT_NE(read_status(r).message.find("application/x-protobuf or application/json"), std::string::npos);

  // Throttled: UNAVAILABLE, and still Retry-After.
  for (const char* id : {"a", "b"}) {
    const OtlpSpans spans = otlp_spans(sample_session(id, {.steps = 1}));
    r = routes.post("/v1/traces", protobuf_of(spans.spans, spans.resource), kProtobuf);
    ASSERT_TRUE(r);
  }
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(read_status(r).code, 14) << "UNAVAILABLE";
}

TEST(OtlpRoute, AFullQueueAnswers503WithRetryAfterThenTakesTheRequest) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .queue_sessions = 2, .queue_bytes = std::size_t{1} << 20});
  const auto send = [&](const std::string& id) {
    const OtlpSpans spans = otlp_spans(sample_session(id, {.steps = 1}));
    return routes.post("/v1/traces", protobuf_of(spans.spans, spans.resource), kProtobuf);
  };
  for (const char* id : {"a", "b"}) {
    auto r = send(id);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  auto r = send("c");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_EQ(routes.queue.depth(), 2u);
  routes.start_writer();
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.queue.depth() == 0; }));
  r = send("c");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  routes.drain();
  EXPECT_EQ(routes.store.session_ids().size(), 3u);
}

// A request refused with 503 leaves the held GenAI log records as they were: the client sends it
// again, and nothing is held twice or lost.
TEST(OtlpRoute, A503LeavesHeldLogRecordsAsTheyWere) {
  TempDir dir;
  // Two places: the held record's otlp_pending row takes one, the filler session the other.
  Routes routes(ServerOptions{.db = dir.db(), .queue_sessions = 2, .queue_bytes = std::size_t{1} << 20});
  const std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string other_trace = "5bf92f3577b34da6a3ce929d0e0e4737";
  const auto logs = [](const std::string& records) {
    return R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)" + records + "]}]}]}";
  };
  const std::string held = R"({"timeUnixNano":"1735689800000000000","traceId":")" + trace +
                           R"(","spanId":"53995c3f42cd8ad8","eventName":"gen_ai.user.message",)"
                           R"("body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"Hi?"}}]}}})";
  const std::string mixed = R"({"eventName":"gen_ai.user.message","body":{"stringValue":"stored at once"},)"
                            R"("attributes":[{"key":"session.id","value":{"stringValue":"no-trace"}}]},)"
                            R"({"traceId":")" + other_trace + R"(","spanId":"63995c3f42cd8ad9","eventName":"gen_ai.choice"})";
  const std::string spans = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":")" + trace +
                            R"(","spanId":"53995c3f42cd8ad8","name":"chat gpt-4o","attributes":[
      {"key":"gen_ai.operation.name","value":{"stringValue":"chat"}},
      {"key":"session.id","value":{"stringValue":"conv-503"}},
      {"key":"gen_ai.request.model","value":{"stringValue":"gpt-4o"}}]}]}]}]})";
  auto r = routes.post("/v1/logs", logs(held), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), 1u);
  const OtlpSpans filler = otlp_spans(sample_session("filler", {.steps = 1}));
  r = routes.post("/v1/traces", protobuf_of(filler.spans, filler.resource), kProtobuf);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  // The queue is full: the record to store at once cannot be, so the request's other one is not held.
  r = routes.post("/v1/logs", logs(mixed), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), 1u);
  // The spans are refused: their record goes back to wait for them.
  r = routes.post("/v1/traces", spans, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), 1u);
  // Due records that find the queue full wait for the next try too.
  EXPECT_FALSE(release_held_logs(routes.ctx, true));
  EXPECT_EQ(routes.ctx.log_hold->size(), 1u);

  routes.start_writer();
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.queue.depth() == 0; }));
  r = routes.post("/v1/traces", spans, "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), 0u);
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.queue.depth() == 0; }));
  r = routes.post("/v1/logs", logs(mixed), "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), 1u);
  // As at shutdown: what still waits is stored, under its trace id (no span of it came).
  ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return routes.queue.depth() == 0; }));
  EXPECT_TRUE(release_held_logs(routes.ctx, true));
  EXPECT_EQ(routes.ctx.log_hold->size(), 0u);
  routes.drain();
  const auto stored = routes.store.load_trace("conv-503");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->event_history.size(), 1u);
  EXPECT_TRUE(stored->message_history.empty());
  EXPECT_EQ(std::get<CAISEvent>(stored->event_history[0]).system_state_before["messages"],
            Value::parse(R"([{"role":"user","content":"Hi?"}])"));
  const auto once = routes.store.load_trace("no-trace");
  ASSERT_TRUE(once);
  EXPECT_EQ(once->message_history.size(), 1u) << "stored once, though sent twice";
  const auto lonely = routes.store.load_trace(other_trace);
  ASSERT_TRUE(lonely);
  ASSERT_EQ(lonely->message_history.size(), 1u);
  EXPECT_EQ(lonely->message_history[0].message_type, "gen_ai.choice");
  EXPECT_EQ(routes.counters.otlp_logs_attached.load(), 1u);
  EXPECT_EQ(routes.counters.otlp_logs_unmatched.load(), 1u);
}

// The hold's byte bound: the oldest records leave as messages to make room, and a record larger
// than the whole hold is stored at once.
TEST(OtlpRoute, TheLogHoldStaysInItsByteBound) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db(), .log_hold_bytes = 2000});
  routes.start_writer();
  const auto record = [](int i, const std::string& text) {
    return R"({"timeUnixNano":")" + std::to_string(1735689800000000000LL + i) +
           R"(","traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"53995c3f42cd8ad8","eventName":"gen_ai.user.message",)"
           R"("body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":")" + text + R"("}}]}}})";
  };
  std::string small;
  for (int i = 0; i < 6; ++i) small += (i ? "," : "") + record(i, "m" + std::to_string(i));
  auto r = routes.post("/v1/logs", R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)" + small + "]}]}]}", "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const std::size_t held = routes.ctx.log_hold->size();
  EXPECT_GE(held, 2u);
  EXPECT_LT(held, 6u) << "some left to stay within 2000 bytes";
  EXPECT_LE(routes.ctx.log_hold->bytes(), 2000u);
  EXPECT_EQ(routes.counters.otlp_logs_unmatched.load(), 6 - held);
  r = routes.post("/v1/logs", R"({"resourceLogs":[{"scopeLogs":[{"logRecords":[)" + record(9, std::string(4000, 'x')) + "]}]}]}",
                  "application/json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(routes.ctx.log_hold->size(), held) << "too large to hold: stored at once";
  routes.drain();
  EXPECT_EQ(routes.counters.otlp_logs_messages.load(), 6 - held + 1);
  const auto stored = routes.store.load_trace("4bf92f3577b34da6a3ce929d0e0e4736");
  ASSERT_TRUE(stored);
  ASSERT_EQ(stored->message_history.size(), 6 - held + 1);
  EXPECT_EQ(stored->message_history[0].content["body"]["content"], Value("m0")) << "the oldest left first";
}

// Two requests racing: a span request takes a held record and is queued before the request that
// brought the record (whose row it deletes). The record's row must then never be written: a
// restart would hold, and store, the record a second time.
TEST(OtlpRoute, APendingRowDeletedBeforeItsWriteIsNeverWritten) {
  TempDir dir;
  Routes routes(ServerOptions{.db = dir.db()});
  const auto carrier = [](std::vector<PendingRow> put, std::vector<std::int64_t> drop) {
    IngestItem item{SessionTrace{}, OnExistingSession::skip, 64, nullptr, 0};
    item.otlp = std::make_shared<OtlpWork>();
    item.otlp->no_session = true;
    item.otlp->put = std::move(put);
    item.otlp->drop = std::move(drop);
    return item;
  };
  const Value body{{"trace_id", "4bf92f3577b34da6a3ce929d0e0e4736"}, {"event_name", "gen_ai.user.message"}};
  std::vector<IngestItem> items;
  items.push_back(carrier({}, {42}));
  items.push_back(carrier({PendingRow{42, "log", unix_ms_now(), body}, PendingRow{43, "log", unix_ms_now(), body}}, {}));
  items.push_back(carrier({PendingRow{44, "span", unix_ms_now(), body}}, {}));
  items.push_back(carrier({}, {44}));
  ASSERT_EQ(routes.queue.push(items), IngestQueue::Push::queued);
  routes.start_writer();
  routes.drain();
  EXPECT_EQ(routes.store.query("SELECT id, kind FROM otlp_pending ORDER BY id").rows,
            (std::vector<std::vector<Value>>{{43, "log"}}));
  EXPECT_EQ(routes.counters.inserted + routes.counters.merged + routes.counters.skipped, 0u) << "no session counted";
}
