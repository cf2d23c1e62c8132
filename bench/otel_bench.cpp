// OpenTelemetry costs. Targets (issue 5): encoding >= 1 M spans/s; end to end (scopes ->
// BatchSpanProcessor -> OTLP/HTTP protobuf -> the Node receiver on the official decoder) >= 200 k
// spans/s with no drops given a large enough queue; issue 11 adds the same into decode-only
// receivers (Node with the official decoder, and C++ with the collector's decoder). Also what a
// scope costs the agent with span export on.
#include <benchmark/benchmark.h>

#include <chrono>

#include <synth/tracing.hpp>

#include "bench_support.hpp"
#include "otel/otlp_receiver.hpp"
#include "otlp_decode_receiver.hpp"

namespace st = synth::tracing;
using namespace std::chrono_literals;
using synth_bench::Setup;

namespace {

// An LLM call's span as the tracer makes it: GenAI attributes, 15 in all.
st::SpanData llm_span(std::uint64_t i) {
  st::SpanData s;
  s.trace_id_high = 0x4bf92f3577b34da6ULL;
  s.trace_id_low = 0xa3ce929d0e0e4736ULL + i;
  s.span_id = 0x00f067aa0ba902b7ULL + i;
  s.parent_span_id = 0x1234;
  s.name = "chat gpt-4o-mini";
  s.kind = st::SpanKind::client;
  s.start = st::Timestamp(std::chrono::nanoseconds(1'732'000'000'000'000'000LL + static_cast<std::int64_t>(i) * 1000));
  s.end = s.start + std::chrono::milliseconds(420);
  s.attributes = st::Value{{"gen_ai.operation.name", "chat"},
                           {"gen_ai.provider.name", "openai"},
                           {"gen_ai.request.model", "gpt-4o-mini"},
                           {"gen_ai.request.temperature", 0.2},
                           {"gen_ai.request.max_tokens", 256},
                           {"gen_ai.response.model", "gpt-4o-mini-2024-07-18"},
                           {"gen_ai.response.id", "chatcmpl-9x8y7z"},
                           {"gen_ai.response.finish_reasons", st::Value::array({"stop"})},
                           {"gen_ai.usage.input_tokens", 1200},
                           {"gen_ai.usage.output_tokens", 85},
                           {"gen_ai.conversation.id", "episode-17"},
                           {"gen_ai.agent.name", "planner"},
                           {"synth.kind", "ai_call"},
                           {"synth.turn", 3},
                           {"synth.cost_usd", 0.00023}};
  return s;
}

st::OtlpResource resource() {
  st::OtlpResource r;
  r.attributes = st::Value{{"service.name", "bench"}, {"telemetry.sdk.name", "synth-tracing"}};
  return r;
}

void BM_EncodeProtobuf(benchmark::State& state) {
  std::vector<st::SpanData> spans;
  for (std::uint64_t i = 0; i < 512; ++i) spans.push_back(llm_span(i));
  const auto r = resource();
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string body = st::encode_otlp_protobuf(spans, r);
    bytes += body.size();
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * 512);
  state.SetBytesProcessed(static_cast<std::int64_t>(bytes));
}
BENCHMARK(BM_EncodeProtobuf);

void BM_EncodeJson(benchmark::State& state) {
  std::vector<st::SpanData> spans;
  for (std::uint64_t i = 0; i < 512; ++i) spans.push_back(llm_span(i));
  const auto r = resource();
  for (auto _ : state) {
    const std::string body = st::encode_otlp_json(spans, r);
    benchmark::DoNotOptimize(body.data());
  }
  state.SetItemsProcessed(state.iterations() * 512);
}
BENCHMARK(BM_EncodeJson);

// Exporter settings of the end-to-end benchmarks (the levers measured in BENCHMARKS.md).
struct Levers {
  std::size_t batch = 512;       // max_export_batch_size
  std::size_t concurrent = 2;    // max_concurrent_exports (the default)
  bool gzip = false;
};

// Spans ended on the agent's thread and exported in the background to `endpoint`; the time
// includes building the spans and the final flush, so this is the sustained end-to-end rate.
// `received()` reads the receiver's span count.
template <class Received>
void end_to_end(benchmark::State& state, const std::string& endpoint, Received received, Levers levers = {}) {
  std::uint64_t total = 0;
  for (auto _ : state) {
    auto owned = std::make_unique<st::OtlpHttpExporter>(st::OtlpHttpOptions{.endpoint = endpoint, .gzip = levers.gzip, .resource = resource(), .connections = levers.concurrent});
    st::BatchSpanProcessor processor(std::move(owned), {.max_queue_size = 1 << 17, .max_export_batch_size = levers.batch,
                                                        .schedule_delay = 100ms, .max_concurrent_exports = levers.concurrent});
    constexpr std::uint64_t kSpans = 50'000;
    for (std::uint64_t i = 0; i < kSpans; ++i) processor.end(llm_span(total + i));
    if (!processor.force_flush(120s)) state.SkipWithError("flush timed out");
    const auto stats = processor.stats();
    if (stats.spans_dropped != 0 || stats.spans_failed != 0) state.SkipWithError("spans were dropped or refused");
    total += kSpans;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(total));
  const auto got = static_cast<double>(received());
  state.counters["received"] = got;
  if (got != static_cast<double>(total)) state.SkipWithError("the receiver did not count every span");
}

// Into the strict Node receiver of the tests: it decodes, validates, re-encodes and keeps every
// span, so it bounds the rate.
void BM_EndToEndIntoTheReceiver(benchmark::State& state) {
  st::testing::OtlpReceiver receiver;
  end_to_end(state, receiver.endpoint(), [&] { return receiver.span_count(); });
}
BENCHMARK(BM_EndToEndIntoTheReceiver)->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();

// Into a receiver that fully decodes each request, counts its spans and answers 200, nothing else:
// `node`, the Node receiver with --decode-only (the official @opentelemetry/otlp-transformer
// decoder, single-threaded, its own process); `cpp`, the collector's C++ decoder behind
// cpp-httplib in this process (bench/otlp_decode_receiver.hpp). Arguments: exports in flight
// (max_concurrent_exports), batch size, gzip (0/1).
Levers levers_of(const benchmark::State& state) {
  return {.batch = static_cast<std::size_t>(state.range(1)), .concurrent = static_cast<std::size_t>(state.range(0)),
          .gzip = state.range(2) != 0};
}

void BM_EndToEndIntoADecodeOnlyReceiver_node(benchmark::State& state) {
  st::testing::OtlpReceiver receiver(st::testing::OtlpReceiver::Keep::decode_only);
  end_to_end(state, receiver.endpoint(), [&] { return receiver.span_count(); }, levers_of(state));
}

void BM_EndToEndIntoADecodeOnlyReceiver_cpp(benchmark::State& state) {
  synth_bench::DecodeOnlyReceiver receiver;
  end_to_end(state, receiver.endpoint(), [&] { return receiver.span_count(); }, levers_of(state));
  if (receiver.errors() != 0) state.SkipWithError("the receiver could not decode some requests");
}

// {in flight, batch, gzip}: the default settings first, then one lever at a time.
void decode_only_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"in_flight", "batch", "gzip"});
  for (const auto& args : std::vector<std::vector<std::int64_t>>{
           {2, 512, 0}, {1, 512, 0}, {4, 512, 0}, {2, 128, 0}, {2, 2048, 0}, {2, 512, 1}}) {
    b->Args(args);
  }
  b->Unit(benchmark::kMillisecond)->Iterations(3)->UseRealTime();
}
BENCHMARK(BM_EndToEndIntoADecodeOnlyReceiver_node)->Apply(decode_only_args);
BENCHMARK(BM_EndToEndIntoADecodeOnlyReceiver_cpp)->Apply(decode_only_args);

// What an ai_call scope (the one of instrument_bench's BM_AiCallScope) costs the agent's thread
// with span export on (the span is built and
// queued; masking, pricing, encoding and sending happen on the export thread), bare and with the
// default sinks (bench_support.hpp), with the export queue of the default configuration: when
// the receiver cannot keep up, spans are dropped and counted (spans_dropped_pct).
void BM_AiCallScopeWithSpans(benchmark::State& state, Setup setup) {
  st::testing::OtlpReceiver receiver;
  synth_bench::BenchTracer bench(setup, receiver.endpoint());
  {
    synth_bench::RotatingSession session(bench.tracer(), true, setup == Setup::sinks_kept_up ? &state : nullptr);
    for (auto _ : state) synth_bench::ai_call_once(session);
  }
  bench.report(state);
}
BENCHMARK_CAPTURE(BM_AiCallScopeWithSpans, bare, Setup::bare);
BENCHMARK_CAPTURE(BM_AiCallScopeWithSpans, default_sinks, Setup::default_sinks);
BENCHMARK_CAPTURE(BM_AiCallScopeWithSpans, sinks_kept_up, Setup::sinks_kept_up);

}  // namespace
