// Internal: the trace database schema. The original synth-ai schema, with its bugs fixed:
// - events.event_time / messages.timestamp are the recorded times (the original wrote insert time);
// - events.timestep_id / messages.timestep_id reference session_timesteps.id (always NULL there);
// - provider uses one vocabulary (normalize_provider); event_provider keeps what was recorded;
// - added: event_type, cached/reasoning/cache-write tokens, truncated, turn_number, and what
//   load_trace needs to rebuild a trace exactly (history_index, step_position, the remaining event
//   fields). Columns added later go last, where ALTER TABLE puts them in older files, so that
//   inserts (which fill columns by position) see the same order in every file.
// Ids come from the writer (it holds DuckDB's single-writer lock), not from sequences, and the
// row ids of events, messages and session_timesteps carry no key: DuckDB keeps an index per key
// and rewrites it whole at each checkpoint, which made inserts slower as files grew
// (BENCHMARKS.md). validate() refuses what UNIQUE (session_id, step_id) refused. Files written
// with those keys keep them.
//
// Opening a file for writing brings it to these definitions (migration.cpp): tables and columns
// it lacks are added, so a new column needs nothing more than its place below. Raise
// kSchemaVersion when stored data changes meaning, and give added columns their values for old
// rows in kBackfills.
//
// session_stats holds each session's aggregates, kept by every insert (kRefreshSessionStats in the
// inserting transaction), so that listing sessions reads one row per session instead of
// aggregating their events. Version 2 added it: an older library would store sessions without
// it, so it refuses version 2 files.
#pragma once

#include <array>
#include <cstddef>

namespace synth::tracing::detail::duck {

/// The version recorded in synth_tracing_schema, with kSchema's text (a file recording both is
/// current and needs no look). Files without that table are the Python original's or from
/// versions of this library before it was recorded.
inline constexpr int kSchemaVersion = 2;

inline constexpr const char* kSchema = R"SQL(
CREATE TABLE IF NOT EXISTS synth_tracing_schema (
  version INTEGER NOT NULL,
  definition VARCHAR
);
CREATE TABLE IF NOT EXISTS experiments (
  id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  description VARCHAR,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS systems (
  id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  description VARCHAR
);
CREATE TABLE IF NOT EXISTS system_versions (
  id VARCHAR PRIMARY KEY,
  system_id VARCHAR NOT NULL REFERENCES systems(id),
  branch VARCHAR,
  "commit" VARCHAR,
  created_at TIMESTAMP NOT NULL,
  description VARCHAR
);
CREATE TABLE IF NOT EXISTS experimental_systems (
  experiment_id VARCHAR NOT NULL REFERENCES experiments(id),
  system_id VARCHAR NOT NULL REFERENCES systems(id),
  system_version_id VARCHAR REFERENCES system_versions(id),
  PRIMARY KEY (experiment_id, system_id)
);
CREATE TABLE IF NOT EXISTS session_traces (
  session_id VARCHAR PRIMARY KEY,
  created_at TIMESTAMP,
  num_timesteps INTEGER,
  num_events INTEGER,
  num_messages INTEGER,
  metadata JSON,
  experiment_id VARCHAR
);
CREATE TABLE IF NOT EXISTS session_timesteps (
  id BIGINT NOT NULL,
  session_id VARCHAR NOT NULL,
  step_id VARCHAR NOT NULL,
  step_index INTEGER NOT NULL,
  turn_number BIGINT,
  timestamp TIMESTAMP,
  num_events INTEGER,
  num_messages INTEGER,
  step_metadata JSON
);
CREATE TABLE IF NOT EXISTS events (
  id BIGINT NOT NULL,
  session_id VARCHAR NOT NULL,
  timestep_id BIGINT,
  event_type VARCHAR NOT NULL,
  system_instance_id VARCHAR NOT NULL,
  event_time TIMESTAMP,
  message_time BIGINT,
  span_id VARCHAR,
  trace_id VARCHAR,
  model_name VARCHAR,
  provider VARCHAR,
  prompt_tokens BIGINT,
  completion_tokens BIGINT,
  total_tokens BIGINT,
  cached_tokens BIGINT,
  reasoning_tokens BIGINT,
  cost DOUBLE,
  latency_ms DOUBLE,
  reward DOUBLE,
  terminated BOOLEAN,
  truncated BOOLEAN,
  system_state_before JSON,
  system_state_after JSON,
  metadata JSON,
  event_metadata JSON,
  llm_call_records JSON,
  observation_diff JSON,
  actions JSON,
  event_provider VARCHAR,
  history_index BIGINT,
  step_position INTEGER,
  cache_write_tokens BIGINT
);
CREATE TABLE IF NOT EXISTS session_stats (
  session_id VARCHAR PRIMARY KEY,
  seq BIGINT NOT NULL,
  created_at TIMESTAMP,
  experiment_id VARCHAR,
  started_at TIMESTAMP,
  ended_at TIMESTAMP,
  num_timesteps BIGINT NOT NULL,
  num_events BIGINT NOT NULL,
  num_messages BIGINT NOT NULL,
  num_llm_calls BIGINT NOT NULL,
  prompt_tokens BIGINT,
  completion_tokens BIGINT,
  total_tokens BIGINT,
  cached_tokens BIGINT,
  cost DOUBLE,
  reward DOUBLE,
  terminated BOOLEAN,
  errors BIGINT NOT NULL,
  models VARCHAR[] NOT NULL,
  providers VARCHAR[] NOT NULL,
  systems VARCHAR[] NOT NULL,
  first_message VARCHAR,
  first_message_at TIMESTAMP,
  last_message VARCHAR,
  last_message_at TIMESTAMP,
  first_event_id BIGINT,
  last_event_id BIGINT,
  first_message_id BIGINT,
  last_message_id BIGINT
);
-- Sessions whose session_stats row lags their rows: merged while the trace server's writer was
-- busy, what their new rows add is held in memory and combined into their rows at most 250 ms
-- later (a fold), not by an upsert in every commit. Written in the commit that stores the rows,
-- emptied by the fold; a file listing sessions when opened for writing (its writer stopped
-- before folding) has their aggregates counted again from their rows.
CREATE TABLE IF NOT EXISTS session_stats_behind (
  session_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
  id BIGINT NOT NULL,
  session_id VARCHAR NOT NULL,
  timestep_id BIGINT,
  message_type VARCHAR NOT NULL,
  content JSON,
  timestamp TIMESTAMP,
  event_time TIMESTAMP,
  message_time BIGINT,
  history_index BIGINT,
  step_position INTEGER
);
-- The trace server's OTLP data acknowledged but not stored yet: LLM call spans waiting for their
-- log records, records waiting for their spans (src/server/pending.hpp). Written in the commit
-- its request waited for, deleted in the one that stores it; read back when serve starts.
CREATE TABLE IF NOT EXISTS otlp_pending (
  id BIGINT NOT NULL,
  kind VARCHAR NOT NULL,
  received_unix_ms BIGINT NOT NULL,
  body JSON NOT NULL
);
-- The OTLP spans the trace server stored (any session), so that a span sent again (an SDK
-- retrying an export it got no answer to) is stored once (src/server/stored_spans.hpp): FNV-1a
-- 64 of the trace id and of the span id (hex text) as BIGINT. Written in the commit that stores
-- the span; looked up by trace only for sessions stored before the server's run or forgotten by
-- its bounded memory.
CREATE TABLE IF NOT EXISTS otlp_spans (
  trace_key BIGINT NOT NULL,
  span_key BIGINT NOT NULL
);
CREATE OR REPLACE VIEW model_usage_stats AS
SELECT model_name,
       provider,
       COUNT(*) AS call_count,
       SUM(prompt_tokens) AS total_prompt_tokens,
       SUM(completion_tokens) AS total_completion_tokens,
       SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS total_tokens,
       SUM(cached_tokens) AS total_cached_tokens,
       SUM(reasoning_tokens) AS total_reasoning_tokens,
       AVG(latency_ms) AS avg_latency_ms,
       SUM(cost) AS total_cost,
       MIN(event_time) AS first_call,
       MAX(event_time) AS last_call
FROM events
WHERE event_type = 'cais' AND model_name IS NOT NULL
GROUP BY model_name, provider;

CREATE OR REPLACE VIEW session_summary AS
SELECT s.session_id,
       s.created_at,
       s.num_timesteps,
       s.num_events,
       s.num_messages,
       s.experiment_id,
       e.models_used,
       e.providers_used,
       e.total_tokens_used,
       e.total_cost,
       e.total_reward
FROM session_traces s
LEFT JOIN (
  SELECT session_id,
         to_json(list_sort(list_distinct(list(model_name) FILTER (WHERE model_name IS NOT NULL)))) AS models_used,
         to_json(list_sort(list_distinct(list(provider) FILTER (WHERE provider IS NOT NULL)))) AS providers_used,
         SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS total_tokens_used,
         SUM(cost) AS total_cost,
         SUM(reward) AS total_reward
  FROM events
  GROUP BY session_id
) e USING (session_id);

CREATE OR REPLACE VIEW experiment_overview AS
SELECT x.id AS experiment_id,
       x.name AS experiment_name,
       (SELECT COUNT(*) FROM session_traces s WHERE s.experiment_id = x.id) AS session_count,
       (SELECT COUNT(*) FROM experimental_systems es WHERE es.experiment_id = x.id) AS system_count,
       (SELECT MIN(created_at) FROM session_traces s WHERE s.experiment_id = x.id) AS first_session,
       (SELECT MAX(created_at) FROM session_traces s WHERE s.experiment_id = x.id) AS last_session
FROM experiments x;
)SQL";

// Values for a column that a migration adds, for the rows stored before it. The Python original
// stored each event and message once, from the histories, in order of id, outside any timestep.
struct Backfill {
  const char* table;
  const char* column;
  const char* sql;
};
inline constexpr Backfill kBackfills[] = {
    {"events", "history_index",
     "UPDATE events SET history_index = o.position FROM (SELECT id, row_number() OVER (PARTITION BY session_id "
     "ORDER BY id) - 1 AS position FROM events) o WHERE events.id = o.id"},
    {"messages", "history_index",
     "UPDATE messages SET history_index = o.position FROM (SELECT id, row_number() OVER (PARTITION BY session_id "
     "ORDER BY id) - 1 AS position FROM messages) o WHERE messages.id = o.id"},
};

// How a session's stored session_stats row and new aggregates (`excluded`) combine (the upserts
// below), in parts: the lists (DuckDB rewrites a row whose list column is updated: ~0.15 M
// instructions a row, four times the rest, so a fold leaves them out when they stay as they are),
// and the rest. The first and last message are by (timestamp, id), a message with a timestamp
// before one without; rows without messages change neither.
inline constexpr char kSessionStatsListsCombined[] = R"SQL(
  models = list_sort(list_distinct(list_concat(session_stats.models, excluded.models))),
  providers = list_sort(list_distinct(list_concat(session_stats.providers, excluded.providers))),
  systems = list_sort(list_distinct(list_concat(session_stats.systems, excluded.systems))),
)SQL";
inline constexpr char kSessionStatsCountsCombined[] = R"SQL(
  started_at = least(session_stats.started_at, excluded.started_at),
  ended_at = greatest(session_stats.ended_at, excluded.ended_at),
  num_timesteps = session_stats.num_timesteps + excluded.num_timesteps,
  num_events = session_stats.num_events + excluded.num_events,
  num_messages = session_stats.num_messages + excluded.num_messages,
  num_llm_calls = session_stats.num_llm_calls + excluded.num_llm_calls,
  prompt_tokens = COALESCE(session_stats.prompt_tokens + excluded.prompt_tokens, session_stats.prompt_tokens, excluded.prompt_tokens),
  completion_tokens = COALESCE(session_stats.completion_tokens + excluded.completion_tokens, session_stats.completion_tokens,
                               excluded.completion_tokens),
  total_tokens = COALESCE(session_stats.total_tokens + excluded.total_tokens, session_stats.total_tokens, excluded.total_tokens),
  cached_tokens = COALESCE(session_stats.cached_tokens + excluded.cached_tokens, session_stats.cached_tokens, excluded.cached_tokens),
  cost = COALESCE(session_stats.cost + excluded.cost, session_stats.cost, excluded.cost),
  reward = COALESCE(session_stats.reward + excluded.reward, session_stats.reward, excluded.reward),
  terminated = COALESCE(session_stats.terminated OR excluded.terminated, session_stats.terminated, excluded.terminated),
  errors = session_stats.errors + excluded.errors,
  first_message = CASE WHEN excluded.first_message_id IS NOT NULL AND (session_stats.first_message_id IS NULL
                         OR excluded.first_message_at < session_stats.first_message_at
                         OR (session_stats.first_message_at IS NULL AND excluded.first_message_at IS NOT NULL))
                       THEN excluded.first_message ELSE session_stats.first_message END,
  first_message_at = least(session_stats.first_message_at, excluded.first_message_at),
  last_message = CASE WHEN excluded.last_message_id IS NOT NULL AND (session_stats.last_message_id IS NULL
                        OR excluded.last_message_at >= session_stats.last_message_at OR session_stats.last_message_at IS NULL)
                      THEN excluded.last_message ELSE session_stats.last_message END,
  last_message_at = greatest(session_stats.last_message_at, excluded.last_message_at),
  first_event_id = least(session_stats.first_event_id, excluded.first_event_id),
  last_event_id = greatest(session_stats.last_event_id, excluded.last_event_id),
  first_message_id = least(session_stats.first_message_id, excluded.first_message_id),
  last_message_id = greatest(session_stats.last_message_id, excluded.last_message_id)
)SQL";

// String literals as one (the statements sharing the combinations above).
template <std::size_t... N>
constexpr std::array<char, (N + ...) - sizeof...(N) + 1> joined(const char (&... parts)[N]) {
  std::array<char, (N + ...) - sizeof...(N) + 1> out{};
  std::size_t at = 0;
  const auto append = [&](const char* part, std::size_t size) {
    for (std::size_t i = 0; i + 1 < size; ++i) out[at++] = part[i];
  };
  (append(parts, N), ...);
  return out;
}

// The upsert of kRefreshSessionStats and kMergeSessionStats: the session's created_at and
// experiment come with the new aggregates.
inline constexpr char kSessionStatsUpsertHead[] = R"SQL(
ON CONFLICT (session_id) DO UPDATE SET
  seq = excluded.seq,
  created_at = excluded.created_at,
  experiment_id = excluded.experiment_id,
)SQL";

// Adds the rows stored since ids ($2 timesteps, $3 events, $4 messages) to the aggregates of their
// sessions, which are $5 (a list of ids, VARCHAR[]; NULL: every session). A session without a
// session_stats row gets one; the aggregates of one that has (a merged session) are combined with
// the new rows'. A changed session gets a new `seq`, from $1 + 1 upwards (the live-tail order).
// Merged sessions and migrated files are refreshed with it; inserts compute the same aggregates
// while appending (session_stats.hpp). Lists are sorted.
// Aggregates: events, LLM calls, tokens and cost summed; reward summed; terminated if any event
// says so; errors: events with metadata.error; models, providers, systems (system_instance_id);
// the first and last message (by time) cut to 200 characters (a message's payload, else its
// content); the time from the first item to the end of the last (an event ends latency_ms or
// metadata.duration_ms after it starts); and the id ranges of the session's rows, which let a
// reader find them without an index.
inline constexpr auto kRefreshSessionStatsText = joined(R"SQL(
INSERT INTO session_stats BY NAME
WITH touched AS (
  SELECT session_id, created_at, experiment_id FROM session_traces
  WHERE CAST($5 AS VARCHAR[]) IS NULL OR session_id IN (SELECT unnest(CAST($5 AS VARCHAR[])))
), ev AS (
  SELECT session_id,
         COUNT(*) AS num_events,
         COUNT(*) FILTER (WHERE event_type = 'cais') AS num_llm_calls,
         SUM(prompt_tokens) AS prompt_tokens,
         SUM(completion_tokens) AS completion_tokens,
         SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS total_tokens,
         SUM(cached_tokens) AS cached_tokens,
         SUM(cost) AS cost,
         SUM(reward) AS reward,
         bool_or(terminated) AS terminated,
         COUNT(*) FILTER (WHERE COALESCE(json_type(metadata, '$.error'), 'NULL') <> 'NULL') AS errors,
         list_sort(list_distinct(list(model_name) FILTER (WHERE model_name IS NOT NULL))) AS models,
         list_sort(list_distinct(list(provider) FILTER (WHERE provider IS NOT NULL))) AS providers,
         list_sort(list_distinct(list(system_instance_id))) AS systems,
         MIN(event_time) AS first_event_at,
         MAX(event_time + to_microseconds(CAST(1000 * COALESCE(latency_ms,
             TRY_CAST(json_extract_string(metadata, '$.duration_ms') AS DOUBLE), 0) AS BIGINT))) AS last_event_end,
         MIN(id) AS first_event_id,
         MAX(id) AS last_event_id
  FROM events
  WHERE id >= $3 AND session_id IN (SELECT session_id FROM touched)
  GROUP BY session_id
), msg AS (
  SELECT session_id,
         COUNT(*) AS num_messages,
         arg_min(preview, (timestamp, id)) AS first_message,
         MIN(timestamp) AS first_message_at,
         arg_max(preview, (timestamp, id)) AS last_message,
         MAX(timestamp) AS last_message_at,
         MIN(id) AS first_message_id,
         MAX(id) AS last_message_id
  FROM (SELECT session_id, timestamp, id,
               left(COALESCE(json_extract_string(content, '$.payload'), CAST(content AS VARCHAR)), 200) AS preview
        FROM messages WHERE id >= $4 AND session_id IN (SELECT session_id FROM touched))
  GROUP BY session_id
), steps AS (
  SELECT session_id, COUNT(*) AS num_timesteps FROM session_timesteps
  WHERE id >= $2 AND session_id IN (SELECT session_id FROM touched)
  GROUP BY session_id
)
SELECT t.session_id,
       $1 + row_number() OVER (ORDER BY t.session_id) AS seq,
       t.created_at,
       t.experiment_id,
       least(t.created_at, ev.first_event_at, msg.first_message_at) AS started_at,
       greatest(ev.last_event_end, msg.last_message_at) AS ended_at,
       COALESCE(steps.num_timesteps, 0) AS num_timesteps,
       COALESCE(ev.num_events, 0) AS num_events,
       COALESCE(msg.num_messages, 0) AS num_messages,
       COALESCE(ev.num_llm_calls, 0) AS num_llm_calls,
       ev.prompt_tokens, ev.completion_tokens, ev.total_tokens, ev.cached_tokens, ev.cost, ev.reward, ev.terminated,
       COALESCE(ev.errors, 0) AS errors,
       COALESCE(ev.models, []) AS models,
       COALESCE(ev.providers, []) AS providers,
       COALESCE(ev.systems, []) AS systems,
       msg.first_message, msg.first_message_at, msg.last_message, msg.last_message_at,
       ev.first_event_id, ev.last_event_id, msg.first_message_id, msg.last_message_id
FROM touched t
LEFT JOIN ev USING (session_id)
LEFT JOIN msg USING (session_id)
LEFT JOIN steps USING (session_id)
)SQL", kSessionStatsUpsertHead, kSessionStatsListsCombined, kSessionStatsCountsCombined);
inline constexpr const char* kRefreshSessionStats = kRefreshSessionStatsText.data();

// The aggregates of rows added to stored sessions, computed while appending (SessionStats), as
// table `delta` (SessionStats::columns(), an appender's rows: Appender's query constructor),
// combined into each session's session_stats row as kRefreshSessionStats combines them; a session
// without one gets one. created_at and experiment_id are the session's (session_traces).
inline constexpr auto kMergeSessionStatsText = joined(R"SQL(
INSERT INTO session_stats BY NAME
SELECT d.session_id, d.seq, t.created_at, t.experiment_id, least(t.created_at, d.started_at) AS started_at, d.ended_at,
       d.num_timesteps, d.num_events, d.num_messages, d.num_llm_calls, d.prompt_tokens, d.completion_tokens,
       d.total_tokens, d.cached_tokens, d.cost, d.reward, d.terminated, d.errors, d.models, d.providers, d.systems,
       d.first_message, d.first_message_at, d.last_message, d.last_message_at,
       d.first_event_id, d.last_event_id, d.first_message_id, d.last_message_id
FROM delta d JOIN session_traces t USING (session_id)
)SQL", kSessionStatsUpsertHead, kSessionStatsListsCombined, kSessionStatsCountsCombined);
inline constexpr const char* kMergeSessionStats = kMergeSessionStatsText.data();

// kMergeSessionStats for sessions whose session_stats row is stored with every model, provider
// and system the new rows name (known to the writer): their lists, created_at (least of the two)
// and experiment stay, without the lists' rewrite or a join with session_traces.
inline constexpr auto kMergeSessionStatsCountsText = joined(R"SQL(
INSERT INTO session_stats BY NAME SELECT * FROM delta
ON CONFLICT (session_id) DO UPDATE SET
  seq = excluded.seq,
  created_at = least(session_stats.created_at, excluded.created_at),
)SQL", kSessionStatsCountsCombined);
inline constexpr const char* kMergeSessionStatsCounts = kMergeSessionStatsCountsText.data();

// The original's secondary indexes (DuckDBOptions::indexes).
inline constexpr const char* kIndexes = R"SQL(
CREATE INDEX IF NOT EXISTS idx_events_session_time ON events(session_id, event_time);
CREATE INDEX IF NOT EXISTS idx_events_system_type ON events(system_instance_id, event_type);
CREATE INDEX IF NOT EXISTS idx_events_model_provider ON events(model_name, provider);
CREATE INDEX IF NOT EXISTS idx_messages_session_time ON messages(session_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_messages_type ON messages(message_type);
CREATE INDEX IF NOT EXISTS idx_timesteps_session ON session_timesteps(session_id);
CREATE INDEX IF NOT EXISTS idx_system_versions_system ON system_versions(system_id);
CREATE INDEX IF NOT EXISTS idx_experimental_systems_experiment ON experimental_systems(experiment_id);
CREATE INDEX IF NOT EXISTS idx_session_traces_experiment ON session_traces(experiment_id);
)SQL";

}  // namespace synth::tracing::detail::duck
