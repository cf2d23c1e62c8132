// POST /v1/logs against the real `synth-trace serve`: GenAI log records (prompt and completion
// content) that arrive before their spans wait for them and join their LLM call event; records
// whose span never comes are stored as messages of their trace's session on timeout, when the
// hold is full, and at shutdown (nothing lost, counted in /api/v1/health).
#include <gtest/gtest.h>

#include <thread>

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

TEST(OtlpLogs, RecordsBeforeTheirSpansJoinTheLlmCallEventOfTheRightSession) {
  TempDir dir;
  ServeProcess serve(dir.db());
  // The content first, in two requests (as a log processor with a shorter delay sends it), then
  // the chat span in a request of its own, then the turn span that names the session.
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.system.message", kv("content", "You answer about the weather."), kChat),
                  record("gen_ai.user.message", kv("content", "Weather in Paris?"), kChat, kTrace, "", 1)}));
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.choice",
                         R"({"kvlistValue":{"values":[{"key":"index","value":{"intValue":"0"}},)"
                         R"({"key":"finish_reason","value":{"stringValue":"stop"}},{"key":"message","value":)" +
                             kv("content", "Sunny.") + "}]}}",
                         kChat, kTrace, "", 2),
                  record("gen_ai.evaluation.result", kv("label", "good"), kChat, kTrace, "", 3)}));
  EXPECT_EQ(ingest_counts(serve)["otlp_logs_held"], Value(4));
  post(serve, "/v1/traces", spans_body("conv-held", true, true));

  stored_session(serve, "conv-held", 2, 0);
  const Value chat = chat_event(serve, "conv-held");
  EXPECT_EQ(chat["system_state_before"]["messages"],
            Value::parse(R"([{"role":"system","content":"You answer about the weather."},
                             {"role":"user","content":"Weather in Paris?"}])"))
      << chat.dump();
  EXPECT_EQ(chat["system_state_before"]["model"], Value("gpt-4o"));
  EXPECT_EQ(chat["system_state_after"]["messages"],
            Value::parse(R"([{"role":"assistant","content":"Sunny.","finish_reason":"stop"}])"))
      << chat.dump();
  EXPECT_EQ(chat["system_state_after"]["finish_reason"], Value("stop"));
  EXPECT_EQ(chat["prompt_tokens"].as_int(), 12);
  // A GenAI event that is no content is kept with the call, as span events are.
  const Value& kept = chat["metadata"]["span_events"];
  ASSERT_EQ(kept.size(), 1u) << chat.dump();
  EXPECT_EQ(kept[0]["name"], Value("gen_ai.evaluation.result"));
  EXPECT_EQ(kept[0]["attributes"]["body"]["label"], Value("good"));

  EXPECT_EQ(session_ids(serve), std::vector<std::string>{"conv-held"}) << "no session named after the trace id";
  const Value c = ingest_counts(serve);
  EXPECT_EQ(c["otlp_log_records"], Value(4)) << c.dump();
  EXPECT_EQ(c["otlp_logs_attached"], Value(4)) << c.dump();
  EXPECT_EQ(c["otlp_logs_messages"], Value(0)) << c.dump();
  EXPECT_EQ(c["otlp_logs_held"], Value(0)) << c.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpLogs, OperationDetailsRecordsFillWhatTheSpanLacksAndTheSpansOwnContentWins) {
  TempDir dir;
  ServeProcess serve(dir.db());
  const std::string input = R"([{\"role\":\"user\",\"parts\":[{\"type\":\"text\",\"content\":\"Hi?\"}]}])";
  const std::string output =
      R"([{\"role\":\"assistant\",\"parts\":[{\"type\":\"text\",\"content\":\"Hello.\"}],\"finish_reason\":\"stop\"}])";
  // Trace 1: the span has no content; the operation details record brings it (newer GenAI
  // conventions). Trace 2: the span has its own input; the record's input is kept beside it.
  const std::string other = "5bf92f3577b34da6a3ce929d0e0e4737";
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.client.inference.operation.details", "{}", kChat, kTrace,
                         str("gen_ai.input.messages", input) + "," + str("gen_ai.output.messages", output)),
                  record("gen_ai.user.message", kv("content", "from the log"), kChat, other)}));
  post(serve, "/v1/traces", spans_body("conv-details", true, true));
  post(serve, "/v1/traces",
       spans_body("conv-own", true, true, other,
                  "," + str("gen_ai.input.messages", R"([{\"role\":\"user\",\"content\":\"from the span\"}])")));

  stored_session(serve, "conv-details", 2, 0);
  const Value details = chat_event(serve, "conv-details");
  EXPECT_EQ(details["system_state_before"]["messages"][0]["content"], Value("Hi?")) << details.dump();
  EXPECT_EQ(details["system_state_after"]["messages"][0]["content"], Value("Hello.")) << details.dump();
  stored_session(serve, "conv-own", 2, 0);
  const Value own = chat_event(serve, "conv-own");
  ASSERT_EQ(own["system_state_before"]["messages"].size(), 1u) << own.dump();
  EXPECT_EQ(own["system_state_before"]["messages"][0]["content"], Value("from the span")) << own.dump();
  EXPECT_EQ(own["metadata"]["span_events"][0]["name"], Value("gen_ai.user.message")) << own.dump();
  EXPECT_EQ(own["metadata"]["span_events"][0]["attributes"]["body"]["content"], Value("from the log")) << own.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpLogs, RecordsAfterTheirCallWasStoredJoinTheStoredEventAtOnce) {
  TempDir dir;
  // The default hold (60 s): these must not wait for it. Answered after the commit, for the
  // reads right after each answer.
  ServeProcess serve(dir.db(), {"--otlp-ack", "commit"});
  post(serve, "/v1/traces", spans_body("conv-late", true, true));
  // Stored (committed) before any record comes: the call waited for its records in vain.
  stored_session(serve, "conv-late", 2, 0);
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.user.message", kv("content", "Late?"), kChat),
                  record("gen_ai.user.message", kv("content", "no span"), "")}));
  // Answered once committed: the record is in the stored call's content, the one without a span
  // id (no event to join) a message of the session.
  const Value detail = stored_session(serve, "conv-late", 2, 1, std::chrono::seconds(0));
  const Value chat = chat_event(serve, "conv-late");
  EXPECT_EQ(chat["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"Late?"}])")) << chat.dump();
  EXPECT_EQ(chat["system_state_before"]["model"], Value("gpt-4o")) << "the rest of the event is kept: " << chat.dump();
  EXPECT_EQ(chat["prompt_tokens"].as_int(), 12) << chat.dump();
  const Value messages = get_json(serve, "/api/v1/sessions/conv-late/messages");
  ASSERT_EQ(messages["messages"].size(), 1u) << messages.dump();
  EXPECT_EQ(messages["messages"][0]["content"]["body"]["content"], Value("no span")) << messages.dump();
  // A later record of the same call: its content the event has now, so kept beside it.
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.choice", R"({"kvlistValue":{"values":[{"key":"message","value":)" + kv("content", "Yes.") + "}]}}",
                         kChat, kTrace, "", 1),
                  record("gen_ai.user.message", kv("content", "Again?"), kChat, kTrace, "", 2)}));
  const Value again = chat_event(serve, "conv-late");
  EXPECT_EQ(again["system_state_after"]["messages"], Value::parse(R"([{"role":"assistant","content":"Yes."}])")) << again.dump();
  ASSERT_EQ(again["metadata"]["span_events"].size(), 1u) << again.dump();
  EXPECT_EQ(again["metadata"]["span_events"][0]["attributes"]["body"]["content"], Value("Again?")) << again.dump();
  EXPECT_EQ(session_ids(serve), std::vector<std::string>{"conv-late"});
  const Value c = ingest_counts(serve);
  EXPECT_EQ(c["otlp_log_records"], Value(4)) << c.dump();
  EXPECT_EQ(c["otlp_logs_attached"], Value(3)) << c.dump();
  EXPECT_EQ(c["otlp_logs_messages"], Value(1)) << c.dump();
  EXPECT_EQ(get_json(serve, "/api/v1/sessions/conv-late")["session"]["num_messages"], Value(1));
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpLogs, RecordsWhoseSpanNeverComesAreStoredInTheirTracesSessionOnTimeout) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--log-hold-ms", "300"});
  const std::string lonely = "6bf92f3577b34da6a3ce929d0e0e4738";
  post(serve, "/v1/logs",
       logs_body({record("gen_ai.user.message", kv("content", "Anyone?"), kChat),
                  record("gen_ai.user.message", kv("content", "no span yet"), ""),
                  record("gen_ai.user.message", kv("content", "nobody"), kChat, lonely)}));
  // The turn span names the session but the chat span never comes: the record without a span id
  // leaves with the turn span; the chat's waits, then joins the session as a message.
  post(serve, "/v1/traces", spans_body("conv-timeout", true, false));
  stored_session(serve, "conv-timeout", 1, 2);
  // A trace no span of which ever came: its trace id names the session, as for spans.
  stored_session(serve, lonely, 0, 1);
  EXPECT_EQ(session_ids(serve), (std::vector<std::string>{lonely, "conv-timeout"}));
  const Value c = ingest_counts(serve);
  EXPECT_EQ(c["otlp_logs_messages"], Value(3)) << c.dump();
  EXPECT_EQ(c["otlp_logs_unmatched"], Value(2)) << c.dump();
  EXPECT_EQ(c["otlp_logs_held"], Value(0)) << c.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpLogs, AFullHoldLetsTheOldestGoAsMessagesAndShutdownStoresTheRest) {
  TempDir dir;
  {
    ServeProcess serve(dir.db(), {"--log-hold-records", "2"});
    post(serve, "/v1/logs",
         logs_body({record("gen_ai.user.message", kv("content", "first"), kChat),
                    record("gen_ai.user.message", kv("content", "second"), kChat, kTrace, "", 1),
                    record("gen_ai.user.message", kv("content", "third"), kChat, kTrace, "", 2)}));
    stored_session(serve, kTrace, 0, 1);
    const Value c = ingest_counts(serve);
    EXPECT_EQ(c["otlp_logs_held"], Value(2)) << c.dump();
    EXPECT_EQ(c["otlp_logs_unmatched"], Value(1)) << c.dump();
    // Stopped while two records wait (the hold's 60 s are far): they are stored, not lost.
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  DuckDBTraceManager store(dir.db());
  const auto stored = store.load_trace(kTrace);
  ASSERT_TRUE(stored);
  std::vector<std::string> texts;
  for (const auto& m : stored->message_history) texts.push_back(m.content["body"]["content"].as_string());
  EXPECT_EQ(texts, (std::vector<std::string>{"first", "second", "third"}));
}

TEST(OtlpLogs, RecordsAndSpansSentConcurrentlyAreEachStoredOnceInTheirSession) {
  TempDir dir;
  ServeProcess serve(dir.db());
  constexpr int kTraces = 40;
  const auto trace_of = [](int i) {
    const std::string n = std::to_string(1000 + i);
    return std::string(28, 'a') + n;
  };
  // Two clients at once, as an SDK's log and span exporters are: each record meets its span
  // whichever comes first.
  std::thread logs([&] {
    for (int i = 0; i < kTraces; ++i) {
      post(serve, "/v1/logs",
           logs_body({record("gen_ai.user.message", kv("content", "q" + std::to_string(i)), kChat, trace_of(i)),
                      record("gen_ai.choice", kv("content", "a" + std::to_string(i)), kChat, trace_of(i), "", 1)}));
    }
  });
  std::thread spans([&] {
    for (int i = kTraces - 1; i >= 0; --i) post(serve, "/v1/traces", spans_body("conv-" + std::to_string(i), true, true, trace_of(i)));
  });
  logs.join();
  spans.join();
  Value c;
  ASSERT_TRUE(wait_until([&] {
    c = ingest_counts(serve);
    return c["otlp_logs_attached"].as_int() + c["otlp_logs_messages"].as_int() == 2 * kTraces;
  })) << c.dump();
  EXPECT_EQ(c["otlp_logs_held"], Value(0)) << "none waits: each record's span came";
  EXPECT_EQ(c["otlp_logs_unmatched"], Value(0)) << c.dump();
  // Each session: its two spans, and each record either in its call or one of its messages.
  std::int64_t messages = 0;
  for (int i = 0; i < kTraces; ++i) {
    const std::string id = "conv-" + std::to_string(i);
    std::int64_t attached = -1, loose = -1;
    EXPECT_TRUE(wait_until([&] {
      const auto r = serve.client()->Get("/api/v1/sessions/" + id);
      if (!r || r->status != 200 || Value::parse(r->body)["session"]["num_events"].as_int() != 2) return false;
      const Value chat = chat_event(serve, id);
      attached = static_cast<std::int64_t>(chat["system_state_before"]["messages"].size() +
                                           chat["system_state_after"]["messages"].size());
      loose = Value::parse(r->body)["session"]["num_messages"].as_int();
      return attached + loose == 2;
    })) << id << ": " << attached << " attached, " << loose << " messages";
    messages += loose;
  }
  EXPECT_EQ(messages, c["otlp_logs_messages"].as_int());
  EXPECT_EQ(session_ids(serve).size(), static_cast<std::size_t>(kTraces)) << "no session named after a trace id";
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(OtlpLogs, AnLlmCallWithoutContentWaitsBrieflyForRecordsSentAfterIt) {
  TempDir dir;
  {
    ServeProcess serve(dir.db(), {"--span-hold-ms", "3000"});
    // The spans first (an SDK flushing its tracer provider first): the chat span has no content
    // and no record waits for it, so it waits for its records; the turn span is stored at once.
    post(serve, "/v1/traces", spans_body("conv-wait", true, true));
    EXPECT_EQ(ingest_counts(serve)["otlp_spans_waiting"], Value(1));
    stored_session(serve, "conv-wait", 1, 0);
    post(serve, "/v1/logs",
         logs_body({record("gen_ai.user.message", kv("content", "Weather?"), kChat),
                    record("gen_ai.choice", R"({"kvlistValue":{"values":[{"key":"message","value":)" + kv("content", "Sunny.") + "}]}}",
                           kChat, kTrace, "", 1)}));
    stored_session(serve, "conv-wait", 2, 0);
    const Value chat = chat_event(serve, "conv-wait");
    EXPECT_EQ(chat["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"Weather?"}])")) << chat.dump();
    EXPECT_EQ(chat["system_state_after"]["messages"], Value::parse(R"([{"role":"assistant","content":"Sunny."}])")) << chat.dump();
    const Value c = ingest_counts(serve);
    EXPECT_EQ(c["otlp_logs_attached"], Value(2)) << c.dump();
    EXPECT_EQ(c["otlp_spans_waiting"], Value(0)) << c.dump();
    // A call still waiting when the server stops is stored, not lost.
    post(serve, "/v1/traces", spans_body("conv-stop", true, true, "7bf92f3577b34da6a3ce929d0e0e4739"));
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  DuckDBTraceManager store(dir.db());
  const auto stopped = store.load_trace("conv-stop");
  ASSERT_TRUE(stopped);
  EXPECT_EQ(stopped->event_history.size(), 2u);
}
