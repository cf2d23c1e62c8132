// Internal: LLM call spans that carry no content waiting, briefly, for their GenAI log records.
// An instrumentation that sends the content as logs may export them just after the spans (an SDK
// flushing its tracer provider first); an event is stored once, so the call waits for them here
// (LogHold holds the records that come meanwhile), then leaves with whatever arrived.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "server/otlp_decode.hpp"

namespace synth::tracing::server {

/// One held span, with the attributes of the resource that sent it.
struct HeldSpan {
  OtlpSpan span;
  Value resource = Value::object();
  std::chrono::steady_clock::time_point due;
  std::int64_t pending_id = 0;        ///< its otlp_pending row (pending.hpp); 0: none
  std::int64_t received_unix_ms = 0;  ///< when it came (its wait outlives a restart)
  std::string session;                ///< its trace's session when it came, if known
};

/// The held spans, oldest first. Thread-safe.
class SpanHold {
 public:
  using Clock = std::chrono::steady_clock;

  /// `timeout` 0 or `max_spans` 0 holds nothing.
  SpanHold(std::chrono::milliseconds timeout, std::size_t max_spans) : timeout_(timeout), max_spans_(max_spans) {}

  /// True when spans may be held.
  bool enabled() const noexcept { return timeout_.count() > 0 && max_spans_ > 0; }
  /// Holds `spans` (each with its resource) until now + timeout. Past `max_spans`, the oldest
  /// become due at once rather than a span being refused.
  void hold(std::vector<HeldSpan> spans);
  /// Takes the spans due at `now` (all of them with Clock::time_point::max()).
  std::vector<HeldSpan> take_due(Clock::time_point now);
  /// Puts taken spans back first (their store failed), keeping their due time.
  void restore(std::vector<HeldSpan> spans);
  /// Spans held now.
  std::size_t size() const;

 private:
  const std::chrono::milliseconds timeout_;
  const std::size_t max_spans_;
  mutable std::mutex mutex_;
  std::deque<HeldSpan> held_;
  std::size_t overflow_ = 0;  // how many of the oldest are due at once
};

}  // namespace synth::tracing::server
