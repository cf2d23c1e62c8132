// What the collector tests share: running a child process with more environment, reading its
// counters, a port where nothing listens, and reading what a stopped server stored.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"
#include "support.hpp"

namespace synth_test {

using namespace synth::tracing;


// Runs `argv` with `env` added to this environment; its stdout (stderr goes to `err`) and exit code.
// posix_spawn, not fork: the test runs it from several threads, and a fork would run DuckDB's
// allocator's fork handlers (too many locks for TSan's deadlock detector) and setenv in the child.
struct ChildResult {
  int code = -1;
  std::string out;
};
inline ChildResult run(const std::vector<std::string>& argv, const std::map<std::string, std::string>& env,
                       const std::filesystem::path& err) {
  std::vector<std::string> vars;
  for (char** e = ::environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    if (!env.contains(std::string(var.substr(0, var.find('='))))) vars.emplace_back(var);
  }
  for (const auto& [k, v] : env) vars.push_back(k + "=" + v);
  std::vector<std::string> args = argv;
  std::vector<char*> raw_args;
  std::vector<char*> raw_vars;
  for (auto& a : args) raw_args.push_back(a.data());
  for (auto& v : vars) raw_vars.push_back(v.data());
  raw_args.push_back(nullptr);
  raw_vars.push_back(nullptr);

  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) throw std::runtime_error("pipe failed");
  posix_spawn_file_actions_t actions;
  ::posix_spawn_file_actions_init(&actions);
  ::posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  ::posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, err.c_str(), O_CREAT | O_TRUNC | O_WRONLY, 0644);
  pid_t pid = -1;
  const int spawned = ::posix_spawn(&pid, raw_args[0], &actions, nullptr, raw_args.data(), raw_vars.data());
  ::posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    throw std::runtime_error("cannot run " + argv.at(0) + ": " + std::strerror(spawned));
  }
  ChildResult result;
  char buffer[4096];
  ssize_t n;
  while ((n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0) result.out.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  result.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

// "name=value" out of a child's "stats ..." line.
inline std::uint64_t stat(const std::string& out, const std::string& name) {
  const auto at = out.find(" " + name + "=");
  if (at == std::string::npos) throw std::runtime_error("no " + name + " in: " + out);
  return std::stoull(out.substr(at + name.size() + 2));
}

// A port on 127.0.0.1 where nothing listens (bound, then closed).
inline int unused_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// Ids stored in `db` (the server stopped first).
inline std::vector<std::string> stored_ids(const std::filesystem::path& db) {
  DuckDBTraceManager store(db, DuckDBOptions{.read_only = true});
  return store.session_ids();
}

inline std::int64_t count(const std::filesystem::path& db, const std::string& sql) {
  DuckDBTraceManager store(db, DuckDBOptions{.read_only = true});
  return store.query(sql).rows.at(0).at(0).as_int();
}

inline TracingConfig quiet_config() {
  // No spill, no span export: the collector sink alone is under test.
  return TracingConfig{.checkpoint = false, .otel_endpoint = std::string()};
}

inline void record(SessionTracer& tracer, const std::string& id, int events = 3) {
  auto session = tracer.start_session(id);
  auto step = tracer.timestep(0);
  for (int e = 0; e < events; ++e) tracer.add_event(EnvironmentEvent{.reward = 0.5});
}

}  // namespace synth_test
