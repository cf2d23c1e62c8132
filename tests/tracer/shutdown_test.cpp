// A process never stays alive for its tracer longer than the shutdown deadline (plus one second):
// a child program ends with spans queued for a collector that accepts connections and never
// answers, or sessions queued for a sink that never returns, by destroying its tracer or by
// leaving it to the exit handler. What could not be delivered is counted and reported.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "support.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using synth::tracing::testing::ScopedEnv;
using namespace std::chrono_literals;

constexpr auto kDeadline = 1000ms;  // SYNTH_TRACING_SHUTDOWN_TIMEOUT_MS of the child

// A collector that accepts TCP connections and never answers: the kernel completes each
// handshake into the listen backlog and takes the request bytes; nothing is read or written.
class SilentCollector {
 public:
  SilentCollector() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof address;
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), size) != 0 || ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &size) != 0) {
      throw std::runtime_error("the silent collector could not listen on 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentCollector() { ::close(fd_); }
  SilentCollector(const SilentCollector&) = delete;
  SilentCollector& operator=(const SilentCollector&) = delete;

  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

struct ChildRun {
  std::string out;
  std::string err;
  bool ended_in_time = false;  // exited within the deadline + 1 s of printing "ending"
  int status = -1;
};

// Reads what is available on `fd` into `into`; false at end of file.
bool read_some(int fd, std::string& into) {
  char buffer[4096];
  const ssize_t n = ::read(fd, buffer, sizeof buffer);
  if (n > 0) into.append(buffer, static_cast<std::size_t>(n));
  return n > 0 || (n < 0 && errno == EINTR);
}

// Runs shutdown_child with `args`; its stdout closing is its exit.
ChildRun run_child(const std::vector<std::string>& args) {
  int out[2], err[2];
  if (::pipe(out) != 0 || ::pipe(err) != 0) throw std::runtime_error("pipe failed");
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::dup2(err[1], STDERR_FILENO);
    ::close(out[0]);
    ::close(err[0]);
    std::vector<char*> argv{const_cast<char*>(SHUTDOWN_CHILD_BINARY)};
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    ::execv(SHUTDOWN_CHILD_BINARY, argv.data());
    ::_exit(127);
  }
  ::close(out[1]);
  ::close(err[1]);
  ChildRun run;
  // Until "ending": the child's own work, bounded generously; then the bound under test.
  auto limit = Clock::now() + 60s;
  bool ending_seen = false;
  bool open_out = true, open_err = true;
  while (open_out) {
    if (!ending_seen && run.out.find("ending\n") != std::string::npos) {
      ending_seen = true;
      limit = Clock::now() + kDeadline + 1s;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(limit - Clock::now()).count();
    if (left <= 0) break;
    pollfd fds[2] = {{out[0], POLLIN, 0}, {open_err ? err[0] : -1, POLLIN, 0}};
    if (::poll(fds, 2, static_cast<int>(left)) < 0 && errno != EINTR) break;
    if (fds[0].revents != 0) open_out = read_some(out[0], run.out);
    if (open_err && fds[1].revents != 0) open_err = read_some(err[0], run.err);
  }
  run.ended_in_time = ending_seen && !open_out;
  if (!run.ended_in_time) ::kill(pid, SIGKILL);
  while (open_err && read_some(err[0], run.err)) {
  }
  ::close(out[0]);
  ::close(err[0]);
  while (::waitpid(pid, &run.status, 0) < 0 && errno == EINTR) {
  }
  return run;
}

// The counters of the child's "stats" line.
std::map<std::string, unsigned long long> stats_of(const std::string& out) {
  std::map<std::string, unsigned long long> stats;
  const auto at = out.find("stats ");
  if (at == std::string::npos) return stats;
  std::istringstream line(out.substr(at + 6, out.find('\n', at) - at - 6));
  std::string item;
  while (line >> item) {
    const auto eq = item.find('=');
    stats[item.substr(0, eq)] = std::stoull(item.substr(eq + 1));
  }
  return stats;
}

// TSAN_OPTIONS for the child: ThreadSanitizer's runtime otherwise sleeps a second at exit while
// other threads live (a sink thread left behind), which is not the program's doing.
std::string child_tsan_options() {
  const char* given = std::getenv("TSAN_OPTIONS");
  return (given != nullptr ? std::string(given) + ":" : std::string()) + "atexit_sleep_ms=0";
}

class Shutdown : public ::testing::Test {
 protected:
  ScopedEnv deadline{"SYNTH_TRACING_SHUTDOWN_TIMEOUT_MS", std::to_string(kDeadline.count()).c_str()};
  // Batches of 8: two are stuck in requests (two exports in flight, the default) while the rest
  // wait in the queue.
  ScopedEnv batch{"SYNTH_TRACING_OTEL_MAX_EXPORT_BATCH_SIZE", "8"};
  ScopedEnv tsan{"TSAN_OPTIONS", child_tsan_options().c_str()};
};

}  // namespace

TEST_F(Shutdown, AStalledCollectorHoldsTheTracersDestructionOnlyUntilTheDeadline) {
  SilentCollector collector;
  const ChildRun run = run_child({"spans", collector.endpoint(), "destroy"});
  ASSERT_TRUE(run.ended_in_time) << "stdout: " << run.out << "\nstderr: " << run.err;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.err;
  EXPECT_NE(run.err.find("abandoned at shutdown"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("47 spans still queued were dropped"), std::string::npos) << run.err;
}

TEST_F(Shutdown, AStalledCollectorHoldsTheExitOnlyUntilTheDeadline) {
  SilentCollector collector;
  const ChildRun run = run_child({"spans", collector.endpoint(), "exit"});
  ASSERT_TRUE(run.ended_in_time) << "stdout: " << run.out << "\nstderr: " << run.err;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.err;
  auto stats = stats_of(run.out);
  // 3 sessions of 1 + 20 spans: the two batches in stalled requests failed, the rest was dropped.
  EXPECT_EQ(stats["spans_ended"], 63u) << run.out;
  EXPECT_EQ(stats["spans_exported"], 0u);
  EXPECT_EQ(stats["spans_failed"], 16u);
  EXPECT_EQ(stats["spans_dropped"], 47u);
  EXPECT_EQ(stats["spans_queued"], 0u);
}

TEST_F(Shutdown, AStuckSinkHoldsTheTracersDestructionOnlyUntilTheDeadline) {
  const ChildRun run = run_child({"sink", "destroy"});
  ASSERT_TRUE(run.ended_in_time) << "stdout: " << run.out << "\nstderr: " << run.err;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.err;
  EXPECT_NE(run.err.find("2 sessions still queued were dropped"), std::string::npos) << run.err;
}

TEST_F(Shutdown, AStuckSinkHoldsTheExitOnlyUntilTheDeadline) {
  const ChildRun run = run_child({"sink", "exit"});
  ASSERT_TRUE(run.ended_in_time) << "stdout: " << run.out << "\nstderr: " << run.err;
  EXPECT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0) << run.err;
  auto stats = stats_of(run.out);
  EXPECT_EQ(stats["sessions_dropped"], 2u) << run.out;
  EXPECT_EQ(stats["sessions_pending"], 1u);  // the one the sink is still writing
}
