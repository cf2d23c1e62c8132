#include "http/client.hpp"

#include <curl/curl.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <exception>
#include <mutex>
#include <stop_token>

#include "synth/tracing/error.hpp"
#include "text.hpp"

namespace synth::tracing::http {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw Error("libcurl could not be initialised");
  });
}

using detail::ascii_lower;
using detail::trim_blanks;

// What the callbacks of one transfer share.
struct Transfer {
  CURL* curl = nullptr;
  Response* response = nullptr;
  const OnChunk* on_chunk = nullptr;
  std::exception_ptr chunk_error;
  bool aborted = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  const std::string_view line(data, n);
  if (line.starts_with("HTTP/")) {
    // A new status line (after "100 Continue" or an informational answer): start over.
    t.response->headers.clear();
    return n;
  }
  const auto colon = line.find(':');
  if (colon == std::string_view::npos) return n;  // the blank line ending the headers
  try {
    t.response->headers.emplace_back(ascii_lower(trim_blanks(line.substr(0, colon))), std::string(trim_blanks(line.substr(colon + 1))));
  } catch (...) {
    return 0;  // out of memory: abort
  }
  return n;
}

size_t on_body(char* data, size_t size, size_t count, void* user) {
  auto& t = *static_cast<Transfer*>(user);
  const size_t n = size * count;
  long status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
  try {
    if (t.on_chunk != nullptr && *t.on_chunk && status >= 200 && status < 300) {
      if (!(*t.on_chunk)(std::string_view(data, n))) {
        t.aborted = true;
        return 0;
      }
    } else {
      t.response->body.append(data, n);
    }
  } catch (...) {
    t.chunk_error = std::current_exception();
    t.aborted = true;
    return 0;
  }
  return n;
}

// Sets an option, turning a refusal into an exception (they only fail on out-of-memory or a
// libcurl built without the feature).
template <class T>
void set(CURL* curl, CURLoption option, T value) {
  if (const CURLcode rc = curl_easy_setopt(curl, option, value); rc != CURLE_OK) {
    throw Error(std::string("libcurl refused an option: ") + curl_easy_strerror(rc));
  }
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
  void add(const std::string& line) {
    curl_slist* next = curl_slist_append(list, line.c_str());
    if (next == nullptr) throw Error("out of memory building request headers");
    list = next;
  }
};

}  // namespace

const std::string* Response::header(std::string_view name) const noexcept {
  for (const auto& [k, v] : headers) {
    if (k == name) return &v;
  }
  return nullptr;
}

Client::Client() {
  global_init();
  CURL* curl = curl_easy_init();
  if (curl == nullptr) throw Error("libcurl could not create a handle");
  handle_ = curl;
  multi_ = curl_multi_init();
  if (multi_ == nullptr) {
    curl_easy_cleanup(curl);
    handle_ = nullptr;
    throw Error("libcurl could not create a handle");
  }
  try {
    // Options that stay the same for every request of this handle.
    set(curl, CURLOPT_NOSIGNAL, 1L);
    set(curl, CURLOPT_TCP_NODELAY, 1L);
    set(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    set(curl, CURLOPT_FOLLOWLOCATION, 0L);
    set(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    set(curl, CURLOPT_HEADERFUNCTION, &on_header);
    set(curl, CURLOPT_WRITEFUNCTION, &on_body);
  } catch (...) {
    curl_easy_cleanup(curl);
    curl_multi_cleanup(static_cast<CURLM*>(multi_));
    handle_ = nullptr;
    multi_ = nullptr;
    throw;
  }
}

Client::~Client() {
  if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
  if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
}

Client::Client(Client&& other) noexcept
    : handle_(std::exchange(other.handle_, nullptr)), multi_(std::exchange(other.multi_, nullptr)) {}

Client& Client::operator=(Client&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) curl_easy_cleanup(static_cast<CURL*>(handle_));
    if (multi_ != nullptr) curl_multi_cleanup(static_cast<CURLM*>(multi_));
    handle_ = std::exchange(other.handle_, nullptr);
    multi_ = std::exchange(other.multi_, nullptr);
  }
  return *this;
}

Response Client::post(std::string_view url, const Headers& headers, std::string_view body,
                      std::chrono::milliseconds timeout, const OnChunk& on_chunk, std::stop_token stop) {
  return perform(true, url, headers, body, timeout, on_chunk, stop);
}

Response Client::get(std::string_view url, const Headers& headers, std::chrono::milliseconds timeout,
                     const OnChunk& on_chunk, std::stop_token stop) {
  return perform(false, url, headers, {}, timeout, on_chunk, stop);
}

namespace {
// Runs one transfer of `curl` on `multi` (what curl_easy_perform does, but a stop request wakes
// the wait at once instead of at curl's next progress tick). Sets `cancelled` when stopped.
CURLcode run_transfer(CURLM* multi, CURL* curl, const std::stop_token& stop, bool& cancelled) {
  if (stop.stop_requested()) {
    cancelled = true;
    return CURLE_ABORTED_BY_CALLBACK;
  }
  if (curl_multi_add_handle(multi, curl) != CURLM_OK) return CURLE_OUT_OF_MEMORY;
  CURLcode result = CURLE_OK;
  {
    std::stop_callback wake(stop, [multi] { curl_multi_wakeup(multi); });
    for (;;) {
      int running = 0;
      if (curl_multi_perform(multi, &running) != CURLM_OK) {
        result = CURLE_OUT_OF_MEMORY;
        break;
      }
      if (running == 0) {
        int left = 0;
        while (const CURLMsg* message = curl_multi_info_read(multi, &left)) {
          if (message->msg == CURLMSG_DONE && message->easy_handle == curl) result = message->data.result;
        }
        break;
      }
      if (stop.stop_requested()) {
        cancelled = true;
        result = CURLE_ABORTED_BY_CALLBACK;
        break;
      }
      // Waits for the sockets, curl's own timers (the timeout among them) or a wake-up.
      if (curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) {
        result = CURLE_OUT_OF_MEMORY;
        break;
      }
    }
  }
  curl_multi_remove_handle(multi, curl);
  return result;
}
}  // namespace

Response Client::perform(bool is_post, std::string_view url, const Headers& headers, std::string_view body,
                         std::chrono::milliseconds timeout, const OnChunk& on_chunk, const std::stop_token& stop) {
  Response response;
  if (handle_ == nullptr) {
    response.error = "the HTTP client was moved from";
    return response;
  }
  auto* curl = static_cast<CURL*>(handle_);
  Transfer t;
  t.curl = curl;
  t.response = &response;
  t.on_chunk = &on_chunk;
  char error_buffer[CURL_ERROR_SIZE] = {};
  HeaderList list;
  // No "Expect: 100-continue" round trip before large bodies.
  list.add("Expect:");
  for (const auto& [name, value] : headers) list.add(name + ": " + value);

  const std::string url_text(url);
  set(curl, CURLOPT_URL, url_text.c_str());
  set(curl, CURLOPT_HTTPHEADER, list.list);
  set(curl, CURLOPT_ERRORBUFFER, error_buffer);
  set(curl, CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(curl, CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(std::max<std::chrono::milliseconds::rep>(timeout.count(), 0)));
  if (is_post) {
    set(curl, CURLOPT_POST, 1L);
    set(curl, CURLOPT_POSTFIELDS, body.data());
    set(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  } else {
    set(curl, CURLOPT_HTTPGET, 1L);
  }

  bool cancelled = false;
  const CURLcode rc = run_transfer(static_cast<CURLM*>(multi_), curl, stop, cancelled);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  response.status = static_cast<int>(status);
  // The handle keeps no pointer into this frame past the call.
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, static_cast<curl_slist*>(nullptr));
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, static_cast<char*>(nullptr));
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, static_cast<void*>(nullptr));
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, static_cast<void*>(nullptr));
  if (is_post) curl_easy_setopt(curl, CURLOPT_POSTFIELDS, static_cast<const char*>(nullptr));

  if (t.chunk_error) std::rethrow_exception(t.chunk_error);
  if (cancelled) {
    response.outcome = Outcome::cancelled;
    response.error = "the request was cancelled";
    return response;
  }
  if (rc == CURLE_OK) {
    response.outcome = Outcome::response;
    return response;
  }
  if (t.aborted) {
    response.outcome = Outcome::aborted;
    response.error = "the transfer was aborted by the receiver";
    return response;
  }
  response.outcome = rc == CURLE_OPERATION_TIMEDOUT ? Outcome::timed_out : Outcome::connection_failed;
  response.error = error_buffer[0] != '\0' ? std::string(error_buffer) : std::string(curl_easy_strerror(rc));
  return response;
}

std::string gzip_compress(std::string_view data, int level) {
  z_stream z{};
  // 15 window bits + 16: a gzip header and trailer instead of zlib's.
  if (deflateInit2(&z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw Error("zlib could not start compressing");
  }
  std::string out;
  out.resize(deflateBound(&z, static_cast<uLong>(data.size())) + 32);
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&z, Z_FINISH);
  const auto written = z.total_out;
  deflateEnd(&z);
  if (rc != Z_STREAM_END) throw Error("zlib could not compress the data");
  out.resize(written);
  return out;
}

std::optional<std::string> gzip_decompress(std::string_view data) {
  z_stream z{};
  // 15 window bits + 32: detect gzip or zlib from the header.
  if (inflateInit2(&z, 15 + 32) != Z_OK) return std::nullopt;
  std::string out;
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  char buffer[16384];
  int rc = Z_OK;
  while (rc == Z_OK) {
    z.next_out = reinterpret_cast<Bytef*>(buffer);
    z.avail_out = sizeof buffer;
    rc = inflate(&z, Z_NO_FLUSH);
    if (rc == Z_OK || rc == Z_STREAM_END) out.append(buffer, sizeof buffer - z.avail_out);
    if (rc == Z_OK && z.avail_in == 0 && z.avail_out != 0) rc = Z_BUF_ERROR;  // truncated input
  }
  inflateEnd(&z);
  if (rc != Z_STREAM_END) return std::nullopt;
  return out;
}

RetryBackoff::RetryBackoff(std::chrono::milliseconds initial, std::chrono::milliseconds max,
                           std::chrono::milliseconds retry_after_cap, double jitter_floor)
    : initial_(initial),
      max_(max),
      retry_after_cap_(retry_after_cap),
      jitter_floor_(std::clamp(jitter_floor, 0.0, 1.0)),
      jitter_(std::random_device{}()) {}

std::chrono::milliseconds RetryBackoff::delay(int attempt, const Response& response) {
  if (auto wait = server_wait(response)) return std::min(*wait, retry_after_cap_);
  return backoff(attempt);
}

std::chrono::milliseconds RetryBackoff::backoff(int attempt) {
  const auto base = initial_ * (1LL << std::clamp(attempt - 1, 0, 20));
  const auto step = std::min<std::chrono::milliseconds>(base, max_);
  const auto low = static_cast<long long>(static_cast<double>(step.count()) * jitter_floor_);
  std::uniform_int_distribution<long long> pick(low, std::max<long long>(step.count(), low));
  return std::chrono::milliseconds(pick(jitter_));
}

std::optional<std::chrono::milliseconds> RetryBackoff::server_wait(const Response& response) {
  if (const std::string* ms = response.header("retry-after-ms")) {
    // Read as delay-seconds, then scaled: the same digits and fraction rules.
    if (auto wait = parse_retry_after(*ms)) return std::chrono::milliseconds(wait->count() / 1000);
  }
  if (const std::string* after = response.header("retry-after")) return parse_retry_after(*after);
  return std::nullopt;
}

std::optional<std::chrono::milliseconds> parse_retry_after(std::string_view value,
                                                           std::chrono::system_clock::time_point now) {
  // Waits longer than this (some 30 years) are refused, as delay-seconds or as dates.
  constexpr std::int64_t kMaxSeconds = 1'000'000'000;
  value = trim_blanks(value);
  if (value.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(value.front()))) {
    // delay-seconds; a fraction is accepted too.
    double seconds = 0;
    std::size_t i = 0;
    for (; i < value.size() && std::isdigit(static_cast<unsigned char>(value[i])); ++i) {
      seconds = seconds * 10 + (value[i] - '0');
    }
    if (i < value.size() && value[i] == '.') {
      double scale = 0.1;
      for (++i; i < value.size() && std::isdigit(static_cast<unsigned char>(value[i])); ++i, scale /= 10) {
        seconds += (value[i] - '0') * scale;
      }
    }
    if (i != value.size() || seconds > static_cast<double>(kMaxSeconds)) return std::nullopt;
    return std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(seconds * 1000)));
  }
  // An HTTP-date. curl_getdate reads RFC 1123, RFC 850 and asctime forms.
  const std::string text(value);
  const time_t when = curl_getdate(text.c_str(), nullptr);
  if (when == -1) return std::nullopt;
  // Compared in seconds first: a date centuries away does not fit system_clock's nanoseconds.
  const std::int64_t now_seconds = std::chrono::floor<std::chrono::seconds>(now).time_since_epoch().count();
  if (when < now_seconds) return std::chrono::milliseconds(0);  // in the past: now
  if (when - now_seconds > kMaxSeconds) return std::nullopt;
  const auto delay = std::chrono::system_clock::from_time_t(when) - now;
  if (delay <= std::chrono::system_clock::duration::zero()) return std::chrono::milliseconds(0);
  return std::chrono::ceil<std::chrono::milliseconds>(delay);
}

}  // namespace synth::tracing::http
