// Internal: the server's routes, by concept. Each adds its handlers to the HTTP server; all
// answer JSON ({"error": ...} with a 4xx/5xx status when a request cannot be served).
#pragma once

#include <httplib.h>

#include "server/http.hpp"
#include "server/ingest_decode.hpp"

namespace synth::tracing::server {

/// POST /api/v1/sessions: sessions in our trace JSON into the ingest queue. Answered once committed
/// with ?wait=commit; else once journaled (--otlp-ack journal, on_existing skip) or once queued.
void add_ingest_routes(httplib::Server& http, ServerContext& ctx);
/// How a journal record of POST /api/v1/sessions keeps the body's format
/// (IngestJournal::Request::encoding): 1 for NDJSON, 0 for JSON.
std::uint8_t sessions_journal_encoding(BodyFormat format);
/// Queues again a request to POST /api/v1/sessions left in the journal (on_existing skip), marked
/// done once committed. Throws ApiError as the route answers (503 while the queue is full).
void replay_sessions(ServerContext& ctx, const IngestJournal::Request& request, JournaledRequest& journaled);
/// POST /v1/traces (OTLP/HTTP protobuf or JSON) and /v1/logs (GenAI content) into the ingest
/// queue, answered once committed, journaled or queued (ServerOptions::otlp_ack); /v1/metrics
/// answered and dropped.
void add_otlp_routes(httplib::Server& http, ServerContext& ctx);
/// Queues again the requests left in the journal by a server that stopped before committing them
/// (each marked done once committed, as if it had just come); returns how many.
std::size_t replay_journal(ServerContext& ctx);
/// Stores the held GenAI log records that are due (all of them when `all`) as messages of their
/// trace's session (joining their LLM call instead when it was stored meanwhile), deleting their
/// otlp_pending rows in the same commit. False when the queue was full or closed: the records stay
/// held (and are counted lost when the queue is closed: their rows wait for the next start).
bool release_held_logs(ServerContext& ctx, bool all);
/// Stores the held LLM call spans that are due (all of them when `all`), with the log records
/// that came for them. False when the queue was full: they stay held.
bool release_held_spans(ServerContext& ctx, bool all);
/// GET /api/v1/health, /api/v1/sessions (list), /api/v1/sessions/{id}, its events and messages,
/// /api/v1/events/{id}, /api/v1/changes.
void add_read_routes(httplib::Server& http, ServerContext& ctx);
/// GET /api/v1/stats/timeseries, /api/v1/facets.
void add_stats_routes(httplib::Server& http, ServerContext& ctx);
/// GET /api/v1/sessions/{id}/export, /api/v1/export/jsonl, /api/v1/export/parquet/{table}.
void add_export_routes(httplib::Server& http, ServerContext& ctx);
/// POST /api/v1/query: read-only SQL with a row and a time limit.
void add_query_routes(httplib::Server& http, ServerContext& ctx);
/// GET / and the viewer: its files (built in, or from --ui-dir), and the index page for its
/// client-side routes. Added last: the API's routes come first.
void add_ui_routes(httplib::Server& http, ServerContext& ctx);

}  // namespace synth::tracing::server
