// Internal: OTLP spans and GenAI log records into the ingest queue, as the routes (and the
// journal's replay) store a request: held log records folded into their spans, LLM calls without
// content held for their records, the rest queued as sessions; answered per ServerOptions::otlp_ack.
#pragma once

#include <httplib.h>

#include <cstdint>
#include <optional>
#include <string>

#include "server/http.hpp"
#include "server/otlp_map.hpp"

namespace synth::tracing::server {

/// What an OTLP request could not store (its partial success): spans or records, and why.
struct Rejected {
  std::uint64_t count = 0;
  std::string message;
};

/// Maps and queues the spans of a request to /v1/traces, received at `received_unix_ms` (held
/// spans wait from then), waiting for their commit with --otlp-ack commit. Refusals (503, 413) as
/// ApiError; the held records it took are given back then.
Rejected store_traces(ServerContext& ctx, httplib::Response& res, OtlpTraces& traces,
                      std::optional<IngestQueue::Admission>& admitted, JournaledRequest& journaled,
                      std::int64_t received_unix_ms);

/// Holds, attaches or queues the GenAI log records of a request to /v1/logs, received at
/// `received_unix_ms` (held records wait from then), waiting for their commit with --otlp-ack
/// commit. Refusals as ApiError, the hold left as it was.
Rejected store_logs(ServerContext& ctx, httplib::Response& res, OtlpLogs& logs,
                    std::optional<IngestQueue::Admission>& admitted, JournaledRequest& journaled,
                    std::int64_t received_unix_ms);

}  // namespace synth::tracing::server
