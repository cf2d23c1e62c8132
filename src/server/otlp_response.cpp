// The OTLP routes' answers written by hand: protobuf wire format (field numbers from
// trace_service.proto, logs_service.proto and google/rpc/status.proto) and the OTLP/JSON mapping.
#include "server/otlp_response.hpp"

#include "synth/tracing/json.hpp"

namespace synth::tracing::server {

namespace {

void append_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7F) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

}  // namespace

std::string otlp_status_body(bool json, int grpc_code, std::string_view message) {
  if (json) return Value{{"code", grpc_code}, {"message", std::string(message)}}.dump();
  std::string out;
  out.push_back(0x08);
  append_varint(out, static_cast<std::uint64_t>(grpc_code));
  out.push_back(0x12);
  append_varint(out, message.size());
  out.append(message);
  return out;
}

std::string otlp_trace_response(bool json, std::uint64_t rejected_spans, std::string_view error_message,
                                const char* rejected_json_key) {
  if (json) {
    if (rejected_spans == 0 && error_message.empty()) return "{}";
    return Value{{"partialSuccess", Value{{rejected_json_key, std::to_string(rejected_spans)},
                                          {"errorMessage", std::string(error_message)}}}}
        .dump();
  }
  if (rejected_spans == 0 && error_message.empty()) return {};
  // ExportTraceServiceResponse { partial_success = 1 { rejected_spans = 1; error_message = 2 } }
  std::string inner;
  if (rejected_spans != 0) {
    inner.push_back(0x08);
    append_varint(inner, rejected_spans);
  }
  if (!error_message.empty()) {
    inner.push_back(0x12);
    append_varint(inner, error_message.size());
    inner.append(error_message);
  }
  std::string out(1, '\x0a');
  append_varint(out, inner.size());
  return out + inner;
}

}  // namespace synth::tracing::server
