// Internal: GenAI log records (prompt and completion content) waiting for the spans of their
// trace. SDKs export logs and spans separately (logs usually first: the log processor's default
// delay is 1 s, the span processor's 5 s), and a record belongs to its span's LLM call event,
// which only exists once the span arrives. So records whose span has not been seen are held,
// bounded in time and memory, and leave with their span (folded into its event) or, on timeout,
// overflow or shutdown, as messages of their trace's session (nothing is lost). Each held record
// is also kept in the database file (its PendingRow), so a restarted server holds it again.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "server/otlp_decode.hpp"
#include "server/otlp_map.hpp"
#include "server/pending.hpp"
#include "server/recent_map.hpp"
#include "server/recent_span_keys.hpp"

namespace synth::tracing::server {

/// One held log record, with the attributes of the resource that sent it.
struct HeldLog {
  OtlpLog log;
  Value resource = Value::object();
  std::chrono::steady_clock::time_point due;  ///< when it is stored without its span
  std::size_t bytes = 0;                      ///< what it counts against the byte bound
  std::uint64_t seq = 0;                      ///< arrival order
  std::int64_t pending_id = 0;                ///< its otlp_pending row (pending.hpp); 0: none
  std::int64_t received_unix_ms = 0;          ///< when it came (its wait outlives a restart)
  std::string session;                        ///< its trace's session when it came, if known
};

/// The held records, and the recent records admitted (a record sent again, by an SDK retrying an
/// export, is left out: a record is identified by its trace and span ids, event name, time,
/// body and attributes). Thread-safe; every method is all-or-nothing under one lock, so a record
/// and its span arriving at the same time on two connections cannot miss each other.
class LogHold {
 public:
  using Clock = std::chrono::steady_clock;

  /// `timeout` 0 or `max_logs` 0 holds nothing (every record is stored as it comes).
  /// `span_memory`: how many recent spans are remembered as seen, and records as admitted.
  LogHold(std::chrono::milliseconds timeout, std::size_t max_bytes, std::size_t max_logs,
          std::size_t span_memory = 100000);

  /// What take_in() did with a request's records.
  struct Intake {
    std::vector<HeldLog> now;        ///< to store now: the request's, and older ones let go to stay in bounds
    std::vector<std::uint64_t> held;  ///< the request's records now held
    std::size_t genai = 0;            ///< GenAI records in the request (others are dropped)
    std::uint64_t first_seq = 0;      ///< the request's first record: older ones are others'
    std::vector<PendingRow> put;      ///< the rows of the request's records now held
    std::vector<std::int64_t> drop;   ///< the rows of older records let go
    std::size_t duplicates = 0;       ///< GenAI records left out: admitted before
    std::vector<std::string> admitted;  ///< the request's records remembered as admitted
    std::vector<std::string> admitted_now;  ///< those of them among `now`
  };
  /// Holds the GenAI records of `logs` whose span has not been seen yet (a record without a span
  /// id: whose trace's session is not known yet); the others, and those without a trace id, are
  /// to be stored now. Each record held gets a row id from `ids` (when given).
  Intake take_in(const OtlpLogs& logs, TraceSessions* memory, PendingIds* ids, std::int64_t received_unix_ms);
  /// Takes back an intake whose records could not be queued: the request's held records leave
  /// the hold (the client sends them again), the ones it let go come back.
  void undo(Intake& intake);
  /// Forgets that the request's records stored now were admitted (their commit failed: the
  /// client sends them again). Held ones stay held, and admitted.
  void forget_stored_now(const Intake& intake);

  /// Marks the spans of `traces` as seen and takes the held records that belong to them: those
  /// of a span in `traces`, and those without a span id of a trace in `traces`. Records of a
  /// span still to come stay. Nothing at all when the hold is off (timeout or max_logs 0).
  /// With `may_wait` (one flag per span) and `waiting`: a span that has no held record and may
  /// wait is not marked seen (it is to wait for its records in a SpanHold); its index goes to
  /// `waiting`.
  std::vector<HeldLog> take_for(const OtlpTraces& traces, const std::vector<bool>* may_wait = nullptr,
                                std::vector<std::size_t>* waiting = nullptr);
  /// Takes the records due at `now` (all of them with Clock::time_point::max()).
  std::vector<HeldLog> take_due(Clock::time_point now);
  /// Puts taken records back (their store failed), keeping their order and due time.
  void restore(std::vector<HeldLog> logs);
  /// Adds records read back from the database when the server starts (restore_pending), in
  /// arrival order, with their due times.
  void add_restored(std::vector<HeldLog> logs);

  /// Records held now, and their size.
  std::size_t size() const;
  std::size_t bytes() const;

 private:
  void insert(HeldLog log);               // mutex_ held
  HeldLog remove(std::uint64_t seq);      // mutex_ held

  const std::chrono::milliseconds timeout_;
  const std::size_t max_bytes_;
  const std::size_t max_logs_;
  mutable std::mutex mutex_;
  std::map<std::uint64_t, HeldLog> held_;  // by seq: the oldest first
  std::unordered_map<std::string, std::set<std::uint64_t>> by_trace_;
  std::size_t bytes_ = 0;
  std::uint64_t next_seq_ = 0;
  RecentSpanKeys seen_;  // recent spans (hashed ids: no string per span)
  RecentMap<std::string, bool> admitted_;  // record_key() of recent records
};

/// The records as an OtlpLogs (each with its resource).
OtlpLogs logs_of(const std::vector<HeldLog>& held);

}  // namespace synth::tracing::server
