#include "server/http.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdlib>

#include "diagnostics.hpp"
#include "server/otlp_response.hpp"
#include "synth/tracing/json.hpp"
#include "text.hpp"
#include "time.hpp"

namespace synth::tracing::server {

namespace {

using detail::ascii_lower;
using detail::for_each_listed;
using detail::trim_blanks;

// httplib hands its handlers its own non-const Request as const: what httplib reads after them
// (headers for the body's decoding and the answer's, the parameters, the connection's end) is
// adjusted through this.
httplib::Request& writable(const httplib::Request& req) { return const_cast<httplib::Request&>(req); }

bool is_loopback(std::string_view host) { return host == "127.0.0.1" || host == "::1" || host == "localhost"; }

// Compares in a time that does not depend on where the texts differ (a token is a secret).
bool same_secret(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace

void send_json(httplib::Response& res, std::string body, int status) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(std::move(body), "application/json");
}

void send_error(const httplib::Request& req, httplib::Response& res, int status, std::string_view message) {
  if (req.path != "/v1/traces" && req.path != "/v1/logs" && req.path != "/v1/metrics") {
    send_json(res, Value{{"error", message}}.dump(), status);
    return;
  }
  // google.rpc.Code for the HTTP status (the specification leaves the code to the server).
  const int code = status == 400 || status == 413 || status == 415 ? 3   // INVALID_ARGUMENT
                   : status == 401                                 ? 16  // UNAUTHENTICATED
                   : status == 403                                 ? 7   // PERMISSION_DENIED
                   : status == 404                                 ? 12  // UNIMPLEMENTED
                   : status == 429                                 ? 8   // RESOURCE_EXHAUSTED
                   : status == 503                                 ? 14  // UNAVAILABLE
                   : status == 504                                 ? 4   // DEADLINE_EXCEEDED
                   : status == 500                                 ? 13  // INTERNAL
                                                                   : 2;  // UNKNOWN
  const bool protobuf = is_protobuf(media_type(req));
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_content(otlp_status_body(!protobuf, code, message), protobuf ? "application/x-protobuf" : "application/json");
}

httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> body) {
  return [body = std::move(body)](const httplib::Request& req, httplib::Response& res) {
    try {
      body(req, res);
    } catch (const ApiError& e) {
      send_error(req, res, e.status(), e.what());
    } catch (const StorageError& e) {
      send_error(req, res, 400, e.what());
    } catch (...) {
      const std::string what = detail::current_exception_text();
      detail::report("synth-trace serve: " + req.method + " " + req.path + " failed: " + what);
      send_error(req, res, 500, "the server failed answering " + req.method + " " + req.path + ": " + what);
    }
  };
}

httplib::Server::HandlerWithContentReader guarded_post(
    std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> body) {
  return [body = std::move(body)](const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
    bool read_whole = false;
    const httplib::ContentReader tracked(
        [&](httplib::ContentReceiver receiver) { return read_whole = reader(std::move(receiver)); },
        [&](httplib::MultipartContentHeader header, httplib::ContentReceiver receiver) {
          return read_whole = reader(std::move(header), std::move(receiver));
        });
    guarded([&](const httplib::Request&, httplib::Response& r) { body(req, r, tracked); })(req, res);
    // httplib 0.11 closes the connection after answering a request that asked for it.
    if (!read_whole) writable(req).set_header("Connection", "close");
  };
}

namespace {

// httplib 0.11 splits a parameter at every '=' and keeps the text after the last ("filter=a==b"
// read as "b"): the query is read again from the request's target, each parameter split at its
// first '='.
void read_query_again(const httplib::Request& req) {
  const std::size_t mark = req.target.find('?');
  if (mark == std::string::npos) return;
  httplib::Params params;
  std::string_view query = std::string_view(req.target).substr(mark + 1);
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    params.emplace(httplib::detail::decode_url(std::string(pair.substr(0, eq)), true),
                   eq == std::string_view::npos ? std::string() : httplib::detail::decode_url(std::string(pair.substr(eq + 1)), true));
  }
  writable(req).params = std::move(params);
}

// Reads the query's parameters again, then refuses those the route does not take.
void take_params(const httplib::Request& req, const TakenParams& takes) {
  read_query_again(req);
  for (auto it = req.params.begin(); it != req.params.end(); it = req.params.upper_bound(it->first)) {
    const std::string& name = it->first;
    if (std::find(takes.begin(), takes.end(), name) == takes.end()) {
      std::string taken;
      for (const std::string_view t : takes) taken += (taken.empty() ? "" : ", ") + std::string(t);
      throw ApiError(400, "unknown parameter '" + name + "' for " + req.method + " " + req.path + " (" +
                              (takes.empty() ? std::string("it takes no parameters") : "it takes " + taken) + ")");
    }
    if (const std::size_t n = req.params.count(name); n > 1) {
      throw ApiError(400, "parameter '" + name + "' is given " + std::to_string(n) + " times; " + req.method + " " +
                              req.path + " takes one value of it");
    }
  }
}

}  // namespace

httplib::Server::Handler guarded(TakenParams takes, std::function<void(const httplib::Request&, httplib::Response&)> body) {
  return guarded([takes = std::move(takes), body = std::move(body)](const httplib::Request& req, httplib::Response& res) {
    take_params(req, takes);
    body(req, res);
  });
}

httplib::Server::HandlerWithContentReader guarded_post(
    TakenParams takes, std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> body) {
  return guarded_post([takes = std::move(takes), body = std::move(body)](const httplib::Request& req, httplib::Response& res,
                                                                          const httplib::ContentReader& reader) {
    take_params(req, takes);
    body(req, res, reader);
  });
}

httplib::Server::Handler api_route(ServerContext& ctx, TakenParams takes,
                                   void (*route)(ServerContext&, const httplib::Request&, httplib::Response&)) {
  return guarded(std::move(takes), [&ctx, route](const httplib::Request& req, httplib::Response& res) { route(ctx, req, res); });
}

std::optional<std::string> param(const httplib::Request& req, const char* name) {
  if (!req.has_param(name)) return std::nullopt;
  std::string value = req.get_param_value(name);
  if (value.empty()) return std::nullopt;
  return value;
}

std::size_t count_param(const httplib::Request& req, const char* name, std::size_t fallback, std::size_t max, std::size_t min) {
  const auto text = param(req, name);
  if (!text) return std::min(fallback, max);
  std::size_t n = 0;
  const auto r = std::from_chars(text->data(), text->data() + text->size(), n);
  if (r.ec != std::errc() || r.ptr != text->data() + text->size() || n > max || n < min) {
    throw ApiError(400, std::string("parameter ") + name + "=" + *text + ": expected a whole number from " +
                            std::to_string(min) + " to " + std::to_string(max));
  }
  return n;
}

std::optional<double> number_param(const httplib::Request& req, const char* name) {
  const auto text = param(req, name);
  if (!text) return std::nullopt;
  double d = 0;
  const auto r = std::from_chars(text->data(), text->data() + text->size(), d);
  if (r.ec != std::errc() || r.ptr != text->data() + text->size() || !std::isfinite(d)) {
    throw ApiError(400, std::string("parameter ") + name + "=" + *text + ": expected a finite number");
  }
  return d;
}

std::optional<bool> bool_param(const httplib::Request& req, const char* name) {
  const auto text = param(req, name);
  if (!text) return std::nullopt;
  if (*text == "true" || *text == "1") return true;
  if (*text == "false" || *text == "0") return false;
  throw ApiError(400, std::string("parameter ") + name + "=" + *text + ": expected true or false");
}

std::optional<Timestamp> time_param(const httplib::Request& req, const char* name) {
  const auto text = param(req, name);
  if (!text) return std::nullopt;
  if (auto t = parse_timestamp(*text)) return t;
  double seconds = 0;
  const auto r = std::from_chars(text->data(), text->data() + text->size(), seconds);
  if (r.ec == std::errc() && r.ptr == text->data() + text->size()) {
    if (auto t = detail::timestamp_from_epoch_seconds(seconds)) return t;
    throw ApiError(400, std::string("parameter ") + name + "=" + *text + ": out of range (a time is from " +
                            detail::kTimestampRange + ")");
  }
  throw ApiError(400, std::string("parameter ") + name + "=" + *text +
                          ": expected an ISO-8601 time (2025-01-31T12:00:00Z) or seconds since the epoch (" +
                          detail::kTimestampRange + ")");
}

std::string choice_param(const httplib::Request& req, const char* name, std::initializer_list<const char*> choices,
                         const char* fallback) {
  const auto text = param(req, name);
  if (!text) return fallback;
  std::string known;
  for (const char* c : choices) {
    if (*text == c) return *text;
    known += known.empty() ? c : std::string(", ") + c;
  }
  throw ApiError(400, std::string("parameter ") + name + "=" + *text + ": expected one of " + known);
}

std::string media_type(const httplib::Request& req) {
  const std::string type = req.get_header_value("Content-Type");
  return ascii_lower(trim_blanks(std::string_view(type).substr(0, type.find(';'))));
}

bool is_protobuf(std::string_view media_type) noexcept {
  return media_type == "application/x-protobuf" || media_type == "application/protobuf";
}

namespace {

[[noreturn]] void refuse_as_full(ServerContext& ctx, httplib::Response& res) {
  ctx.counters.throttled.fetch_add(1, std::memory_order_relaxed);
  res.set_header("Retry-After", "1");
  throw ApiError(503, "the ingest queue is full: send the request again after Retry-After seconds");
}

}  // namespace

std::optional<IngestQueue::Admission> admit_or_refuse(ServerContext& ctx, httplib::Response& res, std::size_t body_bytes,
                                                      bool acknowledged_once_queued) {
  if (!acknowledged_once_queued) return std::nullopt;
  std::optional<IngestQueue::Admission> admitted = ctx.queue.admit(body_bytes);
  if (!admitted) refuse_as_full(ctx, res);
  return admitted;
}

void push_to_queue(ServerContext& ctx, httplib::Response& res, std::vector<IngestItem>& items, std::string_view smaller,
                   std::optional<IngestQueue::Admission>& admitted) {
  const bool acknowledged_once_queued = !items.empty() && !items.front().receipt;
  switch (ctx.queue.push(items, acknowledged_once_queued, admitted ? &*admitted : nullptr)) {
    case IngestQueue::Push::queued:
      return;
    case IngestQueue::Push::full:
      refuse_as_full(ctx, res);
    case IngestQueue::Push::too_large:
      throw ApiError(413, "the request holds more sessions or bytes than the ingest queue takes at once (" +
                              std::to_string(ctx.options.queue_sessions) + " sessions, " +
                              std::to_string(ctx.options.queue_bytes) + " bytes): " + std::string(smaller));
    case IngestQueue::Push::closed:
      res.set_header("Retry-After", "1");
      throw ApiError(503, "the server is stopping: send the request again to the next one");
  }
}

JournaledRequest journal_request(ServerContext& ctx, httplib::Response& res, IngestJournal::Route route,
                                 std::uint8_t encoding, std::string_view body, std::int64_t received_unix_ms) {
  if (!ctx.journal) return {};
  if (body.size() > IngestJournal::kMaxBody) {
    throw ApiError(413, "the body is larger than the ingest journal takes (" + std::to_string(IngestJournal::kMaxBody) +
                            " bytes): send a smaller request");
  }
  try {
    return JournaledRequest(*ctx.journal, ctx.journal->write(route, encoding, body, received_unix_ms));
  } catch (const Error& e) {
    res.set_header("Retry-After", "5");
    throw ApiError(503, std::string(e.what()) + "; nothing of this request was stored: send it again");
  }
}

void sync_journal(httplib::Response& res, const JournaledRequest& journaled) {
  try {
    journaled.sync();
  } catch (const Error& e) {
    res.set_header("Retry-After", "5");
    throw ApiError(503, std::string(e.what()) + ": send the request again");
  }
}

// The body, decompressed (httplib inflates gzip and deflate as it reads), refused once it is
// larger than the limit: a small gzip body cannot grow into gigabytes.
std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t max) {
  const auto too_large = [&] {
    return ApiError(413, "the body is larger than " + std::to_string(max) +
                             " bytes (decompressed): send fewer sessions per request (serve --max-body-bytes)");
  };
  std::size_t declared = 0;  // the Content-Length, when given
  if (req.has_header("Content-Length")) {
    const std::string length = req.get_header_value("Content-Length");
    std::size_t n = 0;
    const auto r = std::from_chars(length.data(), length.data() + length.size(), n);
    if (r.ec == std::errc::result_out_of_range || (r.ec == std::errc() && n > max)) throw too_large();
    if (r.ec == std::errc()) declared = n;
  }
  // httplib inflates gzip and deflate; anything else (br, zstd) would read as a failed gzip.
  // Content codings are named in any case, and x-gzip is gzip (RFC 9110), but httplib matches
  // "gzip" exactly: the header is given its name before the body is read.
  httplib::Headers& headers = writable(req).headers;
  if (const auto found = headers.find("Content-Encoding"); found != headers.end()) {
    std::string encoding = ascii_lower(trim_blanks(found->second));
    if (encoding == "x-gzip") encoding = "gzip";
    if (!encoding.empty() && encoding != "gzip" && encoding != "deflate" && encoding != "identity") {
      throw ApiError(415, "Content-Encoding '" + encoding + "' is not read here: send the body as it is or with gzip");
    }
    found->second = std::move(encoding);
  }
  // A request without Content-Length or Transfer-Encoding has no body (RFC 9112): httplib's
  // reader fails on it, which read as a broken upload.
  if (!req.has_header("Content-Length") && !req.has_header("Transfer-Encoding")) return {};
  // Allocated once (gzip: at least its compressed size): growing by doubling from httplib's 4 KB
  // reads copied the body a dozen times into fresh memory, a quarter of the page faults of the
  // OTLP handlers.
  std::string body;
  body.reserve(declared);
  bool over = false;
  const bool read = reader([&](const char* data, std::size_t size) {
    if (body.size() + size > max) {
      over = true;
      return false;
    }
    body.append(data, size);
    return true;
  });
  if (over) throw too_large();
  if (!read) throw ApiError(400, "the body could not be read: invalid gzip (Content-Encoding), or the upload was cut short");
  return body;
}

void install_guards(httplib::Server& http, const ServerOptions& options, int port) {
  // host[:port] forms this server answers to.
  std::vector<std::string> names = {"localhost", "127.0.0.1", "[::1]"};
  if (!is_loopback(options.host) && options.host != "0.0.0.0" && options.host != "::") {
    names.push_back(options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host);
  }
  for (const auto& h : options.allowed_hosts) names.push_back(ascii_lower(h));
  std::vector<std::string> hosts;
  for (const auto& n : names) hosts.push_back(n + ":" + std::to_string(port));
  const auto known_host = [hosts](std::string_view host) {
    return std::find(hosts.begin(), hosts.end(), ascii_lower(trim_blanks(host))) != hosts.end();
  };
  const std::string listed = [&] {
    std::string out;
    for (const auto& h : hosts) out += (out.empty() ? "" : ", ") + h;
    return out;
  }();
  http.set_pre_routing_handler([=, token = options.token](const httplib::Request& req, httplib::Response& res) {
    prefer_gzip(req);
    if (req.get_header_value_count("Host") > 1) {
      send_error(req, res, 400, "the request has more than one Host header (RFC 9112 allows one)");
      return httplib::Server::HandlerResponse::Handled;
    }
    const std::string host = req.get_header_value("Host");
    if (!known_host(host)) {
      send_error(req, res, 403,
                 "Host '" + host + "' is not this server: it answers requests for " + listed +
                     " only (a guard against DNS rebinding; serve --allow-host NAME adds a name)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Origin")) {
      const std::string origin = ascii_lower(req.get_header_value("Origin"));
      const std::string prefix = "http://";
      if (origin.rfind(prefix, 0) != 0 || !known_host(origin.substr(prefix.size()))) {
        send_error(req, res, 403, "requests from pages of origin '" + origin + "' are refused (only this server's own pages)");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (!token.empty() && (req.path.rfind("/api/", 0) == 0 || req.path.rfind("/v1/", 0) == 0)) {
      const std::string auth = req.get_header_value("Authorization");
      const std::string bearer = "Bearer ";
      if (auth.rfind(bearer, 0) != 0 || !same_secret(auth.substr(bearer.size()), token)) {
        send_error(req, res, 401, "this server needs its token: send \"Authorization: Bearer <token>\" (synth-trace --token)");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
}

namespace {

// Each coding of an Accept-Encoding value with its weight (RFC 9110 12.5.3): the name in lower
// case, and whether the client takes it (a q of 0 refuses it).
template <class Each>
void for_each_coding(std::string_view accept, Each each) {
  for_each_listed(accept, [&](std::string_view item) {
    const auto semicolon = item.find(';');
    bool taken = true;
    if (semicolon != std::string_view::npos) {
      const std::string parameter = ascii_lower(trim_blanks(item.substr(semicolon + 1)));
      if (parameter.rfind("q=", 0) == 0) taken = std::strtod(parameter.c_str() + 2, nullptr) > 0;
    }
    each(item, ascii_lower(trim_blanks(item.substr(0, semicolon))), taken);
  });
}

}  // namespace

bool accepts_gzip(const httplib::Request& req) {
  bool gzip = false;
  for_each_coding(req.get_header_value("Accept-Encoding"), [&](std::string_view, const std::string& coding, bool taken) {
    if (coding == "gzip" || coding == "x-gzip" || coding == "*") gzip = gzip || taken;
  });
  return gzip;
}

void prefer_gzip(const httplib::Request& req) {
  // httplib compresses answers itself and picks brotli, at its slowest level, whenever a browser
  // offers it: seconds for a page of 1,000 events, where gzip takes milliseconds. It also takes
  // "gzip;q=0" (gzip refused) for gzip. httplib 0.11 offers no setting, so "br" and the codings
  // refused are dropped from what the request accepts.
  auto& headers = writable(req).headers;
  const auto it = headers.find("Accept-Encoding");
  if (it == headers.end()) return;
  std::string kept;
  for_each_coding(it->second, [&](std::string_view item, const std::string& coding, bool taken) {
    if (taken && coding != "br") kept += (kept.empty() ? "" : ", ") + std::string(item);
  });
  it->second = kept;
}

}  // namespace synth::tracing::server
