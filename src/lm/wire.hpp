// The providers' wire formats for the LM client: request bodies, answers, streamed events and
// error messages. Internal.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/client.hpp"
#include "synth/tracing/lm.hpp"

namespace synth::tracing::lm_detail {

/// What a call sends, resolved from the LM's and the call's settings.
struct CallSpec {
  std::string_view model;
  const std::vector<Message>& messages;
  const GenerateOptions& options;  // temperature, max_tokens, top_p already resolved into it
  bool stream = false;
  /// OpenAI proper wants max_completion_tokens; compatible servers max_tokens.
  bool max_completion_tokens = false;
  /// With `stream`: ask for usage with stream_options (only servers known to accept it).
  bool stream_usage = false;
};

/// Receives text deltas of a stream.
using OnText = std::function<void(std::string_view)>;

/// Accumulates a streamed answer from its server-sent events.
class StreamAccumulator {
 public:
  virtual ~StreamAccumulator() = default;
  /// One event (`name` is the SSE "event:" field, often empty). Calls `on_text` with text deltas;
  /// returns true when a text or tool-call delta arrived. Throws LMResponseError on bad data.
  virtual bool on_event(std::string_view name, std::string_view data, const OnText& on_text) = 0;
  /// The complete answer; throws LMResponseError when the stream did not finish.
  virtual LMResponse finish() = 0;
};

// Request bodies (JSON text).
std::string openai_body(const CallSpec& spec);
std::string anthropic_body(const CallSpec& spec);
std::string gemini_body(const CallSpec& spec);

// Complete (non-streamed) answers; throw LMResponseError on a malformed one.
LMResponse openai_parse(std::string_view body, std::string_view provider);
LMResponse anthropic_parse(std::string_view body, std::string_view provider);
LMResponse gemini_parse(std::string_view body, std::string_view provider);

std::unique_ptr<StreamAccumulator> openai_stream(std::string provider);
std::unique_ptr<StreamAccumulator> anthropic_stream(std::string provider);
std::unique_ptr<StreamAccumulator> gemini_stream(std::string provider);

/// The server's explanation in an error answer (`error.message` in all three formats), else the
/// body itself, shortened.
std::string error_message(std::string_view body);

/// Splits a byte stream into server-sent events.
class SseParser {
 public:
  using OnEvent = std::function<void(std::string_view name, std::string_view data)>;
  /// Feeds bytes; calls `on_event` for each complete event.
  void feed(std::string_view bytes, const OnEvent& on_event);

 private:
  void line(std::string_view text, const OnEvent& on_event);

  std::string buffer_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

/// Reads JSON text, turning errors into LMResponseError.
Value parse_json(std::string_view text, std::string_view provider);

/// A string member's text, "" when absent or not a string.
inline std::string text_of(const Value& v) { return v.is_string() ? v.as_string() : std::string(); }
/// A number as an integer, 0 when absent or not a number. Clamped to +-2^53 (exact as a double),
/// so that whatever a server sends (1e300, 2^64 - 1) converts, and sums of a few such counts
/// (input + cached + cache writes, a call's total) cannot overflow.
inline std::int64_t int_of(const Value& v) {
  constexpr std::int64_t kLimit = std::int64_t{1} << 53;
  if (v.kind() == Value::Kind::integer) return std::clamp(v.as_int(), -kLimit, kLimit);
  if (!v.is_number()) return 0;
  const double d = v.as_double();
  if (std::isnan(d)) return 0;
  return static_cast<std::int64_t>(std::clamp(d, -static_cast<double>(kLimit), static_cast<double>(kLimit)));
}
/// Strings as a JSON array (stop sequences).
Value string_array(const std::vector<std::string>& strings);
/// A tool's JSON schema for its parameters; an empty object schema when it declares none.
Value parameters_schema(const Tool& tool);
/// A tool call's JSON arguments as a value (an object when they are not valid JSON: {"_raw": text}).
Value arguments_value(std::string_view arguments);

}  // namespace synth::tracing::lm_detail
