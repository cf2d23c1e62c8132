// The trace data model: sessions, timesteps, events and messages, as value types.
// Field names follow the original Python synth-ai `session_tracer.py`, so traces move between
// the two unchanged.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "synth/tracing/json.hpp"

namespace synth::tracing {

/// Tokens of one call. `cached_tokens` and `cache_write_tokens` are parts of `prompt_tokens`
/// (read from / written to the provider's prompt cache); `reasoning_tokens` are part of
/// `completion_tokens`. Each token is priced once, at its own rate.
struct TokenUsage {
  std::int64_t prompt_tokens = 0;
  std::int64_t completion_tokens = 0;
  std::int64_t cached_tokens = 0;
  std::int64_t reasoning_tokens = 0;
  std::int64_t cache_write_tokens = 0;
};

/// Wall-clock time, nanoseconds since the Unix epoch (UTC). The epoch itself means "not set"
/// and is written to JSON as null.
using Timestamp = std::chrono::sys_time<std::chrono::nanoseconds>;

/// The current wall-clock time, truncated to microseconds (the precision JSON traces keep).
Timestamp now() noexcept;

/// ISO-8601 UTC text: "2025-01-01T10:00:01.123456Z" (nine fraction digits when the time has
/// sub-microsecond precision).
std::string format_timestamp(Timestamp t);

/// Parses ISO-8601 ("2025-01-01T10:00:01", optional fraction up to nanoseconds, optional "Z" or
/// "+hh:mm" offset; a time without an offset is taken as UTC) or a date alone. nullopt when invalid.
std::optional<Timestamp> parse_timestamp(std::string_view text) noexcept;

/// When something happened: the wall-clock time and the logical turn (`message_time`).
struct TimeRecord {
  Timestamp event_time{};
  std::int64_t message_time = 0;

  friend bool operator==(const TimeRecord&, const TimeRecord&) = default;
};

/// An AI / LLM call (Python: CAISEvent, LMCAISEvent). Token counts follow TokenUsage
/// (cost.hpp); absent counts mean the provider reported none, and such a call is not priced
/// (metadata.cost_status = "no_usage").
struct CAISEvent {
  /// Filled with (now, current turn) by the tracer when absent.
  std::optional<TimeRecord> time_record;
  std::string system_instance_id = "llm_agent";
  Value system_state_before;
  Value system_state_after;
  /// Raw provider call records, kept as given.
  std::vector<Value> llm_call_records;
  /// Hex ids of the OpenTelemetry span recording the same call, when there is one.
  std::optional<std::string> span_id;
  std::optional<std::string> trace_id;
  std::optional<std::string> model_name;
  std::optional<std::string> provider;
  std::optional<std::int64_t> prompt_tokens;
  std::optional<std::int64_t> completion_tokens;
  std::optional<std::int64_t> total_tokens;
  /// Subset of prompt_tokens served from the provider's prompt cache.
  std::optional<std::int64_t> cached_tokens;
  /// Subset of prompt_tokens written to the provider's prompt cache (Anthropic's
  /// cache_creation_input_tokens), priced at the cache-write rate.
  std::optional<std::int64_t> cache_write_tokens;
  /// Subset of completion_tokens spent on hidden reasoning.
  std::optional<std::int64_t> reasoning_tokens;
  /// Cost in US dollars.
  std::optional<double> cost;
  std::optional<double> latency_ms;
  /// Usually an object; null is written to JSON as {}.
  Value metadata = Value::object();
  /// Results of on_event hooks, in hook order.
  std::vector<Value> event_metadata;

  friend bool operator==(const CAISEvent&, const CAISEvent&) = default;
};

/// The original's name for an LLM call event; the same type here.
using LMCAISEvent = CAISEvent;

/// A step of an environment (Python: EnvironmentEvent).
struct EnvironmentEvent {
  std::optional<TimeRecord> time_record;
  std::string system_instance_id = "environment";
  Value system_state_before;
  Value system_state_after;
  std::optional<double> reward;
  std::optional<bool> terminated;
  std::optional<bool> truncated;
  Value observation_diff;
  Value metadata = Value::object();
  std::vector<Value> event_metadata;

  friend bool operator==(const EnvironmentEvent&, const EnvironmentEvent&) = default;
};

/// A runtime or tool operation (Python: RuntimeEvent).
struct RuntimeEvent {
  std::optional<TimeRecord> time_record;
  std::string system_instance_id = "runtime";
  Value system_state_before;
  Value system_state_after;
  /// The actions carried out, usually an array; null when not given.
  Value actions;
  Value metadata = Value::object();
  std::vector<Value> event_metadata;

  friend bool operator==(const RuntimeEvent&, const RuntimeEvent&) = default;
};

/// Any event.
using Event = std::variant<CAISEvent, EnvironmentEvent, RuntimeEvent>;

/// The kind of an event; written to JSON as "cais", "environment" or "runtime".
enum class EventType : std::uint8_t { cais, environment, runtime };

EventType event_type(const Event& event) noexcept;
std::string_view event_type_name(EventType type) noexcept;
/// Accepts our names and the original's class names ("CAISEvent", "LMCAISEvent", ...).
std::optional<EventType> parse_event_type(std::string_view name) noexcept;

/// Fields every event kind has.
const std::optional<TimeRecord>& time_record(const Event& event) noexcept;
std::optional<TimeRecord>& time_record(Event& event) noexcept;
const std::string& system_instance_id(const Event& event) noexcept;
const Value& metadata(const Event& event) noexcept;
Value& metadata(Event& event) noexcept;
const std::vector<Value>& event_metadata(const Event& event) noexcept;
std::vector<Value>& event_metadata(Event& event) noexcept;

/// The provider of an LLM call in synth-tracing's one vocabulary: "openai", "azure_openai",
/// "anthropic", "google", "groq", "deepseek", "mistral", "xai", "together", "openrouter",
/// "local" or "unknown". The endpoint (a base URL or host) decides when it names a known service
/// or a local server (localhost, private addresses); otherwise the model name does
/// ("claude-*" -> anthropic, "gpt-35-*" -> azure_openai, "router/model" prefixes, ...).
std::string detect_provider(std::string_view model_name, std::string_view endpoint = {});
/// A provider name as written by other tools ("OpenAI", "Azure", "gcp.gemini", "vllm", ...) in
/// the same vocabulary; names outside it are kept, lower-cased; empty is "unknown".
std::string normalize_provider(std::string_view provider);

/// A message between systems (an observation, an action, a prompt, ...).
struct SessionEventMessage {
  /// By convention {"origin_system_id": ..., "payload": ...}; any JSON value is accepted.
  Value content;
  std::string message_type = "unknown";
  /// Filled with now by the tracer when not set.
  Timestamp timestamp{};
  /// Filled with (now, current turn) by the tracer when absent.
  std::optional<TimeRecord> time_record;

  friend bool operator==(const SessionEventMessage&, const SessionEventMessage&) = default;
};

/// A message from `origin_system_id` carrying `payload`, stamped now at logical turn `turn`:
///
///     tracer.add_message(make_message("agent", {{"action", "move_north"}}, "action", turn));
SessionEventMessage make_message(std::string_view origin_system_id, Value payload, std::string message_type,
                                 std::int64_t turn);

/// One logical turn of a session.
struct SessionTimeStep {
  std::string step_id;
  /// Its place among the session's timesteps: as recorded, its position in
  /// SessionTrace::session_time_steps. A session stored from parts (OTLP spans in several
  /// requests) lists its timesteps in the order they came, and step_index keeps their order.
  /// Negative: not known to the producer (a turn's spans, over OTLP); the store then numbers the
  /// session's timesteps by their `timestamp`, then by arrival.
  std::int64_t step_index = 0;
  std::int64_t turn_number = 0;
  std::vector<Event> events;
  std::vector<SessionEventMessage> step_messages;
  Timestamp timestamp{};
  Value step_metadata = Value::object();

  friend bool operator==(const SessionTimeStep&, const SessionTimeStep&) = default;
};

/// A typed piece of session metadata (Python: SessionMetadum). Metadata given to
/// start_session() is stored as the entry of type "session_start".
struct SessionMetadataEntry {
  std::string metadata_type;
  Value data = Value::object();
  Timestamp timestamp{};

  friend bool operator==(const SessionMetadataEntry&, const SessionMetadataEntry&) = default;
};

/// Metadata type of the entry holding the metadata given when a session started.
inline constexpr std::string_view kSessionStartMetadata = "session_start";
/// Type of the session metadata entry saying how a session ended when it did not end normally:
/// {"status": "aborted", "reason": ...} (recovered after a crash, end_all_sessions, a signal).
inline constexpr std::string_view kSessionStatusMetadata = "session_status";

/// Everything recorded in one session. Events and messages appear in their timestep and, in
/// recording order, in the session-wide histories (as in the original's JSON).
struct SessionTrace {
  std::string session_id;
  Timestamp created_at{};
  std::vector<SessionMetadataEntry> session_metadata;
  std::vector<SessionTimeStep> session_time_steps;
  std::vector<Event> event_history;
  std::vector<SessionEventMessage> message_history;

  /// The metadata given to start_session() (the "session_start" entry), or null.
  const Value& start_metadata() const noexcept;

  /// JSON text in the original's shape, plus "event_type" on every event.
  std::string to_json(JsonFormat format = {}) const;
  /// Appends the same JSON text to `out`. Reusing one buffer for many traces avoids fresh
  /// memory per trace, which on some machines costs more than writing the JSON.
  void write_json(std::string& out, JsonFormat format = {}) const;
  /// Reads our JSON, the Python original's (event types inferred) and the README/test shape
  /// (`metadata`, `timesteps[{turn_number, messages, events}]`). Throws TraceFormatError.
  static SessionTrace from_json(std::string_view text, std::string_view source = "<string>");
  /// Reads a trace file; errors name the file.
  static SessionTrace read_file(const std::filesystem::path& path);
  /// Writes the trace to `path` (through a temporary file, so readers never see half a trace).
  /// Throws Error naming the file when it cannot be written.
  void write_file(const std::filesystem::path& path, JsonFormat format = {}) const;

  friend bool operator==(const SessionTrace&, const SessionTrace&) = default;
};

}  // namespace synth::tracing
