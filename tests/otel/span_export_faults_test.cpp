// Span export faults against the OTLP receiver: receiver down, 503 + Retry-After, 400, partial
// success, retries and the export timeout, shutdown, stalls, queue overflow.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>

#include "otel/span_export_fixture.hpp"

using namespace span_export_fixture;

// ---- faults ----

TEST_F(SpanExport, ConnectionsDroppedUntilTheReceiverRecoversLoseNothing) {
  // The first two attempts lose their connection without an answer, as with a receiver
  // restarting; the export retries until one is answered.
  receiver.script(json::array({{{"close", true}}, {{"close", true}}}));
  st::SessionTracer tracer(config_for(receiver));
  for (int i = 0; i < 5; ++i) run_episode(tracer, "down-" + std::to_string(i));
  ASSERT_TRUE(tracer.flush(30s));
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.spans_ended, 30u);
  EXPECT_EQ(stats.spans_exported, 30u);
  EXPECT_EQ(stats.spans_dropped + stats.spans_failed, 0u);
  EXPECT_EQ(receiver.span_count(), 30u);
  ASSERT_GE(receiver.request_count(), 3u);
  EXPECT_EQ(receiver.requests().at(0)["closed_without_answer"], true);
}

TEST_F(SpanExport, RetryAfterIsHonouredAndNothingIsLost) {
  receiver.script(json::array({{{"status", 503}, {"retry_after", "1"}}}));
  st::SessionTracer tracer(one_batch_config(receiver));
  run_episode(tracer, "retry");
  ASSERT_TRUE(tracer.flush(30s));
  ASSERT_TRUE(receiver.wait_for_requests(2, 5s));
  const json requests = receiver.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0]["status_answered"], 503);
  EXPECT_EQ(requests[1]["status_answered"], 200);
  // The second attempt waited for the server's Retry-After.
  EXPECT_GE(requests[1]["received_at_ms"].get<double>() - requests[0]["answered_at_ms"].get<double>(), 950.0);
  EXPECT_EQ(receiver.span_count(), 6u);
  EXPECT_EQ(tracer.stats().spans_exported, 6u);
}

TEST_F(SpanExport, BadRequestIsDroppedCountedAndNotRetried) {
  receiver.script(json::array({{{"status", 400}, {"message", "bad spans"}}}));
  st::SessionTracer tracer(one_batch_config(receiver));
  run_episode(tracer, "bad");
  ASSERT_TRUE(tracer.flush(30s));
  EXPECT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(tracer.stats().spans_failed, 6u);
  EXPECT_EQ(tracer.stats().spans_exported, 0u);
}

TEST_F(SpanExport, PartialSuccessIsCountedAndNotRetried) {
  for (const bool use_json : {false, true}) {
    receiver.reset();
    receiver.script(json::array({{{"partial_success", {{"rejected_spans", 2}, {"error_message", "too old"}}}}}));
    st::OtlpHttpExporter exporter({.endpoint = receiver.endpoint(), .json = use_json});
    std::vector<st::SpanData> spans(5);
    for (std::size_t i = 0; i < spans.size(); ++i) {
      spans[i].trace_id_low = 1;
      spans[i].span_id = i + 1;
      spans[i].name = "s";
    }
    EXPECT_EQ(exporter.export_spans(spans), st::ExportResult(st::ExportResult::success, 2)) << use_json;
    const auto stats = exporter.stats();
    EXPECT_EQ(stats.requests, 1u) << use_json;
    EXPECT_EQ(stats.spans_rejected, 2u) << use_json;
    EXPECT_EQ(stats.spans_sent, 3u) << use_json;
  }
}

TEST_F(SpanExport, SpansRejectedInAPartialSuccessCountAsFailed) {
  receiver.script(json::array({{{"partial_success", {{"rejected_spans", 2}, {"error_message", "too old"}}}}}));
  st::SessionTracer tracer(one_batch_config(receiver));
  run_episode(tracer, "partial");
  ASSERT_TRUE(tracer.flush(30s));
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.spans_ended, 6u);
  EXPECT_EQ(stats.spans_exported, 4u);
  EXPECT_EQ(stats.spans_failed, 2u);
  EXPECT_EQ(stats.spans_dropped + stats.spans_queued, 0u);
  EXPECT_EQ(receiver.request_count(), 1u);
}

TEST_F(SpanExport, MaxRetriesComesFromTheConfigAndTheEnvironment) {
  receiver.script(json::array({{{"status", 503}}, {{"status", 503}}, {{"status", 503}}}));
  {
    auto c = one_batch_config(receiver);
    c.otel_max_retries = std::size_t{1};
    st::SessionTracer tracer(c);
    run_episode(tracer, "one-retry");
    ASSERT_TRUE(tracer.flush(30s));
    EXPECT_EQ(tracer.stats().spans_failed, 6u);
  }
  EXPECT_EQ(receiver.request_count(), 2u);
  receiver.reset();
  receiver.script(json::array({{{"status", 503}}}));
  ScopedEnv none("SYNTH_TRACING_OTEL_MAX_RETRIES", "0");
  st::SessionTracer tracer(one_batch_config(receiver));
  run_episode(tracer, "no-retry");
  ASSERT_TRUE(tracer.flush(30s));
  EXPECT_EQ(receiver.request_count(), 1u);
  EXPECT_EQ(tracer.stats().spans_failed, 6u);
  EXPECT_EQ(tracer.stats().spans_exported, 0u);
}

TEST_F(SpanExport, TheExportTimeoutBoundsEveryAttemptTogether) {
  // The receiver holds the first request for 5 s; one export may take 400 ms in all, so after
  // the first attempt times out no time is left for a retry, whatever max_retries says.
  receiver.script(json::array({{{"delay_ms", 5000}}}));
  ScopedEnv timeout("OTEL_EXPORTER_OTLP_TIMEOUT", "400");
  st::SessionTracer tracer(one_batch_config(receiver));
  EXPECT_EQ(tracer.config().otel_timeout_ms, 400u);
  run_episode(tracer, "timeout");
  ASSERT_TRUE(tracer.flush(30s));
  EXPECT_EQ(tracer.stats().spans_failed, 6u);
  EXPECT_EQ(receiver.request_count(), 1u);
}

TEST_F(SpanExport, ARetryAfterBeyondTheExportTimeoutIsNotWaitedFor) {
  receiver.script(json::array({{{"status", 503}, {"retry_after", "30"}}}));
  st::OtlpHttpExporter exporter({.endpoint = receiver.endpoint(), .timeout = 2s});
  std::vector<st::SpanData> spans(3);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    spans[i].trace_id_low = 1;
    spans[i].span_id = i + 1;
    spans[i].name = "s";
  }
  EXPECT_EQ(exporter.export_spans(spans), st::ExportResult::failure);
  EXPECT_EQ(exporter.stats().requests, 1u);
  EXPECT_EQ(exporter.stats().retries, 0u);
  EXPECT_EQ(exporter.stats().spans_rejected, 3u);
}

TEST_F(SpanExport, ShutdownAbandonsTheExportInProgressAtOnce) {
  receiver.script(json::array({{{"delay_ms", 60000}}}));
  st::OtlpHttpExporter exporter({.endpoint = receiver.endpoint(), .timeout = 120s});
  std::vector<st::SpanData> spans(2);
  for (std::size_t i = 0; i < spans.size(); ++i) {
    spans[i].trace_id_low = 1;
    spans[i].span_id = i + 1;
    spans[i].name = "s";
  }
  auto result = std::async(std::launch::async, [&] { return exporter.export_spans(spans); });
  ASSERT_TRUE(st::testing::wait_until([&] { return receiver.request_count() > 0; }));
  exporter.shutdown();
  // Without the cancellation this would take the receiver's 60 s.
  ASSERT_EQ(result.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(result.get(), st::ExportResult::failure);
  // Later exports fail without a request.
  EXPECT_EQ(exporter.export_spans(spans), st::ExportResult::failure);
  EXPECT_EQ(exporter.stats().requests, 1u);
  EXPECT_EQ(exporter.stats().spans_rejected, 4u);
}

TEST_F(SpanExport, AStalledReceiverNeverHoldsUpTheAgent) {
  // Both requests in flight (two exports at once, the default) stall.
  receiver.script(json::array({{{"delay_ms", 4000}}, {{"delay_ms", 4000}}}));
  auto c = config_for(receiver);
  c.otel_max_export_batch_size = std::size_t{8};
  st::SessionTracer tracer(c);
  {
    auto session = tracer.start_session("stalled");
    for (int i = 0; i < 2000; ++i) auto span = st::trace_span("work", {}, {.tracer = &tracer});
  }
  // All the agent's scopes ended while the receiver still sat on the first two requests.
  ASSERT_TRUE(st::testing::wait_until([&] { return receiver.request_count() >= 2; }));
  ASSERT_EQ(receiver.request_count(), 2u);
  for (const auto& request : receiver.requests()) {
    EXPECT_TRUE(request["status_answered"].is_null()) << "the agent waited for the stalled receiver";
  }
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.spans_ended, 2001u);
  // Every span is in exactly one counter; the batches inside the stalled requests are still queued.
  EXPECT_EQ(stats.spans_exported, 0u);
  EXPECT_GE(stats.spans_queued, 1u);
  EXPECT_EQ(stats.spans_exported + stats.spans_dropped + stats.spans_failed + stats.spans_queued, stats.spans_ended);
}

TEST_F(SpanExport, QueueOverflowDropsAreCountedExactly) {
  receiver.script(json::array({{{"delay_ms", 1500}}}));
  auto c = config_for(receiver);
  c.otel_max_queue_size = std::size_t{64};
  c.otel_max_export_batch_size = std::size_t{16};
  st::SessionTracer tracer(c);
  {
    auto session = tracer.start_session("overflow");
    for (int i = 0; i < 1000; ++i) auto span = st::trace_span("work", {}, {.tracer = &tracer});
  }
  ASSERT_TRUE(tracer.flush(30s));
  const auto stats = tracer.stats();
  EXPECT_EQ(stats.spans_ended, 1001u);
  EXPECT_GT(stats.spans_dropped, 0u);
  EXPECT_EQ(stats.spans_failed, 0u);
  EXPECT_EQ(stats.spans_queued, 0u);
  EXPECT_EQ(stats.spans_exported + stats.spans_dropped, stats.spans_ended);
  EXPECT_EQ(receiver.span_count(), stats.spans_exported);
}
