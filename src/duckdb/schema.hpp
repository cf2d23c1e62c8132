// Internal: the trace database schema. The original synth-ai schema, with its bugs fixed:
// - events.event_time / messages.timestamp are the recorded times (the original wrote insert time);
// - events.timestep_id / messages.timestep_id reference session_timesteps.id (always NULL there);
// - provider uses one vocabulary (normalize_provider); event_provider keeps what was recorded;
// - added: event_type, cached/reasoning/cache-write tokens, truncated, turn_number, and what
//   load_trace needs to rebuild a trace exactly (history_index, step_position, the remaining event
//   fields). Columns added later go last, where ALTER TABLE puts them in older files, so that
//   inserts (which fill columns by position) see the same order in every file.
// Ids come from the writer (it holds DuckDB's single-writer lock), not from sequences.
//
// Opening a file for writing brings it to these definitions (migration.cpp): tables and columns
// it lacks are added, so a new column needs nothing more than its place below. Raise
// kSchemaVersion when stored data changes meaning, and give added columns their values for old
// rows in kBackfills.
#pragma once

namespace synth::tracing::detail::duck {

/// The version recorded in synth_tracing_schema, with kSchema's text (a file recording both is
/// current and needs no look). Files without that table are the Python original's or from
/// versions of this library before it was recorded.
inline constexpr int kSchemaVersion = 1;

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
  id BIGINT PRIMARY KEY,
  session_id VARCHAR NOT NULL,
  step_id VARCHAR NOT NULL,
  step_index INTEGER NOT NULL,
  turn_number BIGINT,
  timestamp TIMESTAMP,
  num_events INTEGER,
  num_messages INTEGER,
  step_metadata JSON,
  UNIQUE (session_id, step_id)
);
CREATE TABLE IF NOT EXISTS events (
  id BIGINT PRIMARY KEY,
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
CREATE TABLE IF NOT EXISTS messages (
  id BIGINT PRIMARY KEY,
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
