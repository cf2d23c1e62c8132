// What the DuckDB trace store's tests share (store_*_test.cpp): names, readable failure output,
// timestamps, query helpers and the traces they store.
#pragma once
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <limits>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "duckdb/duckdb_support.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
namespace st = synth::tracing;
using st::testing::CapturedDiagnostics;
using st::testing::DatabaseHolder;
using st::testing::TempDir;
using st::CAISEvent;
using st::DuckDBOptions;
using st::DuckDBTraceManager;
using st::EnvironmentEvent;
using st::OnExistingSession;
using st::QueryResult;
using st::RuntimeEvent;
using st::SessionEventMessage;
using st::SessionTimeStep;
using st::SessionTrace;
using st::StorageError;
using st::TimeRecord;
using st::Timestamp;
using st::Value;


namespace store_fixtures {
inline Timestamp ts(std::string_view iso) {
  const auto t = st::parse_timestamp(iso);
  if (!t) throw std::runtime_error("bad test timestamp " + std::string(iso));
  return *t;
}

inline Timestamp from_ns(std::int64_t ns) { return Timestamp(std::chrono::nanoseconds(ns)); }

// What DuckDB's microsecond TIMESTAMP keeps of a nanosecond time: the time rounded down to a
// whole microsecond (the digits after the sixth are dropped), kept within what a nanosecond
// Timestamp can represent.
inline Timestamp to_micros(Timestamp t) {
  const std::int64_t ns = t.time_since_epoch().count();
  std::int64_t us = ns / 1000;
  if (ns % 1000 < 0) --us;                                                     // round down
  us = std::max(us, std::numeric_limits<std::int64_t>::min() / 1000);  // representable in ns
  return from_ns(us * 1000);
}

inline void micros_in_place(std::optional<TimeRecord>& tr) {
  if (tr) tr->event_time = to_micros(tr->event_time);
}
inline void micros_in_place(SessionEventMessage& m) {
  m.timestamp = to_micros(m.timestamp);
  micros_in_place(m.time_record);
}
inline void micros_in_place(st::Event& e) { micros_in_place(st::time_record(e)); }

// Timestamps in table columns become microseconds. (Session metadata timestamps are JSON text
// and keep their nanoseconds: they are left as generated.)
inline void micros_in_place(SessionTrace& t) {
  t.created_at = to_micros(t.created_at);
  for (auto& step : t.session_time_steps) {
    step.timestamp = to_micros(step.timestamp);
    for (auto& e : step.events) micros_in_place(e);
    for (auto& m : step.step_messages) micros_in_place(m);
  }
  for (auto& e : t.event_history) micros_in_place(e);
  for (auto& m : t.message_history) micros_in_place(m);
}


// Where two JSON texts first differ, with some context, for readable failures.
inline std::string first_difference(const std::string& a, const std::string& b) {
  if (a == b) return "\n(identical JSON text)";
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  const std::size_t from = i > 120 ? i - 120 : 0;
  return "\nJSON texts differ at byte " + std::to_string(i) + ":\n  loaded:   ..." + a.substr(from, 240) +
         "\n  inserted: ..." + b.substr(from, 240);
}

inline std::size_t column_of(const QueryResult& r, std::string_view name) {
  const auto it = std::find(r.columns.begin(), r.columns.end(), name);
  if (it == r.columns.end()) throw std::runtime_error("no column " + std::string(name));
  return static_cast<std::size_t>(it - r.columns.begin());
}

// One cell by row and column name.
inline Value cell(const QueryResult& r, std::size_t row, std::string_view column) {
  if (row >= r.rows.size()) throw std::runtime_error("no row " + std::to_string(row));
  return r.rows[row][column_of(r, column)];
}

// A whole column.
inline std::vector<Value> column(const QueryResult& r, std::string_view name) {
  const std::size_t c = column_of(r, name);
  std::vector<Value> out;
  for (const auto& row : r.rows) out.push_back(row[c]);
  return out;
}

inline std::int64_t scalar_int(DuckDBTraceManager& db, std::string_view sql, const std::vector<Value>& params = {}) {
  const QueryResult r = db.query(sql, params);
  if (r.rows.size() != 1 || r.rows[0].size() != 1) throw std::runtime_error("not a scalar: " + std::string(sql));
  return r.rows[0][0].as_int();
}

inline std::int64_t count_rows(DuckDBTraceManager& db, std::string_view table, std::string_view session_id = {}) {
  if (session_id.empty()) return scalar_int(db, "SELECT COUNT(*) FROM " + std::string(table));
  return scalar_int(db, "SELECT COUNT(*) FROM " + std::string(table) + " WHERE session_id = ?", {Value(session_id)});
}

inline CAISEvent llm_call(std::string model, std::int64_t prompt, std::int64_t completion, std::optional<double> cost,
                   Timestamp at, std::int64_t turn = 0) {
  CAISEvent e;
  e.time_record = TimeRecord{at, turn};
  e.system_instance_id = "agent";
  e.model_name = std::move(model);
  e.prompt_tokens = prompt;
  e.completion_tokens = completion;
  e.total_tokens = prompt + completion;
  e.cost = cost;
  e.latency_ms = 100.0;
  return e;
}

inline SessionEventMessage message(std::string type, Value payload, Timestamp at, std::int64_t turn) {
  SessionEventMessage m;
  m.content = Value{{"origin_system_id", "env"}, {"payload", std::move(payload)}};
  m.message_type = std::move(type);
  m.timestamp = at;
  m.time_record = TimeRecord{at, turn};
  return m;
}

// Adds a timestep whose items also go to the histories, as the tracer records them.
inline SessionTimeStep& add_step(SessionTrace& t, std::string step_id, Timestamp at, std::vector<st::Event> events,
                          std::vector<SessionEventMessage> messages) {
  SessionTimeStep step;
  step.step_id = std::move(step_id);
  step.step_index = static_cast<std::int64_t>(t.session_time_steps.size());
  step.turn_number = step.step_index;
  step.timestamp = at;
  for (auto& e : events) t.event_history.push_back(e);
  for (auto& m : messages) t.message_history.push_back(m);
  step.events = std::move(events);
  step.step_messages = std::move(messages);
  t.session_time_steps.push_back(std::move(step));
  return t.session_time_steps.back();
}

inline SessionTrace empty_trace(std::string id, Timestamp created = ts("2025-01-01T09:00:00")) {
  SessionTrace t;
  t.session_id = std::move(id);
  t.created_at = created;
  return t;
}

// A session: timesteps x (cais + environment + runtime event, and an observation message).
inline SessionTrace complex_trace(std::string id, int steps = 3) {
  SessionTrace t = empty_trace(std::move(id));
  t.session_metadata.push_back({"run", Value{{"seed", 7}}, ts("2025-01-01T09:00:00")});
  for (int s = 0; s < steps; ++s) {
    const Timestamp at = ts("2025-01-01T10:00:00") + std::chrono::seconds(s);
    EnvironmentEvent env;
    env.time_record = TimeRecord{at + std::chrono::milliseconds(1), s};
    env.reward = 1.0;
    env.terminated = s + 1 == steps;
    RuntimeEvent rt;
    rt.time_record = TimeRecord{at + std::chrono::milliseconds(2), s};
    rt.actions = Value::array({"move_north"});
    add_step(t, "step_" + std::to_string(s), at, {llm_call("gpt-4", 100, 50, 0.01, at, s), env, rt},
             {message("observation", Value{{"pos", s}}, at, s)});
  }
  return t;
}

}  // namespace store_fixtures

using namespace store_fixtures;
