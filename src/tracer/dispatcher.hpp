// Internal: the trace the tracer's sink thread is handing its sinks, shared, so that a sink
// keeping sessions after write() returns (DuckDBSink, until its commit) can hold the tracer's
// own trace instead of copying it. Sinks keep their one entry point, write(const SessionTrace&):
// a subclass overriding it still sees every session.
#pragma once

#include <memory>

#include "synth/tracing/model.hpp"

namespace synth::tracing::detail {

/// The tracer's own shared trace when `trace` is the one this thread's sink thread is giving to
/// its sinks right now; null otherwise (a sink's write() called by anyone else).
std::shared_ptr<const SessionTrace> shared_if_delivered(const SessionTrace& trace) noexcept;

/// While it lives, `trace` is the one this thread is giving to its sinks.
class DeliveringTrace {
 public:
  explicit DeliveringTrace(const std::shared_ptr<const SessionTrace>& trace) noexcept;
  ~DeliveringTrace();
  DeliveringTrace(const DeliveringTrace&) = delete;
  DeliveringTrace& operator=(const DeliveringTrace&) = delete;

 private:
  const std::shared_ptr<const SessionTrace>* previous_;
};

}  // namespace synth::tracing::detail
