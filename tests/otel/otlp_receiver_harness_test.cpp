// The OTLP receiver harness itself (tests/otel/receiver): scripted answers in order, partial
// success, delays, decode failures answered 400, bad scripts, stop and restart, the gzip helper.
#include <gtest/gtest.h>

#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <limits>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "otel/otlp_encode_fixture.hpp"
#include "otel/otlp_receiver.hpp"
#include "synth/tracing/otel.hpp"

namespace st = synth::tracing;
using nlohmann::json;
using st::testing::OtlpReceiver;

namespace {

using namespace otlp_encode_fixture;

// ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1 { int64 rejected_spans = 1;
// string error_message = 2; } }, read by hand.
struct PartialSuccess {
  std::int64_t rejected = 0;
  std::string message;
};

std::uint64_t read_varint(const std::string& b, std::size_t& pos) {
  std::uint64_t v = 0;
  for (int shift = 0; pos < b.size() && shift < 64; shift += 7) {
    const auto byte = static_cast<unsigned char>(b[pos++]);
    v |= static_cast<std::uint64_t>(byte & 0x7f) << shift;
    if ((byte & 0x80) == 0) break;
  }
  return v;
}

PartialSuccess parse_partial_success(const std::string& body) {
  PartialSuccess out;
  std::size_t pos = 0;
  EXPECT_EQ(read_varint(body, pos), (1u << 3) | 2u);
  const std::size_t end = pos + read_varint(body, pos);
  while (pos < end) {
    const std::uint64_t tag = read_varint(body, pos);
    if (tag == ((1u << 3) | 0u)) {
      out.rejected = static_cast<std::int64_t>(read_varint(body, pos));
    } else if (tag == ((2u << 3) | 2u)) {
      const std::size_t n = read_varint(body, pos);
      out.message = body.substr(pos, n);
      pos += n;
    } else {
      ADD_FAILURE() << "unexpected tag " << tag;
      break;
    }
  }
  EXPECT_EQ(pos, body.size());
  return out;
}

TEST(OtlpReceiverHarness, ScriptedAnswersInOrder) {
  OtlpReceiver& r = receiver();
  r.reset();
  const std::string body = st::encode_otlp_protobuf(std::vector<st::SpanData>{make_span(0)}, make_resource());
  r.script(json::parse(R"([{"status": 503, "retry_after": "1"}, {"status": 400, "message": "no"},
                          {"status": 200, "partial_success": {"rejected_spans": 2, "error_message": "too old"}},
                          {"close": true}])"));
  const auto first = st::testing::post_otlp(r.endpoint(), body, false);
  EXPECT_EQ(first.status, 503);
  EXPECT_EQ(first.headers.at("retry-after"), "1");
  EXPECT_EQ(first.headers.at("content-type"), "application/x-protobuf");
  EXPECT_EQ(st::testing::post_otlp(r.endpoint(), body, false).status, 400);
  const auto partial = st::testing::post_otlp(r.endpoint(), body, false);
  EXPECT_EQ(partial.status, 200);
  const PartialSuccess ps = parse_partial_success(partial.body);
  EXPECT_EQ(ps.rejected, 2);
  EXPECT_EQ(ps.message, "too old");
  const auto closed = st::testing::post_otlp(r.endpoint(), body, false);
  EXPECT_EQ(closed.status, 0);
  EXPECT_FALSE(closed.error.empty());
  // The queue is empty: a plain 200 with an empty ExportTraceServiceResponse, or {} for JSON.
  const auto ok = st::testing::post_otlp(r.endpoint(), body, false);
  EXPECT_EQ(ok.status, 200);
  EXPECT_EQ(ok.body, "");
  const auto ok_json = st::testing::post_otlp(
      r.endpoint(), st::encode_otlp_json(std::vector<st::SpanData>{make_span(0)}, make_resource()), true);
  EXPECT_EQ(ok_json.status, 200);
  EXPECT_EQ(ok_json.body, "{}");
  EXPECT_EQ(ok_json.headers.at("content-type"), "application/json");

  const json requests = r.requests();
  ASSERT_EQ(requests.size(), 6u);
  EXPECT_EQ(requests[0]["status_answered"], 503);
  EXPECT_EQ(requests[1]["status_answered"], 400);
  EXPECT_EQ(requests[2]["status_answered"], 200);
  EXPECT_EQ(requests[3]["status_answered"], nullptr);
  EXPECT_EQ(requests[3]["closed_without_answer"], true);
  EXPECT_EQ(requests[4]["status_answered"], 200);
  // Only 2xx answers count as received spans (the partial success one included).
  EXPECT_EQ(r.span_count(), 3u);
  EXPECT_EQ(r.spans().size(), 3u);
  EXPECT_EQ(r.errors(), json::array());
}

TEST(OtlpReceiverHarness, JsonPartialSuccessAndDelay) {
  OtlpReceiver& r = receiver();
  r.reset();
  r.script(json::parse(R"([{"partial_success": {"rejected_spans": 1, "error_message": "x"}}, {"delay_ms": 300}])"));
  const std::string body = st::encode_otlp_json(std::vector<st::SpanData>{make_span(0)}, make_resource());
  const auto partial = st::testing::post_otlp(r.endpoint(), body, true);
  EXPECT_EQ(partial.status, 200);
  EXPECT_EQ(json::parse(partial.body), json::parse(R"({"partialSuccess": {"rejectedSpans": "1", "errorMessage": "x"}})"));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(st::testing::post_otlp(r.endpoint(), body, true).status, 200);
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(250));
}

TEST(OtlpReceiverHarness, DecodeFailuresAreRecordedAndAnswered400) {
  OtlpReceiver& r = receiver();
  r.reset();
  EXPECT_EQ(st::testing::post_otlp(r.endpoint(), "\x0a\x05garbage-not-protobuf", false).status, 400);
  EXPECT_EQ(st::testing::post_otlp(r.endpoint(), "{not json", true).status, 400);
  EXPECT_EQ(st::testing::http_request("POST", r.endpoint(), "x", {{"Content-Type", "text/plain"}}).status, 415);
  // Decodes, but breaks the rules: zero ids, empty name, end before start, 64-bit integer as a number.
  const std::string bad = R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"00000000000000000000000000000000",
      "spanId":"0102","name":"","startTimeUnixNano":"5","endTimeUnixNano":"4",
      "attributes":[{"key":"n","value":{"intValue":5}}]}]}]}]})";
  EXPECT_EQ(st::testing::post_otlp(r.endpoint(), bad, true).status, 200);
  const json requests = r.requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0]["decoded"], nullptr);
  EXPECT_NE(requests[0]["decode_error"], nullptr);
  EXPECT_NE(requests[1]["decode_error"], nullptr);
  EXPECT_EQ(requests[2]["status_answered"], 415);
  const std::string errors = requests[3]["errors"].dump();
  for (const char* expected : {"traceId is all zero", "spanId has 2 bytes", "empty name", "before startTimeUnixNano",
                               "intValue: expected a 64-bit integer as a decimal string"}) {
    EXPECT_NE(errors.find(expected), std::string::npos) << expected << " not in " << errors;
  }
  EXPECT_GE(r.errors().size(), 7u);
}

TEST(OtlpReceiverHarness, BadScriptIsRefused) {
  OtlpReceiver& r = receiver();
  r.reset();
  EXPECT_THROW(r.script(json::parse(R"([{"stauts": 503}])")), std::runtime_error);
}

TEST(OtlpReceiverHarness, StopAndRestartOnTheSamePort) {
  OtlpReceiver r;  // its own, stopped and started
  const std::string endpoint = r.endpoint();
  const std::string body = st::encode_otlp_protobuf(std::vector<st::SpanData>{make_span(0)}, make_resource());
  EXPECT_EQ(st::testing::post_otlp(endpoint, body, false).status, 200);
  r.stop();
  EXPECT_FALSE(r.running());
  const auto refused = st::testing::post_otlp(endpoint, body, false);
  EXPECT_EQ(refused.status, 0);
  EXPECT_EQ(r.span_count(), 1u);  // kept from the first run
  r.restart();
  EXPECT_TRUE(r.running());
  EXPECT_EQ(r.endpoint(), endpoint);
  EXPECT_EQ(st::testing::post_otlp(endpoint, body, false).status, 200);
  EXPECT_TRUE(r.wait_for_spans(2, std::chrono::seconds(5)));
  EXPECT_EQ(r.requests().size(), 2u);
  EXPECT_EQ(r.requests()[1]["index"], 1);
  r.reset();
  EXPECT_EQ(r.span_count(), 0u);
  EXPECT_FALSE(r.wait_for_spans(1, std::chrono::milliseconds(50)));
}

TEST(OtlpReceiverHarness, GzipHelperWritesAGzipMember) {
  const std::string compressed = st::testing::gzip_compress("hello");
  ASSERT_GE(compressed.size(), 18u);
  EXPECT_EQ(static_cast<unsigned char>(compressed[0]), 0x1f);
  EXPECT_EQ(static_cast<unsigned char>(compressed[1]), 0x8b);
}

}  // namespace
