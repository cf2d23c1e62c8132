// Errors raised by synth-tracing, and where its background threads report problems.
#pragma once

#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace synth::tracing {

/// Base class of every exception synth-tracing throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Misuse of the tracing API: an event without a session, a second session on one thread, ...
class TracingError : public Error {
 public:
  using Error::Error;
};

/// A JSON value was read as the wrong kind (`as_string()` on a number, ...).
class ValueTypeError : public Error {
 public:
  using Error::Error;
};

/// Malformed or unreadable trace JSON. `what()` names the source, the position and the problem.
class TraceFormatError : public Error {
 public:
  /// `source` is a file name or "<string>"; `offset` is a byte offset into it.
  TraceFormatError(std::string source, std::uint64_t offset, std::uint64_t line, std::uint64_t column,
                   std::string problem);

  const std::string& source() const noexcept { return source_; }
  std::uint64_t offset() const noexcept { return offset_; }
  /// 1-based line and column of `offset` (0 when unknown, e.g. a file that could not be opened).
  std::uint64_t line() const noexcept { return line_; }
  std::uint64_t column() const noexcept { return column_; }
  /// The problem alone, without the position.
  const std::string& problem() const noexcept { return problem_; }

 private:
  std::string source_;
  std::uint64_t offset_;
  std::uint64_t line_;
  std::uint64_t column_;
  std::string problem_;
};

/// Receives problems found off the agent's thread (a sink that failed, a hook that threw, dropped
/// data), with API keys, tokens, URL credentials and registered secrets already masked. The
/// default handler writes one line to stderr. The handler must be thread-safe.
using DiagnosticHandler = std::function<void(std::string_view message)>;

/// Replaces the diagnostic handler; an empty function restores the default.
void set_diagnostic_handler(DiagnosticHandler handler);

}  // namespace synth::tracing
