// OTLP/HTTP: POST /v1/traces (protobuf or JSON, gzip) into the ingest queue; POST /v1/logs's
// GenAI content as messages; /v1/metrics answered (and dropped) so that SDKs log no errors.
#include "server/otlp_map.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

constexpr const char* kProtobuf = "application/x-protobuf";

// True for JSON, false for protobuf; 415 for anything else.
bool json_body(const httplib::Request& req) {
  const std::string type = media_type(req);
  if (type == "application/json") return true;
  if (type == kProtobuf || type == "application/protobuf") return false;
  throw ApiError(415, "Content-Type '" + req.get_header_value("Content-Type") + "' is not accepted on " + req.path +
                          ": OTLP/HTTP sends application/x-protobuf or application/json (gzip-compressed or not)");
}

void answer(httplib::Response& res, bool json, std::string body) {
  res.status = 200;
  res.set_content(std::move(body), json ? "application/json" : kProtobuf);
}

// Queues the sessions OTLP data mapped to (merged into what is stored); returns how many.
std::size_t store_mapped(ServerContext& ctx, httplib::Response& res, OtlpMapped& mapped) {
  std::vector<IngestItem> items;
  items.reserve(mapped.sessions.size());
  for (SessionTrace& trace : mapped.sessions) {
    const std::size_t bytes = trace.to_json().size();  // what the queue's byte bound counts
    items.push_back(IngestItem{std::move(trace), OnExistingSession::merge, bytes, nullptr, 0});
  }
  const std::size_t count = items.size();
  if (count > 0) {
    push_to_queue(ctx, res, items,
                  "export smaller batches (OTEL_BSP_MAX_EXPORT_BATCH_SIZE), or serve --queue-sessions, --queue-bytes");
  }
  ctx.counters.accepted.fetch_add(count, std::memory_order_relaxed);
  return count;
}

}  // namespace

void add_otlp_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/v1/traces", guarded_post([&ctx](const httplib::Request& req, httplib::Response& res,
                                              const httplib::ContentReader& reader) {
    const bool json = json_body(req);
    const std::string body = read_body(req, reader, ctx.options.max_body_bytes);
    OtlpTraces traces;
    try {
      traces = json ? decode_otlp_traces_json(body) : decode_otlp_traces_protobuf(body);
    } catch (const OtlpDecodeError& e) {
      throw ApiError(400, std::string(e.what()) + " (nothing of this request was stored)");
    }
    OtlpMapped mapped = map_otlp_spans(traces, ctx.trace_sessions.get());
    ctx.counters.otlp_rejected_spans.fetch_add(mapped.rejected_spans, std::memory_order_relaxed);
    store_mapped(ctx, res, mapped);
    ctx.counters.otlp_spans.fetch_add(mapped.spans, std::memory_order_relaxed);
    answer(res, json, otlp_trace_response(json, mapped.rejected_spans, mapped.error_message));
  }));
  http.Post("/v1/logs", guarded_post([&ctx](const httplib::Request& req, httplib::Response& res,
                                            const httplib::ContentReader& reader) {
    const bool json = json_body(req);
    const std::string body = read_body(req, reader, ctx.options.max_body_bytes);
    OtlpLogs logs;
    try {
      logs = json ? decode_otlp_logs_json(body) : decode_otlp_logs_protobuf(body);
    } catch (const OtlpDecodeError& e) {
      throw ApiError(400, std::string(e.what()) + " (nothing of this request was stored)");
    }
    OtlpMapped mapped = map_otlp_logs(logs, ctx.trace_sessions.get());
    store_mapped(ctx, res, mapped);
    answer(res, json, otlp_trace_response(json, mapped.rejected_spans, mapped.error_message, "rejectedLogRecords"));
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
