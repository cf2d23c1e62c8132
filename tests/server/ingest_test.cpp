// `synth-trace serve` as a process: it owns the database (lock file), takes sessions on
// POST /api/v1/sessions (one, an array, NDJSON, gzip), refuses bad requests with a status and a
// message naming the problem, and stores everything it acknowledged before a SIGTERM.
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <set>
#include <thread>

#include "http/client.hpp"
#include "server/fixtures.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;
using synth_test::ServeProcess;

namespace {

constexpr const char* kJson = "application/json";
constexpr const char* kNdjson = "application/x-ndjson";

std::string ndjson(const std::vector<SessionTrace>& traces) {
  std::string out;
  for (const auto& t : traces) out += t.to_json() + "\n";
  return out;
}

std::string array(const std::vector<SessionTrace>& traces) {
  std::string out = "[";
  for (const auto& t : traces) out += (out.size() > 1 ? "," : "") + t.to_json();
  return out + "]";
}

Value json_of(const httplib::Result& r) {
  EXPECT_TRUE(r) << "no answer";
  return r ? Value::parse(r->body) : Value();
}

std::string error_of(const httplib::Result& r) {
  const Value v = json_of(r);
  return v["error"].is_string() ? v["error"].as_string() : "(no error) " + (r ? r->body : std::string());
}

std::set<std::string> stored_ids(const std::filesystem::path& db) {
  DuckDBTraceManager store(db, DuckDBOptions{.read_only = true});
  const auto ids = store.session_ids();
  return {ids.begin(), ids.end()};
}

}  // namespace

// A browser (the viewer) keeps its connections open between requests: stopping must not wait for
// them to go idle-timeout (httplib's default keep-alive timeout is 5 s).
TEST(Serve, AClientHoldingAKeepAliveConnectionDoesNotHoldTheStop) {
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  client->set_keep_alive(true);
  const auto health = client->Get("/api/v1/health");  // the connection stays open, idle
  ASSERT_TRUE(health);
  ASSERT_EQ(health->status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(4));
}

TEST(Serve, OwnsTheDatabaseWithALockFileAndStopsCleanly) {
  TempDir dir;
  auto serve = std::make_unique<ServeProcess>(dir.db());
  const std::filesystem::path lock = dir.db().string() + ".serve.lock";
  ASSERT_TRUE(std::filesystem::exists(lock));
  const Value recorded = Value::parse(synth::tracing::testing::file_contents(lock));
  EXPECT_EQ(recorded["url"].as_string(), serve->url());
  EXPECT_EQ(recorded["pid"].as_int(), serve->pid());

  // A second server on the same file is refused, naming the first.
  try {
    ServeProcess second(dir.db());
    ADD_FAILURE() << "a second server started on the same database";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find(serve->url()), std::string::npos) << e.what();
  }

  auto client = serve->client();
  const auto index = client->Get("/");
  ASSERT_TRUE(index);
  EXPECT_EQ(index->status, 200);
  EXPECT_NE(index->body.find("/api/v1/"), std::string::npos);
  const auto missing = client->Get("/api/v1/nothing");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(error_of(missing).find("no route GET /api/v1/nothing"), std::string::npos);

  EXPECT_EQ(serve->stop(SIGTERM), 0) << serve->stderr_text();
  EXPECT_NE(serve->output().find("stopped"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(lock)) << "the lock file goes with the server";
  EXPECT_TRUE(stored_ids(dir.db()).empty()) << "the database closed cleanly and opens";
}

TEST(Serve, TakesOneSessionAnArrayAndGzipNdjsonIdempotentOnSessionId) {
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();

  Value one = json_of(client->Post("/api/v1/sessions", sample_session("one").to_json(), kJson));
  EXPECT_EQ(one["accepted"], Value(1));
  EXPECT_EQ(one["rejected"], Value::array());

  const auto arr = client->Post("/api/v1/sessions?wait=commit", array({sample_session("a1"), sample_session("a2")}),
                                "application/json; charset=utf-8");
  EXPECT_EQ(json_of(arr)["stored"]["inserted"], Value(2));

  httplib::Headers gzip{{"Content-Encoding", "gzip"}};
  const std::string lines = ndjson({sample_session("n1"), sample_session("n2", {.steps = 1}), sample_session("one")});
  const Value nd = json_of(client->Post("/api/v1/sessions?wait=commit", gzip, http::gzip_compress(lines), kNdjson));
  EXPECT_EQ(nd["accepted"], Value(3));
  EXPECT_EQ(nd["stored"]["inserted"], Value(2));
  EXPECT_EQ(nd["stored"]["skipped"], Value(1)) << "'one' was stored already: sending it again changes nothing";

  SessionTrace changed = sample_session("a1", {.steps = 1});
  const Value replaced = json_of(client->Post("/api/v1/sessions?wait=commit&on_existing=replace", changed.to_json(), kJson));
  EXPECT_EQ(replaced["stored"]["replaced"], Value(1));

  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  EXPECT_EQ(stored_ids(dir.db()), (std::set<std::string>{"one", "a1", "a2", "n1", "n2"}));
  DuckDBTraceManager store(dir.db(), DuckDBOptions{.read_only = true});
  EXPECT_EQ(store.load_trace("a1"), changed);
  EXPECT_EQ(store.load_trace("n2"), sample_session("n2", {.steps = 1}));
}

TEST(Serve, ABadSessionIsRejectedAloneAndTheGoodOnesAreStored) {
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  std::string bad = sample_session("bad").to_json();
  bad.replace(bad.find("\"prompt_tokens\":100"), 19, "\"prompt_tokens\":\"many\"");
  const Value answer = json_of(client->Post("/api/v1/sessions?wait=commit",
                                            "[" + sample_session("good").to_json() + "," + bad + "]", kJson));
  EXPECT_EQ(answer["accepted"], Value(1));
  ASSERT_EQ(answer["rejected"].size(), 1u);
  EXPECT_EQ(answer["rejected"][0]["session_id"], Value("bad"));
  EXPECT_NE(answer["rejected"][0]["error"].as_string().find("prompt_tokens"), std::string::npos);
  EXPECT_EQ(answer["stored"]["inserted"], Value(1));
  ASSERT_EQ(serve.stop(SIGTERM), 0);
  EXPECT_EQ(stored_ids(dir.db()), std::set<std::string>{"good"});
}

TEST(Serve, ASessionTheDatabaseCannotHoldIsRefusedAloneAndTheRestOfItsRequestIsStored) {
  // Two sessions whose step index is beyond the database's INTEGER column are refused before any
  // of their rows is appended: their batch commits (they once failed it, and the good session
  // after them was stored only by retrying the batch session by session), and they are counted
  // refused, not lost.
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  std::string body;
  for (const char* id : {"huge-1", "huge-2"}) {
    SessionTrace bad = sample_session(id);
    bad.session_time_steps[0].step_index = std::int64_t{1} << 40;
    body += bad.to_json() + "\n";
  }
  body += sample_session("good").to_json() + "\n";
  const auto r = client->Post("/api/v1/sessions?wait=commit", body, "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Value answer = Value::parse(r->body);
  ASSERT_EQ(answer["rejected"].size(), 2u) << r->body;
  EXPECT_NE(answer["rejected"][0]["error"].as_string().find("step_index 1099511627776"), std::string::npos) << r->body;
  EXPECT_EQ(answer["stored"]["inserted"], Value(1)) << r->body;
  const Value health = synth_test::get_json(serve, "/api/v1/health");
  EXPECT_EQ(health["ingest"]["commits_failed"], Value(0)) << health.dump();
  EXPECT_EQ(health["ingest"]["refused"], Value(2)) << health.dump();
  EXPECT_EQ(health["ingest"]["lost"], Value(0)) << health.dump();
}

TEST(Serve, AnswersAreCompressedOnlyWithACodingTheClientTakes) {
  // RFC 9110 12.5.3: q=0 refuses a coding. "gzip;q=0" was answered gzip-compressed anyway.
  TempDir dir;
  ServeProcess serve(dir.db());
  const auto encoding_for = [&](const std::string& accept) {
    const std::string answer = synth_test::raw_exchange(
        serve.port(), "GET /api/v1/sessions HTTP/1.1\r\nHost: localhost:" + std::to_string(serve.port()) +
                          "\r\nAccept-Encoding: " + accept + "\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 200") << answer;
    const auto at = answer.find("Content-Encoding: ");
    return at == std::string::npos ? std::string("identity") : answer.substr(at + 18, answer.find("\r\n", at) - at - 18);
  };
  EXPECT_EQ(encoding_for("gzip"), "gzip");
  EXPECT_EQ(encoding_for("gzip;q=0"), "identity");
  EXPECT_EQ(encoding_for("deflate, GZIP; Q=0.0"), "identity");
  EXPECT_EQ(encoding_for("gzip;q=0.001, br"), "gzip");
  EXPECT_EQ(encoding_for("br;q=0, gzip;q=0.5"), "gzip");
}

TEST(Serve, BadRequestsGetAStatusAndAMessageNamingTheProblem) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--max-body-bytes", "100000", "--queue-sessions", "3"});
  auto client = serve.client();
  const auto expect = [&](const httplib::Result& r, int status, const std::string& words) {
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, status) << r->body;
    EXPECT_NE(error_of(r).find(words), std::string::npos) << error_of(r);
  };
  // Malformed bodies.
  expect(client->Post("/api/v1/sessions", "", kJson), 400, "the body is empty");
  // A POST without Content-Length (curl -X POST with no data) has an empty body too: it was read
  // as "invalid gzip (Content-Encoding), or the upload was cut short".
  for (const char* path : {"/api/v1/sessions", "/api/v1/query"}) {
    const std::string answer = synth_test::raw_exchange(
        serve.port(), std::string("POST ") + path + " HTTP/1.1\r\nHost: localhost:" + std::to_string(serve.port()) +
                          "\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(answer.substr(0, 12), "HTTP/1.1 400") << answer;
    EXPECT_EQ(answer.find("gzip"), std::string::npos) << answer;
  }
  EXPECT_NE(synth_test::raw_exchange(serve.port(), "POST /api/v1/sessions HTTP/1.1\r\nHost: localhost:" +
                                                       std::to_string(serve.port()) +
                                                       "\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
                .find("the body is empty"),
            std::string::npos);
  expect(client->Post("/api/v1/sessions", "{\"session_id\": \"x\", ", kJson), 400, "x");
  expect(client->Post("/api/v1/sessions", "42", kJson), 400, "starts with '4'");
  expect(client->Post("/api/v1/sessions", "[{\"session_id\": \"x\"}", kJson), 400, "not closed");
  expect(client->Post("/api/v1/sessions?on_existing=sometimes", "{}", kJson), 400, "on_existing");
  // Content types a browser may send across origins without asking, and none at all.
  expect(client->Post("/api/v1/sessions", sample_session("t").to_json(), "text/plain"), 415, "application/json");
  expect(client->Post("/api/v1/sessions", "a=b", "application/x-www-form-urlencoded"), 415, "Content-Type");
  // Too large, and a small gzip body that decompresses beyond the limit (stopped while inflating).
  expect(client->Post("/api/v1/sessions", std::string(200000, ' '), kJson), 413, "larger than 100000 bytes");
  const std::string bomb = http::gzip_compress(std::string(std::size_t{64} << 20, ' '), 9);
  ASSERT_LT(bomb.size(), 100000u);
  expect(client->Post("/api/v1/sessions", httplib::Headers{{"Content-Encoding", "gzip"}}, bomb, kJson), 413,
         "decompressed");
  expect(client->Post("/api/v1/sessions", httplib::Headers{{"Content-Encoding", "gzip"}}, "not gzip", kJson), 400,
         "gzip");
  // An encoding the server does not read is named, not taken for broken gzip.
  expect(client->Post("/api/v1/sessions", httplib::Headers{{"Content-Encoding", "br"}}, sample_session("t").to_json(), kJson),
         415, "Content-Encoding 'br'");
  // More sessions than the queue holds at all (--queue-sessions): retrying would not help.
  const std::vector<SessionTrace> four{sample_session("q1", {.steps = 1}), sample_session("q2", {.steps = 1}),
                                       sample_session("q3", {.steps = 1}), sample_session("q4", {.steps = 1})};
  expect(client->Post("/api/v1/sessions", ndjson(four), kNdjson), 413, "3 sessions");
  // Still serving, nothing stored.
  const Value health = json_of(client->Get("/api/v1/health"));
  EXPECT_EQ(health["ingest"]["accepted"], Value(0));
  EXPECT_EQ(health["status"], Value("ok"));
}

TEST(Serve, EverySessionAcknowledgedBeforeSigtermIsStored) {
  TempDir dir;
  std::set<std::string> acknowledged;
  {
    ServeProcess serve(dir.db());
    std::atomic<int> acks{0};
    std::thread sender([&] {
      auto client = serve.client();
      for (int i = 0;; ++i) {
        const std::string id = "s-" + std::to_string(i);
        const std::string body = sample_session(id, {.steps = 2}).to_json();
        auto r = client->Post("/api/v1/sessions", body, kJson);
        // A writer behind its queue (a slow sanitizer build on a loaded machine) refuses for a
        // while; the sender waits and sends the session again, as a client should.
        while (r && r->status == 503 && r->body.find("queue is full") != std::string::npos) {
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          r = client->Post("/api/v1/sessions", body, kJson);
        }
        if (!r || r->status != 200) break;  // the server stopped taking requests
        acknowledged.insert(id);
        acks.fetch_add(1);
      }
    });
    // Signalled while the sender is sending.
    ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return acks.load() >= 50; }, std::chrono::seconds(60)));
    EXPECT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
    sender.join();
  }
  EXPECT_GE(acknowledged.size(), 50u);
  const std::set<std::string> stored = stored_ids(dir.db());
  for (const auto& id : acknowledged) EXPECT_TRUE(stored.contains(id)) << id << " was acknowledged, not stored";
}

TEST(Serve, ASessionAcknowledgedAfterItsCommitSurvivesAKill) {
  TempDir dir;
  std::set<std::string> acknowledged;
  {
    ServeProcess serve(dir.db());
    std::atomic<int> acks{0};
    std::thread sender([&] {
      auto client = serve.client();
      for (int i = 0;; ++i) {
        const std::string id = "k-" + std::to_string(i);
        const auto r = client->Post("/api/v1/sessions?wait=commit", sample_session(id, {.steps = 1}).to_json(), kJson);
        if (!r || r->status != 200) break;
        acknowledged.insert(id);
        acks.fetch_add(1);
      }
    });
    ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return acks.load() >= 10; }, std::chrono::seconds(60)));
    serve.stop(SIGKILL);
    sender.join();
  }
  // The next server replays DuckDB's log and finds a lock file without a holder: it starts.
  ServeProcess again(dir.db());
  auto client = again.client();
  for (const auto& id : acknowledged) {
    const auto r = client->Get("/api/v1/sessions/" + id);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << id << " was acknowledged after its commit, then lost";
  }
}

TEST(Serve, ConcurrentImportsStoreEverySessionOnce) {
  TempDir dir;
  // Four files of 20 sessions; each import process sends two of them, so every session arrives twice.
  std::vector<std::filesystem::path> files;
  for (int f = 0; f < 4; ++f) {
    std::vector<SessionTrace> traces;
    for (int i = 0; i < 20; ++i) traces.push_back(sample_session("f" + std::to_string(f) + "-" + std::to_string(i), {.steps = 1}));
    files.push_back(dir.file("part" + std::to_string(f) + ".jsonl"));
    std::ofstream(files.back()) << ndjson(traces);
  }
  ServeProcess serve(dir.db());
  std::vector<std::thread> imports;
  std::atomic<int> failures{0};
  for (int p = 0; p < 4; ++p) {
    imports.emplace_back([&, p] {
      const std::string cmd = std::string(SYNTH_TRACE_BINARY) + " --db " + dir.db().string() + " import " +
                              files[p].string() + " " + files[(p + 1) % 4].string() + " >/dev/null 2>&1";
      if (std::system(cmd.c_str()) != 0) failures.fetch_add(1);
    });
  }
  for (auto& t : imports) t.join();
  EXPECT_EQ(failures.load(), 0);
  const Value health = json_of(serve.client()->Get("/api/v1/health"));
  EXPECT_EQ(health["ingest"]["inserted"], Value(80));
  EXPECT_EQ(health["ingest"]["skipped"], Value(80));
  EXPECT_EQ(health["rows"]["sessions"], Value(80));
  EXPECT_EQ(health["ingest"]["lost"], Value(0));
}
