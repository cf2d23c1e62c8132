-- A trace database as the Python original (synth-ai tracing_v2, duckdb/schema.py at 9a76233)
-- creates and fills it: its sequences, tables, indexes and views (reference spec section 3), and
-- two sessions inserted the way its insert_session_trace did: ids from the sequences, every
-- event and message once from the histories with timestep_id NULL, event_time and the
-- messages' timestamp at insert time, session metadata as [{metadata_type, data}], empty
-- step metadata as NULL.

CREATE SEQUENCE IF NOT EXISTS timestep_id_seq;
CREATE SEQUENCE IF NOT EXISTS event_id_seq;
CREATE SEQUENCE IF NOT EXISTS message_id_seq;

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
  id INTEGER PRIMARY KEY DEFAULT nextval('timestep_id_seq'),
  session_id VARCHAR NOT NULL,
  step_id VARCHAR NOT NULL,
  step_index INTEGER NOT NULL,
  timestamp TIMESTAMP NOT NULL,
  num_events INTEGER,
  num_messages INTEGER,
  step_metadata JSON,
  UNIQUE (session_id, step_id)
);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY DEFAULT nextval('event_id_seq'),
  session_id VARCHAR NOT NULL,
  timestep_id INTEGER,
  event_type VARCHAR NOT NULL,
  system_instance_id VARCHAR NOT NULL,
  event_time TIMESTAMP,
  message_time INTEGER,
  span_id VARCHAR,
  trace_id VARCHAR,
  model_name VARCHAR,
  provider VARCHAR,
  prompt_tokens INTEGER,
  completion_tokens INTEGER,
  total_tokens INTEGER,
  cost DOUBLE,
  latency_ms DOUBLE,
  reward DOUBLE,
  terminated BOOLEAN,
  system_state_before JSON,
  system_state_after JSON,
  metadata JSON,
  event_metadata JSON
);
CREATE TABLE IF NOT EXISTS messages (
  id INTEGER PRIMARY KEY DEFAULT nextval('message_id_seq'),
  session_id VARCHAR NOT NULL,
  timestep_id INTEGER,
  message_type VARCHAR NOT NULL,
  content JSON NOT NULL,
  timestamp TIMESTAMP,
  event_time TIMESTAMP,
  message_time INTEGER
);
CREATE TABLE IF NOT EXISTS systems (
  id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  description TEXT
);
CREATE TABLE IF NOT EXISTS system_versions (
  id VARCHAR PRIMARY KEY,
  system_id VARCHAR NOT NULL,
  branch VARCHAR,
  "commit" VARCHAR,
  created_at TIMESTAMP NOT NULL,
  description TEXT,
  FOREIGN KEY (system_id) REFERENCES systems(id)
);
CREATE TABLE IF NOT EXISTS experiments (
  id VARCHAR PRIMARY KEY,
  name VARCHAR NOT NULL,
  description TEXT,
  created_at TIMESTAMP NOT NULL,
  updated_at TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS experimental_systems (
  experiment_id VARCHAR NOT NULL,
  system_id VARCHAR NOT NULL,
  system_version_id VARCHAR NOT NULL,
  PRIMARY KEY (experiment_id, system_id),
  FOREIGN KEY (experiment_id) REFERENCES experiments(id),
  FOREIGN KEY (system_id) REFERENCES systems(id),
  FOREIGN KEY (system_version_id) REFERENCES system_versions(id)
);

CREATE INDEX IF NOT EXISTS idx_events_session_time ON events(session_id, event_time);
CREATE INDEX IF NOT EXISTS idx_events_system ON events(system_instance_id, event_type);
CREATE INDEX IF NOT EXISTS idx_events_model ON events(model_name, provider);
CREATE INDEX IF NOT EXISTS idx_messages_session_time ON messages(session_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_messages_type ON messages(message_type);
CREATE INDEX IF NOT EXISTS idx_system_versions_system ON system_versions(system_id);
CREATE INDEX IF NOT EXISTS idx_experimental_systems ON experimental_systems(experiment_id);
CREATE INDEX IF NOT EXISTS idx_session_experiment ON session_traces(experiment_id);

CREATE OR REPLACE VIEW model_usage_stats AS
SELECT model_name, provider, COUNT(*) AS call_count, SUM(prompt_tokens) AS total_prompt_tokens,
       SUM(completion_tokens) AS total_completion_tokens, SUM(total_tokens) AS total_tokens,
       AVG(latency_ms) AS avg_latency_ms, SUM(cost) AS total_cost, MIN(event_time) AS first_call,
       MAX(event_time) AS last_call
FROM events
WHERE event_type = 'cais' AND model_name IS NOT NULL
GROUP BY model_name, provider;

CREATE OR REPLACE VIEW session_summary AS
SELECT s.session_id, s.created_at, s.num_timesteps, s.num_events, s.num_messages,
       COUNT(DISTINCT e.model_name) AS models_used, COUNT(DISTINCT e.provider) AS providers_used,
       SUM(e.total_tokens) AS total_tokens_used, SUM(e.cost) AS total_cost
FROM session_traces s
LEFT JOIN events e ON s.session_id = e.session_id AND e.event_type = 'cais'
GROUP BY s.session_id, s.created_at, s.num_timesteps, s.num_events, s.num_messages;

CREATE OR REPLACE VIEW experiment_overview AS
SELECT e.id AS experiment_id, e.name AS experiment_name, COUNT(DISTINCT st.session_id) AS session_count,
       COUNT(DISTINCT es.system_id) AS system_count, MIN(st.created_at) AS first_session,
       MAX(st.created_at) AS last_session
FROM experiments e
LEFT JOIN session_traces st ON e.id = st.experiment_id
LEFT JOIN experimental_systems es ON e.id = es.experiment_id
GROUP BY e.id, e.name;

-- Session "episode-1": two timesteps; an LLM call and an environment step in each, a tool
-- call, and an observation per step.
INSERT INTO session_traces (session_id, created_at, num_timesteps, num_events, num_messages, metadata)
VALUES ('episode-1', TIMESTAMP '2025-01-01 10:05:00', 2, 5, 2,
        '[{"metadata_type": "SessionMetadum", "data": {"seed": 1}}]');
INSERT INTO session_timesteps (session_id, step_id, step_index, timestamp, num_events, num_messages, step_metadata)
VALUES ('episode-1', 'step_0', 0, TIMESTAMP '2025-01-01 10:00:00', 2, 1, '{"phase": "explore"}');
INSERT INTO session_timesteps (session_id, step_id, step_index, timestamp, num_events, num_messages, step_metadata)
VALUES ('episode-1', 'step_1', 1, TIMESTAMP '2025-01-01 10:01:00', 3, 1, NULL);
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time, model_name,
                    provider, prompt_tokens, completion_tokens, total_tokens, cost, latency_ms, system_state_before,
                    system_state_after, metadata, event_metadata)
VALUES ('episode-1', NULL, 'cais', 'agent', TIMESTAMP '2025-01-01 10:05:00.000100', 0, 'gpt-4', 'openai', 12, 3, 15,
        0.00054, 420.0, '{"gen_ai.request.model": "gpt-4"}', '{"content": "north"}', '{"provider": "openai"}', '[]');
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time, reward,
                    terminated, system_state_before, system_state_after, metadata, event_metadata)
VALUES ('episode-1', NULL, 'environment', 'environment', TIMESTAMP '2025-01-01 10:05:00.000200', 0, 0.5, false,
        '{"position": [0, 0]}', '{"position": [0, 1]}', '{}', '[]');
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time, model_name,
                    provider, prompt_tokens, completion_tokens, total_tokens, cost, latency_ms, system_state_before,
                    system_state_after, metadata, event_metadata)
VALUES ('episode-1', NULL, 'cais', 'agent', TIMESTAMP '2025-01-01 10:05:00.000300', 1, 'gpt-4', 'openai', 20, 5, 25,
        0.0009, 380.0, '{"gen_ai.request.model": "gpt-4"}', '{"content": "east"}', '{"provider": "openai"}', '[]');
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time,
                    system_state_before, system_state_after, metadata, event_metadata)
VALUES ('episode-1', NULL, 'runtime', 'runtime', TIMESTAMP '2025-01-01 10:05:00.000400', 1, '{"tool": "look"}', NULL,
        '{}', '[{"hook_name": "tool_check"}]');
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time, reward,
                    terminated, system_state_before, system_state_after, metadata, event_metadata)
VALUES ('episode-1', NULL, 'environment', 'environment', TIMESTAMP '2025-01-01 10:05:00.000500', 1, 1.0, true,
        '{"position": [0, 1]}', '{"position": [1, 1]}', '{}', '[]');
INSERT INTO messages (session_id, timestep_id, message_type, content, timestamp, event_time, message_time)
VALUES ('episode-1', NULL, 'observation', '{"origin_system_id": "env", "payload": {"obs": "a door"}}',
        TIMESTAMP '2025-01-01 10:05:00.000600', TIMESTAMP '2025-01-01 10:00:00', 0);
INSERT INTO messages (session_id, timestep_id, message_type, content, timestamp, event_time, message_time)
VALUES ('episode-1', NULL, 'observation', '{"origin_system_id": "env", "payload": {"obs": "treasure"}}',
        TIMESTAMP '2025-01-01 10:05:00.000700', TIMESTAMP '2025-01-01 10:01:00', 1);

-- Session "episode-2": one Claude call outside any timestep.
INSERT INTO session_traces (session_id, created_at, num_timesteps, num_events, num_messages, metadata)
VALUES ('episode-2', TIMESTAMP '2025-01-02 09:00:00', 0, 1, 0, '[]');
INSERT INTO events (session_id, timestep_id, event_type, system_instance_id, event_time, message_time, model_name,
                    provider, prompt_tokens, completion_tokens, total_tokens, cost, latency_ms, system_state_before,
                    system_state_after, metadata, event_metadata)
VALUES ('episode-2', NULL, 'cais', 'planner', TIMESTAMP '2025-01-02 09:00:00.000100', 0, 'claude-3-opus', 'anthropic',
        1000, 500, 1500, 0.0525, 900.0, '{"llm.model_name": "claude-3-opus"}', '{"content": "plan"}', '{}', '[]');

-- An experiment with one system version, and episode-1 in it.
INSERT INTO systems (id, name, description) VALUES ('sys-1', 'grid agent', NULL);
INSERT INTO system_versions (id, system_id, branch, "commit", created_at, description)
VALUES ('sys-1-v1', 'sys-1', 'main', 'abc123', TIMESTAMP '2025-01-01 08:00:00', NULL);
INSERT INTO experiments (id, name, description, created_at, updated_at)
VALUES ('exp-1', 'baseline', NULL, TIMESTAMP '2025-01-01 08:00:00', TIMESTAMP '2025-01-01 08:00:00');
INSERT INTO experimental_systems (experiment_id, system_id, system_version_id) VALUES ('exp-1', 'sys-1', 'sys-1-v1');
UPDATE session_traces SET experiment_id = 'exp-1' WHERE session_id = 'episode-1';
