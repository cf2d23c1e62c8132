// Conformance of encode_otlp_protobuf and encode_otlp_json against the OpenTelemetry project's own
// decoder: the encoded requests are POSTed to the OTLP receiver (tests/otel/receiver, protobufjs code
// generated from the OTLP protos), and what it decoded is compared with the spans sent. The
// receiver harness's own tests are in otlp_receiver_harness_test.cpp.
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

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

struct Encoding {
  bool json;
  bool gzip;
};

std::string encoding_name(const testing::TestParamInfo<Encoding>& info) {
  return std::string(info.param.json ? "Json" : "Protobuf") + (info.param.gzip ? "Gzip" : "");
}

class OtlpEncode : public testing::TestWithParam<Encoding> {
 protected:
  void SetUp() override { receiver().reset(); }

  std::string encode(const std::vector<st::SpanData>& spans, const st::OtlpResource& resource) const {
    return GetParam().json ? st::encode_otlp_json(spans, resource) : st::encode_otlp_protobuf(spans, resource);
  }

  // Sends the spans; returns the receiver's record of the request, having checked that it was
  // answered 200 and decoded without errors or warnings.
  json send(const std::vector<st::SpanData>& spans, const st::OtlpResource& resource = make_resource()) {
    const std::string body = encode(spans, resource);
    const st::testing::HttpResponse response =
        st::testing::post_otlp(receiver().endpoint(), body, GetParam().json, GetParam().gzip);
    EXPECT_EQ(response.status, 200) << response.error << response.body;
    const json requests = receiver().requests();
    if (requests.empty()) {
      ADD_FAILURE() << "the receiver recorded no request";
      return json::object();
    }
    const json& request = requests.back();
    EXPECT_EQ(request["decode_error"], nullptr);
    EXPECT_EQ(request["errors"], json::array()) << "the official decoder found problems";
    EXPECT_EQ(request["warnings"], json::array());
    EXPECT_EQ(request["content_type"], GetParam().json ? "application/json" : "application/x-protobuf");
    EXPECT_EQ(request["content_encoding"], GetParam().gzip ? "gzip" : "");
    EXPECT_EQ(request["span_count"], spans.size());
    return request;
  }

  // The decoded spans of one request, in order.
  static json spans_of(const json& request) {
    json out = json::array();
    for (const json& rs : request["decoded"]["resourceSpans"]) {
      for (const json& ss : rs["scopeSpans"]) {
        for (const json& span : ss["spans"]) out.push_back(span);
      }
    }
    return out;
  }

  // The plain attributes of the one span sent.
  json single_span_attributes(const st::Value& attributes) {
    st::SpanData s = make_span(0);
    s.attributes = attributes;
    const json spans = spans_of(send({s}));
    if (spans.size() != 1) {
      ADD_FAILURE() << "expected one span";
      return json::object();
    }
    return OtlpReceiver::attributes(spans[0]["attributes"]);
  }
};

INSTANTIATE_TEST_SUITE_P(Encodings, OtlpEncode,
                         testing::Values(Encoding{false, false}, Encoding{true, false}, Encoding{false, true},
                                         Encoding{true, true}),
                         encoding_name);

TEST_P(OtlpEncode, IdsParentsNamesKindsAndTimes) {
  std::vector<st::SpanData> spans;
  const st::SpanKind kinds[] = {st::SpanKind::unspecified, st::SpanKind::internal, st::SpanKind::server,
                                st::SpanKind::client,      st::SpanKind::producer, st::SpanKind::consumer};
  for (std::uint64_t i = 0; i < 6; ++i) {
    st::SpanData s = make_span(i);
    s.kind = kinds[i];
    spans.push_back(s);
  }
  // Ids with every bit pattern that matters: all ones, leading zero bytes, high half zero, low half zero.
  spans[1].trace_id_high = 0xffffffffffffffffULL;
  spans[1].trace_id_low = 0xffffffffffffffffULL;
  spans[1].span_id = 0xffffffffffffffffULL;
  spans[1].parent_span_id = 0x8000000000000000ULL;
  spans[2].trace_id_high = 0;
  spans[2].trace_id_low = 1;
  spans[2].span_id = 1;
  spans[2].parent_span_id = 0x00000000000000ffULL;
  spans[3].trace_id_high = 0x0102030405060708ULL;
  spans[3].trace_id_low = 0;
  spans[3].span_id = 0x0001000000000000ULL;
  // Times: equal start and end, the largest int64 nanoseconds, one nanosecond apart.
  spans[4].start = spans[4].end = at(kBase);
  spans[5].start = at(std::numeric_limits<std::int64_t>::max() - 1);
  spans[5].end = at(std::numeric_limits<std::int64_t>::max());
  spans[0].start = at(1);
  spans[0].end = at(2);

  const json decoded = spans_of(send(spans));
  ASSERT_EQ(decoded.size(), spans.size());
  for (std::size_t i = 0; i < spans.size(); ++i) {
    SCOPED_TRACE("span " + std::to_string(i));
    const st::SpanData& s = spans[i];
    const json& d = decoded[i];
    EXPECT_EQ(d["traceId"], hex64(s.trace_id_high) + hex64(s.trace_id_low));
    EXPECT_EQ(d["spanId"], hex64(s.span_id));
    EXPECT_EQ(d["parentSpanId"], s.parent_span_id == 0 ? "" : hex64(s.parent_span_id));
    EXPECT_EQ(d["name"], s.name);
    EXPECT_EQ(d["kind"], static_cast<int>(s.kind));
    EXPECT_EQ(d["startTimeUnixNano"], std::to_string(s.start.time_since_epoch().count()));
    EXPECT_EQ(d["endTimeUnixNano"], std::to_string(s.end.time_since_epoch().count()));
    EXPECT_EQ(d["traceState"], "");
    EXPECT_EQ(d["attributes"], json::array());
    EXPECT_EQ(d["events"], json::array());
    EXPECT_EQ(d["links"], json::array());
    EXPECT_EQ(d["status"], json({{"message", ""}, {"code", 0}}));
  }
  EXPECT_EQ(decoded[1]["traceId"], "ffffffffffffffffffffffffffffffff");
  EXPECT_EQ(decoded[2]["traceId"], "00000000000000000000000000000001");
  EXPECT_EQ(decoded[3]["traceId"], "01020304050607080000000000000000");
}

TEST_P(OtlpEncode, ScalarAttributeTypes) {
  const std::int64_t big = (std::int64_t{1} << 53) + 1;  // not representable as a double
  const json a = single_span_attributes(st::Value::object({
      {"string", "value"},
      {"empty_string", ""},
      {"true", true},
      {"false", false},
      {"zero", 0},
      {"negative", -1},
      {"int64_min", std::numeric_limits<std::int64_t>::min()},
      {"int64_max", std::numeric_limits<std::int64_t>::max()},
      {"beyond_2_53", big},
      {"negative_beyond_2_53", -big},
      {"double", 1.5},
      {"negative_double", -2.25},
      {"integral_double", 3.0},
      {"tiny_double", 5e-324},
      {"huge_double", 1.7976931348623157e308},
      {"third", 1.0 / 3.0},
      {"null", nullptr},
  }));
  EXPECT_EQ(a["string"], "value");
  EXPECT_EQ(a["empty_string"], "");
  EXPECT_EQ(a["true"], true);
  EXPECT_EQ(a["false"], false);
  EXPECT_EQ(a["zero"].get<std::int64_t>(), 0);
  EXPECT_EQ(a["negative"].get<std::int64_t>(), -1);
  EXPECT_EQ(a["int64_min"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::min());
  EXPECT_EQ(a["int64_max"].get<std::int64_t>(), std::numeric_limits<std::int64_t>::max());
  EXPECT_EQ(a["beyond_2_53"].get<std::int64_t>(), big);
  EXPECT_EQ(a["negative_beyond_2_53"].get<std::int64_t>(), -big);
  EXPECT_EQ(a["double"].get<double>(), 1.5);
  EXPECT_EQ(a["negative_double"].get<double>(), -2.25);
  EXPECT_EQ(a["integral_double"].get<double>(), 3.0);
  EXPECT_EQ(a["tiny_double"].get<double>(), 5e-324);
  EXPECT_EQ(a["huge_double"].get<double>(), 1.7976931348623157e308);
  EXPECT_EQ(a["third"].get<double>(), 1.0 / 3.0);
  EXPECT_EQ(a["null"], nullptr);
}

TEST_P(OtlpEncode, AttributeValueKindsOnTheWire) {
  st::SpanData s = make_span(0);
  s.attributes = st::Value::object({{"i", 7}, {"d", 7.0}, {"s", "7"}, {"b", true}, {"n", nullptr}});
  const json attributes = spans_of(send({s}))[0]["attributes"];
  ASSERT_EQ(attributes.size(), 5u);
  // Order kept, and each value is exactly the AnyValue member of its type.
  EXPECT_EQ(attributes[0], json({{"key", "i"}, {"value", {{"intValue", "7"}}}}));
  EXPECT_EQ(attributes[1], json({{"key", "d"}, {"value", {{"doubleValue", 7.0}}}}));
  EXPECT_EQ(attributes[2], json({{"key", "s"}, {"value", {{"stringValue", "7"}}}}));
  EXPECT_EQ(attributes[3], json({{"key", "b"}, {"value", {{"boolValue", true}}}}));
  EXPECT_EQ(attributes[4], json({{"key", "n"}, {"value", json::object()}}));
  EXPECT_TRUE(OtlpReceiver::plain_value(attributes[1]["value"]).is_number_float());
  EXPECT_TRUE(OtlpReceiver::plain_value(attributes[0]["value"]).is_number_integer());
}

TEST_P(OtlpEncode, UnsignedBeyondInt64BecomesTheNearestDouble) {
  const json a = single_span_attributes(st::Value::object({{"u", std::numeric_limits<std::uint64_t>::max()}}));
  EXPECT_EQ(a["u"].get<double>(), 18446744073709551616.0);
}

TEST_P(OtlpEncode, NonFiniteDoubles) {
  // OTLP/JSON follows the proto3 JSON mapping: non-finite doubles are the strings "NaN",
  // "Infinity" and "-Infinity" (the receiver reports anything else, null included, as an error).
  const json a = single_span_attributes(st::Value::object({{"nan", std::numeric_limits<double>::quiet_NaN()},
                                                           {"inf", std::numeric_limits<double>::infinity()},
                                                           {"minus_inf", -std::numeric_limits<double>::infinity()}}));
  EXPECT_EQ(a["nan"], "NaN");
  EXPECT_EQ(a["inf"], "Infinity");
  EXPECT_EQ(a["minus_inf"], "-Infinity");
}

TEST_P(OtlpEncode, ArraysAndNestedObjects) {
  st::Value nested = "leaf";
  for (int depth = 0; depth < 20; ++depth) {
    nested = depth % 2 == 0 ? st::Value::object({{"level" + std::to_string(depth), nested}}) : st::Value::array({nested});
  }
  const json a = single_span_attributes(st::Value::object({
      {"strings", st::Value::array({"a", "b", ""})},
      {"ints", st::Value::array({1, -2, std::numeric_limits<std::int64_t>::min()})},
      {"mixed", st::Value::array({1, "two", 3.5, false, nullptr, st::Value::array({1}), st::Value::object({{"k", "v"}})})},
      {"empty_array", st::Value::array()},
      {"object", st::Value::object({{"name", "x"}, {"count", 2}, {"inner", st::Value::object({{"deep", true}})}})},
      {"empty_object", st::Value::object()},
      {"deep", nested},
  }));
  EXPECT_EQ(a["strings"], json::array({"a", "b", ""}));
  EXPECT_EQ(a["ints"], json::array({1, -2, std::numeric_limits<std::int64_t>::min()}));
  EXPECT_EQ(a["mixed"], json::parse(R"([1, "two", 3.5, false, null, [1], {"k": "v"}])"));
  EXPECT_EQ(a["empty_array"], json::array());
  EXPECT_EQ(a["object"], json::parse(R"({"name": "x", "count": 2, "inner": {"deep": true}})"));
  EXPECT_EQ(a["empty_object"], json::object());
  json expected = "leaf";
  for (int depth = 0; depth < 20; ++depth) {
    expected = depth % 2 == 0 ? json{{"level" + std::to_string(depth), expected}} : json::array({expected});
  }
  EXPECT_EQ(a["deep"], expected);
}

TEST_P(OtlpEncode, EventsWithAttributes) {
  st::SpanData s = make_span(0);
  s.events.push_back({"exception", at(kBase + 10),
                      st::Value::object({{"exception.type", "std::runtime_error"},
                                         {"exception.message", "boom"},
                                         {"attempt", 3}})});
  s.events.push_back({"no attributes", at(kBase + 20), st::Value::object()});
  s.events.push_back({"nested", at(kBase + 30), st::Value::object({{"list", st::Value::array({1, "x"})}})});
  const json d = spans_of(send({s}))[0];
  ASSERT_EQ(d["events"].size(), 3u);
  EXPECT_EQ(d["events"][0]["name"], "exception");
  EXPECT_EQ(d["events"][0]["timeUnixNano"], std::to_string(kBase + 10));
  EXPECT_EQ(OtlpReceiver::attributes(d["events"][0]["attributes"]),
            json::parse(R"({"exception.type": "std::runtime_error", "exception.message": "boom", "attempt": 3})"));
  EXPECT_EQ(d["events"][1]["name"], "no attributes");
  EXPECT_EQ(d["events"][1]["timeUnixNano"], std::to_string(kBase + 20));
  EXPECT_EQ(d["events"][1]["attributes"], json::array());
  EXPECT_EQ(OtlpReceiver::attributes(d["events"][2]["attributes"]), json::parse(R"({"list": [1, "x"]})"));
}

TEST_P(OtlpEncode, StatusAndTraceState) {
  std::vector<st::SpanData> spans{make_span(0), make_span(1), make_span(2), make_span(3)};
  spans[1].status = st::SpanStatus::ok;
  spans[2].status = st::SpanStatus::error;
  spans[2].status_message = "upstream said: 503 – “unavailable”";
  spans[3].status_message = "a message without a code";
  spans[0].trace_state = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE";
  const json d = spans_of(send(spans));
  ASSERT_EQ(d.size(), 4u);
  EXPECT_EQ(d[0]["status"], json({{"message", ""}, {"code", 0}}));
  EXPECT_EQ(d[1]["status"], json({{"message", ""}, {"code", 1}}));
  EXPECT_EQ(d[2]["status"], json({{"message", spans[2].status_message}, {"code", 2}}));
  EXPECT_EQ(d[3]["status"], json({{"message", spans[3].status_message}, {"code", 0}}));
  EXPECT_EQ(d[0]["traceState"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
  EXPECT_EQ(d[1]["traceState"], "");
}

TEST_P(OtlpEncode, ResourceAndScope) {
  st::OtlpResource resource = make_resource();
  resource.attributes.set("deployment.environment", "test");
  resource.attributes.set("host.tags", st::Value::array({"a", "b"}));
  const json request = send({make_span(0)}, resource);
  const json& rs = request["decoded"]["resourceSpans"];
  ASSERT_EQ(rs.size(), 1u);
  ASSERT_EQ(rs[0]["scopeSpans"].size(), 1u);
  EXPECT_EQ(OtlpReceiver::attributes(rs[0]["resource"]["attributes"]),
            json::parse(R"({"service.name": "conformance", "service.version": "1.2.3",
                            "telemetry.sdk.language": "cpp", "process.pid": 4242,
                            "deployment.environment": "test", "host.tags": ["a", "b"]})"));
  EXPECT_EQ(rs[0]["scopeSpans"][0]["scope"]["name"], "synth-tracing");
  EXPECT_EQ(rs[0]["scopeSpans"][0]["scope"]["version"], "0.1.0");

  // The harness' flattened view carries both.
  const json spans = receiver().spans();
  ASSERT_EQ(spans.size(), 1u);
  EXPECT_EQ(OtlpReceiver::attributes(spans[0]["resource"]["attributes"])["service.name"], "conformance");
  EXPECT_EQ(spans[0]["scope"]["name"], "synth-tracing");
  EXPECT_EQ(spans[0]["scope"]["version"], "0.1.0");
}

TEST_P(OtlpEncode, EmptyResourceScopeVersionAndAttributes) {
  st::OtlpResource resource;
  resource.scope_version.clear();
  st::SpanData s = make_span(0);
  s.events.push_back({"e", at(kBase), st::Value::object()});
  const json request = send({s}, resource);
  const json& rs = request["decoded"]["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"], json::array());
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "synth-tracing");
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["version"], "");
  const json& span = rs["scopeSpans"][0]["spans"][0];
  EXPECT_EQ(span["attributes"], json::array());
  EXPECT_EQ(span["events"][0]["attributes"], json::array());
}

TEST_P(OtlpEncode, NoSpans) {
  const json request = send({});
  EXPECT_EQ(spans_of(request), json::array());
}

TEST_P(OtlpEncode, UnicodeAndControlCharacters) {
  const std::string texts[] = {
      "plain ascii",
      "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e \xf0\x9f\x9a\x80",                  // é, 日本語, 🚀
      std::string("nul\0inside", 10),
      "\x01\x02\x1f tab\t newline\n return\r del\x7f",
      "quote\" backslash\\ slash/ \xe2\x80\xa8\xe2\x80\xa9",                                 // U+2028, U+2029
      "\xef\xbf\xbd replacement char and \xf4\x8f\xbf\xbf max code point",                   // U+FFFD, U+10FFFF
  };
  std::vector<st::SpanData> spans;
  for (std::size_t i = 0; i < std::size(texts); ++i) {
    st::SpanData s = make_span(i);
    s.name = texts[i];
    s.attributes = st::Value::object({{texts[i], texts[i]}, {"in array", st::Value::array({texts[i]})}});
    s.status = st::SpanStatus::error;
    s.status_message = texts[i];
    s.events.push_back({texts[i], at(kBase), st::Value::object({{"k", texts[i]}})});
    spans.push_back(s);
  }
  const json d = spans_of(send(spans));
  ASSERT_EQ(d.size(), std::size(texts));
  for (std::size_t i = 0; i < std::size(texts); ++i) {
    SCOPED_TRACE("text " + std::to_string(i));
    EXPECT_EQ(d[i]["name"], texts[i]);
    EXPECT_EQ(d[i]["attributes"][0]["key"], texts[i]);
    EXPECT_EQ(d[i]["attributes"][0]["value"]["stringValue"], texts[i]);
    EXPECT_EQ(OtlpReceiver::attributes(d[i]["attributes"])["in array"], json::array({texts[i]}));
    EXPECT_EQ(d[i]["status"]["message"], texts[i]);
    EXPECT_EQ(d[i]["events"][0]["name"], texts[i]);
    EXPECT_EQ(OtlpReceiver::attributes(d[i]["events"][0]["attributes"])["k"], texts[i]);
  }
}

TEST_P(OtlpEncode, InvalidUtf8BecomesReplacementCharacters) {
  // Protobuf string fields must hold valid UTF-8 (strict decoders reject the whole request), and
  // OTLP/JSON cannot carry anything else. A string cut in the middle of a character, say by
  // truncation, must still encode as valid UTF-8; the JSON encoder writes U+FFFD for each bad byte.
  st::SpanData s = make_span(0);
  const std::string cut = "caf\xc3";  // "café" cut inside the é
  s.name = "name " + cut;
  s.attributes = st::Value::object({{"text", cut}, {"bad\xff key", "v"}});
  const json d = spans_of(send({s}));
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0]["name"], "name caf\xef\xbf\xbd");
  EXPECT_EQ(OtlpReceiver::attributes(d[0]["attributes"]), json({{"text", "caf\xef\xbf\xbd"}, {"bad\xef\xbf\xbd key", "v"}}));
}

TEST_P(OtlpEncode, LongStringsWidenLengthPrefixes) {
  // Lengths of 127/128 (one or two byte varints) and megabytes (four bytes), nested three deep.
  st::SpanData s = make_span(0);
  const std::string s127(127, 'a');
  const std::string s128(128, 'b');
  const std::string s16k(16384, 'c');
  std::string big(3 * 1024 * 1024, 'x');
  for (std::size_t i = 0; i < big.size(); i += 997) big[i] = static_cast<char>('a' + i % 26);
  s.attributes = st::Value::object({{"s127", s127}, {"s128", s128}, {"s16k", s16k}, {"big", big}});
  s.name = s128;
  const json d = spans_of(send({s}));
  ASSERT_EQ(d.size(), 1u);
  const json a = OtlpReceiver::attributes(d[0]["attributes"]);
  EXPECT_EQ(a["s127"], s127);
  EXPECT_EQ(a["s128"], s128);
  EXPECT_EQ(a["s16k"], s16k);
  EXPECT_TRUE(a["big"] == big) << "the 3 MiB attribute differs";
  EXPECT_EQ(d[0]["name"], s128);
}

TEST_P(OtlpEncode, AThousandSpansInOneRequest) {
  std::vector<st::SpanData> spans;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    st::SpanData s = make_span(i);
    s.kind = static_cast<st::SpanKind>(i % 6);
    s.attributes = st::Value::object({{"index", static_cast<std::int64_t>(i)},
                                      {"label", "span number " + std::to_string(i)},
                                      {"ratio", static_cast<double>(i) / 7.0}});
    if (i % 10 == 0) s.events.push_back({"tick", at(kBase + static_cast<std::int64_t>(i)), st::Value::object({{"i", i}})});
    if (i % 100 == 0) s.status = st::SpanStatus::error;
    spans.push_back(s);
  }
  const json d = spans_of(send(spans));
  ASSERT_EQ(d.size(), 1000u);
  std::set<std::string> ids;
  for (std::uint64_t i = 0; i < 1000; ++i) {
    SCOPED_TRACE("span " + std::to_string(i));
    const json& span = d[i];
    ids.insert(span["spanId"].get<std::string>());
    EXPECT_EQ(span["spanId"], hex64(0x1000 + i));
    EXPECT_EQ(span["parentSpanId"], i == 0 ? "" : hex64(0x1000));
    EXPECT_EQ(span["name"], "span " + std::to_string(i));
    EXPECT_EQ(span["kind"], i % 6);
    EXPECT_EQ(span["startTimeUnixNano"], std::to_string(kBase + static_cast<std::int64_t>(i) * 1000));
    const json a = OtlpReceiver::attributes(span["attributes"]);
    EXPECT_EQ(a["index"].get<std::int64_t>(), static_cast<std::int64_t>(i));
    EXPECT_EQ(a["ratio"].get<double>(), static_cast<double>(i) / 7.0);
    EXPECT_EQ(span["events"].size(), i % 10 == 0 ? 1u : 0u);
    EXPECT_EQ(span["status"]["code"], i % 100 == 0 ? 2 : 0);
  }
  EXPECT_EQ(ids.size(), 1000u);
  EXPECT_EQ(receiver().span_count(), 1000u);
}

// Both encoders describe the same request: the official decoder must see identical messages.
TEST(OtlpEncodeBoth, ProtobufAndJsonDecodeToTheSameRequest) {
  OtlpReceiver& r = receiver();
  r.reset();
  std::vector<st::SpanData> spans;
  for (std::uint64_t i = 0; i < 20; ++i) {
    st::SpanData s = make_span(i);
    s.kind = static_cast<st::SpanKind>(i % 6);
    s.trace_state = i % 3 == 0 ? "k=v" : "";
    s.attributes = st::Value::object({{"i", static_cast<std::int64_t>(i) - 10},
                                      {"d", static_cast<double>(i) * 0.1},
                                      {"s", "é" + std::to_string(i)},
                                      {"b", i % 2 == 0},
                                      {"a", st::Value::array({i, "x", st::Value::object({{"n", nullptr}})})},
                                      {"o", st::Value::object({{"nested", st::Value::object({{"x", 1}})}})}});
    s.events.push_back({"ev", at(kBase + static_cast<std::int64_t>(i)), st::Value::object({{"q", 1.25}})});
    s.status = static_cast<st::SpanStatus>(i % 3);
    s.status_message = i % 3 == 2 ? "failed" : "";
    spans.push_back(s);
  }
  const st::OtlpResource resource = make_resource();
  ASSERT_EQ(st::testing::post_otlp(r.endpoint(), st::encode_otlp_protobuf(spans, resource), false).status, 200);
  ASSERT_EQ(st::testing::post_otlp(r.endpoint(), st::encode_otlp_json(spans, resource), true).status, 200);
  const json requests = r.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(r.errors(), json::array());
  EXPECT_EQ(r.warnings(), json::array());
  EXPECT_EQ(requests[0]["decoded"], requests[1]["decoded"]);
  EXPECT_EQ(r.span_count(), 40u);
}

}  // namespace
