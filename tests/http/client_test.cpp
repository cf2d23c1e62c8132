// The internal HTTP client against a real server on 127.0.0.1.
#include "http/client.hpp"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "http/local_server.hpp"
#include "synth/tracing/error.hpp"

namespace http = synth::tracing::http;
using namespace std::chrono_literals;

namespace {

struct Seen {
  std::mutex mutex;
  std::condition_variable changed;
  std::vector<httplib::Request> requests;
  void add(const httplib::Request& r) {
    {
      std::lock_guard lock(mutex);
      requests.push_back(r);
    }
    changed.notify_all();
  }
  httplib::Request last() {
    std::lock_guard lock(mutex);
    return requests.back();
  }
  std::size_t count(const std::string& path) {
    std::lock_guard lock(mutex);
    return static_cast<std::size_t>(
        std::count_if(requests.begin(), requests.end(), [&](const httplib::Request& r) { return r.path == path; }));
  }
  // Waits until `n` requests to `path` arrived (at most 10 s).
  bool wait_for(const std::string& path, std::size_t n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] {
      return static_cast<std::size_t>(std::count_if(requests.begin(), requests.end(),
                                                    [&](const httplib::Request& r) { return r.path == path; })) >= n;
    });
  }
};

// Events of the /paced stream the client has received.
struct Paced {
  std::mutex mutex;
  std::condition_variable changed;
  int received = 0;
  void add(int n) {
    {
      std::lock_guard lock(mutex);
      received += n;
    }
    changed.notify_all();
  }
  // Waits until `n` events were received (at most 10 s).
  bool wait_for(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, 10s, [&] { return received >= n; });
  }
};

class HttpClientTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto& s = server.server();
    s.Post("/echo", [this](const httplib::Request& req, httplib::Response& res) {
      seen.add(req);
      res.set_header("X-Echo-Length", std::to_string(req.body.size()));
      res.set_content(req.body, "application/json");
    });
    s.Post("/limited", [](const httplib::Request&, httplib::Response& res) {
      res.status = 429;
      res.set_header("Retry-After", "2");
      res.set_content(R"({"error":"slow down"})", "application/json");
    });
    s.Post("/stall", [this](const httplib::Request& req, httplib::Response& res) {
      seen.add(req);
      server.stall();
      res.set_content("late", "text/plain");
    });
    s.Post("/sse", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
        for (int i = 0; i < 5; ++i) {
          const std::string event = "data: " + std::to_string(i) + "\n\n";
          sink.write(event.data(), event.size());
        }
        sink.done();
        return true;
      });
    });
    // Each event is sent once the client has received the one before: they arrive separately.
    s.Post("/paced", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [this](size_t, httplib::DataSink& sink) {
        for (int i = 0; i < 5; ++i) {
          const std::string event = "data: " + std::to_string(i) + "\n\n";
          sink.write(event.data(), event.size());
          if (!paced.wait_for(i + 1)) return false;
        }
        sink.done();
        return true;
      });
    });
    s.Post("/reset", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("text/event-stream", [](size_t offset, httplib::DataSink& sink) {
        if (offset > 0) return false;  // the connection is dropped without the final chunk
        const std::string event = "data: partial\n\n";
        sink.write(event.data(), event.size());
        return true;
      });
    });
    server.start();
  }

  synth_test::LocalServer server;
  Seen seen;
  Paced paced;
};

TEST_F(HttpClientTest, PostsBodyAndHeadersAndReadsTheAnswer) {
  http::Client client;
  const std::string body = R"({"hello":"world"})";
  auto r = client.post(server.url("/echo"), {{"Content-Type", "application/json"}, {"X-Custom", "abc"}}, body, 5s);
  ASSERT_EQ(r.outcome, http::Outcome::response) << r.error;
  EXPECT_TRUE(r.ok());
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, body);
  EXPECT_TRUE(r.error.empty());
  ASSERT_NE(r.header("x-echo-length"), nullptr);
  EXPECT_EQ(*r.header("x-echo-length"), std::to_string(body.size()));
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "application/json");
  EXPECT_EQ(r.header("X-Echo-Length"), nullptr) << "names are lower-cased";

  const auto req = seen.last();
  EXPECT_EQ(req.get_header_value("X-Custom"), "abc");
  EXPECT_EQ(req.get_header_value("Content-Type"), "application/json");
  EXPECT_FALSE(req.has_header("Expect"));
}

TEST_F(HttpClientTest, LargeBodiesArriveWhole) {
  http::Client client;
  std::string body(5 << 20, 'x');
  for (std::size_t i = 0; i < body.size(); i += 997) body[i] = static_cast<char>('a' + i % 26);
  auto r = client.post(server.url("/echo"), {{"Content-Type", "text/plain"}}, body, 20s);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body.size(), body.size());
  EXPECT_TRUE(r.body == body);
}

TEST_F(HttpClientTest, KeepsTheConnectionOpenBetweenRequests) {
  http::Client client;
  for (int i = 0; i < 5; ++i) {
    auto r = client.post(server.url("/echo"), {}, "ping", 5s);
    ASSERT_TRUE(r.ok()) << r.error;
  }
  std::set<int> ports;
  {
    std::lock_guard lock(seen.mutex);
    ASSERT_EQ(seen.requests.size(), 5u);
    for (const auto& req : seen.requests) ports.insert(req.remote_port);
  }
  EXPECT_EQ(ports.size(), 1u) << "one connection for all five requests";
}

TEST_F(HttpClientTest, ReportsHttpErrorsWithHeadersAndBody) {
  http::Client client;
  auto r = client.post(server.url("/limited"), {}, "{}", 5s);
  EXPECT_EQ(r.outcome, http::Outcome::response);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status, 429);
  ASSERT_NE(r.header("retry-after"), nullptr);
  EXPECT_EQ(*r.header("retry-after"), "2");
  EXPECT_EQ(r.body, R"({"error":"slow down"})");

  auto missing = client.post(server.url("/nowhere"), {}, "{}", 5s);
  EXPECT_EQ(missing.outcome, http::Outcome::response);
  EXPECT_EQ(missing.status, 404);
}

TEST_F(HttpClientTest, ConnectionRefusedIsAConnectionFailure) {
  // A port that was free a moment ago and has no listener.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ::close(fd);
  const int port = ntohs(addr.sin_port);

  http::Client client;
  auto r = client.post("http://127.0.0.1:" + std::to_string(port) + "/x", {}, "{}", 5s);
  EXPECT_EQ(r.outcome, http::Outcome::connection_failed);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  EXPECT_FALSE(r.ok());
}

TEST_F(HttpClientTest, UnsupportedSchemeIsAConnectionFailure) {
  http::Client client;
  auto r = client.post("file:///etc/passwd", {}, "{}", 5s);
  EXPECT_EQ(r.outcome, http::Outcome::connection_failed);
  EXPECT_TRUE(r.body.empty());
  EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpClientTest, AStalledServerTimesOut) {
  http::Client client;
  // The server holds the request for 10 s: only the 200 ms timeout can end it as timed out.
  auto r = client.post(server.url("/stall"), {}, "{}", 200ms);
  EXPECT_EQ(r.outcome, http::Outcome::timed_out);
  EXPECT_EQ(r.status, 0);
  EXPECT_FALSE(r.error.empty());
  server.release();
  // The handle is still usable afterwards.
  auto again = client.post(server.url("/echo"), {}, "after", 5s);
  EXPECT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.body, "after");
}

TEST_F(HttpClientTest, AStopRequestEndsARequestInFlightAtOnce) {
  http::Client client;
  std::stop_source stop;
  std::thread canceller([&] {
    seen.wait_for("/stall", 1);  // the request reached the server, which sits on it
    stop.request_stop();
  });
  auto r = client.post(server.url("/stall"), {}, "{}", 60s, {}, stop.get_token());
  canceller.join();
  EXPECT_EQ(r.outcome, http::Outcome::cancelled);
  EXPECT_FALSE(r.error.empty());
  server.release();
  // A stop requested before the request starts: nothing is sent.
  auto refused = client.post(server.url("/echo"), {}, "never", 5s, {}, stop.get_token());
  EXPECT_EQ(refused.outcome, http::Outcome::cancelled);
  // Without a stop the handle works as before, on the same connection pool.
  auto again = client.post(server.url("/echo"), {}, "after", 5s);
  EXPECT_TRUE(again.ok()) << again.error;
  EXPECT_EQ(again.body, "after");
  EXPECT_EQ(seen.count("/echo"), 1u);
}

TEST_F(HttpClientTest, StreamsChunksAsTheyArrive) {
  http::Client client;
  std::string received;
  int calls = 0;
  auto r = client.post(server.url("/paced"), {{"Accept", "text/event-stream"}}, "{}", 5s, [&](std::string_view chunk) {
    received.append(chunk);
    ++calls;
    int events = 0;
    for (std::size_t at = chunk.find("\n\n"); at != std::string_view::npos; at = chunk.find("\n\n", at + 2)) ++events;
    paced.add(events);
    return true;
  });
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(received, "data: 0\n\ndata: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\n");
  EXPECT_GE(calls, 2) << "the chunks arrived separately";
  EXPECT_TRUE(r.body.empty());
  ASSERT_NE(r.header("content-type"), nullptr);
  EXPECT_EQ(*r.header("content-type"), "text/event-stream");
}

TEST_F(HttpClientTest, ErrorBodiesAreCollectedEvenWithAChunkReceiver) {
  http::Client client;
  bool called = false;
  auto r = client.post(server.url("/limited"), {}, "{}", 5s, [&](std::string_view) { return called = true; });
  EXPECT_EQ(r.status, 429);
  EXPECT_FALSE(called);
  EXPECT_EQ(r.body, R"({"error":"slow down"})");
}

TEST_F(HttpClientTest, AReceiverCanAbort) {
  http::Client client;
  int calls = 0;
  auto r = client.post(server.url("/sse"), {}, "{}", 5s, [&](std::string_view) {
    ++calls;
    return false;
  });
  EXPECT_EQ(r.outcome, http::Outcome::aborted);
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(r.status, 200);
}

TEST_F(HttpClientTest, AnExceptionFromTheReceiverReachesTheCaller) {
  http::Client client;
  EXPECT_THROW(client.post(server.url("/sse"), {}, "{}", 5s,
                           [](std::string_view) -> bool { throw std::runtime_error("receiver failed"); }),
               std::runtime_error);
  auto again = client.post(server.url("/echo"), {}, "still fine", 5s);
  EXPECT_TRUE(again.ok()) << again.error;
}

TEST_F(HttpClientTest, AConnectionDroppedMidStreamIsAConnectionFailure) {
  http::Client client;
  std::string received;
  auto r = client.post(server.url("/reset"), {}, "{}", 5s, [&](std::string_view chunk) {
    received.append(chunk);
    return true;
  });
  EXPECT_EQ(r.outcome, http::Outcome::connection_failed) << r.error;
  EXPECT_EQ(r.status, 200) << "the status line had arrived";
  EXPECT_EQ(received, "data: partial\n\n");
  EXPECT_FALSE(r.error.empty());
}

TEST_F(HttpClientTest, GzipBodiesAreDecodedByTheServer) {
  http::Client client;
  std::string text;
  for (int i = 0; i < 2000; ++i) text += R"({"span":)" + std::to_string(i) + "},";
  const std::string compressed = http::gzip_compress(text);
  EXPECT_LT(compressed.size(), text.size() / 4);
  auto r = client.post(server.url("/echo"), {{"Content-Type", "application/json"}, {"Content-Encoding", "gzip"}},
                       compressed, 5s);
  ASSERT_TRUE(r.ok()) << r.error;
  EXPECT_EQ(r.body, text) << "httplib inflates Content-Encoding: gzip bodies";
}

TEST_F(HttpClientTest, ClientsOnSeveralThreads) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      http::Client client;
      for (int i = 0; i < 10; ++i) {
        const std::string body = std::to_string(t) + ":" + std::to_string(i);
        auto r = client.post(server.url("/echo"), {}, body, 5s);
        if (r.ok() && r.body == body) ++ok;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
}

TEST(GzipTest, RoundTrip) {
  for (const std::string text : {std::string(), std::string("a"), std::string(100000, 'z'), std::string("\0\1\2\3", 4)}) {
    const std::string compressed = http::gzip_compress(text);
    ASSERT_GE(compressed.size(), 18u);
    EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
    EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
    auto back = http::gzip_decompress(compressed);
    ASSERT_TRUE(back.has_value());
    EXPECT_EQ(*back, text);
  }
}

TEST(GzipTest, RejectsGarbageAndTruncation) {
  EXPECT_FALSE(http::gzip_decompress("not gzip at all").has_value());
  const std::string compressed = http::gzip_compress(std::string(10000, 'q') + "tail");
  EXPECT_FALSE(http::gzip_decompress(std::string_view(compressed).substr(0, compressed.size() / 2)).has_value());
}

TEST(RetryAfterTest, DelaySeconds) {
  EXPECT_EQ(http::parse_retry_after("120"), std::chrono::milliseconds(120000));
  EXPECT_EQ(http::parse_retry_after("0"), std::chrono::milliseconds(0));
  EXPECT_EQ(http::parse_retry_after(" 3 "), std::chrono::milliseconds(3000));
  EXPECT_EQ(http::parse_retry_after("1.5"), std::chrono::milliseconds(1500));
  EXPECT_EQ(http::parse_retry_after("0.25"), std::chrono::milliseconds(250));
  EXPECT_FALSE(http::parse_retry_after("").has_value());
  EXPECT_FALSE(http::parse_retry_after("-1").has_value());
  EXPECT_FALSE(http::parse_retry_after("12abc").has_value());
  EXPECT_FALSE(http::parse_retry_after("soon").has_value());
}

TEST(RetryAfterTest, HttpDates) {
  // 2015-10-21 07:28:00 UTC.
  const auto when = std::chrono::sys_days{std::chrono::year{2015} / 10 / 21} + 7h + 28min;
  const auto now = std::chrono::system_clock::time_point(when - 90s);
  EXPECT_EQ(http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now), std::chrono::milliseconds(90000));
  EXPECT_EQ(http::parse_retry_after("Wednesday, 21-Oct-15 07:28:00 GMT", now), std::chrono::milliseconds(90000));
  EXPECT_EQ(http::parse_retry_after("Wed Oct 21 07:28:00 2015", now), std::chrono::milliseconds(90000));
  // A date in the past: retry now.
  EXPECT_EQ(http::parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now + 1h), std::chrono::milliseconds(0));
}

// The shared backoff of the exporter, the collector sink and the LM client.
TEST(RetryBackoffTest, DoublesUpToItsMaximumWithinTheJitterFloor) {
  http::RetryBackoff half(100ms, 1000ms, 60s);
  http::RetryBackoff tight(100ms, 1000ms, 60s, 0.75);
  const http::Response none{.outcome = http::Outcome::response, .status = 503};
  for (int i = 0; i < 200; ++i) {
    for (int attempt = 1; attempt <= 6; ++attempt) {
      const long long step = std::min(100LL << (attempt - 1), 1000LL);
      const auto a = half.delay(attempt, none).count();
      EXPECT_GE(a, step / 2) << attempt;
      EXPECT_LE(a, step) << attempt;
      const auto b = tight.backoff(attempt).count();
      EXPECT_GE(b, step * 3 / 4) << attempt;
      EXPECT_LE(b, step) << attempt;
    }
  }
  EXPECT_LE(half.backoff(0), 100ms) << "attempt 0 is read as the first";
  EXPECT_EQ(http::RetryBackoff(0ms, 0ms, 60s).backoff(3), 0ms);
}

TEST(RetryBackoffTest, TheServersWaitWinsUpToTheCap) {
  http::RetryBackoff backoff(100ms, 1000ms, 5s);
  http::Response r{.outcome = http::Outcome::response, .status = 429, .headers = {{"retry-after", "2"}}};
  EXPECT_EQ(http::RetryBackoff::server_wait(r), 2000ms);
  EXPECT_EQ(backoff.delay(1, r), 2000ms);
  r.headers = {{"retry-after", "120"}};
  EXPECT_EQ(http::RetryBackoff::server_wait(r), 120000ms) << "server_wait() is not capped";
  EXPECT_EQ(backoff.delay(1, r), 5000ms);
  // retry-after-ms (OpenAI-style APIs) comes first, in milliseconds.
  r.headers = {{"retry-after", "120"}, {"retry-after-ms", "250"}};
  EXPECT_EQ(backoff.delay(1, r), 250ms);
  r.headers = {{"retry-after-ms", "soon"}, {"retry-after", "1"}};
  EXPECT_EQ(backoff.delay(1, r), 1000ms) << "an unreadable retry-after-ms falls back to retry-after";
  r.headers = {{"retry-after", "soon"}};
  EXPECT_FALSE(http::RetryBackoff::server_wait(r).has_value());
  EXPECT_LE(backoff.delay(1, r), 100ms);
}

// Found by tests/fuzz/retry_after_fuzz: a date centuries away overflowed system_clock's
// nanoseconds (undefined behaviour). Like a delay-seconds beyond 10^9, it is refused; a date
// centuries ago means now.
TEST(RetryAfterTest, DatesCenturiesAwayAreRefusedWithoutOverflow) {
  const auto now = std::chrono::system_clock::time_point(std::chrono::sys_days{std::chrono::year{2025} / 1 / 1});
  EXPECT_FALSE(http::parse_retry_after("Fri, 31 Dec 20027 23:59:59 GMT", now).has_value());
  EXPECT_FALSE(http::parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT", now).has_value());
  EXPECT_FALSE(http::parse_retry_after("1000000001", now).has_value());
  EXPECT_EQ(http::parse_retry_after("Sun, 01 Jan 2045 00:00:00 GMT", now), std::chrono::milliseconds(631152000000));
  EXPECT_EQ(http::parse_retry_after("Mon, 01 Jan 1601 00:00:00 GMT", now), std::chrono::milliseconds(0));
}

}  // namespace
