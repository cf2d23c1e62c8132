// The real `synth-trace serve` as a child process for tests: started on a free port of
// 127.0.0.1 (it prints the address on its first line), stopped with a signal.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>
#include <httplib.h>

#include "support.hpp"
#include "synth/tracing/json.hpp"

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace synth_test {

class ServeProcess {
 public:
  /// Starts `synth-trace --db <db> serve --port <port> <args...>` (0: a free port) and waits for
  /// its address line. `launcher`, when given, runs it (its program by full path, with its
  /// arguments: `/usr/bin/prlimit --fsize=N --`).
  explicit ServeProcess(const std::filesystem::path& db, std::vector<std::string> args = {}, int port = 0,
                        std::vector<std::string> launcher = {})
      : db_(db) {
    std::vector<std::string> argv = std::move(launcher);
    argv.insert(argv.end(), {SYNTH_TRACE_BINARY, "--db", db.string(), "serve", "--port", std::to_string(port)});
    argv.insert(argv.end(), args.begin(), args.end());
    stderr_path_ = db.string() + ".serve-stderr." + std::to_string(counter_++);
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
    // posix_spawn, not fork: the test process has threads (DuckDB's, httplib's), and a forked
    // child must not allocate before exec.
    std::vector<char*> raw;
    for (auto& a : argv) raw.push_back(a.data());
    raw.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    ::posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, stderr_path_.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
    const int spawned = ::posix_spawn(&pid_, raw[0], &actions, nullptr, raw.data(), environ);
    ::posix_spawn_file_actions_destroy(&actions);
    if (spawned != 0) {
      pid_ = -1;
      ::close(out[0]);
      ::close(out[1]);
      throw std::runtime_error(std::string("could not start ") + raw[0]);
    }
    ::close(out[1]);
    out_ = out[0];
    const std::string first = read_line(std::chrono::seconds(60));
    const std::string marker = "listening on http://127.0.0.1:";
    const auto at = first.find(marker);
    if (at == std::string::npos) {
      const int code = wait_exit();
      throw std::runtime_error("synth-trace serve did not start (exit " + std::to_string(code) + "): " + first +
                               stderr_text());
    }
    port_ = std::stoi(first.substr(at + marker.size()));
  }

  ~ServeProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      wait_exit();
    }
    if (out_ >= 0) ::close(out_);
    std::error_code ec;
    std::filesystem::remove(stderr_path_, ec);
  }
  ServeProcess(const ServeProcess&) = delete;
  ServeProcess& operator=(const ServeProcess&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return pid_; }

  /// A client of this server (keep-alive, generous timeouts).
  std::unique_ptr<httplib::Client> client() const {
    auto c = std::make_unique<httplib::Client>("127.0.0.1", port_);
    c->set_keep_alive(true);
    c->set_tcp_nodelay(true);
    c->set_read_timeout(std::chrono::seconds(120));
    c->set_write_timeout(std::chrono::seconds(120));
    return c;
  }

  /// Sends `signal` and waits for the exit: the exit code (128 + signal when killed by it).
  int stop(int signal = SIGTERM) {
    ::kill(pid_, signal);
    return wait_exit();
  }

  /// What it printed on stdout after its first line (complete once it exited).
  std::string output() {
    std::string text;
    char buffer[4096];
    ssize_t n;
    while ((n = ::read(out_, buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
    return text;
  }

  std::string stderr_text() const { return synth::tracing::testing::file_contents(stderr_path_); }

 private:
  int wait_exit() {
    int status = 0;
    if (pid_ <= 0) return -1;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

  // A line of the child's stdout, waiting for it (poll: woken by the data, or by the exit).
  std::string read_line(std::chrono::milliseconds limit) {
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + limit;
    char c;
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(left.count(), 1))) <= 0) continue;
      const ssize_t n = ::read(out_, &c, 1);
      if (n <= 0 || c == '\n') return line;
      line += c;
    }
    return line;
  }

  std::filesystem::path db_;
  std::string stderr_path_;
  pid_t pid_ = -1;
  int out_ = -1;
  int port_ = 0;
  static inline int counter_ = 0;
};

/// GET `path` from `serve` as JSON; a failure (no answer, not 200) is reported and gives null.
inline synth::tracing::Value get_json(const ServeProcess& serve, const std::string& path) {
  const auto r = serve.client()->Get(path);
  if (!r || r->status != 200) {
    ADD_FAILURE() << "GET " << path << ": " << (r ? std::to_string(r->status) + " " + r->body : std::string("no answer"));
    return synth::tracing::Value();
  }
  return synth::tracing::Value::parse(r->body);
}

// Sends `request` as it is on a new connection to 127.0.0.1:`port` and returns the whole answer
// (the request should ask the server to close the connection).
inline std::string raw_exchange(int port, const std::string& request) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return "connect failed";
  }
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string answer;
  char buffer[4096];
  ssize_t n;
  while ((n = ::recv(fd, buffer, sizeof buffer, 0)) > 0) answer.append(buffer, static_cast<std::size_t>(n));
  ::close(fd);
  return answer;
}

}  // namespace synth_test
