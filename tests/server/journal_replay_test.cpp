// What a server killed after journaling requests and before committing them left in its journal
// is stored by the next real `synth-trace serve` on the same file, whatever its --otlp-ack, before
// any new request (the CLI reading the file meanwhile says they are not shown yet); a request
// replayed although it was committed just before the kill is stored once; a clean stop leaves no
// journal behind. Sessions posted to /api/v1/sessions without ?wait=commit are journaled alike.
#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>
#include <thread>

#include "server/fixtures.hpp"
#include "server/journal.hpp"
#include "server/pending.hpp"
#include "server/otlp_json.hpp"
#include "server/routes.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

using namespace synth::tracing;
using synth::tracing::server::IngestJournal;
using synth::tracing::testing::TempDir;
using synth_test::get_json;
using synth_test::ServeProcess;
using namespace synth_test::otlp_json;

namespace {

std::string trace_id(int n) { return trace_id_ending(n, 'e'); }

// Leaves `requests` in the journal of `db` as a server killed before their commit does.
void leave_in_journal(const std::filesystem::path& db,
                      const std::vector<std::pair<IngestJournal::Route, std::string>>& requests) {
  IngestJournal journal(IngestJournal::folder_of(db));
  for (const auto& [route, body] : requests) journal.sync(journal.write(route, true, body, server::unix_ms_now()));
}

// A request of a client sending while the server is killed: the session it brings, where it goes.
struct SentRequest {
  std::string session;
  std::string path;
  std::string body;
  std::string content_type = "application/json";
};

// What acknowledged_and_stored_across_a_kill saw.
struct AcrossAKill {
  std::vector<std::string> acknowledged;  // sessions of the requests answered 200
  std::vector<std::string> stored;        // after the restart, sorted
  bool replayed = false;                  // the restart stored requests left in the journal
};

// Four clients send `request(client, n)` in turn until the server on `db` is killed outright 700 ms
// in; then a server started again on the file replays its journal and stops. A 503 promised nothing.
AcrossAKill acknowledged_and_stored_across_a_kill(const std::filesystem::path& db,
                                                  const std::function<SentRequest(int, int)>& request) {
  constexpr int kSenders = 4;
  std::mutex mutex;
  std::vector<std::string> acknowledged;
  {
    ServeProcess serve(db);
    std::atomic<bool> killed{false};
    std::vector<std::thread> senders;
    for (int t = 0; t < kSenders; ++t) {
      senders.emplace_back([&, t] {
        auto client = serve.client();
        for (int i = 0; i < 100000 && !killed; ++i) {
          const SentRequest sent = request(t, i);
          const auto r = client->Post(sent.path, sent.body, sent.content_type);
          if (!r) break;                   // killed
          if (r->status != 200) continue;  // refused (503): nothing was promised
          std::lock_guard lock(mutex);
          acknowledged.push_back(sent.session);
        }
      });
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(700));
    killed = true;
    EXPECT_EQ(serve.stop(SIGKILL), 128 + SIGKILL);
    for (std::thread& s : senders) s.join();
  }
  AcrossAKill seen{.acknowledged = std::move(acknowledged)};
  {
    ServeProcess serve(db);                               // replays before it answers
    EXPECT_EQ(serve.stop(), 0) << serve.stderr_text();  // and stores what it took
    seen.replayed = serve.stderr_text().find("requests acknowledged from") != std::string::npos;
  }
  seen.stored = DuckDBTraceManager(db).session_ids();
  std::sort(seen.stored.begin(), seen.stored.end());
  return seen;
}

}  // namespace

TEST(JournalReplay, RequestsLeftInTheJournalAreStoredAtTheNextStartWhateverItsAck) {
  for (const char* ack : {"journal", "commit", "queue"}) {
    SCOPED_TRACE(ack);
    TempDir dir;
    { DuckDBTraceManager created(dir.db()); }  // the file the killed server had
    // A call without content waiting for its record, the record, and a whole conversation.
    leave_in_journal(dir.db(),
                     {{IngestJournal::Route::otlp_traces, spans_body("conv-r", true, true, trace_id(1))},
                      {IngestJournal::Route::otlp_logs,
                       logs_body({record("gen_ai.user.message", kv("content", "R?"), kChat, trace_id(1))})},
                      {IngestJournal::Route::otlp_traces,
                       spans_body("conv-s", true, true, trace_id(2), input_messages("S?"))}});
    // Read without a server: the CLI says what it cannot show yet.
    const auto listed = synth::tracing::testing::run_command(std::string(SYNTH_TRACE_BINARY) + " --db " +
                                                             dir.db().string() + " sessions");
    EXPECT_EQ(listed.exit_code, 0) << listed.output;
    EXPECT_NE(listed.output.find("holds requests a synth-trace serve acknowledged"), std::string::npos)
        << listed.output;
    {
      ServeProcess serve(dir.db(), {"--otlp-ack", ack});
      stored_session(serve, "conv-s", 2, 0);
      stored_session(serve, "conv-r", 2, 0);
      const Value chat = chat_event(serve, "conv-r");
      EXPECT_EQ(chat["system_state_before"]["messages"], Value::parse(R"([{"role":"user","content":"R?"}])"))
          << chat.dump();
      EXPECT_NE(serve.stderr_text().find("3 requests acknowledged"), std::string::npos) << serve.stderr_text();
      ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
    }
    EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db()))) << "all of it committed";
    EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM events"), 4);
  }
}

TEST(JournalReplay, ARequestReplayedAfterItsCommitIsStoredOnce) {
  TempDir dir;
  const std::string body = spans_body("conv-t", true, true, trace_id(3), "," + str("gen_ai.system", "openai"));
  {
    ServeProcess serve(dir.db(), {"--otlp-ack", "journal"});
    post(serve, "/v1/traces", body);
    stored_session(serve, "conv-t", 2, 0);
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db())));
  // Killed between the commit and the done record: the request is still in the journal.
  leave_in_journal(dir.db(), {{IngestJournal::Route::otlp_traces, body}});
  {
    ServeProcess serve(dir.db(), {"--otlp-ack", "journal"});
    EXPECT_TRUE(synth::tracing::testing::wait_until(
        [&] { return ingest_counts(serve)["otlp_duplicate_spans"] == Value(2); }, std::chrono::seconds(10)))
        << ingest_counts(serve).dump();
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM events"), 2);
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM session_traces"), 1);
}

TEST(JournalReplay, JournalAckAnswersOnceJournaledAndAcceptsTheUsualRequests) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-ack", "journal"});
  // Malformed: 400, and nothing journaled.
  const auto bad = serve.client()->Post("/v1/traces", "{\"resourceSpans\":[", "application/json");
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400) << bad->body;
  post(serve, "/v1/traces", spans_body("conv-u", true, true, trace_id(4)));
  post(serve, "/v1/logs", logs_body({record("gen_ai.user.message", kv("content", "U?"), kChat, trace_id(4))}));
  stored_session(serve, "conv-u", 2, 0);
  const Value health = get_json(serve, "/api/v1/health");
  EXPECT_TRUE(synth::tracing::testing::wait_until(
      [&] { return get_json(serve, "/api/v1/health")["queue"]["journal_waiting"] == Value(0); },
      std::chrono::seconds(10)))
      << health.dump();
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db())));
}

TEST(JournalReplay, EveryRequestAcknowledgedBeforeAKillMidIngestIsStoredOnce) {
  // Exporters keep sending while the server is killed outright: whatever was answered 200 is in
  // the file after the restart, and no span is stored twice (a request replayed after its commit,
  // or sent again by its client, is stored once).
  TempDir dir;
  const auto [acknowledged, stored, replayed] = acknowledged_and_stored_across_a_kill(dir.db(), [](int t, int i) {
    const std::string session = "conv-k" + std::to_string(t) + "-" + std::to_string(i);
    return SentRequest{session, "/v1/traces",
                       spans_body(session, true, true, trace_id(1000 + t * 100000 + i), input_messages("K?"))};
  });
  ASSERT_GT(acknowledged.size(), 20u) << "the senders got going before the kill";
  for (const std::string& session : acknowledged) {
    EXPECT_TRUE(std::binary_search(stored.begin(), stored.end(), session)) << session << " was acknowledged";
  }
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM (SELECT session_id FROM events GROUP BY session_id "
                                 "HAVING COUNT(*) <> 2)"),
            0)
      << "every session has its two spans, once";
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM (SELECT session_id, span_id FROM events WHERE span_id IS NOT "
                                 "NULL GROUP BY ALL HAVING COUNT(*) > 1)"),
            0);
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM otlp_pending"), 0);
  EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db())));
}

TEST(JournalReplay, ARecordReplayedAfterARestartGoesToTheSessionItsTraceHasInTheFile) {
  // The server that took the record knew its trace's session; the one replaying it learns it from
  // the stored spans, rather than storing the record under the trace id.
  TempDir dir;
  {
    ServeProcess serve(dir.db(), {"--otlp-ack", "journal"});
    post(serve, "/v1/traces", spans_body("conv-v", true, false, trace_id(5)));
    stored_session(serve, "conv-v", 1, 0);
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  }
  {
    // Taken 3 s ago by a server killed before its commit; its span never comes.
    IngestJournal journal(IngestJournal::folder_of(dir.db()));
    journal.sync(journal.write(IngestJournal::Route::otlp_logs, true,
                               logs_body({record("gen_ai.user.message", kv("content", "V?"), kChat, trace_id(5))}),
                               server::unix_ms_now() - 3000));
  }
  ServeProcess serve(dir.db(), {"--otlp-ack", "journal", "--log-hold-ms", "2000"});
  stored_session(serve, "conv-v", 1, 1, std::chrono::seconds(5));
  EXPECT_EQ(session_ids(serve), std::vector<std::string>{"conv-v"});
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
}

TEST(JournalReplay, EverySessionAcknowledgedWithoutWaitingForItsCommitSurvivesAKill) {
  // Clients posting our trace JSON (NDJSON here, two sessions a request) without ?wait=commit are
  // answered once their request is in the journal, so a kill mid-ingest loses none of what was
  // answered, and what the kill left uncommitted is stored by the restart.
  TempDir dir;
  const auto [acknowledged, stored, replayed] = acknowledged_and_stored_across_a_kill(dir.db(), [](int t, int i) {
    const std::string session = "sent-" + std::to_string(t) + "-" + std::to_string(i);
    return SentRequest{session, "/api/v1/sessions",
                       synth_test::sample_session(session).to_json() + "\n" +
                           synth_test::sample_session(session + "-b").to_json() + "\n",
                       "application/x-ndjson"};
  });
  ASSERT_GT(acknowledged.size(), 20u) << "the senders got going before the kill";
  EXPECT_TRUE(replayed) << "the kill left answered requests uncommitted, in the journal";
  std::size_t missing = 0;
  for (const std::string& session : acknowledged) {
    for (const std::string& id : {session, session + "-b"}) missing += std::binary_search(stored.begin(), stored.end(), id) ? 0 : 1;
  }
  EXPECT_EQ(missing, 0u) << "of " << acknowledged.size() << " sessions acknowledged";
  EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db())));
}

TEST(JournalReplay, SessionsLeftInTheJournalAreStoredOnceAndThoseStoredBeforeAreLeftAsTheyAre) {
  // A request replayed after its commit, or after its session was sent again, changes nothing.
  TempDir dir;
  {
    DuckDBTraceManager store(dir.db());
    store.insert_trace(synth_test::sample_session("kept", {.steps = 1}));
  }
  // NDJSON with another version of "kept" (1 timestep stored), and a new one.
  const std::string body = synth_test::sample_session("kept", {.steps = 2}).to_json() + "\n" +
                           synth_test::sample_session("new", {.steps = 3}).to_json() + "\n";
  {
    IngestJournal journal(IngestJournal::folder_of(dir.db()));
    journal.sync(journal.write(IngestJournal::Route::sessions,
                               server::sessions_journal_encoding(server::BodyFormat::ndjson),
                               body, server::unix_ms_now()));
  }
  {
    ServeProcess serve(dir.db());
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
    EXPECT_NE(serve.stderr_text().find("1 requests acknowledged"), std::string::npos) << serve.stderr_text();
  }
  DuckDBTraceManager store(dir.db());
  EXPECT_EQ(store.load_trace("kept")->session_time_steps.size(), 1u) << "skipped, as stored";
  EXPECT_EQ(store.load_trace("new")->session_time_steps.size(), 3u);
  EXPECT_FALSE(std::filesystem::exists(IngestJournal::folder_of(dir.db())));
}

TEST(JournalReplay, ARequestOfARouteThisVersionDoesNotKnowIsKeptForTheOneThatWroteIt) {
  TempDir dir;
  { DuckDBTraceManager created(dir.db()); }
  {
    IngestJournal journal(IngestJournal::folder_of(dir.db()));
    journal.sync(journal.write(static_cast<IngestJournal::Route>('x'), 0, "from a later version", server::unix_ms_now()));
  }
  for (int start = 0; start < 2; ++start) {
    ServeProcess serve(dir.db());
    ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
    EXPECT_NE(serve.stderr_text().find("route this version does not know ('x')"), std::string::npos) << serve.stderr_text();
  }
  EXPECT_TRUE(IngestJournal::left_requests(dir.db()));
  EXPECT_EQ(count_rows(dir.db(), "SELECT COUNT(*) FROM session_traces"), 0);
}
