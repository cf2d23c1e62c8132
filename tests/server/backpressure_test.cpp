// The bounded ingest queue behind POST /api/v1/sessions: a request that does not fit while the
// writer is behind gets 503 with Retry-After (nothing of it is queued), one that could never fit
// gets 413, and once the writer has caught up the same request is taken and stored. The real
// route, queue, writer and database; the writer is started late to be "behind". Requests
// answered once queued (native and OTLP) are refused before they are decoded while the queue
// holds what the writer stores within ServerOptions::queue_delay.
#include <gtest/gtest.h>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
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

namespace {

// The queue's clock, moved by the test: the writer's pace is measured in its time. `script`
// gives the times of the next readings (a pop reads the clock when called and when it returns).
std::chrono::steady_clock::time_point fake_time;
std::deque<std::chrono::steady_clock::time_point> script;
std::chrono::steady_clock::time_point fake_now() {
  if (!script.empty()) {
    fake_time = script.front();
    script.pop_front();
  }
  return fake_time;
}

std::vector<IngestItem> items_of(std::size_t n, std::size_t bytes_each) {
  std::vector<IngestItem> items(n);
  for (IngestItem& item : items) item.bytes = bytes_each;
  return items;
}

// The queue's writer, in the queue's clock from now on, stores 10 kB in 100 ms: 100 kB/s, so
// 100 kB fit within a delay of 1 s.
void pace_writer_at_100_kb_per_s(IngestQueue& queue) {
  fake_time = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
  std::vector<IngestItem> taken;
  auto batch = items_of(10, 1000);
  ASSERT_EQ(queue.push(batch, true), IngestQueue::Push::queued);
  queue.pop(taken, 1000, fake_time);
  fake_time += std::chrono::milliseconds(100);
  queue.pop(taken, 1000, fake_time);
  ASSERT_DOUBLE_EQ(queue.drain_pace(), 100000.0);
}

// The ingest routes on a queue bounded to 1 s, in the queue's clock, whose writer has stored 10 kB
// in 100 ms (100 kB/s: 100 kB within the delay) and is gone: nothing is stored.
struct PacedRoutes {
  TempDir dir;
  ServerOptions options{.db = dir.db(), .queue_delay = std::chrono::milliseconds(1000), .otlp_ack = ServerOptions::OtlpAck::queue};
  DuckDBTraceManager store{options.db};
  IngestQueue queue{100000, std::size_t{1} << 30, options.queue_delay, &fake_now};
  IngestCounters counters;
  ServerContext ctx{options, store, queue, counters, "", dir.path};
  httplib::Server http;
  std::thread serving;
  std::unique_ptr<httplib::Client> client;

  PacedRoutes() {
    pace_writer_at_100_kb_per_s(queue);
    add_ingest_routes(http, ctx);
    add_otlp_routes(http, ctx);
    const int port = http.bind_to_any_port("127.0.0.1");
    EXPECT_GT(port, 0);
    serving = std::thread([this] { http.listen_after_bind(); });
    client = std::make_unique<httplib::Client>("127.0.0.1", port);
  }
  ~PacedRoutes() {
    http.stop();
    serving.join();
  }
  void queue_bytes(std::size_t bytes) {
    auto batch = items_of(1, bytes);
    EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued);
  }
};

}  // namespace

// A request acknowledged once queued must be committed within about ServerOptions::queue_delay:
// the queue measures how fast the writer takes its bytes (busy time only: not while it waits for
// work) and refuses, as full, what it would not store within the delay at that pace. An empty
// queue takes any request its bounds allow; with no pace measured yet, or a delay of 0, only the
// sessions and bytes bounds apply.
TEST(Backpressure, TheQueueHoldsNoMoreThanTheWriterStoresWithinTheDelay) {
  using namespace std::chrono_literals;
  fake_time = std::chrono::steady_clock::time_point{} + 1h;
  IngestQueue queue(100000, std::size_t{1} << 30, 1000ms, &fake_now);
  std::vector<IngestItem> taken;
  auto batch = items_of(10, 1000);
  ASSERT_EQ(queue.push(batch, true), IngestQueue::Push::queued);
  queue.pop(taken, 1000, fake_time);
  EXPECT_EQ(queue.drain_pace(), 0.0) << "nothing stored yet";
  batch = items_of(150, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued) << "no pace yet: the bytes bound alone";
  // The writer comes back 100 ms later, having stored its 10 kB: 100 kB/s.
  fake_time += 100ms;
  taken.clear();
  queue.pop(taken, 1000, fake_time);
  EXPECT_EQ(taken.size(), 150u);
  EXPECT_DOUBLE_EQ(queue.drain_pace(), 100000.0);
  fake_time += 2000ms;  // the writer stored the 150 kB in 2 s (75 kB/s), then finds the queue empty
  taken.clear();
  queue.pop(taken, 1000, fake_time);
  EXPECT_TRUE(taken.empty());
  EXPECT_DOUBLE_EQ(queue.drain_pace(), (100000.0 + 75000.0) / 2) << "the latest pace weighs half";
  // Waiting for work is not storing: a pop that waits 5 s for work (called, then returning 5 s
  // later) adds no time.
  script = {fake_time, fake_time + 5000ms};
  queue.pop(taken, 1000, fake_time);
  taken.clear();
  queue.pop(taken, 1000, fake_time);
  EXPECT_DOUBLE_EQ(queue.drain_pace(), 87500.0);

  // At 87.5 kB/s, 1 s holds 87.5 kB: an empty queue takes a larger request, then nothing more.
  batch = items_of(100, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued) << "an empty queue takes any request its bounds allow";
  batch = items_of(1, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::full);
  EXPECT_EQ(batch.size(), 1u) << "a refused request is left whole";
  taken.clear();
  queue.pop(taken, 1000, fake_time);
  // The writer stores the 100 kB it took: a request now waits for them too, then for what is
  // queued; what is queued ahead decides whether the request is refused.
  batch = items_of(1, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued) << "an empty queue takes any request its bounds allow";
  EXPECT_FALSE(queue.admit(1).has_value()) << "100 kB the writer still stores, and 1 kB queued";
  taken.clear();
  queue.pop(taken, 1000, fake_time);  // back for more: the 100 kB are stored
  taken.clear();
  queue.pop(taken, 1000, fake_time);  // and the 1 kB
  batch = items_of(87, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued);
  EXPECT_TRUE(queue.admit(1).has_value());
  batch = items_of(1, 500);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::queued) << "87.5 kB fit";
  EXPECT_FALSE(queue.admit(1).has_value()) << "any request would be refused now: refused before it is decoded";
  batch = items_of(1, 1);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::full);
  batch = items_of(10, 1000);
  EXPECT_EQ(queue.push(batch), IngestQueue::Push::queued) << "a request answered after its commit waits anyway";

  // No delay bound: the same queue takes it.
  IngestQueue unbounded(100000, std::size_t{1} << 30, 0ms, &fake_now);
  for (int i = 0; i < 3; ++i) {
    batch = items_of(100, 1000);
    EXPECT_EQ(unbounded.push(batch, true), IngestQueue::Push::queued);
    taken.clear();
    unbounded.pop(taken, 50, fake_time);
    fake_time += 1000ms;
  }
  batch = items_of(1000, 1000);
  EXPECT_EQ(unbounded.push(batch, true), IngestQueue::Push::queued);
}

// The decision in time is taken once per request, before it is decoded: an admission takes the
// request's room (its body's bytes), so that requests decoded side by side cannot all pass the
// check and then be refused after their decoding (most of the refusals of an overloaded server
// were of such requests: their handlers' work thrown away). An admitted request is queued
// whatever the queue holds by then; an admission dropped unused (a body that cannot be decoded)
// gives its room back.
TEST(Backpressure, AdmittedRequestsAreNeverRefusedForTimeAfterTheirDecoding) {
  using namespace std::chrono_literals;
  IngestQueue queue(100000, std::size_t{1} << 30, 1000ms, &fake_now);
  ASSERT_NO_FATAL_FAILURE(pace_writer_at_100_kb_per_s(queue));
  std::vector<IngestItem> taken;
  auto batch = items_of(10, 1000);
  ASSERT_EQ(queue.push(batch, true), IngestQueue::Push::queued);  // 10 kB ahead

  // Two requests of 60 kB arrive together: the second is refused before its decoding.
  std::optional<IngestQueue::Admission> first = queue.admit(60000);
  ASSERT_TRUE(first.has_value());
  EXPECT_FALSE(queue.admit(60000).has_value()) << "10 + 60 + 60 kB: more than the writer stores in 1 s";
  // Meanwhile a request not admitted (held spans released) finds the admitted one's room taken.
  batch = items_of(1, 40000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::full);
  // The first is decoded into 70 kB (more than its body): queued all the same.
  batch = items_of(7, 10000);
  EXPECT_EQ(queue.push(batch, true, &*first), IngestQueue::Push::queued);
  EXPECT_FALSE(queue.admit(30000).has_value()) << "80 kB queued now";
  EXPECT_TRUE(queue.admit(20000).has_value());

  taken.clear();
  queue.pop(taken, 1000, fake_time);
  {
    std::optional<IngestQueue::Admission> undecodable = queue.admit(90000);
    ASSERT_TRUE(undecodable.has_value()) << "an empty queue admits any request";
    EXPECT_FALSE(queue.admit(20000).has_value());
  }
  EXPECT_TRUE(queue.admit(90000).has_value()) << "the unused admission gave its room back";
  std::optional<IngestQueue::Admission> moved = queue.admit(90000);
  ASSERT_TRUE(moved.has_value());
  std::optional<IngestQueue::Admission> holder = std::move(moved);
  moved.reset();
  EXPECT_FALSE(queue.admit(20000).has_value()) << "a moved admission keeps its room once";
  holder.reset();
  EXPECT_TRUE(queue.admit(20000).has_value());
  EXPECT_EQ(queue.depth(), 0u);
}

// A server stopping refuses what comes as stopping (the route answers so), not as a full queue
// to retry (counted as throttled), however much is queued ahead.
TEST(Backpressure, AStoppingQueueRefusesAsStoppingNotAsFull) {
  IngestQueue queue(100000, std::size_t{1} << 30, std::chrono::milliseconds(1000), &fake_now);
  ASSERT_NO_FATAL_FAILURE(pace_writer_at_100_kb_per_s(queue));
  auto batch = items_of(95, 1000);
  ASSERT_EQ(queue.push(batch, true), IngestQueue::Push::queued);
  ASSERT_FALSE(queue.admit(10000).has_value()) << "95 + 10 kB: more than the writer stores in 1 s";
  queue.close();
  std::optional<IngestQueue::Admission> admitted = queue.admit(10000);
  ASSERT_TRUE(admitted.has_value()) << "left to push(), which says the queue is closed";
  batch = items_of(10, 1000);
  EXPECT_EQ(queue.push(batch, true, &*admitted), IngestQueue::Push::closed);
  batch = items_of(10, 1000);
  EXPECT_EQ(queue.push(batch, true), IngestQueue::Push::closed);
}

// Handlers admit, push and drop admissions at once while the writer pops: the room reserved
// comes back exactly (no admission's bytes lost or given back twice), so that afterwards the
// bound in time is where it was, to the byte.
TEST(Backpressure, AdmissionsFromManyHandlersAtOnceGiveTheirRoomBackExactly) {
  using namespace std::chrono_literals;
  IngestQueue queue(1'000'000, std::size_t{1} << 30, 1000ms, &fake_now);
  ASSERT_NO_FATAL_FAILURE(pace_writer_at_100_kb_per_s(queue));
  std::vector<IngestItem> taken;

  std::atomic<bool> done{false};
  std::atomic<int> queued{0};
  std::thread writer([&] {
    std::vector<IngestItem> out;
    while (!done.load()) {
      out.clear();
      queue.pop(out, 1000, std::chrono::steady_clock::now() + 1ms);  // no time passes for the pace
    }
  });
  std::vector<std::thread> handlers;
  for (int h = 0; h < 8; ++h) {
    handlers.emplace_back([&, h] {
      for (int i = 0; i < 2000; ++i) {
        const std::size_t bytes = 1000 + static_cast<std::size_t>((h * 7919 + i * 104729) % 30000);
        std::optional<IngestQueue::Admission> admitted = queue.admit(bytes);
        if (!admitted) continue;
        if (i % 3 == 0) continue;  // undecodable: dropped unused
        std::optional<IngestQueue::Admission> moved = std::move(admitted);
        auto items = items_of(1, bytes);
        if (queue.push(items, true, &*moved) == IngestQueue::Push::queued) queued.fetch_add(1);
      }
    });
  }
  for (std::thread& t : handlers) t.join();
  done = true;
  writer.join();
  taken.clear();
  queue.pop(taken, 1'000'000, fake_time);  // what the writer thread left (a loaded machine stops it early)
  queue.pop(taken, 1'000'000, fake_time);  // its next call: what it took is stored, no longer ahead
  EXPECT_GT(queued.load(), 0);
  ASSERT_EQ(queue.depth(), 0u);
  // Nothing ahead: 100,000 bytes fit in 1 s at 100 kB/s, and not one more.
  std::optional<IngestQueue::Admission> most = queue.admit(99999);
  ASSERT_TRUE(most.has_value());
  std::optional<IngestQueue::Admission> last_byte = queue.admit(1);
  EXPECT_TRUE(last_byte.has_value());
  EXPECT_FALSE(queue.admit(1).has_value());
}

// The routes queue the request they admitted with its admission: its room is counted once, not
// again on top of its own decoded sessions (which would refuse it, decoded, as over time).
TEST(Backpressure, RoutesQueueWhatTheyAdmitted) {
  PacedRoutes routes;
  const std::string padding(50000, 'x');  // 10 + ~50 kB fit, 10 + 2 x ~50 kB would not
  for (const char* path : {"/api/v1/sessions", "/v1/traces"}) {
    SCOPED_TRACE(path);
    routes.queue_bytes(10000);
    std::string body;
    if (std::string_view(path) == "/v1/traces") {
      body = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"4bf92f3577b34da6a3ce929d0e0e4736",)"
             R"("spanId":"00f067aa0ba902b7","name":"invoke_agent","startTimeUnixNano":"1735689799000000000",)"
             R"("endTimeUnixNano":"1735689802000000000","attributes":[{"key":"gen_ai.conversation.id",)"
             R"("value":{"stringValue":"padded"}},{"key":"padding","value":{"stringValue":")" +
             padding + R"("}}]}]}]}]})";
    } else {
      SessionTrace session = sample_session("padded");
      session.session_metadata.push_back(SessionMetadataEntry{"padding", Value{{"text", padding}}, session.created_at});
      body = session.to_json();
    }
    const auto r = routes.client->Post(path, body, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << r->body;
    std::vector<IngestItem> taken;
    routes.queue.pop(taken, 1000, fake_time);  // the writer takes it (no time passes)
    EXPECT_FALSE(taken.empty());
    routes.queue.pop(taken, 1000, fake_time);  // and is back for more: stored
  }
  EXPECT_EQ(routes.counters.throttled.load(), 0u);
}

// Requests answered once queued are refused with 503 before they are decoded while the queue is
// behind (it holds what the writer stores within the delay): decoding them would be wasted CPU
// on a server that is short of it. Bodies that cannot be decoded show it: 503, not 400. Requests
// answered after their commit wait anyway: decoded (400), never refused for time.
TEST(Backpressure, RequestsAnsweredOnceQueuedAreRefusedBeforeDecodingWhileTheQueueIsBehind) {
  PacedRoutes routes;
  routes.queue_bytes(100000);  // it is behind
  ASSERT_FALSE(routes.queue.admit(1).has_value());
  httplib::Client& client = *routes.client;
  IngestCounters& counters = routes.counters;
  const std::string undecodable = "{\"not\": ";
  for (const char* path : {"/api/v1/sessions", "/v1/traces", "/v1/logs"}) {
    SCOPED_TRACE(path);
    const auto r = client.Post(path, undecodable, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 503) << r->body;
    EXPECT_EQ(r->get_header_value("Retry-After"), "1");
  }
  EXPECT_EQ(counters.throttled.load(), 3u);

  // Waiting for the commit: decoded, and refused as undecodable.
  auto r = client.Post("/api/v1/sessions?wait=commit", undecodable, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  routes.options.otlp_ack = ServerOptions::OtlpAck::commit;
  for (const char* path : {"/v1/traces", "/v1/logs"}) {
    SCOPED_TRACE(path);
    r = client.Post(path, undecodable, "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
  }
  EXPECT_EQ(counters.throttled.load(), 3u);
  EXPECT_EQ(routes.queue.depth(), 1u) << "nothing queued";
}
