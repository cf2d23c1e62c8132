// What the instrumentation tests share (instrument_test.cpp, instrument_wrappers_test.cpp): a
// body recorded in a session, and an event's metadata.
#pragma once

#include <functional>
#include <memory>

#include "synth/tracing.hpp"

namespace instrument_fixture {

namespace st = synth::tracing;
using st::SessionTracer;
using st::TracingConfig;
using st::Value;

// Records the body in session "s" and returns the finished trace.
inline std::shared_ptr<const st::SessionTrace> in_session(SessionTracer& tracer, const std::function<void()>& body) {
  {
    auto session = tracer.start_session("s");
    auto step = tracer.timestep(3);
    body();
  }
  return tracer.get_session_trace("s");
}

inline const Value& md(const st::Event& e) { return st::metadata(e); }

}  // namespace instrument_fixture
