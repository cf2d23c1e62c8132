#include "synth/tracing/error.hpp"

#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>

#include "diagnostics.hpp"
#include "secrets/secrets.hpp"

namespace synth::tracing {

namespace {
std::string describe(const std::string& source, std::uint64_t offset, std::uint64_t line, std::uint64_t column,
                     const std::string& problem) {
  std::string out = source;
  if (line > 0) {
    out += ':' + std::to_string(line) + ':' + std::to_string(column) + " (byte " + std::to_string(offset) + ')';
  }
  out += ": ";
  out += problem;
  return out;
}

std::mutex& handler_mutex() {
  static std::mutex m;
  return m;
}
// Held by shared_ptr so a report in flight keeps its handler alive while another is installed.
std::shared_ptr<const DiagnosticHandler>& handler_slot() {
  static std::shared_ptr<const DiagnosticHandler> h;
  return h;
}
}  // namespace

TraceFormatError::TraceFormatError(std::string source, std::uint64_t offset, std::uint64_t line,
                                   std::uint64_t column, std::string problem)
    : Error(describe(source, offset, line, column, problem)),
      source_(std::move(source)),
      offset_(offset),
      line_(line),
      column_(column),
      problem_(std::move(problem)) {}

void set_diagnostic_handler(DiagnosticHandler handler) {
  std::lock_guard lock(handler_mutex());
  handler_slot() = handler ? std::make_shared<const DiagnosticHandler>(std::move(handler)) : nullptr;
}

namespace detail {
void report(std::string_view raw_message) noexcept {
  // Credentials never reach a log line, whoever wrote the message.
  std::string redacted;
  try {
    redacted = redact_credentials(raw_message);
  } catch (...) {
    redacted = "a diagnostic that could not be checked for credentials was withheld";
  }
  const std::string_view message = redacted;
  std::shared_ptr<const DiagnosticHandler> handler;
  {
    std::lock_guard lock(handler_mutex());
    handler = handler_slot();
  }
  try {
    if (handler) {
      (*handler)(message);
      return;
    }
  } catch (...) {
    // A failing handler must not take the program down; fall back to stderr.
  }
  std::fprintf(stderr, "[synth-tracing] %.*s\n", static_cast<int>(message.size()), message.data());
}

std::string current_exception_text() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

std::string type_name(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> demangled(abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), std::free);
  return status == 0 && demangled ? std::string(demangled.get()) : std::string(type.name());
}
}  // namespace detail

}  // namespace synth::tracing
