#include "server_client.hpp"

#include <cctype>
#include <chrono>
#include <thread>

#include <synth/tracing/error.hpp>

namespace synth_trace {

namespace {

constexpr std::chrono::milliseconds kRequestTimeout{10 * 60 * 1000};  // a large export or import batch
constexpr std::chrono::seconds kRetryFor{60};

}  // namespace

std::string url_encode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : text) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    }
  }
  return out;
}

ServerClient::ServerClient(std::string url, std::string token) : url_(std::move(url)), token_(std::move(token)) {
  while (!url_.empty() && url_.back() == '/') url_.pop_back();
}

st::http::Headers ServerClient::headers() const {
  st::http::Headers h;
  if (!token_.empty()) h.emplace_back("Authorization", "Bearer " + token_);
  return h;
}

void ServerClient::fail(const std::string& what, const st::http::Response& r) const {
  if (r.outcome != st::http::Outcome::response) {
    throw st::Error("cannot reach the synth-trace serve at " + url_ + " (" + what + "): " + r.error +
                    ". Is it running? (start it with synth-trace serve, or pass --server URL)");
  }
  std::string message = r.body;
  try {
    const st::Value v = st::Value::parse(r.body);
    if (v["error"].is_string()) message = v["error"].as_string();
  } catch (const st::Error&) {
    // not JSON: the body as it is
  }
  throw st::Error("the synth-trace serve at " + url_ + " answered " + std::to_string(r.status) + " to " + what + ": " +
                  message);
}

std::optional<std::string> ServerClient::get(const std::string& path) {
  st::http::Response r = client_.get(url_ + path, headers(), kRequestTimeout);
  if (r.outcome == st::http::Outcome::response && r.status == 404) return std::nullopt;
  if (!r.ok()) fail("GET " + path, r);
  return std::move(r.body);
}

void ServerClient::download(const std::string& path, const std::function<void(std::string_view)>& on_chunk) {
  const st::http::Response r = client_.get(url_ + path, headers(), kRequestTimeout, [&](std::string_view chunk) {
    on_chunk(chunk);
    return true;
  });
  if (!r.ok()) fail("GET " + path, r);
}

st::Value ServerClient::post_json(const std::string& path, std::string_view content_type, std::string_view body, bool gzip) {
  st::http::Headers h = headers();
  h.emplace_back("Content-Type", std::string(content_type));
  std::string compressed;
  if (gzip) {
    compressed = st::http::gzip_compress(body);
    body = compressed;
    h.emplace_back("Content-Encoding", "gzip");
  }
  const auto give_up = std::chrono::steady_clock::now() + kRetryFor;
  for (;;) {
    const st::http::Response r = client_.post(url_ + path, h, body, kRequestTimeout);
    if (r.ok()) return st::Value::parse(r.body, url_ + path);
    if (r.outcome == st::http::Outcome::response && r.status == 503 && std::chrono::steady_clock::now() < give_up) {
      // The server's queue is full: wait as it asks, then send the same request again.
      const std::string* after = r.header("retry-after");
      const auto wait = after ? st::http::parse_retry_after(*after) : std::nullopt;
      std::this_thread::sleep_for(wait.value_or(std::chrono::seconds(1)));
      continue;
    }
    fail("POST " + path, r);
  }
}

}  // namespace synth_trace
