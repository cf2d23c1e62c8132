// OTLP ingest keeps what it acknowledged, against the real `synth-trace serve` killed outright
// (SIGKILL) and started again on the same file: /v1/traces and /v1/logs answer once the data is
// committed, and LLM call spans waiting for their log records and records waiting for their
// spans are written to the file (table otlp_pending) and waiting again after the restart.
#include <gtest/gtest.h>

#include <signal.h>

#include <thread>

#include "server/otlp_json.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::get_json;
using synth_test::ServeProcess;
using namespace synth_test::otlp_json;

namespace {

std::string trace_id(int n) { return trace_id_ending(n, 'c'); }

// The kill tests run with each answer that promises durability: after the journal (the default:
// the requests not committed before the kill are replayed at the restart), and after the commit.
class OtlpDurable : public ::testing::TestWithParam<const char*> {
 protected:
  std::vector<std::string> args(std::vector<std::string> more = {}) const {
    more.insert(more.end(), {"--otlp-ack", GetParam()});
    return more;
  }
  // How long what a request brought may take to be readable after its answer: none when it is
  // answered after its commit.
  std::chrono::milliseconds after_answer() const {
    return std::string(GetParam()) == "commit" ? std::chrono::milliseconds(0) : std::chrono::milliseconds(15000);
  }
};

}  // namespace

INSTANTIATE_TEST_SUITE_P(Ack, OtlpDurable, ::testing::Values("commit", "journal"),
                         [](const ::testing::TestParamInfo<const char*>& info) { return std::string(info.param); });

TEST_P(OtlpDurable, AcknowledgedSpansRecordsAndWaitingCallsSurviveASigkill) {
  TempDir dir;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 10;
  {
    ServeProcess serve(dir.db(), args({"--span-hold-ms", "60000"}));
    // A: a call with its content on the span, stored at once.
    post(serve, "/v1/traces", spans_body("conv-a", true, true, trace_id(1), input_messages("A?")));
    // B: a call without content waits for its records (60 s here); one comes and waits with it.
    post(serve, "/v1/traces", spans_body("conv-b", true, true, trace_id(2)));
    post(serve, "/v1/logs", logs_body({record("gen_ai.user.message", kv("content", "B?"), kChat, trace_id(2))}));
    // C: records whose spans have not come yet wait for them.
    post(serve, "/v1/logs",
         logs_body({record("gen_ai.user.message", kv("content", "C?"), kChat, trace_id(3)),
                    record("gen_ai.choice", kv("content", "C."), kChat, trace_id(3), "", 1)}));
    // D: concurrent exporters, each request answered once its sessions are committed.
    std::vector<std::thread> senders;
    for (int t = 0; t < kThreads; ++t) {
      senders.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          const int n = 100 + t * kPerThread + i;
          post(serve, "/v1/traces", spans_body("conv-d" + std::to_string(n), true, true, trace_id(n), input_messages("D?")));
        }
      });
    }
    for (std::thread& s : senders) s.join();
    const Value c = ingest_counts(serve);
    EXPECT_EQ(c["otlp_spans_waiting"], Value(1)) << c.dump();
    EXPECT_EQ(c["otlp_logs_held"], Value(3)) << c.dump();
    // Killed at once after the last answer: no chance to store anything more.
    ASSERT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  {
    ServeProcess serve(dir.db(), args({"--span-hold-ms", "300"}));
    // B's call waited longer than 300 ms since it came: stored at once, with its record.
    stored_session(serve, "conv-b", 2, 0);
    const Value b = chat_event(serve, "conv-b");
    EXPECT_EQ(b["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"B?"}])")) << b.dump();
    const Value a = chat_event(serve, "conv-a");
    EXPECT_EQ(a["system_state_before"]["messages"][0]["content"], Value("A?")) << a.dump();
    stored_session(serve, "conv-a", 2, 0, after_answer());
    for (int n = 100; n < 100 + kThreads * kPerThread; ++n) {
      stored_session(serve, "conv-d" + std::to_string(n), 2, 0, after_answer());
    }
    // C's records still wait (60 s from when they came): its spans join them.
    EXPECT_EQ(ingest_counts(serve)["otlp_logs_held"], Value(2));
    post(serve, "/v1/traces", spans_body("conv-c", true, true, trace_id(3)));
    stored_session(serve, "conv-c", 2, 0, after_answer());
    const Value chat = chat_event(serve, "conv-c");
    EXPECT_EQ(chat["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"C?"}])")) << chat.dump();
    EXPECT_EQ(chat["system_state_after"]["messages"], Value::parse(R"([{"role":"assistant","content":"C."}])"))
        << chat.dump();
    EXPECT_EQ(session_ids(serve).size(), static_cast<std::size_t>(3 + kThreads * kPerThread))
        << get_json(serve, "/api/v1/sessions").dump();
    const Value c = ingest_counts(serve);
    EXPECT_EQ(c["otlp_logs_attached"], Value(3)) << c.dump();
    EXPECT_EQ(c["otlp_logs_messages"], Value(0)) << c.dump();
    EXPECT_EQ(c["otlp_logs_held"], Value(0)) << c.dump();
    EXPECT_EQ(c["otlp_spans_waiting"], Value(0)) << c.dump();
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  // Every span once, every record in its call, nothing left waiting in the file.
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM events"), 2 * (3 + kThreads * kPerThread));
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM messages"), 0);
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
}

TEST_P(OtlpDurable, RecordsLeftWaitingPastTheirTimeAreStoredAtTheRestart) {
  TempDir dir;
  {
    ServeProcess serve(dir.db(), args({"--log-hold-ms", "2000"}));
    post(serve, "/v1/traces", spans_body("conv-e", true, false, trace_id(5)));
    // Its call never comes: the record waits 2 s, then is a message of the trace's session.
    post(serve, "/v1/logs", logs_body({record("gen_ai.user.message", kv("content", "E?"), kChat, trace_id(5))}));
    EXPECT_EQ(ingest_counts(serve)["otlp_logs_held"], Value(1));
    ASSERT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  ServeProcess serve(dir.db(), args({"--log-hold-ms", "2000"}));
  // Older than 2 s: stored at once, in the session its trace had, although this server never saw
  // a span of that trace.
  stored_session(serve, "conv-e", 1, 1, std::chrono::seconds(2));
  EXPECT_EQ(session_ids(serve), std::vector<std::string>{"conv-e"});
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
}

TEST_P(OtlpDurable, WhatWaitedIsStoredAtOnceWhenTheServerStartsWithTheHoldsOff) {
  TempDir dir;
  {
    ServeProcess serve(dir.db(), args({"--span-hold-ms", "60000"}));
    post(serve, "/v1/traces", spans_body("conv-f", true, true, trace_id(6)));
    post(serve, "/v1/logs", logs_body({record("gen_ai.user.message", kv("content", "F?"), kChat, trace_id(6))}));
    ASSERT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  ServeProcess serve(dir.db(), args({"--log-hold-ms", "0", "--span-hold-ms", "0"}));
  stored_session(serve, "conv-f", 2, 0, std::chrono::seconds(5));
  const Value chat = chat_event(serve, "conv-f");
  EXPECT_EQ(chat["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"F?"}])")) << chat.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
}

TEST_P(OtlpDurable, SpansAcknowledgedBeforeTheirSessionIsNamedSurviveASigkillAndJoinIt) {
  // A GenAI agent's chat span ends (and is exported) before the invoke_agent span naming the
  // conversation: answered once committed, it survives a kill, and the naming span sent after
  // the restart still brings both into one session. Sent twice (a retried export): stored once.
  TempDir dir;
  {
    ServeProcess serve(dir.db(), args());
    post(serve, "/v1/traces", spans_body("", false, true, trace_id(7), input_messages("G?")));
    post(serve, "/v1/traces", spans_body("", false, true, trace_id(7), input_messages("G?")));
    ASSERT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
  }
  {
    ServeProcess serve(dir.db(), args());
    post(serve, "/v1/traces", spans_body("conv-g", true, false, trace_id(7)));
    stored_session(serve, "conv-g", 2, 0);
    EXPECT_EQ(session_ids(serve), std::vector<std::string>{"conv-g"}) << "one conversation, one session";
    const Value chat = chat_event(serve, "conv-g");
    EXPECT_EQ(chat["system_state_before"]["messages"][0]["content"], Value("G?")) << chat.dump();
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM events"), 2);
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
}

TEST(OtlpDurableParts, SpansWhoseSessionIsNeverNamedAreStoredUnderTheirTraceIdAfterTheirWait) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-part-wait-ms", "1000"});
  post(serve, "/v1/traces", spans_body("", false, true, trace_id(8), input_messages("H?")));
  EXPECT_TRUE(session_ids(serve).empty()) << "waits for the span naming its session";
  EXPECT_EQ(ingest_counts(serve)["otlp_parts_waiting"], Value(1));
  stored_session(serve, trace_id(8), 1, 0, std::chrono::seconds(5));
  EXPECT_EQ(ingest_counts(serve)["otlp_parts_waiting"], Value(0));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
}

TEST(OtlpDurableParts, ATraceThatCameWithItsRootSpanAndNoSessionIsStoredUnderItsTraceIdAtOnce) {
  // Nothing will name its session later (an OpenTelemetry GenAI instrumentation without session
  // ids, a whole trace in one request): readers see it as soon as it is committed.
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-part-wait-ms", "60000"});
  post(serve, "/v1/traces", spans_body("", true, true, trace_id(9), input_messages("I?")));
  stored_session(serve, trace_id(9), 2, 0, std::chrono::seconds(5));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpAck, QueueAnswersOnceQueuedAndOtherValuesAreRefused) {
  TempDir dir;
  try {
    ServeProcess refused(dir.db(), {"--otlp-ack", "later"});
    ADD_FAILURE() << "--otlp-ack later was taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("--otlp-ack"), std::string::npos) << e.what();
  }
  ServeProcess serve(dir.db(), {"--otlp-ack", "queue"});
  post(serve, "/v1/traces", spans_body("conv-q", true, true, trace_id(7), input_messages("Q?")));
  stored_session(serve, "conv-q", 2, 0);
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}
