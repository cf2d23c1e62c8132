// The viewer's API of `synth-trace serve` over real HTTP: health, the sessions list (filters, the
// filter expression, sorts, keyset pages), one session with its timesteps, its events without
// payloads (paged), one event with its payload, messages, facets, changes since a sequence
// number, time series, and the exports (our JSON, OTLP JSON, Chrome Trace JSON).
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <tuple>

#include "server/fixtures.hpp"
#include "server/serve_process.hpp"
#include "support.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::sample_session;
using synth_test::ServeProcess;
using synth_test::SessionShape;

namespace {

// The sessions every test reads: models, rewards, errors and times differ.
const std::vector<std::pair<std::string, SessionShape>>& seeded() {
  static const std::vector<std::pair<std::string, SessionShape>> sessions = {
      {"s0", {.steps = 3, .model = "gpt-4o", .reward_per_step = 0.5, .start_second = 0}},
      {"s1", {.steps = 2, .model = "gpt-4o-mini", .reward_per_step = 0.1, .failing_tool = true, .start_second = 3600}},
      {"s2", {.steps = 5, .model = "claude-3-5-haiku", .reward_per_step = 0.4, .start_second = 7200}},
      {"s3", {.steps = 1, .model = "gpt-4o-mini", .reward_per_step = 0.0, .start_second = 7300}},
      {"s4", {.steps = 1, .model = "gpt-4o-mini", .reward_per_step = 0.9, .start_second = 7400}},
      {"s5", {.steps = 2, .model = "gpt-4o", .reward_per_step = 0.25, .start_second = 7500}},
  };
  return sessions;
}

class ReadApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir("synth_read_api");
    serve_ = new ServeProcess(dir_->db());
    std::string body;
    for (const auto& [id, shape] : seeded()) body += sample_session(id, shape).to_json() + "\n";
    const auto r = serve_->client()->Post("/api/v1/sessions?wait=commit", body, "application/x-ndjson");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  static void TearDownTestSuite() {
    delete serve_;
    delete dir_;
  }

  // GETs `path` with `params` (encoded): the status and the JSON answer.
  static std::pair<int, Value> get(const std::string& path, const httplib::Params& params = {}) {
    const auto r = serve_->client()->Get(path, params, httplib::Headers{});
    if (!r) return {0, Value()};
    return {r->status, r->body.empty() ? Value() : Value::parse(r->body)};
  }
  static Value ok(const std::string& path, const httplib::Params& params = {}) {
    auto [status, body] = get(path, params);
    EXPECT_EQ(status, 200) << path << ": " << body.dump();
    return body;
  }
  static std::vector<std::string> ids(const Value& list) {
    std::vector<std::string> out;
    for (const Value& s : list["sessions"].as_array()) out.push_back(s["session_id"].as_string());
    return out;
  }
  static std::vector<std::string> listed(const httplib::Params& params) { return ids(ok("/api/v1/sessions", params)); }
  // Every session id, walking the keyset pages of `page_size` in this sort (at most 10 pages).
  static std::vector<std::string> walk_pages(const char* sort, const char* order, int page_size) {
    std::vector<std::string> paged;
    std::string cursor;
    for (int page = 0; page < 10; ++page) {
      httplib::Params params{{"sort", sort}, {"order", order}, {"limit", std::to_string(page_size)}};
      if (!cursor.empty()) params.emplace("cursor", cursor);
      const Value v = ok("/api/v1/sessions", params);
      for (const auto& id : ids(v)) paged.push_back(id);
      if (v["next_cursor"].is_null()) break;
      cursor = v["next_cursor"].as_string();
    }
    return paged;
  }

  static inline TempDir* dir_ = nullptr;
  static inline ServeProcess* serve_ = nullptr;
};

}  // namespace

TEST_F(ReadApi, HealthSaysVersionDatabaseQueueAndRows) {
  const Value h = ok("/api/v1/health");
  EXPECT_EQ(h["status"], Value("ok"));
  EXPECT_EQ(h["db"], Value(dir_->db().string()));
  EXPECT_EQ(h["rows"]["sessions"], Value(6));
  EXPECT_EQ(h["rows"]["events"], Value(3 * (3 + 2 + 5 + 1 + 1 + 2)));
  EXPECT_EQ(h["queue"]["sessions"], Value(0));
  EXPECT_EQ(h["queue"]["max_delay_ms"], Value(250));
  EXPECT_GE(h["queue"]["writer_bytes_per_second"].as_double(), 0.0);
  EXPECT_EQ(h["ingest"]["inserted"], Value(6));
  EXPECT_TRUE(h["version"].is_string());
}

TEST_F(ReadApi, SessionsCarryTheirAggregates) {
  const Value list = ok("/api/v1/sessions", {{"filter", "session_id == \"s1\""}});
  ASSERT_EQ(list["sessions"].size(), 1u);
  const Value& s = list["sessions"][0];
  EXPECT_EQ(s["num_timesteps"], Value(2));
  EXPECT_EQ(s["num_events"], Value(6));
  EXPECT_EQ(s["num_llm_calls"], Value(2));
  EXPECT_EQ(s["total_tokens"], Value(240));
  EXPECT_DOUBLE_EQ(s["cost"].as_double(), 0.002);
  EXPECT_DOUBLE_EQ(s["reward"].as_double(), 0.2);
  EXPECT_EQ(s["terminated"], Value(true));
  EXPECT_EQ(s["errors"], Value(1));
  EXPECT_EQ(s["models"], Value::array({"gpt-4o-mini"}));
  EXPECT_EQ(s["first_message"], Value("room 0"));
  EXPECT_EQ(s["last_message"], Value("room 1"));
  // From the session's start to the end of its last event (step 1's tool call at 1.5 s).
  EXPECT_DOUBLE_EQ(s["duration_ms"].as_double(), 1500.0);
}

TEST_F(ReadApi, KeysetPagesWalkEverySessionOnceInEachSort) {
  for (const char* sort : {"time", "cost", "tokens", "reward", "duration", "steps", "llm_calls", "terminated"}) {
    for (const char* order : {"desc", "asc"}) {
      const std::vector<std::string> all = listed({{"sort", sort}, {"order", order}, {"limit", "100"}});
      ASSERT_EQ(all.size(), 6u) << sort;
      EXPECT_EQ(walk_pages(sort, order, 4), all) << sort << " " << order;
    }
  }
  EXPECT_EQ(listed({{"sort", "time"}}), (std::vector<std::string>{"s5", "s4", "s3", "s2", "s1", "s0"}));
  EXPECT_EQ(listed({{"sort", "reward"}, {"order", "desc"}}), (std::vector<std::string>{"s2", "s0", "s4", "s5", "s1", "s3"}));
}

TEST_F(ReadApi, AParameterValueTypedWithAnEqualsSignIsReadWhole) {
  // httplib 0.11 kept only the text after a value's last '=': a filter typed by hand as
  // ?filter=errors==0 was read as "0" (400), and ?q=a=b searched for "b".
  const auto raw = [](const std::string& target) {
    auto client = serve_->client();
    client->set_url_encode(false);  // the target as typed
    const auto r = client->Get(target);
    return r ? std::pair{r->status, Value::parse(r->body)} : std::pair{0, Value()};
  };
  const auto [status, body] = raw("/api/v1/sessions?filter=errors==1&limit=100");
  ASSERT_EQ(status, 200) << body.dump();
  ASSERT_EQ(body["sessions"].size(), 1u) << body.dump();
  EXPECT_EQ(body["sessions"][0]["session_id"], Value("s1"));
  EXPECT_EQ(raw("/api/v1/sessions?q=room=0").second["sessions"].size(), 0u) << "no message holds 'room=0'";
  // Encoded or not, a value reads the same; '+' is a space in a query.
  EXPECT_EQ(raw("/api/v1/sessions?filter=errors%3D%3D1").second["sessions"].size(), 1u);
  EXPECT_EQ(raw("/api/v1/sessions?q=ROOM+4").second["sessions"].size(), 1u);
}

TEST_F(ReadApi, ACursorIsRefusedWithAnotherSortOrOrderThanItsPages) {
  // A cursor holds the last row's key in its sort: read in another sort it ended the list early
  // (sort=time), went the wrong way, or failed with DuckDB's conversion error.
  const std::string cost_cursor = ok("/api/v1/sessions", {{"sort", "cost"}, {"limit", "2"}})["next_cursor"].as_string();
  const std::string text_cursor = ok("/api/v1/sessions", {{"sort", "session_id"}, {"limit", "2"}})["next_cursor"].as_string();
  for (const auto& [sort, order, cursor] : std::vector<std::tuple<std::string, std::string, std::string>>{
           {"time", "desc", cost_cursor}, {"cost", "asc", cost_cursor}, {"cost", "desc", text_cursor}}) {
    const auto [status, body] = get("/api/v1/sessions", {{"sort", sort}, {"order", order}, {"cursor", cursor}});
    EXPECT_EQ(status, 400) << sort << " " << order << ": " << body.dump();
    EXPECT_NE(body["error"].as_string().find("parameter cursor: it continues the pages of sort="), std::string::npos)
        << body.dump();
  }
  EXPECT_EQ(get("/api/v1/sessions", {{"sort", "cost"}, {"cursor", cost_cursor}}).first, 200);
  // A made-up key for a numeric sort: refused as such, not with DuckDB's conversion error.
  const auto [made_up, made_up_body] = get("/api/v1/sessions", {{"cursor", R"(["time","desc","abc","x"])"}});
  EXPECT_EQ(made_up, 400);
  EXPECT_NE(made_up_body["error"].as_string().find("not a cursor this server gave"), std::string::npos) << made_up_body.dump();
  // An empty page would say there is nothing more (sessions) or never move on (changes).
  EXPECT_EQ(get("/api/v1/sessions", {{"limit", "0"}}).first, 400);
  EXPECT_EQ(get("/api/v1/changes", {{"limit", "0"}}).first, 400);
}

TEST_F(ReadApi, TextColumnsSortOnTheServerWithTiesBrokenBySessionId) {
  // Pages of 2 put page boundaries inside the ties (three sessions use gpt-4o-mini, two end
  // with "room 0"): keyset pages must neither repeat nor skip rows there.
  for (const char* sort : {"session_id", "experiment", "models", "first_message", "last_message"}) {
    for (const char* order : {"desc", "asc"}) {
      const std::vector<std::string> all = listed({{"sort", sort}, {"order", order}, {"limit", "100"}});
      ASSERT_EQ(all.size(), 6u) << sort;
      EXPECT_EQ(walk_pages(sort, order, 2), all) << sort << " " << order;
    }
  }
  using Ids = std::vector<std::string>;
  EXPECT_EQ(listed({{"sort", "models"}, {"order", "asc"}}), (Ids{"s2", "s0", "s5", "s1", "s3", "s4"}));
  EXPECT_EQ(listed({{"sort", "models"}, {"order", "desc"}}), (Ids{"s4", "s3", "s1", "s5", "s0", "s2"}));
  EXPECT_EQ(listed({{"sort", "last_message"}, {"order", "asc"}}), (Ids{"s3", "s4", "s1", "s5", "s0", "s2"}));
  EXPECT_EQ(listed({{"sort", "session_id"}, {"order", "desc"}, {"limit", "3"}}), (Ids{"s5", "s4", "s3"}));
  // A filter and a text sort together: the filter's parameters and the cursor's are bound in order.
  const Value first = ok("/api/v1/sessions", {{"sort", "models"}, {"order", "asc"}, {"limit", "1"}, {"filter", "reward < 1"}});
  ASSERT_TRUE(first["next_cursor"].is_string());
  EXPECT_EQ(ids(first), (Ids{"s5"}));
  EXPECT_EQ(listed({{"sort", "models"},
                    {"order", "asc"},
                    {"filter", "reward < 1"},
                    {"cursor", first["next_cursor"].as_string()}}),
            (Ids{"s1", "s3", "s4"}));
  const auto [status, body] = get("/api/v1/sessions", {{"sort", "colour"}});
  EXPECT_EQ(status, 400);
  EXPECT_NE(body["error"].as_string().find("first_message"), std::string::npos) << "the error lists the sorts: " << body.dump();
}

TEST_F(ReadApi, FiltersAndTheFilterExpression) {
  const auto set = [](std::vector<std::string> v) { return std::set<std::string>(v.begin(), v.end()); };
  using Ids = std::set<std::string>;
  EXPECT_EQ(set(listed({{"model", "gpt-4o"}})), (Ids{"s0", "s5"}));
  EXPECT_EQ(set(listed({{"min_reward", "1"}})), (Ids{"s0", "s2"}));
  EXPECT_EQ(set(listed({{"max_reward", "0.2"}})), (Ids{"s1", "s3"}));
  EXPECT_EQ(set(listed({{"has_errors", "true"}})), (Ids{"s1"}));
  EXPECT_EQ(set(listed({{"from", "2025-01-01T02:00:00Z"}, {"to", "2025-01-01T02:02:00Z"}})), (Ids{"s2", "s3"}));
  EXPECT_EQ(set(listed({{"q", "ROOM 4"}})), (Ids{"s2"})) << "text in messages, any case";
  // The text of the messages' values, not their JSON: keys and punctuation matched every session.
  EXPECT_TRUE(listed({{"q", "payload"}}).empty());
  EXPECT_TRUE(listed({{"q", "\":\""}}).empty());
  EXPECT_EQ(set(listed({{"q", "GRIDWORLD"}})).size(), 6u) << "the origin's value";
  EXPECT_EQ(set(listed({{"system", "gridworld"}, {"terminated", "true"}})).size(), 6u);
  EXPECT_EQ(set(listed({{"filter", "reward > 0.5 and model == \"gpt-4o-mini\" and errors == 0"}})), (Ids{"s4"}));
  EXPECT_EQ(set(listed({{"filter", "(steps >= 3 or model contains 'claude') and not reward < 1.6"}})), (Ids{"s2"}));
  EXPECT_EQ(set(listed({{"filter", "session_id in ('s1', 's3') and terminated"}})), (Ids{"s1", "s3"}));
  EXPECT_EQ(set(listed({{"filter", "created_at >= \"2025-01-01T02:03:00Z\""}, {"model", "gpt-4o"}})), (Ids{"s5"}));

  // A quote in a value is a value, never SQL.
  EXPECT_TRUE(listed({{"filter", "session_id == \"x' OR 1=1 --\""}}).empty());
  const auto [status, body] = get("/api/v1/sessions", {{"filter", "reward > 0.5 and modle == 'x'"}});
  EXPECT_EQ(status, 400);
  EXPECT_NE(body["error"].as_string().find("at character 18: unknown field 'modle'"), std::string::npos) << body.dump();
  EXPECT_EQ(get("/api/v1/sessions", {{"sort", "colour"}}).first, 400);
  EXPECT_EQ(get("/api/v1/sessions", {{"limit", "1000000"}}).first, 400);
  EXPECT_EQ(get("/api/v1/sessions", {{"cursor", "garbage"}}).first, 400);
  EXPECT_EQ(get("/api/v1/sessions", {{"min_reward", "high"}}).first, 400);
  EXPECT_EQ(get("/api/v1/sessions", {{"min_reward", "nan"}}).first, 400) << "NaN is above every number in SQL";
  EXPECT_EQ(get("/api/v1/sessions", {{"max_reward", "-inf"}}).first, 400);
}

// Times as seconds since the epoch (what a script has at hand): the same sessions as the ISO
// text; beyond what a timestamp holds (1677-09-21 to 2262-04-11), or not a finite number, a 400
// that says so, never a wrong (empty) answer.
TEST_F(ReadApi, TimesInSecondsSinceTheEpoch) {
  const auto set = [](std::vector<std::string> v) { return std::set<std::string>(v.begin(), v.end()); };
  const std::int64_t two = 1735689600 + 2 * 3600;  // 2025-01-01T02:00:00Z
  using Ids = std::set<std::string>;
  EXPECT_EQ(set(listed({{"from", std::to_string(two)}, {"to", std::to_string(two + 120)}})), (Ids{"s2", "s3"}));
  EXPECT_EQ(set(listed({{"from", std::to_string(two - 1) + ".75"}, {"to", std::to_string(two + 120) + ".25"}})),
            set(listed({{"from", "2025-01-01T01:59:59.75Z"}, {"to", "2025-01-01T02:02:00.25Z"}})));
  for (const char* bad : {"32503680000", "1e20", "-1e20", "nan", "inf", "-inf"}) {
    SCOPED_TRACE(bad);
    for (const char* route : {"/api/v1/sessions", "/api/v1/stats/timeseries"}) {
      const auto [status, body] = get(route, {{"to", bad}});
      EXPECT_EQ(status, 400) << body.dump();
      EXPECT_NE(body["error"].as_string().find("1677-09-21 to 2262-04-11"), std::string::npos) << body.dump();
    }
  }
}

// A misspelt filter (`?modle=`) or one given twice must not answer as if it were absent: every
// /api/v1 route refuses a parameter it does not take, naming it and those it takes.
TEST_F(ReadApi, UnknownOrRepeatedParametersAreRefusedByName) {
  const std::vector<std::pair<std::string, std::string>> routes = {
      {"/api/v1/health", ""},
      {"/api/v1/sessions", "model"},
      {"/api/v1/sessions/s0", ""},
      {"/api/v1/sessions/s0/events", "kind"},
      {"/api/v1/sessions/s0/messages", "offset"},
      {"/api/v1/events/1", ""},
      {"/api/v1/changes", "since"},
      {"/api/v1/stats/timeseries", "metric"},
      {"/api/v1/facets", "limit"},
      {"/api/v1/sessions/s0/export", "format"},
      {"/api/v1/export/jsonl", ""},
      {"/api/v1/export/parquet/events", ""},
  };
  for (const auto& [route, one_it_takes] : routes) {
    SCOPED_TRACE(route);
    const auto [status, body] = get(route, {{"modle", "gpt-4o"}});
    EXPECT_EQ(status, 400) << body.dump();
    const std::string error = body["error"].is_string() ? body["error"].as_string() : "";
    EXPECT_NE(error.find("unknown parameter 'modle'"), std::string::npos) << error;
    EXPECT_NE(error.find(one_it_takes.empty() ? "takes no parameters" : one_it_takes), std::string::npos) << error;
  }
  const auto [status, body] = get("/api/v1/sessions", {{"model", "gpt-4o"}, {"model", "gpt-4o-mini"}});
  EXPECT_EQ(status, 400) << body.dump();
  EXPECT_NE(body.dump().find("parameter 'model' is given 2 times"), std::string::npos) << body.dump();
  // The POST routes too (the body is not read).
  for (const char* path : {"/api/v1/sessions?wiat=commit", "/api/v1/query?limit=5"}) {
    SCOPED_TRACE(path);
    const auto r = serve_->client()->Post(path, "{}", "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << r->body;
    EXPECT_NE(r->body.find("unknown parameter"), std::string::npos) << r->body;
  }
  EXPECT_EQ(listed({{"model", "gpt-4o"}, {"sort", "time"}}).size(), 2u) << "the parameters a route takes still work";
}

TEST_F(ReadApi, OneSessionWithItsTimestepSummaries) {
  const Value v = ok("/api/v1/sessions/s0");
  EXPECT_EQ(v["session"]["session_id"], Value("s0"));
  EXPECT_EQ(v["metadata"][0]["metadata_type"], Value("session_start"));
  ASSERT_EQ(v["timesteps"].size(), 3u);
  const Value& step = v["timesteps"][1];
  EXPECT_EQ(step["step_id"], Value("step_1"));
  EXPECT_EQ(step["num_events"], Value(3));
  EXPECT_EQ(step["llm_calls"], Value(1));
  EXPECT_EQ(step["tokens"], Value(120));
  EXPECT_DOUBLE_EQ(step["reward"].as_double(), 0.5);
  const auto [status, body] = get("/api/v1/sessions/nope");
  EXPECT_EQ(status, 404);
  EXPECT_NE(body["error"].as_string().find("no session 'nope'"), std::string::npos);
}

TEST_F(ReadApi, EventsArePagedWithoutPayloadsAndOneEventHasItsPayload) {
  const Value page = ok("/api/v1/sessions/s2/events", {{"limit", "4"}, {"offset", "3"}});
  EXPECT_EQ(page["total"], Value(15));
  ASSERT_EQ(page["events"].size(), 4u);
  const Value& first = page["events"][0];
  EXPECT_EQ(first["step_id"], Value("step_1")) << "in time order: step 1's first event is the 4th";
  EXPECT_EQ(first["kind"], Value("cais"));
  EXPECT_EQ(first["name"], Value("chat"));
  EXPECT_EQ(first["model"], Value("claude-3-5-haiku"));
  EXPECT_TRUE(first["system_state_before"].is_null()) << "no payloads in lists";
  EXPECT_EQ(first.find("system_state_before"), nullptr);
  EXPECT_EQ(ok("/api/v1/sessions/s2/events", {{"kind", "runtime"}})["total"], Value(5));
  EXPECT_EQ(ok("/api/v1/sessions/s2/events", {{"step", "step_3"}})["total"], Value(3));
  EXPECT_EQ(ok("/api/v1/sessions/s1/events", {{"kind", "runtime"}})["events"][0]["status"], Value("error"));
  EXPECT_EQ(get("/api/v1/sessions/s2/events", {{"kind", "telepathy"}}).first, 400);
  // Pages of a filtered list put together are the whole list, in order; past its end there are
  // no events and the total still says how many there are.
  std::vector<std::int64_t> whole, paged;
  const Value all_runtime = ok("/api/v1/sessions/s2/events", {{"kind", "runtime"}, {"limit", "100"}});
  for (const Value& e : all_runtime["events"].as_array()) whole.push_back(e["id"].as_int());
  for (int offset = 0; offset < 10; offset += 2) {
    const Value p =
        ok("/api/v1/sessions/s2/events", {{"kind", "runtime"}, {"limit", "2"}, {"offset", std::to_string(offset)}});
    EXPECT_EQ(p["total"], Value(5));
    for (const Value& e : p["events"].as_array()) paged.push_back(e["id"].as_int());
  }
  EXPECT_EQ(paged, whole);
  EXPECT_TRUE(std::is_sorted(whole.begin(), whole.end())) << "runtime events in time order";
  const Value past = ok("/api/v1/sessions/s2/events", {{"offset", "100"}});
  EXPECT_TRUE(past["events"].as_array().empty());
  EXPECT_EQ(past["total"], Value(15));

  const std::int64_t tool = ok("/api/v1/sessions/s2/events", {{"kind", "runtime"}})["events"][0]["id"].as_int();
  const Value event = ok("/api/v1/events/" + std::to_string(tool));
  EXPECT_EQ(event["session_id"], Value("s2"));
  EXPECT_EQ(event["actions"], (Value{{"query", "door 0"}}));
  EXPECT_EQ(event["cut_payloads"], Value::array());
  EXPECT_EQ(get("/api/v1/events/99999999").first, 404);
}

TEST_F(ReadApi, MessagesInHistoryOrder) {
  const Value v = ok("/api/v1/sessions/s2/messages", {{"limit", "2"}, {"offset", "1"}});
  EXPECT_EQ(v["total"], Value(5));
  ASSERT_EQ(v["messages"].size(), 2u);
  EXPECT_EQ(v["messages"][0]["content"]["payload"], Value("room 1"));
  EXPECT_EQ(v["messages"][1]["step_id"], Value("step_2"));
}

TEST_F(ReadApi, FacetsTimeSeriesAndChanges) {
  const Value f = ok("/api/v1/facets");
  EXPECT_EQ(f["models"][0], (Value{{"value", "gpt-4o-mini"}, {"sessions", 3}})) << "most common first";
  EXPECT_EQ(f["models"].size(), 3u);
  EXPECT_EQ(f["systems"].size(), 3u);
  EXPECT_EQ(f["event_kinds"].size(), 3u);

  const Value cost = ok("/api/v1/stats/timeseries", {{"metric", "calls"}, {"bucket", "1h"}, {"group_by", "model"}});
  std::map<std::string, double> calls;
  for (const Value& series : cost["series"].as_array()) {
    for (const Value& point : series["points"].as_array()) calls[series["group"].as_string()] += point[1].as_double();
  }
  EXPECT_EQ(calls, (std::map<std::string, double>{{"claude-3-5-haiku", 5}, {"gpt-4o", 5}, {"gpt-4o-mini", 4}}));
  const Value reward = ok("/api/v1/stats/timeseries", {{"metric", "reward"}, {"bucket", "1h"}});
  ASSERT_EQ(reward["series"].size(), 1u);
  EXPECT_EQ(reward["series"][0]["points"].size(), 3u) << "hours 0, 1 and 2";
  EXPECT_EQ(get("/api/v1/stats/timeseries", {{"bucket", "soon"}}).first, 400);

  const Value all = ok("/api/v1/changes", {{"since", "0"}});
  EXPECT_EQ(all["sessions"].size(), 6u);
  const std::int64_t seq = all["seq"].as_int();
  EXPECT_TRUE(ok("/api/v1/changes", {{"since", std::to_string(seq)}})["sessions"].as_array().empty());
  const auto r = serve_->client()->Post("/api/v1/sessions?wait=commit&on_existing=merge",
                                        sample_session("s3", {.steps = 1}).to_json(), "application/json");
  ASSERT_TRUE(r);
  const Value after = ok("/api/v1/changes", {{"since", std::to_string(seq)}});
  ASSERT_EQ(after["sessions"].size(), 1u) << "a merged part is a change of its session";
  EXPECT_EQ(after["sessions"][0]["session_id"], Value("s3"));
  EXPECT_GT(after["seq"].as_int(), seq);
}

TEST_F(ReadApi, ExportsOurJsonOtlpJsonAndChromeTraceJson) {
  const SessionTrace original = sample_session("s1", seeded()[1].second);
  EXPECT_EQ(SessionTrace::from_json(ok("/api/v1/sessions/s1/export", {{"format", "json"}}).dump()), original);

  const Value otlp = ok("/api/v1/sessions/s1/export", {{"format", "otlp-json"}});
  std::size_t spans = 0;
  std::set<std::string> trace_ids;
  for (const Value& scope : otlp["resourceSpans"][0]["scopeSpans"].as_array()) {
    for (const Value& span : scope["spans"].as_array()) {
      ++spans;
      trace_ids.insert(span["traceId"].as_string());
      EXPECT_EQ(span["spanId"].as_string().size(), 16u);
    }
  }
  EXPECT_GE(spans, 1u + 2u) << "the session and its timesteps at least";
  EXPECT_EQ(trace_ids.size(), 1u) << "one trace";

  const Value chrome = ok("/api/v1/sessions/s1/export", {{"format", "chrome"}});
  std::map<std::int64_t, std::vector<std::pair<double, double>>> slices;  // by lane
  bool counter = false;
  for (const Value& e : chrome["traceEvents"].as_array()) {
    if (e["ph"] == Value("X")) slices[e["tid"].as_int()].emplace_back(e["ts"].as_double(), e["ts"].as_double() + e["dur"].as_double());
    counter |= e["ph"] == Value("C");
  }
  EXPECT_TRUE(counter) << "cumulative reward and cost";
  ASSERT_GE(slices.size(), 3u) << "lanes by kind";
  // Perfetto wants the slices of a lane nested: two that overlap, one inside the other.
  for (auto& [lane, spans_of_lane] : slices) {
    for (std::size_t i = 0; i < spans_of_lane.size(); ++i) {
      for (std::size_t j = i + 1; j < spans_of_lane.size(); ++j) {
        const auto [a0, a1] = spans_of_lane[i];
        const auto [b0, b1] = spans_of_lane[j];
        const bool disjoint = a1 <= b0 || b1 <= a0;
        const bool nested = (a0 <= b0 && b1 <= a1) || (b0 <= a0 && a1 <= b1);
        EXPECT_TRUE(disjoint || nested) << "lane " << lane;
      }
    }
  }
  // Microseconds from the session's start: step 1's LLM call starts 1.1 s in.
  bool found = false;
  for (const Value& e : chrome["traceEvents"].as_array()) {
    if (e["ph"] == Value("X") && e["name"] == Value("chat") && std::abs(e["ts"].as_double() - 1'100'000.0) < 1.0) found = true;
  }
  EXPECT_TRUE(found) << chrome.dump().substr(0, 2000);
  EXPECT_EQ(get("/api/v1/sessions/s1/export", {{"format", "pdf"}}).first, 400);
  EXPECT_EQ(get("/api/v1/sessions/none/export").first, 404);
}

TEST(ReadApiLimits, APayloadLargerThanTheLimitIsCutAndSaysSoAndTheOthersAreWhole) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--max-event-bytes", "1000", "--max-page", "5"});
  SessionTrace t = sample_session("big", {.steps = 1});
  std::get<RuntimeEvent>(t.session_time_steps[0].events[2]).actions = Value{{"blob", std::string(5000, 'x')}};
  // The payloads share the limit: small ones come whole, even after a large one (they came as
  // ""); the environment's own `truncated` flag is not the list of cut payloads (it was
  // overwritten by it).
  auto& env = std::get<EnvironmentEvent>(t.session_time_steps[0].events[1]);
  env.truncated = true;
  env.system_state_before = Value{{"view", std::string(5000, 'v')}};
  env.system_state_after = Value{{"content", "answer"}};
  env.metadata = Value{{"note", std::string(300, 'm')}};
  t.event_history[1] = t.session_time_steps[0].events[1];
  t.event_history[2] = t.session_time_steps[0].events[2];
  auto client = serve.client();
  ASSERT_EQ(client->Post("/api/v1/sessions?wait=commit", t.to_json(), "application/json")->status, 200);
  const Value events = Value::parse(client->Get("/api/v1/sessions/big/events")->body);
  EXPECT_EQ(events["limit"], Value(5)) << "the default page is cut to --max-page";
  const Value tool = Value::parse(client->Get("/api/v1/events/" + std::to_string(events["events"][2]["id"].as_int()))->body);
  EXPECT_EQ(tool["cut_payloads"], Value::array({"actions"})) << tool.dump().substr(0, 300);
  EXPECT_LE(tool["actions"].as_string().size(), 1000u);
  const Value step = Value::parse(client->Get("/api/v1/events/" + std::to_string(events["events"][1]["id"].as_int()))->body);
  EXPECT_EQ(step["truncated"], Value(true)) << step.dump().substr(0, 300);
  EXPECT_EQ(step["cut_payloads"], Value::array({"system_state_before"}));
  EXPECT_EQ(step["system_state_after"], env.system_state_after);
  EXPECT_EQ(step["metadata"], env.metadata);
  std::size_t sent = 0;  // the payloads' JSON text, within the limit
  for (const char* payload : {"system_state_before", "system_state_after", "metadata", "event_metadata", "observation_diff"}) {
    if (step[payload].is_null()) continue;  // none stored
    sent += step[payload].is_string() ? step[payload].as_string().size() : step[payload].dump().size();
  }
  EXPECT_LE(sent, 1000u);
  EXPECT_EQ(client->Get("/api/v1/sessions?limit=6")->status, 400) << "beyond --max-page";
}

TEST(ReadApiIds, ASessionWhoseIdHoldsSlashesIsReadByEveryRoute) {
  // Its id is one encoded path segment (%2F); the server decodes the path before matching its
  // routes, which took only ids without '/' (404 "no route" for every read of such a session).
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  std::string body;
  for (const char* id : {"run/1", "team/run/2", "50%/x y", "line\nbreak"}) body += sample_session(id, {.steps = 2}).to_json() + "\n";
  ASSERT_EQ(client->Post("/api/v1/sessions?wait=commit", body, "application/x-ndjson")->status, 200);
  for (const auto& [id, encoded] : std::vector<std::pair<std::string, std::string>>{
           {"run/1", "run%2F1"}, {"team/run/2", "team%2Frun%2F2"}, {"50%/x y", "50%25%2Fx%20y"}, {"line\nbreak", "line%0Abreak"}}) {
    SCOPED_TRACE(id);
    const std::string base = "/api/v1/sessions/" + encoded;
    const auto detail = client->Get(base);
    ASSERT_TRUE(detail);
    ASSERT_EQ(detail->status, 200) << detail->body;
    EXPECT_EQ(Value::parse(detail->body)["session"]["session_id"], Value(id));
    const auto events = client->Get(base + "/events");
    ASSERT_EQ(events->status, 200) << events->body;
    EXPECT_EQ(Value::parse(events->body)["total"], Value(6));
    const auto messages = client->Get(base + "/messages");
    ASSERT_EQ(messages->status, 200) << messages->body;
    EXPECT_EQ(Value::parse(messages->body)["total"], Value(2));
    const auto exported = client->Get(base + "/export?format=json");
    ASSERT_EQ(exported->status, 200) << exported->body;
    EXPECT_EQ(SessionTrace::from_json(exported->body).session_id, id);
  }
}

TEST(ReadApiAfterWrites, AReadSeesTheAggregatesOfEveryAnsweredRequest) {
  // A session sent step by step, each request merged into it and answered once committed: the
  // writer holds what the merges add to the session's aggregates rather than storing them at each
  // commit, and a read right after the last answer waits for them: those of the session stored whole.
  TempDir dir;
  ServeProcess serve(dir.db());
  auto client = serve.client();
  const SessionTrace whole = sample_session("in-steps", {.steps = 6, .failing_tool = true});
  for (std::size_t s = 0; s < whole.session_time_steps.size(); ++s) {
    SessionTrace part;
    part.session_id = whole.session_id;
    part.created_at = whole.created_at;
    const SessionTimeStep& step = whole.session_time_steps[s];
    part.session_time_steps.push_back(step);
    part.event_history = step.events;
    part.message_history = step.step_messages;
    const auto r = client->Post("/api/v1/sessions?on_existing=merge&wait=commit", part.to_json(), "application/json");
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200) << r->body;
  }
  const Value session = Value::parse(client->Get("/api/v1/sessions/in-steps")->body)["session"];
  SessionTrace reference = whole;
  reference.session_id = "whole";
  ASSERT_EQ(client->Post("/api/v1/sessions?wait=commit", reference.to_json(), "application/json")->status, 200);
  const Value stored_whole = Value::parse(client->Get("/api/v1/sessions/whole")->body)["session"];
  EXPECT_EQ(session["num_timesteps"], Value(6));
  for (const char* column : {"num_timesteps", "num_events", "num_messages", "num_llm_calls", "total_tokens", "cost",
                             "reward", "errors", "started_at", "ended_at", "last_message"}) {
    EXPECT_EQ(session[column], stored_whole[column]) << column;
  }
  const Value list = Value::parse(client->Get("/api/v1/sessions?sort=session_id")->body);
  EXPECT_EQ(list["sessions"][0]["num_events"], session["num_events"]);
}
