// OtlpHttpExporter behind a BatchSpanProcessor with several exports in flight
// (max_concurrent_exports), against the strict Node receiver: the requests overlap, each on its
// own connection, and every span arrives once, valid. Also the decode-only mode of the receiver
// that the export benchmarks use.
#include <gtest/gtest.h>

#include <optional>
#include <set>

#include "otel/otlp_receiver.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using namespace std::chrono_literals;
using st::testing::OtlpReceiver;

namespace {

st::SpanData span(std::uint64_t id) {
  st::SpanData s;
  s.trace_id_high = 0x0af7651916cd43ddULL;
  s.trace_id_low = 0x8448eb211c80319cULL;
  s.span_id = id;
  s.name = "step";
  s.start = st::Timestamp(std::chrono::seconds(1'732'000'000));
  s.end = s.start + 1ms;
  s.attributes = st::Value{{"synth.turn", static_cast<std::int64_t>(id)}};
  return s;
}

}  // namespace

TEST(ConcurrentOtlpExport, RequestsOverlapAndEverySpanArrivesOnce) {
  OtlpReceiver receiver;
  // The first three answers are slow: with three exports in flight they are received together.
  receiver.script({{{"delay_ms", 400}}, {{"delay_ms", 400}}, {{"delay_ms", 400}}});
  auto exporter = std::make_unique<st::OtlpHttpExporter>(st::OtlpHttpOptions{.endpoint = receiver.endpoint()});
  st::OtlpHttpExporter& http = *exporter;
  st::BatchSpanProcessor processor(std::move(exporter), {.max_queue_size = 1000, .max_export_batch_size = 20,
                                                         .schedule_delay = std::chrono::hours(1),
                                                         .max_concurrent_exports = 3});
  for (std::uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(processor.force_flush(30s));
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_exported, 100u);
  EXPECT_EQ(stats.spans_failed + stats.spans_dropped, 0u);
  EXPECT_EQ(http.stats().requests, 5u);  // no retries

  const nlohmann::json requests = receiver.requests();
  ASSERT_EQ(requests.size(), 5u);
  // The three slow requests were all received before the first of them was answered.
  const std::int64_t first_answer = requests[0]["answered_at_ms"].get<std::int64_t>();
  EXPECT_LT(requests[2]["received_at_ms"].get<std::int64_t>(), first_answer);
  EXPECT_EQ(receiver.errors(), nlohmann::json::array());
  std::set<std::string> ids;
  for (const auto& s : receiver.spans()) ids.insert(s["spanId"].get<std::string>());
  EXPECT_EQ(ids.size(), 100u);
}

// The requests of a tracer exporting 8 spans (7 scopes and the session) in batches of 4 to a
// receiver that answers each of them after 400 ms; `in_flight` sets otel_max_concurrent_exports.
static nlohmann::json requests_of_a_tracer(OtlpReceiver& receiver, std::optional<std::size_t> in_flight) {
  receiver.script({{{"delay_ms", 400}}, {{"delay_ms", 400}}});
  st::TracingConfig c;
  c.otel_endpoint = receiver.endpoint();
  c.save_dir = std::filesystem::path();
  c.otel_max_export_batch_size = std::size_t{4};
  c.otel_schedule_delay_ms = std::size_t{3600000};
  if (in_flight) c.otel_max_concurrent_exports = *in_flight;
  {
    st::SessionTracer tracer(c);
    {
      auto session = tracer.start_session("in-flight");
      for (int i = 0; i < 7; ++i) auto span = st::trace_span("work", {}, {.tracer = &tracer});
    }
    EXPECT_TRUE(tracer.flush(30s));
    const auto stats = tracer.stats();
    EXPECT_EQ(stats.spans_exported, 8u);
    EXPECT_EQ(stats.spans_failed + stats.spans_dropped, 0u);
  }
  EXPECT_EQ(receiver.errors(), nlohmann::json::array());
  return receiver.requests();
}

// A tracer left at its default configuration sends two batches at once, each on a connection
// opened when the tracer starts: the two slow requests are received together.
TEST(ConcurrentOtlpExport, ATracerSendsTwoBatchesAtOnceByDefault) {
  OtlpReceiver receiver;
  const nlohmann::json requests = requests_of_a_tracer(receiver, std::nullopt);
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_LT(requests[1]["received_at_ms"].get<std::int64_t>(), requests[0]["answered_at_ms"].get<std::int64_t>());
}

// otel_max_concurrent_exports reaches the processor: at 1 the second batch waits for the first.
TEST(ConcurrentOtlpExport, ATracerSetToOneSendsOneBatchAtATime) {
  OtlpReceiver receiver;
  const nlohmann::json requests = requests_of_a_tracer(receiver, std::size_t{1});
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_GE(requests[1]["received_at_ms"].get<std::int64_t>(), requests[0]["answered_at_ms"].get<std::int64_t>());
}

// By default two batches go at once (BatchOptions, OtlpHttpOptions): the next batch is encoded and
// sent while the receiver still works on the previous one, each on a connection opened up front.
TEST(ConcurrentOtlpExport, TwoBatchesGoAtOnceByDefault) {
  OtlpReceiver receiver;
  receiver.script({{{"delay_ms", 400}}, {{"delay_ms", 400}}});
  auto exporter = std::make_unique<st::OtlpHttpExporter>(st::OtlpHttpOptions{.endpoint = receiver.endpoint()});
  EXPECT_EQ(exporter->options().connections, 2u);
  st::BatchSpanProcessor processor(std::move(exporter),
                                   {.max_export_batch_size = 10, .schedule_delay = std::chrono::hours(1)});
  for (std::uint64_t i = 1; i <= 20; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(processor.force_flush(30s));
  EXPECT_EQ(processor.stats().spans_exported, 20u);
  const nlohmann::json requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_LT(requests[1]["received_at_ms"].get<std::int64_t>(), requests[0]["answered_at_ms"].get<std::int64_t>());
  EXPECT_EQ(receiver.errors(), nlohmann::json::array());
}

TEST(ConcurrentOtlpExport, ShutdownAbandonsEveryExportInFlight) {
  OtlpReceiver receiver;
  receiver.script({{{"delay_ms", 20000}}, {{"delay_ms", 20000}}});
  st::BatchSpanProcessor processor(
      std::make_unique<st::OtlpHttpExporter>(st::OtlpHttpOptions{.endpoint = receiver.endpoint()}),
      {.max_queue_size = 1000, .max_export_batch_size = 10, .schedule_delay = std::chrono::hours(1),
       .max_concurrent_exports = 2});
  for (std::uint64_t i = 1; i <= 30; ++i) ASSERT_TRUE(processor.end(span(i)));
  // Both exports in flight, stalled by the receiver.
  ASSERT_TRUE(st::testing::wait_until([&] { return receiver.request_count() >= 2; }));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(processor.shutdown(100ms));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not the receiver's 20 s
  const auto stats = processor.stats();
  EXPECT_EQ(stats.spans_exported, 0u);
  EXPECT_EQ(stats.spans_failed + stats.spans_dropped, 30u);
  EXPECT_EQ(stats.queued, 0u);
}

// The decode-only receiver of the benchmarks (OtlpReceiver::Keep::decode_only) counts exactly what
// it decoded and refuses what does not decode.
TEST(ConcurrentOtlpExport, TheDecodeOnlyReceiverCountsEverySpanAndRefusesGarbage) {
  OtlpReceiver receiver(OtlpReceiver::Keep::decode_only);
  st::BatchSpanProcessor processor(
      std::make_unique<st::OtlpHttpExporter>(st::OtlpHttpOptions{.endpoint = receiver.endpoint()}),
      {.max_queue_size = 1000, .max_export_batch_size = 40, .schedule_delay = std::chrono::hours(1),
       .max_concurrent_exports = 2});
  for (std::uint64_t i = 1; i <= 100; ++i) ASSERT_TRUE(processor.end(span(i)));
  ASSERT_TRUE(processor.force_flush(30s));
  EXPECT_EQ(processor.stats().spans_exported, 100u);
  EXPECT_EQ(receiver.span_count(), 100u);
  EXPECT_EQ(receiver.request_count(), 3u);
  EXPECT_EQ(receiver.errors(), nlohmann::json::array());
  // A length that runs past the end of the body: not an ExportTraceServiceRequest.
  const auto refused = st::testing::post_otlp(receiver.endpoint(), std::string("\x0a\x7f\x01", 3), false);
  EXPECT_EQ(refused.status, 400);
  EXPECT_EQ(receiver.span_count(), 100u);
}
