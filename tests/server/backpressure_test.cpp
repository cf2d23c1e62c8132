// The bounded ingest queue behind POST /api/v1/sessions: a request that does not fit while the
// writer is behind gets 503 with Retry-After (nothing of it is queued), one that could never fit
// gets 413, and once the writer has caught up the same request is taken and stored. The real
// route, queue, writer and database; the writer is started late to be "behind".
#include <gtest/gtest.h>

#include <thread>

#include "server/fixtures.hpp"
#include "server/routes.hpp"
#include "server/writer.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;

TEST(Backpressure, AFullQueueAnswers503WithRetryAfterThenTakesTheRequest) {
  TempDir dir;
  ServerOptions options{.db = dir.db(), .queue_sessions = 4, .queue_bytes = std::size_t{1} << 20};
  DuckDBTraceManager store(options.db);
  IngestQueue queue(options.queue_sessions, options.queue_bytes);
  IngestCounters counters;
  ServerContext ctx{options, store, queue, counters, "", dir.path};
  httplib::Server http;
  add_ingest_routes(http, ctx);
  const int port = http.bind_to_any_port("127.0.0.1");
  ASSERT_GT(port, 0);
  std::thread serving([&] { http.listen_after_bind(); });
  httplib::Client client("127.0.0.1", port);

  const auto post = [&](const std::vector<std::string>& ids, const char* query = "") {
    std::string body;
    for (const auto& id : ids) body += sample_session(id, {.steps = 1}).to_json() + "\n";
    return client.Post((std::string("/api/v1/sessions") + query).c_str(), body, "application/x-ndjson");
  };
  auto r = post({"a", "b", "c"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(queue.depth(), 3u);

  // Two more do not fit while the writer is behind: refused whole, with when to come back.
  r = post({"d", "e"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  EXPECT_NE(r->body.find("the ingest queue is full"), std::string::npos) << r->body;
  EXPECT_EQ(queue.depth(), 3u) << "nothing of a refused request is queued";
  EXPECT_EQ(counters.throttled.load(), 1u);

  // More than the queue could ever hold: 413, retrying would not help.
  r = post({"1", "2", "3", "4", "5"});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_NE(r->body.find("send fewer per request"), std::string::npos) << r->body;

  // The writer catches up; the same request is now taken, and stored.
  {
    StoreWriter writer(store, queue, counters, options);
    ASSERT_TRUE(synth::tracing::testing::wait_until([&] { return queue.depth() == 0; }));
    r = post({"d", "e"}, "?wait=commit");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(Value::parse(r->body)["stored"]["inserted"], Value(2));
    EXPECT_TRUE(writer.stop(std::chrono::steady_clock::now() + std::chrono::seconds(30)));
  }
  http.stop();
  serving.join();
  EXPECT_EQ(store.session_ids().size(), 5u);
  EXPECT_EQ(counters.inserted.load(), 5u);
  EXPECT_EQ(counters.lost.load(), 0u);
}
