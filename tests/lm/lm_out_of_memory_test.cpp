// An LM call whose recording runs out of memory still returns its answer: every allocation made
// after the model answered is failed in turn, and each time the caller gets the answer while the
// tracer counts the record it lost. The failure is real: this program's operator new throws
// std::bad_alloc when armed (on the arming thread only).
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <optional>

#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/lm.hpp"

namespace {
// The allocation on this thread that fails: 1 = the next one; 0 = none.
thread_local std::size_t fail_allocation = 0;
}  // namespace

void* operator new(std::size_t size) {
  if (fail_allocation != 0 && --fail_allocation == 0) throw std::bad_alloc();
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
// Libraries (simdjson) allocate with the nothrow form and free with plain delete: it must come
// from the same malloc, or AddressSanitizer rightly reports a mismatch.
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  if (fail_allocation != 0 && --fail_allocation == 0) return nullptr;
  return std::malloc(size == 0 ? 1 : size);
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace st = synth::tracing;

TEST(LMOutOfMemory, AnAnswerSurvivesAFailureToRecordIt) {
  st::testing::CapturedDiagnostics diagnostics;  // the failures are reported there, not on stderr
  st::SessionTracer tracer(st::TracingConfig{.mask_pii = false});
  std::size_t arm_at = 0;
  st::LM lm({.model = "synth-offline-policy",
             .session_tracer = &tracer,
             .in_process_model = [&](const st::LMRequest& request) {
               // A complete answer: what the LM does after this is recording it.
               st::LMResponse r;
               r.text = "a long enough answer to live on the heap";
               r.model = request.model;
               r.finish_reason = "stop";
               r.usage = st::TokenUsage{.prompt_tokens = 4, .completion_tokens = 2};
               fail_allocation = arm_at;  // from here on: the model has answered
               return r;
             }});
  std::size_t failed_before_the_end = 0;
  {
    auto session = tracer.start_session("oom");
    // Each allocation after the answer in turn, until one beyond the call.
    for (arm_at = 1; arm_at <= 200; ++arm_at) {
      std::optional<st::LMResponse> reply;
      EXPECT_NO_THROW(reply = lm.generate("go")) << "allocation " << arm_at << " after the answer failed";
      const bool beyond_the_call = fail_allocation != 0;
      fail_allocation = 0;
      ASSERT_TRUE(reply.has_value());
      EXPECT_EQ(reply->text, "a long enough answer to live on the heap");
      if (beyond_the_call) break;
      ++failed_before_the_end;
    }
  }
  ASSERT_GT(failed_before_the_end, 0u);
  ASSERT_LT(arm_at, 200u) << "the call makes fewer than 200 allocations after the answer";
  // Every failure lost (or cut short) one event, and was counted.
  EXPECT_EQ(tracer.stats().records_failed, failed_before_the_end);
}
