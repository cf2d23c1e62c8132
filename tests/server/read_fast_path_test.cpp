// The read routes that write their JSON straight from DuckDB's chunks (the events list, the
// sessions list) against the path they replaced: the former SQL run through QueryResult, rows
// as Values (server::rows_value) and Value::dump. A session with every event kind, unicode,
// escapes and control characters, nulls, numbers at their limits, large metadata, every
// metadata key the events list reads (as text, number, object, JSON null) and an event outside
// any timestep: a field dropped, renamed, reordered or escaped differently fails a comparison.
// The sessions list's numeric sorts are bounded by the page's worst key first (page_bound):
// pages in several sorts, with ties at the bound, must hold the same sessions.
#include <gtest/gtest.h>

#include <limits>

#include "duckdb/connection.hpp"
#include "server/fixtures.hpp"
#include "server/read.hpp"
#include "server/server.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::at_second;
using synth_test::sample_session;

namespace {

// Text with what JSON must escape, and what it must keep: quotes, backslash, control
// characters, U+2028, accents, CJK, an emoji, a closing script tag.
const std::string kAwkward = "q\"uo\\te\n\t\x01\x1f end \xE2\x80\xA8 \xC3\xA9t\xC3\xA9 \xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x9A\x80 </script>";

SessionTrace every_kind_session(const std::string& id) {
  SessionTrace t = sample_session(id, {.steps = 2, .failing_tool = true, .start_second = 50});
  t.session_time_steps[1].step_id = "step " + kAwkward;
  auto& step = t.session_time_steps[0];
  const int s = 0;
  // An LLM call with every number at a limit and text to escape everywhere.
  CAISEvent call{.time_record = TimeRecord{at_second(50.2), s},
                 .system_instance_id = "agent " + kAwkward,
                 .span_id = "00f067aa0ba902b7",
                 .model_name = "model " + kAwkward,
                 .provider = kAwkward,
                 .prompt_tokens = std::numeric_limits<std::int64_t>::max(),
                 .completion_tokens = 0,
                 .total_tokens = -1,
                 .cached_tokens = std::nullopt,
                 .cost = 1e-300,
                 .latency_ms = std::nullopt,
                 .metadata = Value{{"operation", Value{{"nested", Value::array({1, "x", Value(), 2.5})}}},
                                   {"parent_span_id", kAwkward},
                                   {"duration_ms", "12.5"},
                                   {"error", Value()}}};
  // An environment step without reward or flags, metadata naming it by number.
  EnvironmentEvent env{.time_record = TimeRecord{at_second(50.3), s},
                       .system_instance_id = "env",
                       .reward = -0.0,
                       .terminated = std::nullopt,
                       .truncated = true,
                       .metadata = Value{{"step", 42}, {"span_id", 7}, {"duration_ms", "not a number"}, {"error", false}}};
  // A runtime operation with large metadata (the list reads only its keys).
  RuntimeEvent big{.time_record = TimeRecord{at_second(50.35), s},
                   .system_instance_id = "runtime",
                   .metadata = Value{{"operation_type", std::string(200'000, 'x') + kAwkward},
                                     {"span", "span name"},
                                     {"payload", std::string(300'000, 'y')},
                                     {"duration_ms", 1e300},
                                     {"error", ""}}};
  // Same time as the call (the id breaks the tie); no metadata keys at all.
  RuntimeEvent same_time{.time_record = TimeRecord{at_second(50.2), s}, .system_instance_id = "tie", .metadata = Value::object()};
  step.events.push_back(call);
  step.events.push_back(env);
  step.events.push_back(big);
  step.events.push_back(same_time);
  t.event_history.push_back(call);
  t.event_history.push_back(env);
  t.event_history.push_back(big);
  t.event_history.push_back(same_time);
  // Outside any timestep (step_id null), and one without a time (sorted last).
  t.event_history.push_back(RuntimeEvent{.time_record = TimeRecord{at_second(49), 0}, .system_instance_id = "loose"});
  t.event_history.push_back(EnvironmentEvent{.system_instance_id = "timeless", .reward = 1.0});
  return t;
}

// The events list as it was answered before the fast path: its SQL and its Value rows.
constexpr const char* kOldEventColumns =
    "e.id, t.step_id, e.event_type AS kind, COALESCE(e.md[1], e.md[2], e.md[3], e.md[4], e.event_type) AS name, "
    "e.system_instance_id AS system, COALESCE(e.span_id, e.md[5]) AS span_id, e.md[6] AS parent_span_id, "
    "e.event_time AS started_at, COALESCE(e.latency_ms, TRY_CAST(e.md[7] AS DOUBLE)) AS duration_ms, "
    "e.message_time AS turn, e.model_name AS model, e.provider, e.prompt_tokens, e.completion_tokens, e.total_tokens, "
    "e.cached_tokens, e.cost, e.reward, e.terminated, e.truncated, "
    "CASE WHEN COALESCE(json_type(e.metadata, '$.error'), 'NULL') <> 'NULL' THEN 'error' ELSE 'ok' END AS status";

std::string old_events_from(const std::string& condition) {
  return " FROM (SELECT *, json_extract_string(metadata, ['$.operation', '$.step', '$.operation_type', '$.span', "
         "'$.span_id', '$.parent_span_id', '$.duration_ms']) AS md FROM events WHERE " +
         condition + ") e LEFT JOIN session_timesteps t ON t.id = e.timestep_id";
}

QueryResult run(detail::duck::Connection& conn, const std::string& sql, const std::vector<Value>& params) {
  detail::duck::Prepared stmt(conn, sql);
  for (std::size_t i = 0; i < params.size(); ++i) stmt.bind(i + 1, params[i]);
  return stmt.execute().to_query_result();
}

struct EventsQuery {
  std::size_t limit = 100;
  std::size_t offset = 0;
  std::optional<std::string> step;
  std::optional<std::string> kind;
};

std::string old_events(detail::duck::Connection& conn, const std::string& id, const EventsQuery& q) {
  const QueryResult session =
      run(conn, "SELECT first_event_id, last_event_id FROM session_stats WHERE session_id = ?", {Value(id)});
  std::string where = "e.session_id = ? AND e.id BETWEEN ? AND ?";
  std::vector<Value> params{Value(id), session.rows[0][0], session.rows[0][1]};
  if (q.step) {
    where += " AND t.step_id = ?";
    params.emplace_back(*q.step);
  }
  if (q.kind) {
    where += " AND e.event_type = ?";
    params.emplace_back(*q.kind);
  }
  const QueryResult count =
      run(conn, "SELECT COUNT(*) FROM events e LEFT JOIN session_timesteps t ON t.id = e.timestep_id WHERE " + where, params);
  std::vector<Value> page_params = params;
  page_params.emplace_back(q.limit);
  page_params.emplace_back(q.offset);
  page_params.insert(page_params.end(), params.begin(), params.begin() + 3);
  const std::string order = " ORDER BY e.event_time NULLS LAST, e.id";
  const QueryResult r = run(conn,
                            "WITH page AS (SELECT e.id FROM events e LEFT JOIN session_timesteps t ON t.id = e.timestep_id "
                            "WHERE " + where + order + " LIMIT ? OFFSET ?) SELECT " + kOldEventColumns +
                                old_events_from("session_id = ? AND id BETWEEN ? AND ? AND id IN (SELECT id FROM page)") + order,
                            page_params);
  return Value{{"events", server::rows_value(r)}, {"total", count.rows[0][0].as_int()}, {"offset", q.offset}, {"limit", q.limit}}
      .dump();
}

std::string events_path(const std::string& id, const EventsQuery& q) {
  httplib::Params params{{"limit", std::to_string(q.limit)}, {"offset", std::to_string(q.offset)}};
  if (q.step) params.emplace("step", *q.step);
  if (q.kind) params.emplace("kind", *q.kind);
  return httplib::append_query_params("/api/v1/sessions/" + httplib::detail::encode_query_param(id) + "/events", params);
}

// The sessions list as it was answered before: the same SQL, rows as Values without sort_key;
// the cursor names the pages' sort and order.
std::string old_sessions(detail::duck::Connection& conn, const std::string& sort, const std::string& sort_order,
                         const std::string& key, const std::string& dir, std::size_t limit) {
  const std::string order = " ORDER BY " + key + dir + ", s.session_id" + dir;
  const QueryResult r = run(conn,
                            "WITH page AS (SELECT s.session_id FROM session_stats s" + order +
                                " LIMIT ?) SELECT " + server::kSessionColumns + ", CAST(" + key +
                                " AS VARCHAR) AS sort_key FROM session_stats s "
                                "WHERE s.session_id IN (SELECT session_id FROM page)" + order,
                            {Value(limit + 1)});
  Value::Array sessions;
  std::string next;
  for (std::size_t row = 0; row < r.rows.size() && row < limit; ++row) {
    Value v = server::row_value(r, row);
    if (row + 1 == limit && r.rows.size() > limit) {
      next = Value(Value::Array{Value(sort), Value(sort_order), v["sort_key"], v["session_id"]}).dump();
    }
    v.as_object().pop_back();
    sessions.push_back(std::move(v));
  }
  return Value{{"sessions", Value(std::move(sessions))}, {"next_cursor", next.empty() ? Value() : Value(next)}}.dump();
}

}  // namespace

TEST(ReadFastPath, EventsAndSessionsListsAreTheTextTheValuePathGave) {
  TempDir dir("synth_read_fast_path");
  const std::string id = "fast \xC3\xA9 \"path\"";
  std::vector<std::pair<std::string, std::string>> answers;  // path, body
  const std::vector<EventsQuery> queries = {
      {},
      {.limit = 3, .offset = 2},
      {.limit = 1000, .offset = 5},
      {.limit = 0},
      {.offset = 100},
      {.step = "step " + kAwkward},
      {.step = "step_0", .kind = "runtime"},
      {.kind = "environment"},
  };
  struct ListQuery {
    std::string sort, order, key, dir;
    std::size_t limit;
  };
  const std::vector<ListQuery> lists = {
      {"time", "desc", "COALESCE(CAST(epoch_us(s.created_at) AS DOUBLE), '-inf'::DOUBLE)", " DESC", 2},
      {"reward", "asc", "COALESCE(CAST(s.reward AS DOUBLE), 'inf'::DOUBLE)", " ASC", 50},
      {"reward", "desc", "COALESCE(CAST(s.reward AS DOUBLE), '-inf'::DOUBLE)", " DESC", 1},  // ties at the bound
      {"cost", "asc", "COALESCE(CAST(s.cost AS DOUBLE), 'inf'::DOUBLE)", " ASC", 2},
      {"models", "desc", "lower(left(COALESCE(array_to_string(s.models, ', '), ''), 200))", " DESC", 1},
  };
  {
    server::Server serve(server::ServerOptions{.db = dir.db(), .port = 0});
    httplib::Client client("127.0.0.1", serve.port());
    std::string body = every_kind_session(id).to_json() + "\n";
    for (int i = 0; i < 3; ++i) {
      body += sample_session("plain-" + std::to_string(i), {.steps = 1, .model = i == 1 ? kAwkward : "m", .start_second = i}).to_json() + "\n";
    }
    const auto posted = client.Post("/api/v1/sessions?wait=commit", body, "application/x-ndjson");
    ASSERT_TRUE(posted);
    ASSERT_EQ(posted->status, 200) << posted->body;
    for (const EventsQuery& q : queries) {
      const std::string path = events_path(id, q);
      const auto r = client.Get(path);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << path << ": " << r->body;
      answers.emplace_back(path, r->body);
    }
    for (const ListQuery& l : lists) {
      const std::string path = "/api/v1/sessions?sort=" + l.sort + "&order=" + l.order + "&limit=" + std::to_string(l.limit);
      const auto r = client.Get(path);
      ASSERT_TRUE(r);
      ASSERT_EQ(r->status, 200) << path << ": " << r->body;
      answers.emplace_back(path, r->body);
    }
  }
  // The server is gone: the same file, read the former way.
  detail::duck::Connection conn(dir.db(), true);
  std::size_t a = 0;
  for (const EventsQuery& q : queries) {
    const auto& [path, body] = answers[a++];
    EXPECT_EQ(body, old_events(conn, id, q)) << path;
  }
  for (const ListQuery& l : lists) {
    const auto& [path, body] = answers[a++];
    EXPECT_EQ(body, old_sessions(conn, l.sort, l.order, l.key, l.dir, l.limit)) << path;
  }
  // What the comparisons cover is really in the answers.
  const Value all = Value::parse(answers[0].second);
  ASSERT_EQ(all["total"].as_int(), 12);
  std::set<std::string> kinds, statuses;
  bool loose = false, timeless_last = false, large_name = false;
  for (const Value& e : all["events"].as_array()) {
    kinds.insert(e["kind"].as_string());
    statuses.insert(e["status"].as_string());
    loose = loose || (e["system"].as_string() == "loose" && e["step_id"].is_null());
    large_name = large_name || e["name"].as_string().size() > 200'000;
  }
  timeless_last = all["events"].as_array().back()["started_at"].is_null();
  EXPECT_EQ(kinds, (std::set<std::string>{"cais", "environment", "runtime"}));
  EXPECT_EQ(statuses, (std::set<std::string>{"ok", "error"}));
  EXPECT_TRUE(loose) << "an event outside any timestep";
  EXPECT_TRUE(timeless_last) << "an event without a time, last";
  EXPECT_TRUE(large_name) << "large metadata read";
  EXPECT_NE(answers[0].second.find("\\u0001"), std::string::npos) << "a control character, escaped";
  EXPECT_EQ(Value::parse(answers[5].second)["total"].as_int(), 3) << "the step with an awkward id, found";
  EXPECT_FALSE(Value::parse(answers[queries.size()].second)["next_cursor"].is_null()) << "a page with a cursor";
}

