// POST /api/v1/sessions: one session, an array, or NDJSON; gzip; idempotent on session_id.
#include "server/ingest_decode.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

BodyFormat body_format(const httplib::Request& req) {
  const std::string type = media_type(req);
  if (type == "application/json") return BodyFormat::json;
  if (type == "application/x-ndjson" || type == "application/ndjson" || type == "application/jsonl") {
    return BodyFormat::ndjson;
  }
  throw ApiError(415, "Content-Type '" + req.get_header_value("Content-Type") +
                          "' is not accepted here: send application/json (one session, or an array of them) or "
                          "application/x-ndjson (one session per line), gzip-compressed or not");
}

OnExistingSession on_existing_param(const httplib::Request& req) {
  const std::string choice = choice_param(req, "on_existing", {"skip", "replace", "fail", "merge"}, "skip");
  if (choice == "replace") return OnExistingSession::replace;
  if (choice == "fail") return OnExistingSession::fail;
  if (choice == "merge") return OnExistingSession::merge;
  return OnExistingSession::skip;
}

// A request answered before its commit is journaled first (--otlp-ack journal), so that a kill
// loses none of it. Only with on_existing skip (the default): replayed at the next start, even after
// a commit the kill left unmarked, its sessions are then stored once. A merge replayed so would add
// its part twice, and a replace (or fail) replayed after later requests for the session were
// committed would undo them (or report it refused): those are answered once queued, and are
// durable with ?wait=commit.
bool journaled_first(const ServerContext& ctx, bool wait, OnExistingSession on_existing) {
  return !wait && on_existing == OnExistingSession::skip && ctx.options.otlp_ack == ServerOptions::OtlpAck::journal;
}

// The decoded sessions as queue items: with `receipt` (waited for, or marking a journaled request
// done), each knows its place in the request.
std::vector<IngestItem> items_of(DecodedBody& decoded, OnExistingSession on_existing, const std::shared_ptr<Receipt>& receipt) {
  std::vector<IngestItem> items;
  items.reserve(decoded.sessions.size());
  for (std::size_t i = 0; i < decoded.sessions.size(); ++i) {
    items.push_back(IngestItem{std::move(decoded.sessions[i].trace), on_existing, decoded.sessions[i].bytes, receipt, i});
  }
  return items;
}

Value rejected_value(const RejectedSession& r) {
  return Value{{"index", r.index}, {"session_id", r.session_id ? Value(*r.session_id) : Value()}, {"error", r.error}};
}

}  // namespace

void add_ingest_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/api/v1/sessions", guarded_post({"on_existing", "wait"}, [&ctx](const httplib::Request& req, httplib::Response& res,
                                                    const httplib::ContentReader& reader) {
    {
      const BodyFormat format = body_format(req);
      const OnExistingSession on_existing = on_existing_param(req);
      const bool wait = choice_param(req, "wait", {"commit"}, "") == "commit";
      const std::string body = read_body(req, reader, ctx.options.max_body_bytes);
      // Before the decoding it would waste.
      std::optional<IngestQueue::Admission> admitted = admit_or_refuse(ctx, res, body.size(), !wait);
      DecodedBody decoded;
      try {
        decoded = decode_sessions(body, format);
      } catch (const BodyError& e) {
        throw ApiError(400, e.what());
      }
      ctx.counters.decode_rejected.fetch_add(decoded.rejected.size(), std::memory_order_relaxed);
      Value::Array rejected;
      for (const RejectedSession& r : decoded.rejected) rejected.push_back(rejected_value(r));

      const std::size_t count = decoded.sessions.size();
      JournaledRequest journaled = count > 0 && journaled_first(ctx, wait, on_existing)
                                       ? journal_request(ctx, res, IngestJournal::Route::sessions,
                                                         sessions_journal_encoding(format), body, unix_ms_now())
                                       : JournaledRequest();
      std::shared_ptr<Receipt> receipt;
      if (wait) {
        receipt = std::make_shared<Receipt>(count);
      } else if (journaled) {
        receipt = std::make_shared<Receipt>(count, journaled.when_recorded());
      }
      std::vector<std::pair<std::size_t, std::string>> where;  // each session's place in the body, and id
      if (wait) {
        for (const DecodedSession& d : decoded.sessions) where.emplace_back(d.index, d.trace.session_id);
      }
      std::vector<IngestItem> items = items_of(decoded, on_existing, receipt);
      push_to_queue(ctx, res, items, "send fewer per request (serve --queue-sessions, --queue-bytes)", admitted);
      if (journaled) journaled.handed_over();
      ctx.counters.accepted.fetch_add(count, std::memory_order_relaxed);
      sync_journal(res, journaled);
      Value answer{{"accepted", count}};
      if (wait) {
        const auto deadline = std::chrono::steady_clock::now() + ctx.options.shutdown_timeout + ctx.options.commit_interval;
        if (!receipt->wait(deadline)) throw ApiError(504, "the sessions were accepted but not stored in time");
        Value stored = Value::object({{"inserted", 0}, {"replaced", 0}, {"merged", 0}, {"skipped", 0}});
        for (std::size_t i = 0; i < count; ++i) {
          const Receipt::Outcome& o = receipt->outcomes()[i];
          if (o.what == Stored::refused || o.what == Stored::lost) {
            rejected.push_back(Value{{"index", where[i].first}, {"session_id", where[i].second}, {"error", o.error}});
          } else {
            stored[stored_name(o.what)] = Value(stored[stored_name(o.what)].as_int() + 1);
          }
        }
        answer.set("stored", std::move(stored));
      }
      answer.set("rejected", Value(std::move(rejected)));
      send_json(res, answer.dump());
    }
  }));
}

std::uint8_t sessions_journal_encoding(BodyFormat format) { return format == BodyFormat::ndjson ? 1 : 0; }

namespace {

BodyFormat sessions_journal_format(std::uint8_t encoding) { return encoding == 1 ? BodyFormat::ndjson : BodyFormat::json; }

}  // namespace

void replay_sessions(ServerContext& ctx, const IngestJournal::Request& request, JournaledRequest& journaled) {
  httplib::Response res;
  DecodedBody decoded;
  try {
    decoded = decode_sessions(request.body, sessions_journal_format(request.encoding));
  } catch (const BodyError& e) {
    throw ApiError(400, e.what());
  }
  if (decoded.sessions.empty()) return;  // done: nothing in it to store
  ctx.counters.accepted.fetch_add(decoded.sessions.size(), std::memory_order_relaxed);
  std::vector<IngestItem> items = items_of(decoded, OnExistingSession::skip,
                                           std::make_shared<Receipt>(decoded.sessions.size(), journaled.when_recorded()));
  std::optional<IngestQueue::Admission> none;  // sent before: no bound in time
  push_to_queue(ctx, res, items, "serve --queue-sessions, --queue-bytes", none);
  journaled.handed_over();
}

}  // namespace synth::tracing::server
