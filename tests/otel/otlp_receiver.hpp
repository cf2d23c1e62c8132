// A real OTLP/HTTP trace receiver for the tests: runs tests/otel/receiver/receiver.js (Node.js,
// decoding with the OpenTelemetry project's generated protobuf code) as a child process on
// 127.0.0.1, scripts its answers and reads back what it received.
//
//   synth::tracing::testing::OtlpReceiver receiver;   // throws when node or its packages are missing
//   receiver.script({{{"status", 503}, {"retry_after", "1"}}});
//   ... export to receiver.endpoint() ...
//   ASSERT_TRUE(receiver.wait_for_spans(3, std::chrono::seconds(5)));
//   EXPECT_EQ(receiver.errors(), nlohmann::json::array());
//   nlohmann::json spans = receiver.spans();
//
// CMake: target_link_libraries(my_test PRIVATE otlp_receiver_harness), or LIBS otlp_receiver_harness
// in synth_test(...).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace synth::tracing::testing {

/// One OTLP/HTTP trace receiver process. Not copyable; the destructor stops the process (SIGTERM,
/// then SIGKILL) and reaps it. The process also exits by itself when this process dies, even by
/// SIGKILL (it watches a pipe whose other end only this process holds).
///
/// Requests are recorded in arrival order. Each record (requests()) is an object:
///   "index", "received_at_ms", "answered_at_ms", "method", "path", "content_type",
///   "content_encoding", "headers" (lowercased names), "body_bytes" (as sent, compressed or not),
///   "decoded"        the ExportTraceServiceRequest as protobufjs' toObject gives it (lowerCamelCase
///                    keys, every field present with its default, 64-bit integers as decimal strings,
///                    enums as integers, doubles as numbers or "NaN"/"Infinity"/"-Infinity") with
///                    trace/span ids as lowercase hex, for protobuf and OTLP/JSON alike; null when
///                    the body could not be decoded,
///   "decode_error"   null, or why decoding failed (such a request is answered 400 unless scripted),
///   "span_count", "errors" (decode failures, invalid UTF-8, OTLP/JSON schema violations, invalid
///                    spans: ids of the wrong length or all zero, empty names, end before start),
///   "warnings"       (protobuf only: unknown fields, and an encoding that is not canonical, i.e. the
///                    official code re-encodes the decoded message into different bytes),
///   "script"         the scripted entry this request consumed, or null,
///   "status_answered" the HTTP status sent (null while pending or when the connection was closed
///                    without an answer), "answered", "closed_without_answer", "client_closed" (the
///                    client had hung up before a delayed answer).
class OtlpReceiver {
 public:
  /// What a receiver keeps of each request.
  enum class Keep {
    everything,  ///< the decoded body and headers too (requests(), spans())
    counts,      ///< counts, errors and answers only, for long runs (requests' "decoded" is null)
    /// as `counts`, and a protobuf body is only decoded by the official generated code and its
    /// spans counted: no strict UTF-8 or unknown-field checks, no validation, no re-encoding
    /// (errors() stays empty for protobuf). For throughput benchmarks.
    decode_only,
  };
  /// Starts a receiver on a free port. Throws std::runtime_error, telling to run scripts/setup.sh,
  /// when node or the receiver's npm packages are missing, or when it does not come up.
  explicit OtlpReceiver(Keep keep = Keep::everything);
  ~OtlpReceiver();
  OtlpReceiver(const OtlpReceiver&) = delete;
  OtlpReceiver& operator=(const OtlpReceiver&) = delete;

  /// "http://127.0.0.1:<port>/v1/traces"; stays the same across stop() and restart().
  std::string endpoint() const;
  /// "http://127.0.0.1:<port>".
  std::string base_url() const;
  std::uint16_t port() const noexcept { return port_; }
  bool running() const noexcept { return pid_ > 0; }

  /// Appends scripted answers (one object, or an array of them) to the queue that the following
  /// POST /v1/traces consume in order, one each. Keys of an entry, all optional:
  ///   "status"           HTTP status (default 200; 400 when the body did not decode)
  ///   "retry_after"      Retry-After header value (string or number)
  ///   "partial_success"  {"rejected_spans": n, "error_message": "..."}: sent in the 2xx body
  ///                      (ExportTraceServiceResponse.partial_success, protobuf or JSON)
  ///   "delay_ms"         stall this long before answering
  ///   "close"            true: destroy the connection without answering (after delay_ms, if any)
  ///   "message"          the google.rpc.Status message of a non-2xx body
  ///   "headers"          extra response headers; "body": the raw response body instead
  /// A non-2xx answer carries a google.rpc.Status body. When the queue is empty: 200 with an empty
  /// ExportTraceServiceResponse (protobuf) or {} (JSON), as the request's Content-Type.
  /// Throws std::runtime_error when the receiver rejects the script (an unknown key, say).
  void script(nlohmann::json responses);

  /// Every POST /v1/traces so far (see above), including those of earlier runs before stop() or
  /// restart().
  nlohmann::json requests() const;
  /// The spans of every request answered with a 2xx (to a client still listening) that decoded,
  /// flattened in arrival order. Each is the decoded Span plus "resource" (the Resource:
  /// "attributes", ...), "scope" (the InstrumentationScope: "name", "version", ...) and
  /// "request_index".
  nlohmann::json spans() const;
  /// The number of spans spans() would return (cheaper: no request bodies are fetched).
  std::size_t span_count() const;
  /// The number of POST /v1/traces received so far.
  std::size_t request_count() const;
  /// Polls until span_count() >= n; false when the timeout passed first.
  bool wait_for_spans(std::size_t n, std::chrono::milliseconds timeout) const;
  /// Polls until request_count() >= n and all of them are answered or closed.
  bool wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const;
  /// Every error of every request: [{"request_index": i, "error": "..."}]; empty when all is well.
  nlohmann::json errors() const;
  /// Every warning likewise.
  nlohmann::json warnings() const;

  /// Forgets the requests (also those of earlier runs) and the scripted answers.
  void reset();
  /// Stops the process, keeping what it received for requests(). The port then refuses
  /// connections. Does nothing when already stopped.
  void stop();
  /// Starts the process again on the same port (after stop(), or stopping it first). Scripted
  /// answers not yet consumed are lost with the old process.
  void restart();

  /// An OTLP attribute list ([{"key", "value": AnyValue}]) as a plain JSON object: strings, booleans,
  /// integers (int64), doubles (or "NaN"/"Infinity"/"-Infinity"), arrays and objects.
  static nlohmann::json attributes(const nlohmann::json& key_values);
  /// One AnyValue as plain JSON (null for an empty AnyValue).
  static nlohmann::json plain_value(const nlohmann::json& any_value);

  /// Why no receiver can run here (node or node_modules missing), or empty when one can.
  static std::string unavailable_reason();

 private:
  void start(std::uint16_t port);
  void terminate_process() noexcept;
  nlohmann::json fetch_json(const std::string& method, const std::string& path, const std::string& body = {}) const;

  mutable std::mutex mutex_;
  Keep keep_;
  pid_t pid_ = -1;
  int stdin_fd_ = -1;  // our end of the child's stdin: closing it (or dying) makes the child exit
  std::uint16_t port_ = 0;
  nlohmann::json archived_ = nlohmann::json::array();  // requests of stopped runs
  std::size_t archived_spans_ = 0;
};

/// The answer to an HTTP request made with http_request().
struct HttpResponse {
  long status = 0;  ///< 0 when no answer came (connection refused or closed, timeout)
  std::string body;
  std::map<std::string, std::string> headers;  ///< lowercased names
  std::string error;                           ///< libcurl's message when status is 0
};

/// One HTTP request with libcurl (a fresh connection). `headers` are "Name: value" lines.
HttpResponse http_request(const std::string& method, const std::string& url, std::string_view body = {},
                          const std::map<std::string, std::string>& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(30));

/// POSTs an OTLP body: Content-Type application/x-protobuf or application/json, and
/// Content-Encoding gzip (the body compressed here) when `gzip`.
HttpResponse post_otlp(const std::string& url, std::string_view body, bool json, bool gzip = false);

/// `data` as a gzip member (RFC 1952), with zlib.
std::string gzip_compress(std::string_view data);

}  // namespace synth::tracing::testing
