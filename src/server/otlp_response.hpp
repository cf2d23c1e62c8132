// Internal: the answers of the OTLP routes, in the request's encoding (protobuf or OTLP/JSON):
// the export responses with their partial success, and the google.rpc.Status of a failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace synth::tracing::server {

/// A failed OTLP request's answer: google.rpc.Status { code = 1; message = 2 }, which the
/// specification makes the body of every 4xx and 5xx answer, as protobuf or (json) its JSON
/// mapping {"code": N, "message": "..."}. `grpc_code` is google.rpc.Code (3 INVALID_ARGUMENT, ...).
std::string otlp_status_body(bool json, int grpc_code, std::string_view message);

/// An ExportTraceServiceResponse (or, with `rejected_json_key` "rejectedLogRecords", an
/// ExportLogsServiceResponse: the same fields): empty when nothing was rejected, else
/// partial_success {rejected, error_message}; protobuf or JSON.
std::string otlp_trace_response(bool json, std::uint64_t rejected_spans, std::string_view error_message,
                                const char* rejected_json_key = "rejectedSpans");

}  // namespace synth::tracing::server
