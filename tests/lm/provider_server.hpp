// A local HTTP server answering in the providers' wire formats, from a script of replies, and
// recording every request it receives. Real HTTP on 127.0.0.1 (cpp-httplib).
#pragma once

#include <strings.h>

#include <atomic>
#include <functional>
#include <memory>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "http/local_server.hpp"

namespace synth_test {

/// One scripted answer.
struct Reply {
  int status = 200;
  /// A JSON (or any) body, sent whole.
  std::string body;
  /// Server-sent events, each sent as its own chunk ("data: ...\n\n" added when missing).
  std::vector<std::string> events;
  std::vector<std::pair<std::string, std::string>> headers;
  /// Never answers (until the server stops).
  bool stall = false;
  /// With events: the connection is dropped after the first one.
  bool reset_after_first = false;
  /// With events: a pause before each.
  std::chrono::milliseconds event_gap{0};
};

/// A request as received.
struct Received {
  std::string path;
  std::multimap<std::string, std::string> headers;  // names as sent
  std::string body;

  std::string header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return v;
    }
    return {};
  }
  bool has_header(const std::string& name) const {
    for (const auto& [k, v] : headers) {
      if (strcasecmp(k.c_str(), name.c_str()) == 0) return true;
    }
    return false;
  }
};

class ProviderServer {
 public:
  ProviderServer() {
    server_.server().Post(R"(/.*)", [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    server_.start();
  }

  std::string url(const std::string& path = "") const { return server_.url(path); }

  /// Replies for the next requests, in order; the last one repeats.
  void script(std::vector<Reply> replies) {
    std::lock_guard lock(mutex_);
    replies_.assign(replies.begin(), replies.end());
  }
  /// A reply computed from each request (for concurrent tests).
  void respond_with(std::function<Reply(const Received&)> fn) {
    std::lock_guard lock(mutex_);
    dynamic_ = std::move(fn);
  }

  std::vector<Received> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t request_count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }
  Received last() const {
    std::lock_guard lock(mutex_);
    return requests_.back();
  }

  void stop() { server_.stop(); }

 private:
  void handle(const httplib::Request& req, httplib::Response& res) {
    Received r{req.path, {}, req.body};
    if (!req.params.empty()) {
      r.path += "?";
      bool first = true;
      for (const auto& [k, v] : req.params) {
        r.path += (first ? "" : "&") + k + "=" + v;
        first = false;
      }
    }
    for (const auto& [k, v] : req.headers) r.headers.emplace(k, v);
    Reply reply;
    {
      std::lock_guard lock(mutex_);
      requests_.push_back(r);
      if (dynamic_) {
        reply = dynamic_(r);
      } else if (!replies_.empty()) {
        reply = replies_.front();
        if (replies_.size() > 1) replies_.pop_front();
      } else {
        reply = Reply{.status = 500, .body = R"({"error":{"message":"no reply scripted"}})"};
      }
    }
    if (reply.stall) {
      server_.stall();
      return;
    }
    res.status = reply.status;
    for (const auto& [k, v] : reply.headers) res.set_header(k, v);
    if (reply.events.empty()) {
      res.set_content(reply.body, "application/json");
      return;
    }
    auto events = std::make_shared<std::vector<std::string>>();
    for (auto e : reply.events) {
      if (e.find("\n\n") == std::string::npos) e = (e.rfind("data:", 0) == 0 || e.rfind("event:", 0) == 0 ? e : "data: " + e) + "\n\n";
      events->push_back(std::move(e));
    }
    const bool reset = reply.reset_after_first;
    const auto gap = reply.event_gap;
    res.set_chunked_content_provider("text/event-stream", [events, reset, gap, sent = std::size_t{0}](
                                                              size_t, httplib::DataSink& sink) mutable {
      if (sent == events->size()) {
        sink.done();
        return true;
      }
      if (reset && sent == 1) return false;  // drop the connection mid-stream
      if (gap.count() > 0) std::this_thread::sleep_for(gap);
      const std::string& e = (*events)[sent++];
      sink.write(e.data(), e.size());
      return true;
    });
  }

  LocalServer server_;
  mutable std::mutex mutex_;
  std::deque<Reply> replies_;
  std::function<Reply(const Received&)> dynamic_;
  std::vector<Received> requests_;
};

}  // namespace synth_test
