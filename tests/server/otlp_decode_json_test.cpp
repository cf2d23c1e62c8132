// OTLP/JSON requests as SDKs and collectors write them: members in any order, either spelling
// of a field, nulls for absent members, 64-bit integers as strings or numbers, enums as names
// or numbers, every AnyValue kind; and a request read from JSON equals the same request read
// from protobuf.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/exports.hpp"
#include "server/fixtures.hpp"
#include "server/otlp_decode.hpp"
#include "support.hpp"
#include "synth/tracing/otel.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;

namespace {

void expect_same_spans(const OtlpTraces& got, const OtlpTraces& want) {
  ASSERT_EQ(got.resources.size(), want.resources.size());
  for (std::size_t i = 0; i < want.resources.size(); ++i) EXPECT_EQ(got.resources[i], want.resources[i]) << i;
  ASSERT_EQ(got.spans.size(), want.spans.size());
  for (std::size_t i = 0; i < want.spans.size(); ++i) {
    const OtlpSpan& g = got.spans[i];
    const OtlpSpan& w = want.spans[i];
    EXPECT_EQ(g.trace_id, w.trace_id) << i;
    EXPECT_EQ(g.span_id, w.span_id) << i;
    EXPECT_EQ(g.parent_span_id, w.parent_span_id) << i;
    EXPECT_EQ(g.name, w.name) << i;
    EXPECT_EQ(g.kind, w.kind) << i;
    EXPECT_EQ(g.start_unix_nano, w.start_unix_nano) << i;
    EXPECT_EQ(g.end_unix_nano, w.end_unix_nano) << i;
    EXPECT_EQ(g.attributes, w.attributes) << i;
    EXPECT_EQ(g.status_code, w.status_code) << i;
    EXPECT_EQ(g.status_message, w.status_message) << i;
    EXPECT_EQ(g.resource, w.resource) << i;
    EXPECT_EQ(g.scope_name, w.scope_name) << i;
    ASSERT_EQ(g.events.size(), w.events.size()) << i;
    for (std::size_t e = 0; e < w.events.size(); ++e) {
      EXPECT_EQ(g.events[e].name, w.events[e].name);
      EXPECT_EQ(g.events[e].time_unix_nano, w.events[e].time_unix_nano);
      EXPECT_EQ(g.events[e].attributes, w.events[e].attributes);
    }
  }
}

std::string decode_error(std::string_view body) {
  try {
    decode_otlp_traces_json(body);
  } catch (const OtlpDecodeError& e) {
    return e.what();
  }
  return "(accepted)";
}

}  // namespace

TEST(OtlpDecodeJson, OurExportReadsAsItsProtobufEncoding) {
  const OtlpSpans s = otlp_spans(synth_test::sample_session("both-encodings", {.steps = 3, .failing_tool = true}));
  const std::string json = encode_otlp_json(s.spans, s.resource);
  const OtlpTraces from_json = decode_otlp_traces_json(json);
  EXPECT_EQ(from_json.body_bytes, json.size());
  expect_same_spans(from_json, decode_otlp_traces_protobuf(encode_otlp_protobuf(s.spans, s.resource)));
}

TEST(OtlpDecodeJson, MemberOrderSpellingNullsAndNumberForms) {
  // The scope after its spans, the resource after its scopeSpans, snake_case names, nulls,
  // upper-case hex, integers as numbers and strings, enums by name and number.
  const std::string body = R"({"resource_spans":[{"scope_spans":[{"spans":[
    {"trace_id":"4BF92F3577B34DA6A3CE929D0E0E4736","span_id":"00F067AA0BA902B7","parent_span_id":null,
     "name":"a","kind":"SPAN_KIND_CLIENT","start_time_unix_nano":"1735689800000000001",
     "end_time_unix_nano":1735689800000000002,"status":{"code":"STATUS_CODE_ERROR","message":"boom"},
     "attributes":[{"value":{"int_value":"-7"},"key":"i"},{"key":"n","value":null},{"key":"u","value":{"intValue":42}},
                   {"key":"d","value":{"doubleValue":"NaN"}},{"key":"e","value":{"double_value":2}},
                   {"key":"b","value":{"boolValue":true}},{"key":"x","value":{"bytesValue":"AQI="}},
                   {"key":"l","value":{"arrayValue":{"values":[{"stringValue":"s"},{"kvlistValue":{"values":[{"key":"k","value":{"intValue":"1"}}]}}]}}},
                   {"key":"i","value":{"stringValue":"last wins"}}],
     "events":[{"attributes":[{"key":"k","value":{"stringValue":"v"}}],"time_unix_nano":"5","name":"ev"}],
     "unknown":{"deep":[1,2,{"x":null}]}},
    {"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"53995c3f42cd8ad8","parentSpanId":"00f067aa0ba902b7",
     "kind":3,"status":{"code":1}}],
   "scope":{"name":"late-scope","version":"1"}}],
   "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]}}],
  "extra":null})";
  const OtlpTraces t = decode_otlp_traces_json(body);
  ASSERT_EQ(t.spans.size(), 2u);
  ASSERT_EQ(t.resources.size(), 1u);
  EXPECT_EQ(t.resources[0], (Value{{"service.name", "svc"}}));
  const OtlpSpan& a = t.spans[0];
  EXPECT_EQ(a.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(a.span_id, "00f067aa0ba902b7");
  EXPECT_EQ(a.parent_span_id, "");
  EXPECT_EQ(a.kind, 3);
  EXPECT_EQ(a.start_unix_nano, 1735689800000000001ULL);
  EXPECT_EQ(a.end_unix_nano, 1735689800000000002ULL);
  EXPECT_EQ(a.status_code, 2);
  EXPECT_EQ(a.status_message, "boom");
  EXPECT_EQ(a.scope_name, "late-scope");
  EXPECT_EQ(a.attributes.size(), 8u);
  EXPECT_EQ(a.attributes["i"], Value("last wins"));
  EXPECT_TRUE(a.attributes["n"].is_null());
  EXPECT_EQ(a.attributes["u"], Value(std::int64_t{42}));
  EXPECT_TRUE(std::isnan(a.attributes["d"].as_double()));
  EXPECT_EQ(a.attributes["e"], Value(2.0));
  EXPECT_EQ(a.attributes["b"], Value(true));
  EXPECT_EQ(a.attributes["x"], Value("0102"));  // base64 in JSON, hex as from protobuf
  EXPECT_EQ(a.attributes["l"], Value::array({Value("s"), Value{{"k", std::int64_t{1}}}}));
  ASSERT_EQ(a.events.size(), 1u);
  EXPECT_EQ(a.events[0].name, "ev");
  EXPECT_EQ(a.events[0].time_unix_nano, 5u);
  EXPECT_EQ(a.events[0].attributes, (Value{{"k", "v"}}));
  const OtlpSpan& b = t.spans[1];
  EXPECT_EQ(b.parent_span_id, "00f067aa0ba902b7");
  EXPECT_EQ(b.kind, 3);
  EXPECT_EQ(b.status_code, 1);
  EXPECT_EQ(b.scope_name, "late-scope");
}

TEST(OtlpDecodeJson, ErrorsNameThePathAndAreOurs) {
  const std::string bad_time = decode_error(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{},{"startTimeUnixNano":"12x"}]}]}]})");
  EXPECT_NE(bad_time.find("malformed OTLP JSON"), std::string::npos) << bad_time;
  EXPECT_NE(bad_time.find("resourceSpans[0].scopeSpans[0].spans[1].startTimeUnixNano"), std::string::npos) << bad_time;
  const std::string bad_int = decode_error(
      R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":{"intValue":1.5}}]}]}]}]})");
  EXPECT_NE(bad_int.find("attributes[0].value"), std::string::npos) << bad_int;
  EXPECT_NE(bad_int.find("intValue"), std::string::npos) << bad_int;
  EXPECT_NE(decode_error(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":"SPAN_KIND_NONE"}]}]}]})").find("kind"),
            std::string::npos);
  EXPECT_NE(decode_error(R"({"resourceSpans":{}})").find("resourceSpans"), std::string::npos);
  EXPECT_NE(decode_error(R"({"resourceSpans":[]} x)").find("malformed OTLP JSON"), std::string::npos);
  EXPECT_NE(decode_error("[]").find("malformed OTLP JSON"), std::string::npos);
  // Unknown fields are ignored (OTLP/JSON receivers MUST): a request of them alone is empty.
  EXPECT_EQ(decode_error(R"({"other":1})"), "(accepted)");
  EXPECT_EQ(decode_error(R"({"resourceSpans":null,"futureField":{"a":[1]}})"), "(accepted)");
  // Except our own trace JSON sent to the wrong route, which would be dropped without a word.
  EXPECT_NE(decode_error(R"({"session_id":"s","session_time_steps":[]})").find("POST /api/v1/sessions"), std::string::npos);
  EXPECT_EQ(decode_error(R"({"resourceSpans":[]})"), "(accepted)");
  // AnyValues nested past the limit are refused, not recursed into.
  std::string deep = R"({"stringValue":"x"})";
  for (int i = 0; i < 40; ++i) deep = R"({"arrayValue":{"values":[)" + deep + "]}}";
  const std::string too_deep = decode_error(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":)" +
                                            deep + "}]}]}]}]}");
  EXPECT_NE(too_deep.find("nested deeper than 32"), std::string::npos) << too_deep;
}

// The proto3 JSON mapping, which OTLP/JSON adopts: a double as a number or a string (exponents,
// NaN, ±Infinity); a 64-bit integer as a number or a decimal string, with an exponent too when
// the value is integral. Read exactly: a double has 53 bits, a 19-digit time needs 61.
TEST(OtlpDecodeJson, NumbersInEveryFormTheProto3MappingAllows) {
  const OtlpTraces t = decode_otlp_traces_json(R"({"resourceSpans":[{"scopeSpans":[{"spans":[
    {"startTimeUnixNano":1.735689800000000001e18,"endTimeUnixNano":"17356898000000000.01e2",
     "events":[{"timeUnixNano":"1e3"}],
     "attributes":[{"key":"d1","value":{"doubleValue":"1.5"}},{"key":"d2","value":{"doubleValue":"-2.5e-3"}},
                   {"key":"d3","value":{"doubleValue":"Infinity"}},{"key":"d4","value":{"doubleValue":"-Infinity"}},
                   {"key":"d5","value":{"doubleValue":1e3}},
                   {"key":"i1","value":{"intValue":1e3}},{"key":"i2","value":{"intValue":"1E3"}},
                   {"key":"i3","value":{"intValue":1.50e1}},{"key":"i4","value":{"intValue":-0.0}},
                   {"key":"i5","value":{"intValue":"9223372036854775807"}},
                   {"key":"i6","value":{"intValue":-9223372036854775808}},
                   {"key":"i7","value":{"intValue":"-9.223372036854775808e18"}},
                   {"key":"i8","value":{"intValue":"1234567890123456789"}}]}]}]}]})");
  ASSERT_EQ(t.spans.size(), 1u);
  const OtlpSpan& s = t.spans[0];
  EXPECT_EQ(s.start_unix_nano, 1735689800000000001ULL);
  EXPECT_EQ(s.end_unix_nano, 1735689800000000001ULL);
  ASSERT_EQ(s.events.size(), 1u);
  EXPECT_EQ(s.events[0].time_unix_nano, 1000u);
  const Value& a = s.attributes;
  EXPECT_EQ(a["d1"], Value(1.5));
  EXPECT_EQ(a["d2"], Value(-2.5e-3));
  EXPECT_EQ(a["d3"], Value(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(a["d4"], Value(-std::numeric_limits<double>::infinity()));
  EXPECT_EQ(a["d5"], Value(1000.0));
  EXPECT_EQ(a["i1"], Value(std::int64_t{1000}));
  EXPECT_EQ(a["i2"], Value(std::int64_t{1000}));
  EXPECT_EQ(a["i3"], Value(std::int64_t{15}));
  EXPECT_EQ(a["i4"], Value(std::int64_t{0}));
  EXPECT_EQ(a["i5"], Value(std::numeric_limits<std::int64_t>::max()));
  EXPECT_EQ(a["i6"], Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(a["i7"], Value(std::numeric_limits<std::int64_t>::min()));
  EXPECT_EQ(a["i8"], Value(std::int64_t{1234567890123456789}));
}

// What the mapping does not allow is refused, naming where: a fraction or a value beyond the
// field's range for an integer, anything but a number (or its string, NaN, ±Infinity) for a double.
TEST(OtlpDecodeJson, NumbersThatDoNotFitTheirFieldNameThePath) {
  const auto attribute_error = [](const std::string& value) {
    return decode_error(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"attributes":[{"key":"k","value":)" + value +
                        "}]}]}]}]}");
  };
  for (const std::string bad : {R"({"intValue":"1.5"})", R"({"intValue":1.5})", R"({"intValue":1e-3})",
                                R"({"intValue":"9223372036854775808"})", R"({"intValue":-9.3e18})",
                                R"({"intValue":"1e19"})", R"({"intValue":"1e999999999999"})", R"({"intValue":"12x"})",
                                R"({"intValue":" 1"})", R"({"intValue":"+1"})", R"({"intValue":""})", R"({"intValue":"e3"})",
                                R"({"intValue":true})"}) {
    const std::string error = attribute_error(bad);
    EXPECT_NE(error.find("attributes[0].value.intValue"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("is not a 64-bit integer"), std::string::npos) << bad << ": " << error;
  }
  for (const std::string bad : {R"({"doubleValue":"abc"})", R"({"doubleValue":"inf"})", R"({"doubleValue":"nan"})",
                                R"({"doubleValue":"1.5x"})", R"({"doubleValue":"1e999"})", R"({"doubleValue":""})",
                                R"({"doubleValue":true})"}) {
    const std::string error = attribute_error(bad);
    EXPECT_NE(error.find("attributes[0].value.doubleValue"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("is not a number"), std::string::npos) << bad << ": " << error;
  }
  for (const std::string bad : {"-1", R"("-1")", "1.5e0", R"("18446744073709551616")", "1.8446744073709551616e19"}) {
    const std::string error = decode_error(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":)" + bad + "}]}]}]}");
    EXPECT_NE(error.find("spans[0].endTimeUnixNano"), std::string::npos) << bad << ": " << error;
    EXPECT_NE(error.find("is not an unsigned integer"), std::string::npos) << bad << ": " << error;
  }
  EXPECT_EQ(decode_error(R"({"resourceSpans":[{"scopeSpans":[{"spans":[{"endTimeUnixNano":"18446744073709551615"}]}]}]})"),
            "(accepted)");
}

TEST(OtlpDecodeJson, LogRecordsInAnyOrderWithTheirEventNameFromAnAttribute) {
  const OtlpLogs logs = decode_otlp_logs_json(R"({"resource_logs":[{"scopeLogs":[{"log_records":[
    {"body":{"kvlistValue":{"values":[{"key":"content","value":{"stringValue":"hi"}}]}},
     "attributes":[{"key":"event.name","value":{"stringValue":"gen_ai.user.message"}}],
     "observed_time_unix_nano":"9","spanId":"00f067aa0ba902b7","traceId":"4bf92f3577b34da6a3ce929d0e0e4736"},
    {"eventName":"named","timeUnixNano":"3","observedTimeUnixNano":"9"}]}],
    "resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]}}]})");
  ASSERT_EQ(logs.logs.size(), 2u);
  EXPECT_EQ(logs.resources.at(0), (Value{{"service.name", "svc"}}));
  EXPECT_EQ(logs.logs[0].event_name, "gen_ai.user.message");
  EXPECT_EQ(logs.logs[0].time_unix_nano, 9u);
  EXPECT_EQ(logs.logs[0].span_id, "00f067aa0ba902b7");
  EXPECT_EQ(logs.logs[0].body, (Value{{"content", "hi"}}));
  EXPECT_EQ(logs.logs[1].event_name, "named");
  EXPECT_EQ(logs.logs[1].time_unix_nano, 3u);
}
