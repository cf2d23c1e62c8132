// The background thread every tracer component runs on (src/worker_thread.hpp).
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>

#include "support.hpp"
#include "worker_thread.hpp"

namespace st = synth::tracing;

// An exception leaving a background thread would end the program (std::terminate): the thread
// ends instead, and says which it was.
TEST(WorkerThread, AnExceptionLeavingTheBodyEndsTheThreadNotTheProgram) {
  st::testing::CapturedDiagnostics diagnostics;
  st::detail::WorkerThread thread("synth-test", [] { throw std::runtime_error("out of something"); });
  ASSERT_TRUE(thread.finish(std::chrono::steady_clock::now() + std::chrono::seconds(10)));
  const auto messages = diagnostics.all();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_NE(messages[0].find("synth-test"), std::string::npos) << messages[0];
  EXPECT_NE(messages[0].find("out of something"), std::string::npos) << messages[0];
}
