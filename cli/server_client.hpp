// synth-trace beside a running `synth-trace serve`: requests to its API, with errors that say
// which server and what went wrong.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <synth/tracing/json.hpp>

#include "http/client.hpp"

namespace synth_trace {

namespace st = synth::tracing;

class ServerClient {
 public:
  /// `url` is the server's base ("http://127.0.0.1:4319"); `token` its token, if it has one.
  ServerClient(std::string url, std::string token);

  /// GETs `path` ("/api/v1/..."): the answer's body, or nullopt for a 404. Throws st::Error with
  /// the server's message for other failures.
  std::optional<std::string> get(const std::string& path);
  /// GETs `path`, passing the body to `on_chunk` as it arrives.
  void download(const std::string& path, const std::function<void(std::string_view)>& on_chunk);
  /// POSTs `body` (gzip-compressed when `gzip`), retrying while the server answers 503 (honouring
  /// Retry-After, for up to a minute); the JSON answer.
  st::Value post_json(const std::string& path, std::string_view content_type, std::string_view body, bool gzip = false);

  const std::string& url() const noexcept { return url_; }

 private:
  st::http::Headers headers() const;
  [[noreturn]] void fail(const std::string& what, const st::http::Response& r) const;

  std::string url_;
  std::string token_;
  st::http::Client client_;
};

/// `text` percent-encoded for a URL path segment or query value.
std::string url_encode(std::string_view text);

}  // namespace synth_trace
