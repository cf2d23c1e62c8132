// OTLP trace and log requests as `synth-trace serve` receives them on POST /v1/traces and
// /v1/logs: every input is read as each, protobuf and OTLP/JSON, and what reads is mapped. Promises: no
// crash (deep nesting, huge lengths, cut varints); only OtlpDecodeError is thrown; every span is
// either mapped, counted rejected or left out as a repeat of an earlier span of the request; every
// session has an id and serializes.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "fuzz_check.hpp"
#include "server/otlp_map.hpp"

namespace st = synth::tracing;
namespace sv = synth::tracing::server;

namespace {

void map_and_check(const sv::OtlpTraces& traces) {
  const sv::OtlpMapped mapped = sv::map_otlp_spans(sv::OtlpTraces(traces));
  st::fuzz::check(mapped.spans + mapped.rejected_spans + mapped.duplicate_spans == traces.spans.size(),
                  "every span is mapped, rejected or left out as a repeat");
  st::fuzz::check((mapped.rejected_spans == 0) == mapped.error_message.empty(), "a rejection says why");
  for (const st::SessionTrace& t : mapped.sessions) {
    st::fuzz::check(!t.session_id.empty(), "a mapped session has an id");
    st::fuzz::check(!t.to_json().empty(), "a mapped session serializes");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  try {
    map_and_check(sv::decode_otlp_traces_protobuf(input));
  } catch (const sv::OtlpDecodeError&) {
  }
  try {
    map_and_check(sv::decode_otlp_traces_json(input));
  } catch (const sv::OtlpDecodeError&) {
  }
  for (const bool json : {false, true}) {
    try {
      const sv::OtlpLogs logs = json ? sv::decode_otlp_logs_json(input) : sv::decode_otlp_logs_protobuf(input);
      const sv::OtlpMapped mapped = sv::map_otlp_logs(logs);
      st::fuzz::check(mapped.spans + mapped.rejected_spans <= logs.logs.size(), "every log record is counted once");
    } catch (const sv::OtlpDecodeError&) {
    }
  }
  return 0;
}
