// The collector sink against the real `synth-trace serve` (child processes on 127.0.0.1): several
// processes into one server, a busy server (503), a server killed and restarted, a server that is
// gone at shutdown (JSON files, then `synth-trace import`), and a DuckDB sink beside a serve.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "collector/collector_support.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::CapturedDiagnostics;
using synth::tracing::testing::file_contents;
using synth::tracing::testing::ScopedEnv;
using synth::tracing::testing::TempDir;
using synth_test::ServeProcess;
using synth_test::ChildResult;
using synth_test::count;
using synth_test::quiet_config;
using synth_test::record;
using synth_test::run;
using synth_test::stat;
using synth_test::stored_ids;
using synth_test::unused_port;

// The three ways to configure it: code, environment, file; code wins.
TEST(CollectorConfig, FieldEnvironmentAndFileAllWork) {
  TempDir dir("collector_config");
  {
    ScopedEnv env("SYNTH_TRACING_COLLECTOR", "http://127.0.0.1:4319");
    ScopedEnv fallback("SYNTH_TRACING_COLLECTOR_FALLBACK_DIR", (dir.path / "unsent").c_str());
    const TracingConfig c = TracingConfig{}.load();
    EXPECT_EQ(*c.collector, "http://127.0.0.1:4319");
    EXPECT_EQ(*c.collector_fallback_dir, dir.path / "unsent");
    const CollectorOptions o = CollectorOptions::from_config(c);
    EXPECT_EQ(o.url, "http://127.0.0.1:4319");
    EXPECT_EQ(o.fallback_dir, dir.path / "unsent");
    // Code wins over the environment.
    EXPECT_EQ(*TracingConfig{.collector = std::string("http://localhost:9")}.load().collector, "http://localhost:9");
  }
  {
    std::ofstream(dir.file("c.toml")) << "collector = \"http://127.0.0.1:5000\"\ncollector_batch_sessions = 7\n"
                                         "collector_timeout_ms = 1234\ncollector_token = \"tok\"\n";
    const TracingConfig c = TracingConfig{}.load(dir.file("c.toml"));
    EXPECT_EQ(*c.collector, "http://127.0.0.1:5000");
    const CollectorOptions o = CollectorOptions::from_config(c);
    EXPECT_EQ(o.batch_sessions, 7u);
    EXPECT_EQ(o.retry_timeout, std::chrono::milliseconds(1234));
    EXPECT_EQ(o.token, "tok");
  }
  {
    ScopedEnv env("SYNTH_TRACING_COLLECTOR", "127.0.0.1:4319");
    try {
      TracingConfig{}.load();
      FAIL() << "a URL without a scheme was accepted";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("http://"), std::string::npos) << e.what();
    }
  }
  EXPECT_THROW(CollectorSink(CollectorOptions{.url = "ftp://x"}), Error);
}

// Four processes, configured by the environment alone, into one server: every session stored
// once, the counts of each process exact, and the planted email masked before it left.
TEST(CollectorSinkServe, ConcurrentProcessesStoreEverySessionOnce) {
  TempDir dir("collector_procs");
  ServeProcess serve(dir.db());
  constexpr int kProcesses = 4;
  constexpr int kSessions = 60;
  std::vector<std::thread> children;
  std::vector<ChildResult> results(kProcesses);
  for (int p = 0; p < kProcesses; ++p) {
    children.emplace_back([&, p] {
      results[p] = run({COLLECTOR_CHILD_BINARY, "proc" + std::to_string(p), std::to_string(kSessions), "20"},
                       {{"SYNTH_TRACING_COLLECTOR", serve.url()},
                        {"SYNTH_TRACING_COLLECTOR_BATCH_SESSIONS", "16"},
                        {"SYNTH_TRACING_COLLECTOR_FALLBACK_DIR", (dir.path / "unsent").string()},
                        {"SYNTH_TRACING_SPILL_DIR", (dir.path / "spill").string()}},
                       dir.path / ("child" + std::to_string(p) + ".err"));
    });
  }
  for (auto& t : children) t.join();
  for (int p = 0; p < kProcesses; ++p) {
    const std::string& out = results[p].out;
    ASSERT_EQ(results[p].code, 0) << out << file_contents(dir.path / ("child" + std::to_string(p) + ".err"));
    EXPECT_EQ(stat(out, "flushed"), 1u) << out;
    EXPECT_EQ(stat(out, "ended"), std::uint64_t{kSessions}) << out;
    EXPECT_EQ(stat(out, "sent"), std::uint64_t{kSessions}) << out;
    EXPECT_EQ(stat(out, "fallback"), 0u) << out;
    EXPECT_EQ(stat(out, "lost"), 0u) << out;
    EXPECT_EQ(stat(out, "dropped"), 0u) << out;
  }
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), std::size_t{kProcesses * kSessions});
  EXPECT_EQ(unique.size(), ids.size());
  for (int p = 0; p < kProcesses; ++p) {
    for (int i = 0; i < kSessions; ++i) EXPECT_TRUE(unique.contains("proc" + std::to_string(p) + "-" + std::to_string(i)));
  }
  EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM events"), std::int64_t{kProcesses * kSessions * 20});
  EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM messages WHERE CAST(content AS VARCHAR) LIKE '%alice.child@example.com%'"), 0);
  EXPECT_EQ(count(dir.db(), "SELECT count(*) FROM messages WHERE CAST(content AS VARCHAR) LIKE '%[EMAIL]%'"),
            std::int64_t{kProcesses * kSessions});
  EXPECT_FALSE(std::filesystem::exists(dir.path / "unsent"));
}

// Our two ways out side by side into one server: two processes with the collector sink, two with
// the OTLP exporter (mode otel, OTEL_EXPORTER_OTLP_ENDPOINT at the server): every session once.
TEST(CollectorSinkServe, CollectorAndOtlpProcessesShareOneServer) {
  TempDir dir("collector_mixed");
  ServeProcess serve(dir.db());
  constexpr int kSessions = 30;
  std::vector<std::thread> children;
  std::vector<ChildResult> results(4);
  for (int p = 0; p < 4; ++p) {
    children.emplace_back([&, p] {
      std::map<std::string, std::string> env{{"SYNTH_TRACING_SPILL_DIR", (dir.path / "spill").string()}};
      if (p < 2) {
        env["SYNTH_TRACING_COLLECTOR"] = serve.url();
      } else {
        env["SYNTH_TRACING_MODE"] = "otel";
        env["OTEL_EXPORTER_OTLP_ENDPOINT"] = serve.url();
        env["SYNTH_TRACING_OTEL_FLUSH_ON_SESSION_END"] = "true";
      }
      results[p] = run({COLLECTOR_CHILD_BINARY, "mixed" + std::to_string(p), std::to_string(kSessions), "5"}, env,
                       dir.path / ("mixed" + std::to_string(p) + ".err"));
    });
  }
  for (auto& t : children) t.join();
  for (int p = 0; p < 4; ++p) {
    const std::string& out = results[p].out;
    ASSERT_EQ(results[p].code, 0) << out << file_contents(dir.path / ("mixed" + std::to_string(p) + ".err"));
    EXPECT_EQ(stat(out, "flushed"), 1u) << out;
    if (p < 2) {
      EXPECT_EQ(stat(out, "sent"), std::uint64_t{kSessions}) << out;
    } else {
      EXPECT_GT(stat(out, "spans_exported"), 0u) << out;
      EXPECT_EQ(stat(out, "spans_failed"), 0u) << out;
      EXPECT_EQ(stat(out, "spans_dropped"), 0u) << out;
    }
  }
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), ids.size());
  for (int p = 0; p < 4; ++p) {
    for (int i = 0; i < kSessions; ++i) {
      EXPECT_TRUE(unique.contains("mixed" + std::to_string(p) + "-" + std::to_string(i))) << p << " " << i;
    }
  }
  EXPECT_EQ(ids.size(), std::size_t{4 * kSessions});
}

// A server whose ingest queue holds 4 sessions, fed by 6 tracers at once in batches of 4: it
// answers 503 with Retry-After, the sinks wait and send again, and everything is stored once.
TEST(CollectorSinkServe, BusyServerAnswers503ThenStores) {
  TempDir dir("collector_busy");
  ServeProcess serve(dir.db(), {"--queue-sessions", "4"});
  constexpr int kTracers = 6;
  constexpr int kSessions = 40;
  std::vector<std::shared_ptr<CollectorSink>> sinks;
  for (int t = 0; t < kTracers; ++t) {
    sinks.push_back(std::make_shared<CollectorSink>(CollectorOptions{
        .url = serve.url(), .fallback_dir = dir.path / "unsent", .batch_sessions = 4, .initial_backoff = std::chrono::milliseconds(20)}));
  }
  std::vector<std::thread> threads;
  std::atomic<int> flushed{0};
  for (int t = 0; t < kTracers; ++t) {
    threads.emplace_back([&, t] {
      SessionTracer tracer(quiet_config());
      tracer.add_sink(sinks[t]);
      for (int i = 0; i < kSessions; ++i) record(tracer, "busy" + std::to_string(t) + "-" + std::to_string(i), 30);
      if (tracer.flush(std::chrono::seconds(120))) flushed.fetch_add(1);
      const TracerStats s = tracer.stats();
      EXPECT_EQ(s.collector_sessions_sent, std::uint64_t{kSessions});
      EXPECT_EQ(s.sessions_lost, 0u);
      EXPECT_EQ(s.sessions_dropped, 0u);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(flushed.load(), kTracers);
  std::uint64_t throttled = 0;
  std::uint64_t retries = 0;
  for (const auto& sink : sinks) {
    const CollectorStats s = sink->stats();
    EXPECT_EQ(s.sessions_sent, std::uint64_t{kSessions});
    EXPECT_EQ(s.sessions_in_fallback, 0u);
    throttled += s.throttled;
    retries += s.retries;
  }
  EXPECT_GT(throttled, 0u) << "the server never said it was full: the test did not test backpressure";
  EXPECT_GE(retries, throttled);
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  EXPECT_EQ(ids.size(), std::size_t{kTracers * kSessions});
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
}

// The server is killed (SIGKILL) while sessions flow, and started again on the same port and
// file: the sink retries; what it had acknowledged was committed, the rest arrives; each once.
TEST(CollectorSinkServe, ServerKilledMidIngestAndRestarted) {
  TempDir dir("collector_kill");
  auto serve = std::make_unique<ServeProcess>(dir.db());
  const int port = serve->port();
  const std::string url = serve->url();
  auto sink = std::make_shared<CollectorSink>(CollectorOptions{
      .url = url, .fallback_dir = dir.path / "unsent", .batch_sessions = 5, .initial_backoff = std::chrono::milliseconds(50)});
  constexpr int kSessions = 300;
  std::atomic<int> recorded{0};
  {
    SessionTracer tracer(quiet_config());
    tracer.add_sink(sink);
    std::thread agent([&] {
      for (int i = 0; i < kSessions; ++i) {
        record(tracer, "kill-" + std::to_string(i), 10);
        recorded.fetch_add(1);
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    });
    // Mid-ingest: some sessions acknowledged, more on their way.
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (sink->stats().sessions_sent < 40 && std::chrono::steady_clock::now() < give_up) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    const std::uint64_t acknowledged_before_kill = sink->stats().sessions_sent;
    EXPECT_EQ(serve->stop(SIGKILL), 128 + SIGKILL);
    serve.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    serve = std::make_unique<ServeProcess>(dir.db(), std::vector<std::string>{}, port);
    agent.join();
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(120)));
    const TracerStats s = tracer.stats();
    EXPECT_EQ(s.collector_sessions_sent, std::uint64_t{kSessions});
    EXPECT_EQ(s.collector_sessions_in_fallback, 0u);
    EXPECT_EQ(s.sessions_lost, 0u);
    EXPECT_EQ(s.sessions_dropped, 0u);
    EXPECT_GT(s.collector_retries, 0u) << "the kill did not make the sink retry";
    EXPECT_GE(acknowledged_before_kill, 40u);
  }
  ASSERT_EQ(serve->stop(SIGTERM), 0) << serve->stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(ids.size(), std::size_t{kSessions});
  EXPECT_EQ(unique.size(), ids.size());
  for (int i = 0; i < kSessions; ++i) EXPECT_TRUE(unique.contains("kill-" + std::to_string(i))) << i;
}

// Nobody listens, and the tracer shuts down: within its deadline the sessions go to JSON files
// (a warning names the folder and the command), and `synth-trace import` stores them later.
TEST(CollectorSinkServe, UnreachableAtShutdownGoesToFilesThenImport) {
  TempDir dir("collector_gone");
  CapturedDiagnostics diagnostics;
  const std::string url = "http://127.0.0.1:" + std::to_string(unused_port());
  const std::filesystem::path unsent = dir.path / "unsent";
  constexpr int kSessions = 25;
  std::shared_ptr<CollectorSink> sink;
  const auto started = std::chrono::steady_clock::now();
  {
    ScopedEnv env("SYNTH_TRACING_COLLECTOR", url.c_str());
    ScopedEnv fallback("SYNTH_TRACING_COLLECTOR_FALLBACK_DIR", unsent.c_str());
    TracingConfig config = quiet_config();
    config.shutdown_timeout_ms = 3000;
    SessionTracer tracer(config);
    for (int i = 0; i < kSessions; ++i) {
      auto session = tracer.start_session("gone-" + std::to_string(i));
      tracer.add_message(SessionEventMessage{.content = Value("write to bob.gone@example.com"), .message_type = "user"});
    }
    // The tracer shuts down here, with the server unreachable.
    EXPECT_EQ(tracer.stats().sessions_ended, std::uint64_t{kSessions});
  }
  const auto took = std::chrono::steady_clock::now() - started;
  EXPECT_LT(took, std::chrono::milliseconds(3000 + 1500)) << "the shutdown deadline was not kept";
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(unsent)) {
    ++files;
    EXPECT_EQ(file_contents(entry.path()).find("bob.gone@example.com"), std::string::npos) << "PII reached the file";
  }
  EXPECT_EQ(files, std::size_t{kSessions});
  bool named = false;
  for (const std::string& m : diagnostics.all()) {
    if (m.find(unsent.string()) != std::string::npos && m.find("synth-trace") != std::string::npos &&
        m.find("import") != std::string::npos) {
      named = true;
    }
  }
  EXPECT_TRUE(named) << "no warning naming the folder and the import command";

  // Later, with a server up: the command the warning gives.
  ServeProcess serve(dir.db());
  const ChildResult imported =
      run({SYNTH_TRACE_BINARY, "--server", serve.url(), "import", unsent.string()}, {}, dir.path / "import.err");
  ASSERT_EQ(imported.code, 0) << imported.out << file_contents(dir.path / "import.err");
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  EXPECT_EQ(ids.size(), std::size_t{kSessions});
}

// A sink with its own handle, while nobody listens: the counts say where every session is.
TEST(CollectorSinkServe, CountsAreExactWhenTheServerIsAway) {
  TempDir dir("collector_counts");
  CapturedDiagnostics diagnostics;
  auto sink = std::make_shared<CollectorSink>(CollectorOptions{.url = "http://127.0.0.1:" + std::to_string(unused_port()),
                                                               .fallback_dir = dir.path / "unsent",
                                                               .batch_sessions = 4,
                                                               .retry_timeout = std::chrono::milliseconds(300),
                                                               .initial_backoff = std::chrono::milliseconds(20)});
  {
    SessionTracer tracer(quiet_config());
    tracer.add_sink(sink);
    for (int i = 0; i < 10; ++i) record(tracer, "away-" + std::to_string(i));
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
    const TracerStats s = tracer.stats();
    EXPECT_EQ(s.collector_sessions_sent, 0u);
    EXPECT_EQ(s.collector_sessions_in_fallback, 10u);
    EXPECT_EQ(s.sessions_lost, 0u);
  }
  const CollectorStats s = sink->stats();
  EXPECT_EQ(s.sessions_in_fallback, 10u);
  EXPECT_GT(s.requests, 0u);
}

// The files a sink wrote while its server was away are sent, and removed, once it answers.
TEST(CollectorSinkServe, FilesWrittenDuringAnOutageAreSentWhenTheServerReturns) {
  TempDir dir("collector_return");
  CapturedDiagnostics diagnostics;
  const int port = unused_port();
  auto sink = std::make_shared<CollectorSink>(CollectorOptions{.url = "http://127.0.0.1:" + std::to_string(port),
                                                               .fallback_dir = dir.path / "unsent",
                                                               .batch_sessions = 3,
                                                               // room for a slow (sanitized) server's commit
                                                               .retry_timeout = std::chrono::seconds(3),
                                                               .initial_backoff = std::chrono::milliseconds(20),
                                                               .probe_interval = std::chrono::milliseconds(100)});
  SessionTracer tracer(quiet_config());
  tracer.add_sink(sink);
  for (int i = 0; i < 7; ++i) record(tracer, "outage-" + std::to_string(i));
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
  EXPECT_EQ(sink->stats().sessions_in_fallback, 7u);
  ServeProcess serve(dir.db(), {}, port);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // past the probe interval
  for (int i = 7; i < 10; ++i) record(tracer, "outage-" + std::to_string(i));
  ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
  const CollectorStats s = sink->stats();
  EXPECT_EQ(s.sessions_sent, 10u);
  EXPECT_EQ(s.sessions_in_fallback, 0u);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path / "unsent"));
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  EXPECT_EQ(stored_ids(dir.db()).size(), 10u);
}

// A DuckDB sink on a file that a `synth-trace serve` owns sends to that server, says so, and
// the sessions end up in the server's database.
TEST(CollectorSinkServe, DuckDBSinkBesideServeSendsToIt) {
  TempDir dir("collector_duckdb");
  CapturedDiagnostics diagnostics;
  ServeProcess serve(dir.db());
  auto sink = std::make_shared<DuckDBSink>(dir.db());
  EXPECT_EQ(sink->server_url(), serve.url());
  EXPECT_THROW(sink->manager(), DatabaseLocked);
  bool said = false;
  for (const std::string& m : diagnostics.all()) {
    if (m.find("owned by synth-trace serve at " + serve.url()) != std::string::npos) said = true;
  }
  EXPECT_TRUE(said) << "no log line saying the sessions go to the server";
  {
    SessionTracer tracer(quiet_config());
    tracer.add_sink(sink);
    for (int i = 0; i < 20; ++i) record(tracer, "beside-" + std::to_string(i));
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));
    EXPECT_EQ(tracer.stats().sessions_lost, 0u);
  }
  sink.reset();
  EXPECT_FALSE(std::filesystem::exists(dir.path / "traces.duckdb.pending"));
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  EXPECT_EQ(ids.size(), 20u);
}

// serve --forward-otlp: a machine's server feeds a further OTLP collector (here a second serve,
// on its /v1/traces) with every session it stores; the sessions arrive there by their ids.
TEST(CollectorSinkServe, ServeForwardsWhatItStoresAsOtlp) {
  TempDir dir("collector_forward");
  ServeProcess fleet(dir.file("fleet.duckdb"));
  ServeProcess local(dir.db(), {"--forward-otlp", fleet.url() + "/v1/traces"});
  {
    SessionTracer tracer(quiet_config());
    tracer.add_sink(std::make_shared<CollectorSink>(CollectorOptions{.url = local.url(), .fallback_dir = dir.path / "unsent"}));
    for (int i = 0; i < 12; ++i) record(tracer, "fwd-" + std::to_string(i), 4);
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));
    EXPECT_EQ(tracer.stats().collector_sessions_sent, 12u);
  }
  ASSERT_EQ(local.stop(SIGTERM), 0) << local.stderr_text();  // exports what it queued before it ends
  EXPECT_NE(local.output().find("forwarding stored sessions as OTLP to " + fleet.url()), std::string::npos);
  ASSERT_EQ(fleet.stop(SIGTERM), 0) << fleet.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.file("fleet.duckdb"));
  const std::set<std::string> unique(ids.begin(), ids.end());
  EXPECT_EQ(unique.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_TRUE(unique.contains("fwd-" + std::to_string(i))) << i;
  EXPECT_EQ(stored_ids(dir.db()).size(), 12u);
}

// A server that takes connections and never answers holds the tracer's shutdown only until its
// deadline: the request in flight is cancelled and the sessions go to files.
TEST(CollectorSinkServe, AServerThatNeverAnswersHoldsTheShutdownOnlyUntilTheDeadline) {
  TempDir dir("collector_silent");
  CapturedDiagnostics diagnostics;
  // Listens (the kernel completes connections into the backlog) but never accepts or answers.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(fd, 16), 0);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  auto sink = std::make_shared<CollectorSink>(CollectorOptions{
      .url = "http://127.0.0.1:" + std::to_string(ntohs(address.sin_port)), .fallback_dir = dir.path / "unsent"});
  const auto started = std::chrono::steady_clock::now();
  {
    TracingConfig config = quiet_config();
    config.shutdown_timeout_ms = 1500;
    SessionTracer tracer(config);
    tracer.add_sink(sink);
    for (int i = 0; i < 6; ++i) record(tracer, "silent-" + std::to_string(i));
  }
  const auto took = std::chrono::steady_clock::now() - started;
  ::close(fd);
  EXPECT_LT(took, std::chrono::milliseconds(1500 + 1000));
  const CollectorStats s = sink->stats();
  EXPECT_EQ(s.sessions_sent, 0u);
  EXPECT_EQ(s.sessions_in_fallback, 6u);
}

// A request larger than the server takes (413) is split until it fits; a session too large on its
// own goes to the fallback folder, nothing else is held back.
TEST(CollectorSinkServe, RequestsTooLargeAreSplitAndAnOversizedSessionIsKeptInAFile) {
  TempDir dir("collector_split");
  CapturedDiagnostics diagnostics;
  ServeProcess serve(dir.db(), {"--max-body-bytes", "20000"});
  auto sink = std::make_shared<CollectorSink>(
      CollectorOptions{.url = serve.url(), .fallback_dir = dir.path / "unsent", .batch_sessions = 64});
  {
    SessionTracer tracer(quiet_config());
    tracer.add_sink(sink);
    for (int i = 0; i < 40; ++i) record(tracer, "split-" + std::to_string(i), 3);
    {
      auto session = tracer.start_session("oversized");
      for (int m = 0; m < 8; ++m) {
        tracer.add_message(SessionEventMessage{.content = Value(std::string(9000, 'x')), .message_type = "user"});
      }
    }
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(60)));
    const TracerStats s = tracer.stats();
    EXPECT_EQ(s.collector_sessions_sent, 40u);
    EXPECT_EQ(s.collector_sessions_in_fallback, 1u);
    EXPECT_EQ(s.sessions_lost, 0u);
  }
  EXPECT_GT(sink->stats().requests, 3u);
  ASSERT_EQ(serve.stop(SIGTERM), 0) << serve.stderr_text();
  const std::vector<std::string> ids = stored_ids(dir.db());
  EXPECT_EQ(ids.size(), 40u);
  std::size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path / "unsent")) {
    ++files;
    EXPECT_NE(entry.path().filename().string().find("oversized"), std::string::npos);
  }
  EXPECT_EQ(files, 1u);
}
