// A retried OTLP export is stored once, against the real `synth-trace serve` on a real file: an
// SDK sends a request again when it did not get the answer in time, although the server may have
// committed it already. The same spans (our exporter's `synth.*` spans and a foreign GenAI call
// with usage) posted twice, back to back, after a commit, across a restart, twice in one
// request, or concurrently, leave the session exactly as one post does; log records sent twice
// join their call once.
#include <gtest/gtest.h>

#include <thread>

#include "server/exports.hpp"
#include "server/fixtures.hpp"
#include "server/otlp_json.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth::tracing::testing::wait_until;
using synth_test::get_json;
using synth_test::ServeProcess;
using namespace synth_test::otlp_json;

namespace {

constexpr const char* kSession = "retried";

// The session's spans as our exporter sends them, and an LLM call of a GenAI instrumentation in
// a trace of its own (naming the session itself), with usage and cost; `copies` times over.
std::string request_body(int copies = 1) {
  const server::OtlpSpans ours = server::otlp_spans(synth_test::sample_session(kSession, {.steps = 3}));
  SpanData chat;
  chat.trace_id_high = 0x1111222233334444ULL;
  chat.trace_id_low = 0x5555666677778888ULL;
  chat.span_id = 0x53995c3f42cd8ad8ULL;
  chat.name = "chat gpt-4o";
  chat.kind = SpanKind::client;
  chat.start = synth_test::at_second(10);
  chat.end = synth_test::at_second(11);
  chat.attributes = Value{{"gen_ai.operation.name", "chat"},
                          {"gen_ai.request.model", "gpt-4o"},
                          {"gen_ai.provider.name", "openai"},
                          {"gen_ai.conversation.id", kSession},
                          {"gen_ai.usage.input_tokens", 12},
                          {"gen_ai.usage.output_tokens", 5},
                          {"gen_ai.usage.cost", 0.25},
                          {"gen_ai.input.messages", R"([{"role":"user","content":"hi"}])"}};
  std::vector<SpanData> spans;
  for (int c = 0; c < copies; ++c) {
    spans.insert(spans.end(), ours.spans.begin(), ours.spans.end());
    spans.push_back(chat);
  }
  return encode_otlp_protobuf(spans, ours.resource);
}

void post_protobuf(const ServeProcess& serve, const std::string& body) {
  const auto r = serve.client()->Post("/v1/traces", body, "application/x-protobuf");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, "") << "an empty ExportTraceServiceResponse: a retried success is a success";
}

// Every accepted session has its outcome (with --otlp-ack queue the answer comes before).
void wait_stored(const ServeProcess& serve) {
  Value c;
  ASSERT_TRUE(wait_until([&] {
    c = ingest_counts(serve);
    const auto n = [&](const char* k) { return c[k].as_int(); };
    return n("inserted") + n("merged") + n("skipped") + n("refused") + n("lost") == n("accepted");
  })) << c.dump();
}

// `v` without the keys that number rows and changes (ids, seq): what a reader sees of the session.
Value without_ids(const Value& v) {
  if (v.is_array()) {
    Value out = Value::array();
    for (const Value& x : v.as_array()) out.push_back(without_ids(x));
    return out;
  }
  if (!v.is_object()) return v;
  Value out = Value::object();
  for (const auto& [k, x] : v.as_object()) {
    if (k == "id" || k == "seq" || k.ends_with("_event_id") || k.ends_with("_message_id")) continue;
    out.set(k, without_ids(x));
  }
  return out;
}

// The session as the API shows it, once stored: aggregates (detail, list, stats), events, messages.
Value snapshot(const ServeProcess& serve) {
  wait_stored(serve);  // answered once journaled (the default), committed a moment later
  const std::string at = std::string("/api/v1/sessions/") + kSession;
  Value listed;
  const Value list = get_json(serve, "/api/v1/sessions");
  for (const Value& s : list["sessions"].as_array()) {
    if (s["session_id"] == Value(kSession)) listed = s;
  }
  Value out{{"detail", get_json(serve, at)},
            {"listed", listed},
            {"events", get_json(serve, at + "/events?limit=1000")},
            {"messages", get_json(serve, at + "/messages?limit=1000")},
            {"facets", get_json(serve, "/api/v1/facets")}};
  for (const char* metric : {"cost", "tokens", "calls", "errors", "reward"}) {
    const std::string query = "/api/v1/stats/timeseries?bucket=1d&group_by=none&from=0&metric=";
    out.set(metric, get_json(serve, query + metric));
  }
  return without_ids(out);
}

// The session after one post: what every retry must leave.
const Value& posted_once() {
  static const Value once = [] {
    TempDir dir;
    ServeProcess serve(dir.db());
    post_protobuf(serve, request_body());
    Value s = snapshot(serve);
    EXPECT_EQ(serve.stop(), 0) << serve.stderr_text();
    return s;
  }();
  return once;
}

void expect_posted_once(const ServeProcess& serve) {
  const Value& once = posted_once();
  ASSERT_EQ(once["detail"]["session"]["num_events"], Value(10)) << once.dump();  // 3 × 3 + the foreign call
  const Value now = snapshot(serve);
  for (const char* part :
       {"detail", "listed", "events", "messages", "facets", "cost", "tokens", "calls", "errors", "reward"}) {
    EXPECT_TRUE(now[part] == once[part]) << part << ": " << now[part].dump() << "\nonce: " << once[part].dump();
  }
}

}  // namespace

TEST(OtlpRetry, TheSameRequestTwiceBackToBackIsStoredOnce) {
  TempDir dir;
  // Answered once queued: the second request reaches the writer while the first may still be in
  // its open batch.
  ServeProcess serve(dir.db(), {"--otlp-ack", "queue", "--commit-interval-ms", "2000"});
  const std::string body = request_body();
  post_protobuf(serve, body);
  post_protobuf(serve, body);
  wait_stored(serve);
  expect_posted_once(serve);
  const Value c = ingest_counts(serve);
  EXPECT_EQ(c["otlp_duplicate_spans"], Value(5)) << c.dump();  // 4 of ours + the foreign call
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpRetry, TheSameRequestAfterItsCommitIsStoredOnce) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-ack", "commit"});
  const std::string body = request_body();
  post_protobuf(serve, body);  // answered once committed
  post_protobuf(serve, body);
  expect_posted_once(serve);
  EXPECT_EQ(ingest_counts(serve)["otlp_duplicate_spans"], Value(5));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpRetry, TheSameRequestAfterARestartIsStoredOnce) {
  TempDir dir;
  const std::string body = request_body();
  {
    ServeProcess serve(dir.db(), {"--otlp-ack", "commit"});
    post_protobuf(serve, body);
    ASSERT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);  // acknowledged: committed
  }
  ServeProcess serve(dir.db(), {"--otlp-ack", "commit"});
  post_protobuf(serve, body);
  expect_posted_once(serve);
  EXPECT_EQ(ingest_counts(serve)["otlp_duplicate_spans"], Value(5));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM events"), 10);
}

TEST(OtlpRetry, SpansTwiceInOneRequestAreStoredOnce) {
  TempDir dir;
  ServeProcess serve(dir.db());
  post_protobuf(serve, request_body(2));
  expect_posted_once(serve);
  EXPECT_EQ(ingest_counts(serve)["otlp_duplicate_spans"], Value(5));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpRetry, ConcurrentRetriesAreStoredOnce) {
  TempDir dir;
  ServeProcess serve(dir.db());
  const std::string body = request_body();
  std::vector<std::thread> senders;
  for (int t = 0; t < 4; ++t) senders.emplace_back([&] { post_protobuf(serve, body); });
  for (std::thread& s : senders) s.join();
  expect_posted_once(serve);
  EXPECT_EQ(ingest_counts(serve)["otlp_duplicate_spans"], Value(15));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

namespace {

const std::vector<std::string> kRecords = {
    record("gen_ai.user.message", kv("content", "Weather?"), kChat),
    record("gen_ai.choice", kv("content", "Sunny."), kChat, kTrace, "", 1),
};

// The LLM call after its spans and `logs_posts` posts of its records, in that order (`logs_first`:
// the records before the spans, waiting for them).
Value call_after(int logs_posts, bool logs_first) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--span-hold-ms", "0"});
  const auto logs = [&] {
    for (int i = 0; i < logs_posts; ++i) post(serve, "/v1/logs", logs_body(kRecords));
  };
  if (logs_first) logs();
  post(serve, "/v1/traces", spans_body("conv-logs", true, true));
  if (!logs_first) logs();
  stored_session(serve, "conv-logs", 2, 0);
  Value chat = chat_event(serve, "conv-logs");
  const Value c = ingest_counts(serve);
  EXPECT_EQ(c["otlp_logs_attached"], Value(2)) << c.dump();
  EXPECT_EQ(c["otlp_logs_messages"], Value(0)) << c.dump();
  EXPECT_EQ(c["otlp_duplicate_log_records"], Value(2 * (logs_posts - 1))) << c.dump();
  EXPECT_EQ(serve.stop(), 0) << serve.stderr_text();
  return without_ids(chat);
}

}  // namespace

TEST(OtlpRetry, LogRecordsSentTwiceAfterTheirStoredCallJoinItOnce) {
  const Value once = call_after(1, false);
  ASSERT_EQ(once["system_state_after"]["messages"][0]["content"], Value("Sunny.")) << once.dump();
  const Value twice = call_after(2, false);
  EXPECT_TRUE(twice == once) << twice.dump() << "\nonce: " << once.dump();
}

TEST(OtlpRetry, LogRecordsSentTwiceBeforeTheirCallJoinItOnce) {
  const Value once = call_after(1, true);
  ASSERT_EQ(once["system_state_after"]["messages"][0]["content"], Value("Sunny.")) << once.dump();
  const Value twice = call_after(2, true);
  EXPECT_TRUE(twice == once) << twice.dump() << "\nonce: " << once.dump();
}
