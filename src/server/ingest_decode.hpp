// Internal: reading the body of POST /api/v1/sessions (already decompressed) into sessions.
// Callable on any bytes (the fuzz harness drives it): it throws only BodyError.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "synth/tracing/error.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::server {

/// How the sessions are laid out in a body.
enum class BodyFormat : std::uint8_t {
  json,    ///< one session object, or an array of them (Content-Type: application/json)
  ndjson,  ///< one session object per line (Content-Type: application/x-ndjson)
};

/// A body that holds no readable sessions: empty, not an object or array, an array not closed,
/// text after the value. `what()` says what and where (byte offset).
class BodyError : public Error {
 public:
  using Error::Error;
};

/// A session read from a body, with the size of its JSON text (what it counts against the ingest
/// queue's byte bound).
struct DecodedSession {
  SessionTrace trace;
  std::size_t bytes = 0;
  std::size_t index = 0;  ///< its place in the body (0-based element or line)
};

/// A session of a multi-session body that could not be read: where it was (0-based element or
/// line), its session_id when that could be found, and the reader's error.
struct RejectedSession {
  std::size_t index = 0;
  std::optional<std::string> session_id;
  std::string error;
};

struct DecodedBody {
  std::vector<DecodedSession> sessions;
  std::vector<RejectedSession> rejected;
};

/// Reads the sessions of a body in our trace JSON (any shape SessionTrace::from_json reads). In an
/// array or NDJSON a session that cannot be read is rejected alone; a body of one session that
/// cannot be read, or whose structure is broken, throws BodyError.
DecodedBody decode_sessions(std::string_view body, BodyFormat format);

}  // namespace synth::tracing::server
