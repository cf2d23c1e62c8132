// The server's writer asks which sessions of what it took from the queue are stored in one
// query (StoreAccess::stored_among) before appending them, instead of one query per session.
#include <gtest/gtest.h>
#include <httplib.h>

#include "server/fixtures.hpp"
#include "server/server.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;

// The writer asks which sessions of what it took are stored in one query (StoreAccess::
// stored_among) before appending them: ids stored earlier, repeated within one request, or
// replaced and merged must still be told apart exactly.
TEST(WriterStoredSet, StoredRepeatedReplacedAndMergedSessionsAreToldApart) {
  TempDir dir("synth_writer_stored");
  server::Server serve(server::ServerOptions{.db = dir.db(), .port = 0});
  httplib::Client client("127.0.0.1", serve.port());
  const auto post = [&](const std::vector<std::string>& ids, const std::string& on_existing) {
    std::string body;
    for (const auto& id : ids) body += sample_session(id, {.steps = 1}).to_json() + "\n";
    const auto r = client.Post("/api/v1/sessions?wait=commit&on_existing=" + on_existing, body, "application/x-ndjson");
    EXPECT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    return Value::parse(r->body);
  };
  Value a = post({"a", "b"}, "skip");
  EXPECT_EQ(a["stored"].dump(), R"({"inserted":2,"replaced":0,"merged":0,"skipped":0})");
  a = post({"a", "c", "c", "b", "d"}, "skip");
  EXPECT_EQ(a["stored"].dump(), R"({"inserted":2,"replaced":0,"merged":0,"skipped":3})");
  a = post({"a", "e", "e"}, "replace");
  EXPECT_EQ(a["stored"].dump(), R"({"inserted":1,"replaced":2,"merged":0,"skipped":0})");
  a = post({"b", "f", "f"}, "merge");
  EXPECT_EQ(a["stored"].dump(), R"({"inserted":1,"replaced":0,"merged":2,"skipped":0})");
  a = post({"c", "g"}, "fail");
  EXPECT_EQ(a["stored"].dump(), R"({"inserted":1,"replaced":0,"merged":0,"skipped":0})");
  EXPECT_EQ(a["rejected"].size(), 1u);
  const auto health = Value::parse(client.Get("/api/v1/health")->body);
  EXPECT_EQ(health["rows"]["sessions"].as_int(), 7);  // a..g once each
  EXPECT_EQ(health["rows"]["events"].as_int(), 7 * 3 + 2 * 3);  // b and f merged twice: 3 more events each
  // One commit per request: no batch failed on a duplicate key and was retried session by session
  // (which would hide a wrong lookup behind the right counts).
  EXPECT_EQ(health["ingest"]["commits"].as_int(), 5);
  // Health names the longest wait for a commit (tests/server/writer_commit_wait_test.cpp counts it).
  EXPECT_TRUE(health["ingest"]["longest_commit_wait_ms"].is_integer());
  EXPECT_LT(health["ingest"]["longest_commit_wait_ms"].as_int(), 30'000);
}
