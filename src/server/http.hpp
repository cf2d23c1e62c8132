// Internal: what every route of the server shares: the server's parts (ServerContext), JSON
// answers and errors, query parameters, and the checks each request passes before any route
// (Host, Origin, token).
#pragma once

#include <httplib.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "server/held_stats.hpp"
#include "server/ingest_queue.hpp"
#include "server/journal.hpp"
#include "server/log_hold.hpp"
#include "server/pending.hpp"
#include "server/span_hold.hpp"
#include "server/otlp_map.hpp"
#include "server/options.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::server {

/// The parts of a running server that routes use.
struct ServerContext {
  const ServerOptions& options;
  DuckDBTraceManager& store;
  IngestQueue& queue;
  IngestCounters& counters;
  std::string url;
  /// A private folder where Parquet exports are written before they are sent.
  std::filesystem::path export_dir;
  /// Which session each recent OTLP trace belongs to (shared by the main and the OTLP port).
  std::shared_ptr<TraceSessions> trace_sessions = std::make_shared<TraceSessions>();
  /// GenAI log records waiting for their spans (ServerOptions::log_hold).
  std::shared_ptr<LogHold> log_hold =
      std::make_shared<LogHold>(options.log_hold, options.log_hold_bytes, options.log_hold_records);
  /// Row ids of the held spans and records kept in the database (otlp_pending).
  std::shared_ptr<PendingIds> pending_ids = std::make_shared<PendingIds>();
  /// LLM call spans without content waiting for their log records (ServerOptions::span_hold).
  std::shared_ptr<SpanHold> span_hold = std::make_shared<SpanHold>(options.span_hold, options.span_hold_spans);
  /// The merged sessions' aggregates the writer holds, which reads wait for (server/read.hpp).
  std::shared_ptr<HeldStats> held_stats = std::make_shared<HeldStats>();
  /// The requests answered before their commit (--otlp-ack journal, or left by a server that ran
  /// so); null without.
  std::shared_ptr<IngestJournal> journal;
};

/// What a route answers when the request cannot be served: an HTTP status and a message for
/// the client saying what to do.
class ApiError : public std::runtime_error {
 public:
  ApiError(int status, const std::string& message) : std::runtime_error(message), status_(status) {}
  int status() const noexcept { return status_; }

 private:
  int status_;
};

/// Answers with a JSON body.
void send_json(httplib::Response& res, std::string body, int status = 200);
/// Answers {"error": message}; on the OTLP routes (/v1/traces, /v1/logs, /v1/metrics) a
/// google.rpc.Status in the request's encoding instead, as the OTLP specification requires.
void send_error(const httplib::Request& req, httplib::Response& res, int status, std::string_view message);

/// The query parameters an API route takes (string literals). Any other, or one given twice, is
/// refused with 400 naming it and these: a misspelt filter (`?modle=`) must not answer as if it
/// were absent. Routes called by clients that are not ours to correct (OTLP SDKs, browsers
/// fetching the viewer's files) are registered without a list and take anything.
using TakenParams = std::vector<std::string_view>;

/// A route's handler that never lets an exception out: ApiError answers its status, a
/// StorageError 400 (bad SQL, an unreadable value), anything else 500; all through send_error.
httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> body);
/// The same, refusing the parameters it does not take.
httplib::Server::Handler guarded(TakenParams takes, std::function<void(const httplib::Request&, httplib::Response&)> body);

/// A POST route's handler, guarded as guarded() does. A request refused before its body was
/// read whole is answered with "Connection: close": the unread bytes must not be taken for the
/// connection's next request.
httplib::Server::HandlerWithContentReader guarded_post(
    std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> body);
/// The same, refusing the parameters it does not take.
httplib::Server::HandlerWithContentReader guarded_post(
    TakenParams takes, std::function<void(const httplib::Request&, httplib::Response&, const httplib::ContentReader&)> body);

/// A GET route of the API: `route` called with the server's parts, guarded, taking `takes`.
httplib::Server::Handler api_route(ServerContext& ctx, TakenParams takes,
                                   void (*route)(ServerContext&, const httplib::Request&, httplib::Response&));

/// The value of query parameter `name`, if given (and not empty).
std::optional<std::string> param(const httplib::Request& req, const char* name);
/// A count parameter in [min, max]; 400 naming the parameter otherwise.
std::size_t count_param(const httplib::Request& req, const char* name, std::size_t fallback, std::size_t max,
                        std::size_t min = 0);
std::optional<double> number_param(const httplib::Request& req, const char* name);
/// true/false (also 1/0).
std::optional<bool> bool_param(const httplib::Request& req, const char* name);
/// An ISO-8601 time, or seconds since the epoch.
std::optional<Timestamp> time_param(const httplib::Request& req, const char* name);
/// One of `choices`, else `fallback` when absent; 400 listing them otherwise.
std::string choice_param(const httplib::Request& req, const char* name, std::initializer_list<const char*> choices,
                         const char* fallback);

/// The body of a request handled with a ContentReader, decompressed (httplib inflates gzip and
/// deflate as it reads): 413 once it is larger than `max` bytes (so a small gzip body cannot
/// grow into gigabytes), 400 when it cannot be read (invalid gzip, an upload cut short).
std::string read_body(const httplib::Request& req, const httplib::ContentReader& reader, std::size_t max);

/// Hands a request's sessions to the ingest queue, or throws the ApiError that says why not: 503
/// with Retry-After when full or stopping, 413 when more than the queue takes at once
/// (`smaller` tells the client how to send less).
/// The queue's bound in time applies to a request answered before its commit: decided when it was
/// `admitted` (admit_or_refuse()); without an admission, checked here for items without a receipt
/// (a journaled request replayed at the start, with its receipt, is not bounded).
void push_to_queue(ServerContext& ctx, httplib::Response& res, std::vector<IngestItem>& items, std::string_view smaller,
                   std::optional<IngestQueue::Admission>& admitted);
/// A decoded request answered before its commit, written to the journal (ctx.journal, when the
/// server has one) for its route; not synced yet (sync_journal). 413 when larger than a journal
/// record holds, 503 with Retry-After when the disk refuses it (nothing of it was stored).
JournaledRequest journal_request(ServerContext& ctx, httplib::Response& res, IngestJournal::Route route,
                                 std::uint8_t encoding, std::string_view body, std::int64_t received_unix_ms);
/// The journaled request on disk before it is answered: 503 with Retry-After when the sync failed
/// (its items are queued all the same; sent again, what was stored meanwhile is stored once).
void sync_journal(httplib::Response& res, const JournaledRequest& journaled);
/// Before decoding a request's `body_bytes`. One `acknowledged_once_queued` gets its room in the
/// queue, or the 503 of a full queue when the queue, with the requests admitted before it, holds
/// what the writer stores in ServerOptions::queue_delay; one answered after its commit (it waits
/// anyway) gets nothing and is not refused for time.
std::optional<IngestQueue::Admission> admit_or_refuse(ServerContext& ctx, httplib::Response& res, std::size_t body_bytes,
                                                      bool acknowledged_once_queued);

/// Whether the client takes gzip-compressed answers (Accept-Encoding: gzip, x-gzip or *, with a
/// q above 0).
bool accepts_gzip(const httplib::Request& req);
/// Drops brotli, and every coding the client refuses (q=0), from the request's Accept-Encoding,
/// so that httplib compresses the answer with gzip (fast) rather than brotli at its slowest
/// level, and never with a refused coding. Called before every route (install_guards).
void prefer_gzip(const httplib::Request& req);

/// The request's media type: Content-Type before any ';', trimmed, lower case.
std::string media_type(const httplib::Request& req);
/// True for a protobuf media type (`application/x-protobuf`, or `application/protobuf`).
bool is_protobuf(std::string_view media_type) noexcept;

/// Checks every request passes before its route: the Host header names this server (a loopback
/// name, the address it is bound to, or an allowed host, with the port it listens on: DNS
/// rebinding), an Origin header (sent by browsers) names it too, and /api/ requests carry the
/// token when there is one (OTLP's /v1/ routes too). Answers 403 or 401 otherwise. No route sends CORS headers.
void install_guards(httplib::Server& http, const ServerOptions& options, int port);

}  // namespace synth::tracing::server
