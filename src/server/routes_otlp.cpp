// OTLP/HTTP: POST /v1/traces and /v1/logs (protobuf or JSON, gzip) read, decoded, journaled and
// stored (otlp_ingest.hpp), answered once committed, once written to the journal (journal.hpp)
// or once queued (ServerOptions::otlp_ack); the journal's left-over requests replayed through the
// same code (and those of POST /api/v1/sessions through its own, routes_ingest.cpp); /v1/metrics
// answered (and dropped) so that SDKs log no errors.
#include <algorithm>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "diagnostics.hpp"
#include "server/otlp_ingest.hpp"
#include "server/otlp_response.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

constexpr const char* kProtobuf = "application/x-protobuf";

// True for JSON, false for protobuf; 415 for anything else.
bool json_body(const httplib::Request& req) {
  const std::string type = media_type(req);
  if (type == "application/json") return true;
  if (is_protobuf(type)) return false;
  throw ApiError(415, "Content-Type '" + req.get_header_value("Content-Type") + "' is not accepted on " + req.path +
                          ": OTLP/HTTP sends application/x-protobuf or application/json (gzip-compressed or not)");
}

// The body of a request to /v1/traces or /v1/logs, decoded (400 when it cannot be).
template <typename Decoded>
Decoded decode_request(std::string_view body, bool json, Decoded (*from_json)(std::string_view),
                       Decoded (*from_protobuf)(std::string_view)) {
  try {
    return json ? from_json(body) : from_protobuf(body);
  } catch (const OtlpDecodeError& e) {
    throw ApiError(400, std::string(e.what()) + " (nothing of this request was stored)");
  }
}

void answer(httplib::Response& res, bool json, std::string body) {
  res.status = 200;
  res.set_content(std::move(body), json ? "application/json" : kProtobuf);
}

// Which session the stored spans of the traces of `ids` are in, for the traces this server has not
// seen: a request replayed after a restart places its records and spans as the server that took it
// would have (it knew those traces' sessions; the file knows them too: a trace of foreign spans
// is a timestep whose id is the trace id, and our spans name their session on each span).
void remember_stored_sessions(ServerContext& ctx, std::vector<std::string> ids) {
  std::erase_if(ids, [&](const std::string& id) { return id.empty() || ctx.trace_sessions->find(id).has_value(); });
  if (ids.empty()) return;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  Value::Array list;
  for (std::string& id : ids) list.emplace_back(std::move(id));
  const QueryResult found = ctx.store.query(
      "SELECT step_id, min(session_id) FROM session_timesteps WHERE step_id = ANY(CAST(? AS VARCHAR[])) GROUP BY "
      "step_id",
      {Value(std::move(list))});
  for (const auto& row : found.rows) ctx.trace_sessions->remember(row.at(0).as_string(), row.at(1).as_string());
}

// How one OTLP route's requests are decoded and stored: by its HTTP handler and by the journal's
// replay alike.
template <typename Decoded>
struct OtlpRoute {
  IngestJournal::Route journal_route;
  Decoded (*from_json)(std::string_view);
  Decoded (*from_protobuf)(std::string_view);
  Rejected (*store)(ServerContext&, httplib::Response&, Decoded&, std::optional<IngestQueue::Admission>&,
                    JournaledRequest&, std::int64_t);
  std::vector<std::string> (*trace_ids)(const Decoded&);
  const char* rejected_field;  // of the answer's partial success
};

// The trace ids of spans or log records.
template <typename Item>
std::vector<std::string> trace_ids_of(const std::vector<Item>& items) {
  std::vector<std::string> ids;
  ids.reserve(items.size());
  for (const Item& item : items) ids.push_back(item.trace_id);
  return ids;
}

const OtlpRoute<OtlpTraces> kTraces{IngestJournal::Route::otlp_traces, decode_otlp_traces_json,
                                    decode_otlp_traces_protobuf, store_traces,
                                    [](const OtlpTraces& traces) { return trace_ids_of(traces.spans); }, "rejectedSpans"};

const OtlpRoute<OtlpLogs> kLogs{IngestJournal::Route::otlp_logs, decode_otlp_logs_json, decode_otlp_logs_protobuf,
                                store_logs, [](const OtlpLogs& logs) { return trace_ids_of(logs.logs); },
                                "rejectedLogRecords"};

// A request left in the journal, stored again as its route stores it.
template <typename Decoded>
void replay(ServerContext& ctx, const OtlpRoute<Decoded>& route, const IngestJournal::Request& request,
            JournaledRequest& journaled) {
  httplib::Response res;
  std::optional<IngestQueue::Admission> none;  // sent before: no bound in time
  Decoded decoded = decode_request(request.body, request.encoding != 0, route.from_json, route.from_protobuf);
  remember_stored_sessions(ctx, route.trace_ids(decoded));
  route.store(ctx, res, decoded, none, journaled, request.received_unix_ms);
}

}  // namespace

std::size_t replay_journal(ServerContext& ctx) {
  if (!ctx.journal) return 0;
  std::vector<IngestJournal::Request> requests = ctx.journal->take_left_over();
  for (IngestJournal::Request& request : requests) {
    JournaledRequest journaled(*ctx.journal, request.seq, true);
    try {
      IngestJournal::read_body(request);
    } catch (const Error& e) {
      detail::report(std::string("synth-trace serve: ") + e.what() + ": not stored again");
      continue;
    }
    if (request.route != IngestJournal::Route::otlp_traces && request.route != IngestJournal::Route::otlp_logs &&
        request.route != IngestJournal::Route::sessions) {
      // Written by a later version of synth-trace: kept for it rather than misread.
      journaled.leave_for_next_start();
      detail::report("synth-trace serve: request " + std::to_string(request.seq) + " of the ingest journal came to a " +
                     "route this version does not know ('" + std::string(1, static_cast<char>(request.route)) +
                     "'): left in " + IngestJournal::folder_of(ctx.options.db).string() +
                     " for the synth-trace that wrote it");
      continue;
    }
    const auto deadline = std::chrono::steady_clock::now() + ctx.options.shutdown_timeout;
    for (;;) {
      try {
        if (request.route == IngestJournal::Route::sessions) {
          replay_sessions(ctx, request, journaled);
        } else if (request.route == IngestJournal::Route::otlp_logs) {
          replay(ctx, kLogs, request, journaled);
        } else {
          replay(ctx, kTraces, request, journaled);
        }
        break;
      } catch (const ApiError& e) {
        // A full queue drains while the writer runs.
        if (e.status() == 503 && std::chrono::steady_clock::now() < deadline) {
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
          continue;
        }
        if (e.status() == 503) {
          journaled.leave_for_next_start();
          throw Error("the ingest journal's request " + std::to_string(request.seq) + " could not be queued within " +
                      std::to_string(ctx.options.shutdown_timeout.count()) + " ms (" + e.what() +
                      "): the writer stores nothing; it and the rest wait in " +
                      IngestJournal::folder_of(ctx.options.db).string() + " for the next start");
        }
        detail::report("synth-trace serve: request " + std::to_string(request.seq) + " of the ingest journal could " +
                       "not be stored again: " + e.what());
        break;
      }
    }
    std::string().swap(request.body);  // one body in memory at a time
  }
  return requests.size();
}

// One OTLP request to /v1/traces or /v1/logs: read, admitted (answered before its commit) or refused
// before the decoding it would waste, decoded, journaled, stored, synced, answered.
template <typename Decoded>
void ingest(ServerContext& ctx, const OtlpRoute<Decoded>& route, const httplib::Request& req, httplib::Response& res,
            const httplib::ContentReader& reader) {
  const bool json = json_body(req);
  const std::string body = read_body(req, reader, ctx.options.max_body_bytes);
  std::optional<IngestQueue::Admission> admitted =
      admit_or_refuse(ctx, res, body.size(), ctx.options.otlp_ack != ServerOptions::OtlpAck::commit);
  Decoded decoded = decode_request(body, json, route.from_json, route.from_protobuf);
  const std::int64_t received = unix_ms_now();
  JournaledRequest journaled =
      ctx.options.otlp_ack == ServerOptions::OtlpAck::journal ? journal_request(ctx, res, route.journal_route, json, body, received)
                                                                : JournaledRequest();
  const Rejected rejected = route.store(ctx, res, decoded, admitted, journaled, received);
  sync_journal(res, journaled);
  answer(res, json, otlp_trace_response(json, rejected.count, rejected.message, route.rejected_field));
}

void add_otlp_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/traces", guarded_post([&ctx](const httplib::Request& req, httplib::Response& res,
                                              const httplib::ContentReader& reader) {
    ingest(ctx, kTraces, req, res, reader);
  }));
  http.Post("/v1/logs", guarded_post([&ctx](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader) {
    ingest(ctx, kLogs, req, res, reader);
  }));
  // Metrics: read (bounded), then dropped; an empty ExportMetricsServiceResponse.
  http.Post("/v1/metrics", guarded_post([&ctx](const httplib::Request& req, httplib::Response& res,
                                               const httplib::ContentReader& reader) {
    const bool json = json_body(req);
    read_body(req, reader, ctx.options.max_body_bytes);
    answer(res, json, json ? "{}" : "");
  }));
}

}  // namespace synth::tracing::server
