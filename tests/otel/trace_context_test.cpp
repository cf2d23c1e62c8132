#include <gtest/gtest.h>

#include "synth/tracing/otel.hpp"

namespace st = synth::tracing;

TEST(TraceContext, ParsesTheSpecExample) {
  const auto p = st::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=00f067aa0ba902b7");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->trace_id_high, 0x4bf92f3577b34da6ULL);
  EXPECT_EQ(p->trace_id_low, 0xa3ce929d0e0e4736ULL);
  EXPECT_EQ(p->span_id, 0x00f067aa0ba902b7ULL);
  EXPECT_TRUE(p->sampled);
  EXPECT_EQ(p->trace_state, "rojo=00f067aa0ba902b7");
  EXPECT_FALSE(st::parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00")->sampled);
}

TEST(TraceContext, FormatsAndRoundTrips) {
  const std::string header = st::format_traceparent(0x4bf92f3577b34da6ULL, 0xa3ce929d0e0e4736ULL, 0x00f067aa0ba902b7ULL);
  EXPECT_EQ(header, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(st::format_traceparent(1, 2, 3, false), "00-00000000000000010000000000000002-0000000000000003-00");
  const auto back = st::parse_traceparent(header);
  ASSERT_TRUE(back.has_value());
  EXPECT_EQ(st::format_traceparent(back->trace_id_high, back->trace_id_low, back->span_id, back->sampled), header);
}

TEST(TraceContext, RejectsInvalidHeaders) {
  for (const char* bad : {
           "",
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero span id
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // upper case
           "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",   // short trace id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 has no more fields
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
       }) {
    EXPECT_FALSE(st::parse_traceparent(bad).has_value()) << bad;
  }
  // A later version may carry more fields; the first four are read.
  EXPECT_TRUE(st::parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever").has_value());
  EXPECT_TRUE(st::parse_traceparent("  00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ").has_value());
}
