// Internal: OTLP spans as our sessions, timesteps and events, by the mapping table of
// docs/collector-and-viewer.md §7 (first key present wins). Our own `synth.*` attributes (what
// src/otel and the server's OTLP export write) come back as the events they were made from;
// GenAI conventions, OpenInference and OpenLLMetry keys become LLM calls; other spans (HTTP, DB)
// runtime events, so the tree stays connected.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <mutex>
#include <unordered_map>
#include <unordered_set>
#include <optional>
#include <string>
#include <vector>

#include "duckdb/placement.hpp"
#include "server/otlp_decode.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::server {

/// What identifies a span: FNV-1a 64 of its trace id and of its span id (the hex text the
/// decoders give). Stable across builds and runs: table otlp_spans keeps them.
struct SpanKey {
  std::uint64_t trace = 0;
  std::uint64_t span = 0;
  friend bool operator==(const SpanKey&, const SpanKey&) = default;
};
SpanKey span_key_of(std::string_view trace_id, std::string_view span_id) noexcept;
struct SpanKeyHash {
  std::size_t operator()(const SpanKey& k) const noexcept { return k.trace * 0x9E3779B97F4A7C15ULL ^ k.span; }
};

/// Which span each item of a mapped session came from, so that the writer can leave out the
/// items of spans it stored before (StoredSpans: an SDK retrying an export).
struct SpanOrigins {
  std::vector<SpanKey> keys;            ///< per span of the session
  std::vector<std::int32_t> steps;      ///< per span: its timestep's index in session_time_steps, -1: none
  std::vector<std::uint32_t> events;    ///< per event of event_history: its span's index in `keys`
  std::vector<std::uint32_t> messages;  ///< per message of message_history: its span's index
  /// The session's timesteps hold no copies of its items (TimestepCopies::left_out): each item
  /// is only in the history, in the timestep of its span (`steps`).
  bool copies_left_out = false;
};

/// Whether map_otlp_spans copies each item into its timestep besides its history (the shape of
/// SessionTrace that its JSON and its readers expect), or leaves the timesteps' items out, placed
/// by the session's SpanOrigins alone: the server's writer stores them from the history
/// (item_steps), sparing the copies and the store's pairing of them by deep comparison, and
/// fill_timesteps() makes the copies where the full shape is read.
enum class TimestepCopies : std::uint8_t { made, left_out };

/// Where each history item of a session whose timestep copies were left out goes, for the store
/// (StoreAccess::batch_append); nullopt when its timesteps hold their copies.
std::optional<detail::duck::ItemSteps> item_steps(const SpanOrigins& origins);

/// Copies each history item into its timestep, in history order, when they were left out: the
/// session then has the shape map_otlp_spans gives with TimestepCopies::made.
void fill_timesteps(SessionTrace& trace, SpanOrigins& origins);

/// The sessions of one request: each holds the part of its session that the request carried,
/// to be merged into what is stored (OnExistingSession::merge), so spans of a session that
/// arrive in several requests, in any order, end up in one session.
struct OtlpMapped {
  std::vector<SessionTrace> sessions;
  /// Per session of `sessions`: named after its trace id for want of a session id (a later span
  /// of the trace may name the session; TraceSessions).
  std::vector<bool> unnamed;
  /// Per session of `sessions` (spans only): holds a root span of its trace (no parent).
  std::vector<bool> rooted;
  /// {trace id, session id}: traces whose spans earlier requests stored under the trace id and
  /// that a span of this request named; that session is among `sessions`, and what was stored
  /// under the trace id is to be moved into it.
  std::vector<std::pair<std::string, std::string>> named;
  /// Per session of `sessions` (when the spans came in a body): what it counts against the
  /// ingest queue's byte bound, the body's size shared by the sessions' spans (serializing each
  /// session as JSON to count its bytes cost more than a tenth of the ingest). Shorter than
  /// `sessions` (or empty): the others count their JSON size.
  std::vector<std::size_t> bytes;
  /// Per session of `sessions` (spans only, not log records): where its items came from.
  std::vector<SpanOrigins> origins;
  std::uint64_t spans = 0;           ///< spans mapped
  std::uint64_t duplicate_spans = 0;  ///< spans left out: the same trace and span id came earlier in the request
  std::uint64_t rejected_spans = 0;  ///< spans that could not be mapped (no ids)
  std::string error_message;         ///< why, for the first of them
};

/// How many traces the server remembers the session of (TraceSessions), and the writer the
/// renames of (StoreWriter).
inline constexpr std::size_t kRememberedTraces = 100000;

/// The sessions of recent traces, learned from the spans that named one: SDKs export each span
/// as it ends (children first), and only some spans of a trace carry the session id, so a span
/// without one takes its trace's session from an earlier request. Bounded: the oldest traces
/// are forgotten first. Thread-safe.
class TraceSessions {
 public:
  explicit TraceSessions(std::size_t capacity = kRememberedTraces) : capacity_(capacity) {}
  /// The session a span of the trace named, if any.
  std::optional<std::string> find(const std::string& trace_id);
  /// find(); when no span named one, notes that the trace's spans go to a session named after
  /// the trace id (one test and set, so that a span naming the session meanwhile either comes
  /// first and is returned, or finds the note in take_unnamed()).
  std::optional<std::string> find_or_note_unnamed(const std::string& trace_id);
  void remember(const std::string& trace_id, const std::string& session_id);
  /// True (once) when spans of the trace went to a session named after the trace id.
  bool take_unnamed(const std::string& trace_id);
  /// Undoes take_unnamed() (the request that took it was not queued).
  void restore_unnamed(const std::string& trace_id);

 private:
  void remember_order(const std::string& trace_id);  // under mutex_: bounds both maps

  std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::string> sessions_;
  std::unordered_set<std::string> unnamed_;
  std::deque<std::string> order_;
};

/// The session id `attributes` name (a span's, a log record's or a resource's): the first
/// session key of the mapping table present and not null (a non-string value as its JSON text).
std::optional<std::string> session_key(const Value& attributes);
/// True for an attribute that may name a span's session (session_key() reads them).
bool is_session_key(std::string_view name) noexcept;
/// The session id each span of a request names itself (its attributes' first session key), in
/// the order of `traces.spans`; and that of one span.
using OwnSessions = std::vector<std::optional<std::string>>;
OwnSessions own_sessions(const OtlpTraces& traces);
std::optional<std::string> own_session(const OtlpSpan& span);
/// The session of each trace of a request that one of its spans names (the root's wins); `own`:
/// own_sessions(traces), read already.
std::unordered_map<std::string, std::string> sessions_of_traces(const OtlpTraces& traces);
std::unordered_map<std::string, std::string> sessions_of_traces(const OtlpTraces& traces, const OwnSessions& own);
/// Remembers them in `memory`.
void remember_sessions(const std::unordered_map<std::string, std::string>& sessions, TraceSessions& memory);

/// Maps the spans of a request. A span with no session id of its own takes its trace's: from
/// the request's other spans, else from `memory` (when given), else its resource's, else the
/// trace id. A span whose trace and span id came earlier in the request is left out (counted
/// in duplicate_spans). Takes the spans' messages (OtlpSpan::messages) into their events rather
/// than copying them. `own`: own_sessions(traces) when the caller read them already (each read
/// looks up a span's attributes), else empty. Never throws for any content of `traces` but
/// std::bad_alloc.
OtlpMapped map_otlp_spans(OtlpTraces&& traces, TraceSessions* memory = nullptr,
                          TimestepCopies copies = TimestepCopies::made, OwnSessions own = {});

/// GenAI content sent as log records (event name `gen_ai.*`: `gen_ai.user.message`,
/// `gen_ai.choice`, `gen_ai.client.inference.operation.details`, ...) as messages of the
/// session of their trace (found as for a span), in the timestep of their trace: message type
/// the event name, content {"body", "span_id", "attributes"}. Other log records are dropped
/// (not counted rejected); a GenAI one with neither a trace id nor a session id is rejected.
/// For the records that cannot join their span's event (see LogHold and fold_logs_into_span).
OtlpMapped map_otlp_logs(const OtlpLogs& logs, TraceSessions* memory = nullptr);

/// Folds the GenAI log records of one span into it, as an instrumentation that puts the content
/// on its spans would have: `gen_ai.{system,user,assistant,tool}.message` into
/// `gen_ai.input.messages`, `gen_ai.choice` into `gen_ai.output.messages` (and the finish
/// reason), `gen_ai.client.inference.operation.details`'s attributes as the span's own; only
/// where the span has no content of its own. A record not folded (other events, or content the
/// span already has) becomes a span event (kept in the event's `metadata.span_events`, its body
/// as the attribute "body"). Records are taken in time order.
void fold_logs_into_span(OtlpSpan& span, std::vector<OtlpLog> logs);

namespace otlp {

/// The attributes of a span that the mapping reads, found in one pass over them: looking each
/// key up scanned them all, some fifty times per LLM span. Points into the attributes: valid
/// while they are not changed.
class KnownAttributes {
 public:
  /// The keys, in the order of their names (kKnownKeys, otlp_known.cpp).
  enum Key : std::uint8_t {
    synth_kind, synth_step_id, synth_turn, synth_system_id, synth_total_tokens,
    synth_cost_usd, synth_reward, synth_terminated, synth_truncated, synth_success,
    openinference_span_kind, traceloop_span_kind, gen_ai_operation_name, gen_ai_tool_name, tool_name,
    gen_ai_response_model, gen_ai_request_model, llm_model_name, llm_request_model_name, llm_response_model_name,
    ai_model_id, gen_ai_agent_name, error_type, gen_ai_response_time_to_first_chunk,
    gen_ai_provider_name, gen_ai_system, llm_provider, llm_system,
    gen_ai_usage_input_tokens, llm_token_count_prompt, gen_ai_usage_prompt_tokens, llm_usage_prompt_tokens,
    gen_ai_usage_output_tokens, llm_token_count_completion, gen_ai_usage_completion_tokens, llm_usage_completion_tokens,
    llm_token_count_total, llm_usage_total_tokens, gen_ai_usage_total_tokens,
    gen_ai_usage_cache_read_input_tokens, gen_ai_usage_cache_read_input_tokens_flat, llm_token_count_cache_read,
    gen_ai_usage_cache_creation_input_tokens, gen_ai_usage_cache_creation_input_tokens_flat, llm_token_count_cache_write,
    gen_ai_usage_reasoning_output_tokens, llm_token_count_reasoning, llm_cost_total, gen_ai_usage_cost,
    llm_invocation_parameters, gen_ai_request_temperature, gen_ai_request_max_tokens, gen_ai_request_top_p,
    gen_ai_request_top_k, gen_ai_request_seed, gen_ai_request_stream, gen_ai_request_stop_sequences,
    input_value, traceloop_entity_input, output_value, traceloop_entity_output, gen_ai_response_finish_reasons,
    gen_ai_response_id, gen_ai_tool_call_id, tool_id, gen_ai_tool_call_arguments, tool_parameters,
    gen_ai_tool_call_result, gen_ai_input_messages, gen_ai_system_instructions, llm_input_messages, gen_ai_prompt,
    gen_ai_output_messages, llm_output_messages, gen_ai_completion,
    kCount
  };

  explicit KnownAttributes(const Value& attributes);
  /// The attribute name of `key`.
  static std::string_view name(Key key) noexcept;

  /// The attribute, or nullptr.
  const Value* operator[](Key key) const noexcept { return found_[key]; }
  /// The first of `keys` present and not null, else nullptr (first key present wins).
  const Value* first_of(std::initializer_list<Key> keys) const noexcept {
    for (const Key key : keys) {
      if (const Value* v = found_[key]; v != nullptr && !v->is_null()) return v;
    }
    return nullptr;
  }
  /// True when an attribute is named "<the key>.<more>", a list flattened into indexed keys
  /// (`key` one of the message lists: gen_ai_input_messages ... gen_ai_completion).
  bool flattened(Key key) const noexcept { return (flattened_ >> (key - gen_ai_input_messages)) & 1U; }
  /// How many attributes are none of the keys, nor part of a flattened message list.
  std::size_t unknown() const noexcept { return unknown_; }
  /// True for a key's name, or an attribute of a flattened message list.
  static bool is_known(std::string_view name) noexcept;

 private:
  std::array<const Value*, kCount> found_{};
  std::uint8_t flattened_ = 0;
  std::size_t unknown_ = 0;
};

/// A span's input (output) messages from its attributes, by the mapping table's order of keys,
/// each {role, content, ...}; null when it has none.
Value input_messages(const Value& attributes);
Value output_messages(const Value& attributes);

/// The span's input_messages() and output_messages(), read on the first call and kept in
/// `span.messages`; `known`: KnownAttributes of its attributes, when made already.
const OtlpMessages& read_messages(OtlpSpan& span);
const OtlpMessages& read_messages(OtlpSpan& span, const KnownAttributes& known);

/// True for a span that becomes an LLM call event and is none of ours (`synth.*`); `known`:
/// KnownAttributes of its attributes.
bool is_foreign_llm_call(const OtlpSpan& span);
bool is_foreign_llm_call(const KnownAttributes& known);

/// The event of a span that is neither our session nor our timestep span; an LLM call takes the
/// span's messages (read_messages) out of it.
Event span_to_event(OtlpSpan& span, const Value& resource);

/// Our directly recorded events and messages, exported as span events named
/// "synth.event.<kind>" and "synth.message": nullopt for other span events. Their payloads are
/// moved out of the span event's attributes.
std::optional<Event> synth_span_event(OtlpEvent& event);
std::optional<SessionEventMessage> synth_span_message(OtlpEvent& event);

/// Unix nanoseconds as a Timestamp.
Timestamp timestamp_of(std::uint64_t unix_nano);

}  // namespace otlp

}  // namespace synth::tracing::server
