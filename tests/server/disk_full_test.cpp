// `synth-trace serve` on a disk that cannot take more (the process's file size limit, as a full
// disk refuses writes): what cannot be stored is answered with the database's error and counted lost,
// and a batch the database refuses for want of space is not retried session by session, each
// retry failing again (that held the writer for minutes while every request waited).
#include <gtest/gtest.h>

#include <signal.h>

#include <string>

#include "server/fixtures.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;
using synth_test::ServeProcess;

namespace {

// `sessions` sessions of ours as NDJSON, ids `prefix`-N.
std::string ndjson_of(const std::string& prefix, int sessions) {
  std::string body;
  for (int i = 0; i < sessions; ++i) body += sample_session(prefix + "-" + std::to_string(i)).to_json() + "\n";
  return body;
}

}  // namespace

TEST(DiskFull, ABatchTheDatabaseCannotWriteIsNotRetriedSessionBySession) {
  TempDir dir;
  // Past the limit a write fails with EFBIG rather than killing the process with SIGXFSZ (an
  // ignored signal stays ignored across exec).
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  struct sigaction previous {};
  ASSERT_EQ(::sigaction(SIGXFSZ, &ignore, &previous), 0);
  ServeProcess serve(dir.db(), {}, 0, {"/usr/bin/prlimit", "--fsize=4000000", "--"});
  ::sigaction(SIGXFSZ, &previous, nullptr);
  auto client = serve.client();

  // Fill the file: requests of 40 sessions, each answered once committed, until one is refused.
  int request = 0;
  Value refused;
  for (; request < 500 && refused.is_null(); ++request) {
    const auto r = client->Post("/api/v1/sessions?wait=commit", ndjson_of("fill" + std::to_string(request), 40),
                                "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
    const Value answer = Value::parse(r->body);
    if (!answer["rejected"].empty()) refused = answer["rejected"][0];
  }
  ASSERT_FALSE(refused.is_null()) << "the file never filled";
  EXPECT_NE(refused["error"].as_string().find("File too large"), std::string::npos) << refused.dump();

  // One more request of 40: lost whole, with the database's error, after a few failed commits
  // (the batch, then two sessions alone), not 41.
  const Value before = synth_test::get_json(serve, "/api/v1/health");
  const auto r = client->Post("/api/v1/sessions?wait=commit", ndjson_of("late", 40), "application/x-ndjson");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const Value answer = Value::parse(r->body);
  ASSERT_EQ(answer["rejected"].size(), 40u) << r->body;
  for (const Value& rejected : answer["rejected"].as_array()) {
    EXPECT_NE(rejected["error"].as_string().find("File too large"), std::string::npos) << rejected.dump();
  }
  const Value health = synth_test::get_json(serve, "/api/v1/health");
  EXPECT_LE(health["ingest"]["commits_failed"].as_int() - before["ingest"]["commits_failed"].as_int(), 3)
      << health.dump();
  EXPECT_EQ(health["ingest"]["lost"].as_int() - before["ingest"]["lost"].as_int(), 40) << health.dump();
  EXPECT_NE(serve.stderr_text().find("not tried alone after two commits in a row failed"), std::string::npos)
      << serve.stderr_text();
}
