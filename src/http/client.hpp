// The library's internal HTTP client (libcurl), shared by the LM client and the OTLP exporter.
// Not part of the installed API.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <random>
#include <stop_token>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/url.hpp"

namespace synth::tracing::http {

/// Header lines as (name, value) pairs. Request headers are sent as given; response headers come
/// back with lower-cased names, in arrival order.
using Headers = std::vector<std::pair<std::string, std::string>>;

/// Receives the body of a successful (2xx) answer as it arrives; returning false aborts the
/// transfer (Outcome::aborted). An exception it throws aborts the transfer and is rethrown by
/// Client::post() to its caller.
using OnChunk = std::function<bool(std::string_view chunk)>;

/// How a request ended.
enum class Outcome : std::uint8_t {
  /// A complete HTTP answer arrived (any status).
  response,
  /// No complete answer: the connection could not be made or broke (reset, closed early, DNS,
  /// TLS, unsupported URL). `status` is the answer's status if its status line had arrived.
  connection_failed,
  /// The timeout passed before the answer was complete.
  timed_out,
  /// OnChunk returned false.
  aborted,
  /// The request's stop token was triggered (before or during the exchange).
  cancelled,
};

/// What came back.
struct Response {
  Outcome outcome = Outcome::connection_failed;
  /// The HTTP status, 0 when no status line arrived.
  int status = 0;
  /// Lower-case names (of the final answer, after any "100 Continue").
  Headers headers;
  /// The body; empty when an OnChunk received it (2xx answers with an OnChunk).
  std::string body;
  /// curl's description of what went wrong; empty for Outcome::response.
  std::string error;

  /// A complete answer with a 2xx status.
  bool ok() const noexcept { return outcome == Outcome::response && status >= 200 && status < 300; }
  /// The first value of a header (`name` lower-case), nullptr when absent.
  const std::string* header(std::string_view name) const noexcept;
};

/// One libcurl handle, reused from request to request so that connections stay open
/// (keep-alive). Not thread-safe: use one Client per thread (or a pool); only a request's stop
/// token may be triggered from another thread. Never follows redirects; speaks http and https
/// only; honours the usual proxy environment variables.
class Client {
 public:
  /// Throws synth::tracing::Error when libcurl cannot make a handle.
  Client();
  ~Client();
  Client(Client&& other) noexcept;
  Client& operator=(Client&& other) noexcept;
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  /// POSTs `body` to `url` with `headers` (add "Content-Type"; for a gzip body made with
  /// gzip_compress() add "Content-Encoding: gzip"). `timeout` bounds the whole exchange
  /// (connect, send, receive); zero means none. A stop requested on `stop` (from any thread)
  /// ends the exchange at once with Outcome::cancelled. Failures are reported in the Response,
  /// never thrown; only an exception from `on_chunk` propagates.
  Response post(std::string_view url, const Headers& headers, std::string_view body,
                std::chrono::milliseconds timeout, const OnChunk& on_chunk = {}, std::stop_token stop = {});
  /// GET, with the same rules.
  Response get(std::string_view url, const Headers& headers, std::chrono::milliseconds timeout,
               const OnChunk& on_chunk = {}, std::stop_token stop = {});

 private:
  Response perform(bool is_post, std::string_view url, const Headers& headers, std::string_view body,
                   std::chrono::milliseconds timeout, const OnChunk& on_chunk, const std::stop_token& stop);

  void* handle_ = nullptr;  // CURL*
  void* multi_ = nullptr;   // CURLM*: runs the transfer, so that a stop can wake it; owns the connection pool
};

/// `data` compressed in the gzip format (RFC 1952), for a "Content-Encoding: gzip" body.
/// Throws synth::tracing::Error if zlib fails (out of memory).
std::string gzip_compress(std::string_view data, int level = 6);
/// The inverse of gzip_compress() (also accepts zlib streams); nullopt when `data` is not valid
/// compressed data.
std::optional<std::string> gzip_decompress(std::string_view data);

/// The delay a "Retry-After" header asks for: delay-seconds ("120", also fractional "1.5") or an
/// HTTP-date ("Wed, 21 Oct 2015 07:28:00 GMT", RFC 850 and asctime forms too) relative to `now`
/// (a date in the past gives zero). nullopt when the value is neither, or asks to wait more than
/// 10^9 seconds (some 30 years).
std::optional<std::chrono::milliseconds> parse_retry_after(
    std::string_view value, std::chrono::system_clock::time_point now = std::chrono::system_clock::now());

/// The waits between the attempts of a request that may be retried, for every client in the
/// library (the OTLP exporter, the collector sink, the LM client): the server's wait (see
/// server_wait(); up to `retry_after_cap`), else exponential backoff from `initial` (doubling per
/// attempt) up to `max`, jittered between `jitter_floor` (a fraction) and all of the step so that
/// many clients do not retry in step. One instance per thread: the jitter's generator is not
/// shared.
class RetryBackoff {
 public:
  RetryBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
               std::chrono::milliseconds retry_after_cap, double jitter_floor = 0.5);
  /// The wait before retry `attempt` (1-based) after `response`.
  std::chrono::milliseconds delay(int attempt, const Response& response);
  /// The wait before retry `attempt` (1-based) when the server asked for none.
  std::chrono::milliseconds backoff(int attempt);
  /// The wait the server asks for: "retry-after-ms" (milliseconds, sent by OpenAI-style APIs),
  /// else "retry-after" (parse_retry_after()); nullopt when it asks for none readable. Not capped.
  static std::optional<std::chrono::milliseconds> server_wait(const Response& response);

 private:
  std::chrono::milliseconds initial_, max_, retry_after_cap_;
  double jitter_floor_;
  std::mt19937_64 jitter_;
};

}  // namespace synth::tracing::http
