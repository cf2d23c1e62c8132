// Internal: the OTLP spans the writer stored, so that a span sent again is stored once. An SDK
// exports a request again when it got no answer in time (a timeout, a reset connection), although
// the server may have committed it already; the same span also comes again in a later request of
// the same open batch, or after a restart. Spans are identified by (trace id, span id).
//
// The writer remembers the spans of recent sessions in memory (bounded), and keeps every stored
// span in table otlp_spans (written in the commit that stores it). A session first stored in this
// run is known whole from memory: nothing is looked up. Only a session stored before (an earlier
// run, or forgotten by the bounded memory) looks up the spans of the part's traces in otlp_spans,
// once per trace, so the cost of a lookup stays off the usual path.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/otlp_map.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth::tracing::server {

/// How many spans the writer remembers (their sessions' entries go whole, the oldest first).
inline constexpr std::size_t kRememberedSpans = 200000;

/// Leaves out of `trace` (a mapped session part) the items of the spans marked in `drop`, and the
/// timesteps only those spans were in; `origins` is kept in step with it (the dropped spans go).
void drop_spans(SessionTrace& trace, SpanOrigins& origins, const std::vector<bool>& drop);

/// The writer's record of stored spans. Used on the writer's thread only.
class StoredSpans {
 public:
  explicit StoredSpans(std::size_t capacity = kRememberedSpans) : capacity_(capacity) {}

  /// Which spans of `origins` (a part of session `session_id`) are stored already, committed or
  /// in the open batch. `new_session`: the session is known not to be stored (nothing to look
  /// up). May run a query in the open batch (a failure rolls it back and throws).
  std::vector<bool> stored(DuckDBTraceManager& store, const std::string& session_id, const SpanOrigins& origins,
                           bool new_session);
  /// Notes the spans of `origins` as stored in session `session_id` (the part was appended):
  /// remembered, and written to otlp_spans by write().
  void note(const std::string& session_id, const SpanOrigins& origins);
  /// The writer moved session `from` into `to` (`to_new`: `to` was not stored before).
  void moved(const std::string& from, const std::string& to, bool to_new);
  /// Writes the spans noted since the last write to otlp_spans, in the open batch (before its
  /// commit). A failure rolls the batch back and throws.
  void write(DuckDBTraceManager& store);
  /// The open batch was rolled back: what was noted since the last commit is not stored, and
  /// what is remembered may be wrong; all of it is forgotten (stored sessions are looked up again).
  void forget();

 private:
  struct Session {
    std::unordered_set<SpanKey, SpanKeyHash> keys;
    std::unordered_set<std::uint64_t> traces;  // traces looked up in otlp_spans
    bool complete = false;                   // every stored span of the session is in `keys`
    std::uint64_t generation = 0;            // its entry in order_
  };
  Session& entry(const std::string& session_id, bool complete);
  void evict();

  std::size_t capacity_;
  std::unordered_map<std::string, Session> sessions_;
  std::deque<std::pair<std::string, std::uint64_t>> order_;  // sessions by when their entry was made
  std::uint64_t next_generation_ = 0;
  std::size_t remembered_ = 0;  // keys and traces in sessions_
  std::vector<std::array<std::int64_t, 2>> unwritten_;  // otlp_spans rows
};

}  // namespace synth::tracing::server
