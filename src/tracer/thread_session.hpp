// Internal: the session this thread records into, for the tracer's API (tracer.cpp) and its
// recording calls (recording.cpp), and what happens when there is none.
#pragma once

#include <string>

#include "tracer/state.hpp"

namespace synth::tracing::detail {

// Thrown instead of TracingError when this thread's session was ended from outside
// (end_all_sessions, a termination signal): the thread did nothing wrong, so what it still records
// there is counted as lost (records_failed), never thrown at it.
struct EndedFromOutside {};

[[noreturn]] inline void no_session(const TracerCore& core, const char* call) {
  if (const Context* c = ContextAccess::find(&core); c != nullptr && ContextAccess::session(*c)->ended_from_outside.load(std::memory_order_relaxed)) {
    throw EndedFromOutside{};
  }
  throw TracingError(std::string(call) +
                     ": this thread has no active session of this tracer; start one with "
                     "tracer.start_session(...) or attach a context with ContextScope");
}

inline void count_ended_from_outside(TracerCore& core, const char* call) noexcept {
  count_failed_record(core, [&] {
    return std::string(call) + ": the session was ended by end_all_sessions() or a termination signal; the record is dropped";
  });
}

// This thread's live context of `core`, or nullptr (a context of an ended session counts as none).
inline Context* live_context(const TracerCore* core) noexcept {
  Context* c = ContextAccess::find(core);
  if (c == nullptr || ContextAccess::session(*c)->ended.load(std::memory_order_acquire)) return nullptr;
  return c;
}

}  // namespace synth::tracing::detail
