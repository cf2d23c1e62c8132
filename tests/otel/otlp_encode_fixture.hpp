// What the OTLP encoder and receiver harness tests share (otlp_encode_test.cpp,
// otlp_receiver_harness_test.cpp): spans and a resource to encode, and the process's receiver.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "otel/otlp_receiver.hpp"
#include "synth/tracing/otel.hpp"

namespace otlp_encode_fixture {

namespace st = synth::tracing;
using st::testing::OtlpReceiver;

inline st::Timestamp at(std::int64_t nanos) { return st::Timestamp{std::chrono::nanoseconds{nanos}}; }

inline constexpr std::int64_t kBase = 1764500000123456789;  // 2025-11-30, with nanoseconds

inline st::SpanData make_span(std::uint64_t index) {
  st::SpanData s;
  s.trace_id_high = 0x4bf92f3577b34da6ULL;
  s.trace_id_low = 0xa3ce929d0e0e4736ULL;
  s.span_id = 0x1000 + index;
  s.parent_span_id = index == 0 ? 0 : 0x1000;
  s.name = "span " + std::to_string(index);
  s.kind = st::SpanKind::internal;
  s.start = at(kBase + static_cast<std::int64_t>(index) * 1000);
  s.end = at(kBase + static_cast<std::int64_t>(index) * 1000 + 999);
  return s;
}

inline st::OtlpResource make_resource() {
  st::OtlpResource r;
  r.attributes = st::Value::object({{"service.name", "conformance"},
                                    {"service.version", "1.2.3"},
                                    {"telemetry.sdk.language", "cpp"},
                                    {"process.pid", 4242}});
  r.scope_name = "synth-tracing";
  r.scope_version = "0.1.0";
  return r;
}

// One receiver per test process (ctest runs every test in its own process), reset per test.
inline OtlpReceiver& receiver() {
  static std::unique_ptr<OtlpReceiver> instance;
  if (!instance) instance = std::make_unique<OtlpReceiver>();
  return *instance;
}

}  // namespace otlp_encode_fixture
