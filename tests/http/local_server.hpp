// A real HTTP server on 127.0.0.1 for tests (cpp-httplib 0.11.4), on an ephemeral port.
// Set the handlers on server() before start().
#pragma once

#include <httplib.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

namespace synth_test {

class LocalServer {
 public:
  LocalServer() {
    // Nagle + delayed ACK would stall every small answer by tens of milliseconds.
    server_.set_tcp_nodelay(true);
    // Each keep-alive or streaming connection holds a worker; the default pool has 8.
    server_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    server_.set_payload_max_length(64 << 20);
  }
  ~LocalServer() { stop(); }
  LocalServer(const LocalServer&) = delete;
  LocalServer& operator=(const LocalServer&) = delete;

  httplib::Server& server() { return server_; }

  /// Binds an ephemeral port, then serves on a thread (bound before it returns: no race).
  void start() {
    port_ = server_.bind_to_any_port("127.0.0.1");
    if (port_ <= 0) throw std::runtime_error("the test server could not bind a port");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    // stop() is a no-op until the accept loop runs: wait for it, or an early stop() would hang.
    while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::microseconds(100));
  }

  /// Releases stalled handlers, stops the server and joins its thread.
  void stop() {
    release();
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "") const { return "http://127.0.0.1:" + std::to_string(port_) + path; }

  /// For handlers that stall: waits until release() (or stop()), at most `limit`.
  void stall(std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    std::unique_lock lock(mutex_);
    cv_.wait_for(lock, limit, [this] { return released_; });
  }
  void release() {
    {
      std::lock_guard lock(mutex_);
      released_ = true;
    }
    cv_.notify_all();
  }

 private:
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
};

}  // namespace synth_test
