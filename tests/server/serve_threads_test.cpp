// What `top -H`, `ps -L`, gdb and perf show of a running `synth-trace serve`: every thread of the
// server says what it does, so that a profile or a stuck process can be read.
#include <gtest/gtest.h>
#include <httplib.h>

#include <algorithm>

#include "server/server.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
namespace support = synth::tracing::testing;

TEST(ServeThreads, EveryThreadOfTheServerIsNamed) {
  TempDir dir("synth_serve_threads");
  const auto before = support::thread_names();
  server::ServerOptions options{.db = dir.db(), .port = 0};
  options.http_threads = 4;
  server::Server serve(std::move(options));
  httplib::Client client("127.0.0.1", serve.port());
  const auto r = client.Post("/api/v1/query", R"({"sql": "SELECT 1"})", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;

  EXPECT_EQ(support::threads_named("serve-http", 1 + 4), 1 + 4) << "the accept loop and its four workers";
  EXPECT_EQ(support::threads_named("serve-writer", 1), 1);
  EXPECT_EQ(support::threads_named("serve-release", 1), 1) << "the thread that frees committed sessions";
  EXPECT_EQ(support::threads_named("serve-held", 1), 1) << "the thread that stores held log records and spans";
  const auto now = support::thread_names();
  // Nothing the server started goes by the program's own name (the test's main thread's).
  std::string program = support::file_contents("/proc/self/comm");
  program.pop_back();  // its newline
  EXPECT_EQ(std::count(now.begin(), now.end(), program), std::count(before.begin(), before.end(), program));
}
