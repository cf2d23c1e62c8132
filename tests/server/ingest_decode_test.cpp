// The ingest body decoder on bytes: one session, arrays, NDJSON; a bad session is rejected alone,
// a broken body is refused whole with a message saying what and where.
#include <gtest/gtest.h>

#include "server/fixtures.hpp"
#include "server/ingest_decode.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;
using synth_test::sample_session;

namespace {

std::string message_of(std::string_view body, BodyFormat format) {
  try {
    decode_sessions(body, format);
  } catch (const BodyError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST(IngestDecode, OneSessionAnArrayAndNdjson) {
  const SessionTrace a = sample_session("a"), b = sample_session("b", {.steps = 1});
  const DecodedBody one = decode_sessions(a.to_json({.indent = 2}), BodyFormat::json);
  ASSERT_EQ(one.sessions.size(), 1u);
  EXPECT_EQ(one.sessions[0].trace, a);

  const DecodedBody array = decode_sessions(" [ " + a.to_json() + " ,\n" + b.to_json({.indent = 2}) + "] ", BodyFormat::json);
  ASSERT_EQ(array.sessions.size(), 2u);
  EXPECT_EQ(array.sessions[1].trace, b);
  EXPECT_EQ(array.sessions[1].index, 1u);
  EXPECT_EQ(array.sessions[0].bytes, a.to_json().size());
  EXPECT_TRUE(decode_sessions("[]", BodyFormat::json).sessions.empty());

  const DecodedBody lines = decode_sessions(a.to_json() + "\n\n" + b.to_json() + "\r\n", BodyFormat::ndjson);
  ASSERT_EQ(lines.sessions.size(), 2u);
  EXPECT_EQ(lines.sessions[1].index, 2u) << "the line number, blank lines counted";
}

TEST(IngestDecode, ABadSessionIsRejectedAloneWithItsIdAndTheProblem) {
  std::string bad = sample_session("bad").to_json();
  bad.replace(bad.find("\"prompt_tokens\":100"), 19, "\"prompt_tokens\":\"x\"");
  const std::string good = sample_session("good").to_json();
  for (const BodyFormat format : {BodyFormat::json, BodyFormat::ndjson}) {
    const std::string body = format == BodyFormat::json ? "[" + good + "," + bad + ", {\"broken\": ]" + "]"
                                                        : good + "\n" + bad + "\n{\"broken\": \n";
    const DecodedBody d = decode_sessions(body, format);
    ASSERT_EQ(d.sessions.size(), 1u);
    EXPECT_EQ(d.sessions[0].trace.session_id, "good");
    ASSERT_EQ(d.rejected.size(), 2u);
    EXPECT_EQ(d.rejected[0].index, 1u);
    EXPECT_EQ(d.rejected[0].session_id, "bad");
    EXPECT_NE(d.rejected[0].error.find("prompt_tokens: expected an integer"), std::string::npos) << d.rejected[0].error;
    EXPECT_EQ(d.rejected[1].session_id, std::nullopt) << "not JSON: no id to give";
  }
}

TEST(IngestDecode, ABrokenBodyIsRefusedSayingWhatAndWhere) {
  EXPECT_NE(message_of("", BodyFormat::json).find("the body is empty"), std::string::npos);
  EXPECT_NE(message_of("  \n", BodyFormat::ndjson).find("the body is empty"), std::string::npos);
  EXPECT_NE(message_of("hello", BodyFormat::json).find("starts with 'h' (at byte 0)"), std::string::npos);
  EXPECT_NE(message_of("[{\"session_id\": \"a\"", BodyFormat::json).find("not closed"), std::string::npos);
  EXPECT_NE(message_of("[{} {}]", BodyFormat::json).find("expected ',' or ']' after session 0 of the array (at byte 4)"),
            std::string::npos);
  const std::string two = sample_session("a").to_json() + "\n" + sample_session("b").to_json();
  EXPECT_NE(message_of(two, BodyFormat::json).find("application/x-ndjson"), std::string::npos) << message_of(two, BodyFormat::json);
  EXPECT_NE(message_of("{\"session_id\": 7}", BodyFormat::json).find("session_id"), std::string::npos);
  EXPECT_NE(message_of("{\"session_id\": \"x\", ", BodyFormat::json).find("the request"), std::string::npos)
      << message_of("{\"session_id\": \"x\", ", BodyFormat::json);
}

TEST(IngestDecode, ArbitraryBytesNeverEscapeAsAnythingButBodyError) {
  // Every prefix of a valid body, and of an array of two: each is decoded or refused, nothing else.
  const std::string body = "[" + sample_session("a", {.steps = 1}).to_json() + "," + sample_session("b", {.steps = 1}).to_json() + "]";
  for (std::size_t n = 0; n <= body.size(); n += 7) {
    for (const BodyFormat format : {BodyFormat::json, BodyFormat::ndjson}) {
      try {
        decode_sessions(std::string_view(body).substr(0, n), format);
      } catch (const BodyError&) {
      }
    }
  }
}
