// session_stats: every way of storing sessions keeps each session's aggregates, computed once
// per stored session (or per merged part), equal to what its events say; and a session stored in
// parts (OnExistingSession::merge) is one session.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <limits>

#include "duckdb/access.hpp"
#include "duckdb/duckdb_support.hpp"
#include "server/fixtures.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace fs = std::filesystem;
using namespace synth::tracing;
using namespace synth::tracing::testing;
using synth_test::sample_session;
using synth_test::SessionShape;

namespace {

// The aggregates the store keeps, next to the same aggregates computed from the events now.
struct Both {
  QueryResult kept;
  QueryResult computed;
};

Both aggregates(DuckDBTraceManager& db) {
  const char* columns =
      "session_id, num_timesteps, num_events, num_messages, num_llm_calls, prompt_tokens, completion_tokens, "
      "total_tokens, cost, reward, terminated, errors, to_json(list_sort(models)) AS models, "
      "to_json(list_sort(systems)) AS systems, first_message, last_message, started_at, ended_at";
  Both b;
  b.kept = db.query(std::string("SELECT ") + columns + " FROM session_stats ORDER BY session_id");
  b.computed = db.query(std::string("SELECT ") + columns + R"SQL( FROM (
      SELECT s.session_id,
        (SELECT COUNT(*) FROM session_timesteps t WHERE t.session_id = s.session_id) AS num_timesteps,
        COUNT(e.id) AS num_events,
        (SELECT COUNT(*) FROM messages m WHERE m.session_id = s.session_id) AS num_messages,
        COUNT(e.id) FILTER (WHERE e.event_type = 'cais') AS num_llm_calls,
        SUM(e.prompt_tokens) AS prompt_tokens, SUM(e.completion_tokens) AS completion_tokens,
        SUM(COALESCE(e.total_tokens, e.prompt_tokens + e.completion_tokens)) AS total_tokens,
        SUM(e.cost) AS cost, SUM(e.reward) AS reward, bool_or(e.terminated) AS terminated,
        COUNT(e.id) FILTER (WHERE COALESCE(json_type(e.metadata, '$.error'), 'NULL') <> 'NULL') AS errors,
        COALESCE(list_distinct(list(e.model_name) FILTER (WHERE e.model_name IS NOT NULL)), []) AS models,
        COALESCE(list_distinct(list(e.system_instance_id) FILTER (WHERE e.id IS NOT NULL)), []) AS systems,
        (SELECT COALESCE(json_extract_string(content, '$.payload'), CAST(content AS VARCHAR)) FROM messages m
          WHERE m.session_id = s.session_id ORDER BY timestamp, id LIMIT 1) AS first_message,
        (SELECT COALESCE(json_extract_string(content, '$.payload'), CAST(content AS VARCHAR)) FROM messages m
          WHERE m.session_id = s.session_id ORDER BY timestamp DESC, id DESC LIMIT 1) AS last_message,
        least(s.created_at, MIN(e.event_time), (SELECT MIN(timestamp) FROM messages m WHERE m.session_id = s.session_id))
          AS started_at,
        greatest(MAX(e.event_time + to_microseconds(CAST(1000 * COALESCE(e.latency_ms,
          TRY_CAST(json_extract_string(e.metadata, '$.duration_ms') AS DOUBLE), 0) AS BIGINT))),
          (SELECT MAX(timestamp) FROM messages m WHERE m.session_id = s.session_id)) AS ended_at
      FROM session_traces s LEFT JOIN events e USING (session_id) GROUP BY s.session_id, s.created_at)
    ORDER BY session_id)SQL");
  return b;
}

void expect_consistent(DuckDBTraceManager& db) {
  const Both b = aggregates(db);
  ASSERT_EQ(b.kept.rows.size(), b.computed.rows.size());
  for (std::size_t r = 0; r < b.kept.rows.size(); ++r) {
    for (std::size_t c = 0; c < b.kept.columns.size(); ++c) {
      EXPECT_EQ(b.kept.rows[r][c], b.computed.rows[r][c])
          << b.kept.columns[c] << " of " << b.kept.rows[r][0].dump() << ": kept " << b.kept.rows[r][c].dump()
          << ", computed " << b.computed.rows[r][c].dump();
    }
  }
}

}  // namespace

TEST(SessionStats, InsertsKeepEachSessionsAggregates) {
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  db.insert_traces(std::vector<SessionTrace>{sample_session("a", {.steps = 3}),
                                             sample_session("b", {.steps = 2, .model = "claude-3-haiku", .failing_tool = true})});
  db.insert_trace(sample_session("c", {.steps = 1, .reward_per_step = 2.0}));
  const QueryResult r = db.query(
      "SELECT session_id, num_timesteps, num_events, num_messages, num_llm_calls, total_tokens, cost, reward, terminated, "
      "errors, to_json(models), first_message, last_message, seq FROM session_stats ORDER BY session_id");
  ASSERT_EQ(r.rows.size(), 3u);
  EXPECT_EQ(r.rows[0], (std::vector<Value>{"a", 3, 9, 3, 3, 360, 0.003, 1.5, true, 0, "[\"gpt-4o-mini\"]", "room 0",
                                           "room 2", 1}));
  EXPECT_EQ(r.rows[1][9], Value(1)) << "b's failing tool is an error";
  EXPECT_EQ(r.rows[1][10], Value("[\"claude-3-haiku\"]"));
  EXPECT_EQ(r.rows[2][13], Value(3)) << "every change gets the next sequence number";
  expect_consistent(db);
}

TEST(SessionStats, TheSinkReplaceAndExperimentLinksKeepThemToo) {
  TempDir dir;
  {
    auto sink = std::make_shared<DuckDBSink>(dir.db());
    SessionTracer tracer(TracingConfig{.max_finished_sessions = 0});
    tracer.add_sink(sink);
    for (int i = 0; i < 3; ++i) {
      auto session = tracer.start_session("sink-" + std::to_string(i));
      auto step = tracer.timestep(0);
      tracer.add_event(CAISEvent{.model_name = "gpt-4o", .prompt_tokens = 10, .completion_tokens = 5, .cost = 0.5});
      tracer.add_event(EnvironmentEvent{.reward = 1.0, .terminated = true});
    }
    ASSERT_TRUE(tracer.flush());
  }
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::replace});
  EXPECT_EQ(db.query("SELECT COUNT(*), SUM(cost), SUM(reward) FROM session_stats").rows[0],
            (std::vector<Value>{3, 1.5, 3.0}));
  db.insert_trace(sample_session("sink-1", {.steps = 2}));  // replaced: its aggregates are the new session's
  EXPECT_EQ(db.query("SELECT num_events, reward FROM session_stats WHERE session_id = 'sink-1'").rows[0],
            (std::vector<Value>{6, 1.0}));
  db.create_experiment("exp", "Experiment");
  db.link_session_to_experiment("sink-2", "exp");
  EXPECT_EQ(db.query("SELECT experiment_id, seq = (SELECT MAX(seq) FROM session_stats) FROM session_stats "
                     "WHERE session_id = 'sink-2'")
                .rows[0],
            (std::vector<Value>{"exp", true}));
  expect_consistent(db);
}

namespace {

// A session cut into three parts (parts may split a timestep): step 2 arrives in two pieces,
// its LLM call first, the rest later.
struct Parts {
  SessionTrace whole, first, second, third;
};

Parts parts_of(const std::string& id) {
  Parts out;
  out.whole = sample_session(id, {.steps = 4, .failing_tool = true});
  const SessionTrace& whole = out.whole;
  const auto part = [&](std::size_t first_step, std::size_t steps, bool with_metadata) {
    SessionTrace p;
    p.session_id = whole.session_id;
    p.created_at = whole.created_at;
    if (with_metadata) p.session_metadata = whole.session_metadata;
    for (std::size_t s = first_step; s < first_step + steps; ++s) {
      const SessionTimeStep& step = whole.session_time_steps[s];
      p.session_time_steps.push_back(step);
      p.event_history.insert(p.event_history.end(), step.events.begin(), step.events.end());
      p.message_history.insert(p.message_history.end(), step.step_messages.begin(), step.step_messages.end());
    }
    return p;
  };
  out.first = part(0, 2, true);
  out.second = part(2, 1, false);
  out.second.session_time_steps[0].events.resize(1);
  out.second.session_time_steps[0].step_messages.clear();
  out.second.event_history.resize(out.second.event_history.size() - 2);
  out.second.message_history.clear();
  out.third = part(2, 2, false);
  out.third.session_time_steps[0].events.erase(out.third.session_time_steps[0].events.begin());
  out.third.event_history.erase(out.third.event_history.begin());
  return out;
}

// The aggregates of `db`'s sessions equal those of the same sessions stored whole.
void expect_stats_of_whole(DuckDBTraceManager& db, const std::vector<SessionTrace>& wholes) {
  TempDir other;
  DuckDBTraceManager reference(other.db());
  reference.insert_traces(wholes);
  const char* view =
      "SELECT * EXCLUDE (seq, first_event_id, last_event_id, first_message_id, last_message_id) FROM session_stats "
      "ORDER BY session_id";
  EXPECT_EQ(db.query(view).rows, reference.query(view).rows);
}

}  // namespace

TEST(SessionStats, ASessionStoredInPartsIsOneSession) {
  // The whole session, and the same session cut into three parts stored one after the other
  // (the first by another manager: the later ones read what they continue from in the file):
  // loading gives the same trace, with the same aggregates.
  const Parts p = parts_of("parts");
  TempDir dir;
  DuckDBTraceManager(dir.db()).insert_trace(p.first);
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  const std::int64_t first_seq = db.query("SELECT seq FROM session_stats").rows[0][0].as_int();
  const InsertSummary s = db.insert_traces(std::vector<SessionTrace>{p.second, p.third});
  EXPECT_EQ(s.merged, 2u);
  EXPECT_EQ(db.load_trace("parts"), p.whole);
  expect_consistent(db);
  EXPECT_GT(db.query("SELECT seq FROM session_stats").rows[0][0].as_int(), first_seq) << "a merge is a change";
  expect_stats_of_whole(db, {p.whole});
}

TEST(SessionStats, PartsOfANewSessionInOneBatchAreMergedAsInParts) {
  // Parts of a session new in the batch are merged in memory (their session and timestep rows
  // wait until the batch flushes); next to them, a stored session merged in SQL (its second part
  // flushes what the batch holds), and a session held, flushed so, then merged in SQL: the same
  // sessions and aggregates as stored whole.
  const Parts a = parts_of("a-held");
  const Parts b = parts_of("b-stored");
  const Parts c = parts_of("c-flushed");
  SessionTrace late_first = a.second;  // a part that started earlier than the session's first part
  late_first.created_at = a.whole.created_at - std::chrono::seconds(5);
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_trace(b.first);
  const InsertSummary s = db.insert_traces(
      std::vector<SessionTrace>{a.first, b.second, late_first, c.first, b.third, a.third, c.second, c.third}, 100);
  EXPECT_EQ(s.inserted, 2u);
  EXPECT_EQ(s.merged, 6u);
  SessionTrace a_whole = a.whole;
  a_whole.created_at = late_first.created_at;
  EXPECT_EQ(db.load_trace("a-held"), a_whole);
  EXPECT_EQ(db.load_trace("b-stored"), b.whole);
  EXPECT_EQ(db.load_trace("c-flushed"), c.whole);
  expect_consistent(db);
  expect_stats_of_whole(db, {a_whole, b.whole, c.whole});

  // Replacing a session held in the open batch flushes it first: the replacement alone remains.
  TempDir other;
  DuckDBTraceManager replacing(other.db(), DuckDBOptions{.on_existing = OnExistingSession::replace});
  replacing.insert_traces(std::vector<SessionTrace>{a.first, a.whole}, 100);
  EXPECT_EQ(replacing.load_trace("a-held"), a.whole);
  expect_consistent(replacing);
}

TEST(SessionStats, AFileWithoutThemGetsThemWhenMigrated) {
  TempDir dir;
  {
    DuckDBTraceManager db(dir.db());
    db.insert_traces(std::vector<SessionTrace>{sample_session("old-1"), sample_session("old-2", {.failing_tool = true})});
    // As a file of schema version 1 was: no session_stats.
    db.query("DROP TABLE session_stats");
    db.query("UPDATE synth_tracing_schema SET version = 1, definition = 'version 1'");
  }
  CapturedDiagnostics diagnostics;
  DuckDBTraceManager db(dir.db());
  bool reported = false;
  for (const auto& m : diagnostics.all()) reported |= m.find("session_stats added") != std::string::npos;
  EXPECT_TRUE(reported);
  EXPECT_EQ(db.query("SELECT COUNT(*) FROM session_stats").rows[0][0], Value(2));
  expect_consistent(db);
  db.insert_trace(sample_session("new"));
  EXPECT_EQ(db.query("SELECT session_id FROM session_stats ORDER BY seq DESC LIMIT 1").rows[0][0], Value("new"));
}

TEST(SessionStats, UnusualItemsAreCountedAsTheirRowsSay) {
  // Computed while inserting, the aggregates match the stored rows also for items without times,
  // messages without content or payload, calls without a total, durations given as text, a null
  // error, and an event only in a timestep.
  SessionTrace t = sample_session("odd", {.steps = 2});
  auto& call = std::get<CAISEvent>(t.session_time_steps[0].events[0]);
  call.total_tokens.reset();
  call.latency_ms.reset();
  call.time_record.reset();
  call.metadata = Value{{"duration_ms", "12.5"}, {"error", Value()}};
  t.event_history[0] = call;
  auto& tool = std::get<RuntimeEvent>(t.session_time_steps[1].events[2]);
  tool.metadata = Value{{"duration_ms", 1.0004}, {"error", "boom"}};
  t.event_history[5] = tool;
  t.session_time_steps[1].events.push_back(EnvironmentEvent{.time_record = TimeRecord{synth_test::at_second(9), 1},
                                                            .reward = 0.25});
  SessionEventMessage no_content{.message_type = "note"};
  SessionEventMessage structured{.content = Value{{"origin_system_id", "agent"}, {"payload", Value{{"a", 1}}}},
                                 .message_type = "action",
                                 .timestamp = synth_test::at_second(5)};
  SessionEventMessage plain{.content = Value("just text"), .message_type = "note", .timestamp = synth_test::at_second(0.01)};
  t.message_history.insert(t.message_history.end(), {no_content, structured, plain});
  TempDir dir;
  DuckDBTraceManager db(dir.db());
  db.insert_trace(t);
  db.insert_trace(sample_session("plain", {.steps = 1}));
  expect_consistent(db);
  EXPECT_EQ(db.query("SELECT errors, first_message, last_message, num_events FROM session_stats WHERE session_id = 'odd'").rows[0],
            (std::vector<Value>{1, "\"just text\"", "{\"a\":1}", 7}));
}

TEST(SessionStats, ASessionMergedOverSeveralCommitsHasTheAggregatesOfTheWholeSession) {
  // Each part in a commit of its own (the server's writer, a session's spans in several requests):
  // what each part's rows add is combined into the session's row; a merged session keeps its
  // experiment, and an infinite cost stays infinite.
  Parts a = parts_of("a-commits");
  const Parts b = parts_of("b-commits");
  std::get<CAISEvent>(a.third.session_time_steps[1].events[0]).cost = std::numeric_limits<double>::infinity();
  a.third.event_history[2] = a.third.session_time_steps[1].events[0];
  a.whole.session_time_steps[3].events[0] = a.third.session_time_steps[1].events[0];
  a.whole.event_history[9] = a.third.session_time_steps[1].events[0];
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_traces(std::vector<SessionTrace>{a.first, b.first});
  db.create_experiment("exp", "Experiment");
  db.link_session_to_experiment("a-commits", "exp");
  for (const SessionTrace* part : std::vector<const SessionTrace*>{&a.second, &b.second, &a.third, &b.third}) {
    db.insert_trace(*part);
  }
  EXPECT_EQ(db.load_trace("a-commits"), a.whole);
  EXPECT_EQ(db.load_trace("b-commits"), b.whole);
  expect_consistent(db);
  EXPECT_EQ(db.query("SELECT experiment_id FROM session_stats ORDER BY session_id").rows,
            (std::vector<std::vector<Value>>{{"exp"}, {Value()}}));
  db.query("UPDATE session_stats SET experiment_id = NULL");
  expect_stats_of_whole(db, {a.whole, b.whole});
  EXPECT_EQ(db.query("SELECT cost FROM session_stats WHERE session_id = 'a-commits'").rows[0][0],
            Value(std::numeric_limits<double>::infinity()));
  EXPECT_EQ(db.query("SELECT seq FROM session_stats ORDER BY seq").rows,
            (std::vector<std::vector<Value>>{{6}, {7}})) << "each merge a change: 2 inserts, a link, 4 merges";
}

TEST(SessionStats, AStoredSessionWithoutItsRowGetsOneWithItsExperimentWhenMerged) {
  // A row missing (deleted by hand): the merge writes one, with the aggregates of the rows it
  // added (one event, in a new timestep), and the session's created_at and experiment (not NULL).
  const Parts p = parts_of("no-row");
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_trace(p.first);
  db.create_experiment("exp", "Experiment");
  db.link_session_to_experiment("no-row", "exp");
  db.query("DELETE FROM session_stats");
  db.insert_trace(p.second);
  EXPECT_EQ(db.query("SELECT experiment_id, created_at = (SELECT created_at FROM session_traces), num_events, "
                     "num_timesteps FROM session_stats")
                .rows,
            (std::vector<std::vector<Value>>{{"exp", true, 1, 1}}));
}

namespace {

using detail::duck::StoreAccess;

std::int64_t listed_behind(DuckDBTraceManager& db) {
  return db.query("SELECT COUNT(DISTINCT session_id) FROM session_stats_behind").rows[0][0].as_int();
}

// The server writer's way: each part in a batch of its own, committed holding what the parts add
// to the sessions stored before.
void commit_holding(DuckDBTraceManager& db, const std::vector<const SessionTrace*>& parts) {
  for (const SessionTrace* part : parts) StoreAccess::batch_append(db, *part, OnExistingSession::merge);
  StoreAccess::batch_commit(db, false);
}

}  // namespace

TEST(SessionStats, AggregatesHeldOverSeveralCommitsAreFoldedAsIfStoredByEach) {
  // Commits holding what merged parts add: the sessions' rows stay as they were, listed in
  // session_stats_behind, until the fold stores them all: the aggregates of the whole sessions,
  // a new seq each. A session replaced while held keeps only its replacement's; a session new in
  // a holding commit gets its row at once.
  const Parts a = parts_of("a-held");
  const Parts b = parts_of("b-held");
  const Parts r = parts_of("r-replaced");
  const Parts n = parts_of("n-new");
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_traces(std::vector<SessionTrace>{a.first, b.first, r.first});
  const QueryResult before = db.query("SELECT session_id, num_events, seq FROM session_stats ORDER BY session_id");
  commit_holding(db, {&a.second, &b.second, &r.second, &n.first});
  commit_holding(db, {&a.third});
  EXPECT_EQ(db.query("SELECT session_id, num_events, seq FROM session_stats WHERE session_id <> 'n-new' ORDER BY session_id").rows,
            before.rows);
  EXPECT_EQ(listed_behind(db), 3);
  EXPECT_TRUE(StoreAccess::stats_held(db));
  StoreAccess::batch_append(db, r.whole, OnExistingSession::replace);
  commit_holding(db, {&b.third});
  EXPECT_TRUE(StoreAccess::fold_stats(db));
  EXPECT_FALSE(StoreAccess::stats_held(db));
  EXPECT_FALSE(StoreAccess::fold_stats(db)) << "nothing held";
  EXPECT_EQ(listed_behind(db), 0);
  expect_consistent(db);
  expect_stats_of_whole(db, {a.whole, b.whole, n.first, r.whole});
  EXPECT_EQ(db.query("SELECT session_id FROM session_stats ORDER BY seq DESC LIMIT 2").rows,
            (std::vector<std::vector<Value>>{{"b-held"}, {"a-held"}}))
      << "folded sessions changed last";

  // A commit that folds stores what was held with its own parts (DuckDBSink's and insert()'s commits always fold).
  const Parts c = parts_of("c-held");
  db.insert_trace(c.first);
  commit_holding(db, {&c.second});
  db.insert_trace(c.third);
  EXPECT_EQ(listed_behind(db), 0);
  expect_consistent(db);
}

TEST(SessionStats, ARollbackLeavesTheHeldSessionsToBeCountedAgainFromTheirRows) {
  // A batch rolled back after holding more (or after a fold that took what was held) leaves the
  // memory of held additions untrustworthy: the fold counts the listed sessions from their rows.
  const Parts a = parts_of("a-rolled");
  const Parts b = parts_of("b-rolled");
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_traces(std::vector<SessionTrace>{a.first, b.first});
  commit_holding(db, {&a.second});
  StoreAccess::batch_append(db, b.second, OnExistingSession::merge);
  EXPECT_THROW(StoreAccess::batch_run(db, "SELECT * FROM no_such_table", {}, false), StorageError);
  commit_holding(db, {&a.third, &b.second});
  EXPECT_TRUE(StoreAccess::fold_stats(db));
  expect_consistent(db);
  EXPECT_EQ(db.query("SELECT num_events FROM session_stats ORDER BY session_id").rows,
            (std::vector<std::vector<Value>>{{static_cast<std::int64_t>(a.whole.event_history.size())},
                                             {static_cast<std::int64_t>(b.first.event_history.size() +
                                                                        b.second.event_history.size())}}));
}

TEST(SessionStats, AWriterStoppedBeforeItsFoldLeavesTheFileToCountThemAgain) {
  // The held additions die with a process killed before its fold; the file lists their sessions,
  // and the next opening for writing counts them again. A clean close folds them itself.
  const Parts a = parts_of("a-killed");
  TempDir dir;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
    db.insert_trace(a.first);
    commit_holding(db, {&a.second, &a.third});
    std::_Exit(StoreAccess::stats_held(db) ? 0 : 1);  // no destructor: no fold
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  {
    // Read only (the CLI), the file cannot be counted again: the reader is told what does it.
    CapturedDiagnostics diagnostics;
    DuckDBTraceManager reader(dir.db(), DuckDBOptions{.read_only = true});
    bool told = false;
    for (const auto& m : diagnostics.all()) told |= m.find("1 sessions lag their rows") != std::string::npos;
    EXPECT_TRUE(told);
  }
  {
    CapturedDiagnostics diagnostics;
    DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
    bool reported = false;
    for (const auto& m : diagnostics.all()) reported |= m.find("aggregates of 1 sessions lagged") != std::string::npos;
    EXPECT_TRUE(reported);
    EXPECT_EQ(listed_behind(db), 0);
    EXPECT_FALSE(StoreAccess::stats_held(db));
    expect_consistent(db);
    expect_stats_of_whole(db, {a.whole});

    const Parts b = parts_of("b-closed");
    db.insert_trace(b.first);
    commit_holding(db, {&b.second, &b.third});
  }
  CapturedDiagnostics diagnostics;
  DuckDBTraceManager db(dir.db());
  EXPECT_TRUE(diagnostics.all().empty());
  expect_consistent(db);
}

TEST(SessionStats, AMergedPartWithoutMessagesKeepsTheFirstAndLastMessageOfOnesWithoutTimes) {
  // Messages without timestamps are first and last by their order. A part adding events only
  // kept nothing of them (the combination took the part's missing message for the first and
  // last); one adding messages without timestamps took its own for the first.
  Parts p = parts_of("untimed");
  for (SessionTrace* t : {&p.whole, &p.first, &p.third}) {
    for (SessionEventMessage& m : t->message_history) m.timestamp = Timestamp{};
    for (SessionTimeStep& step : t->session_time_steps) {
      for (SessionEventMessage& m : step.step_messages) m.timestamp = Timestamp{};
    }
  }
  ASSERT_TRUE(p.second.message_history.empty());
  ASSERT_FALSE(p.third.message_history.empty());
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  db.insert_trace(p.first);
  db.insert_trace(p.second);
  expect_consistent(db);
  db.insert_trace(p.third);
  expect_consistent(db);
  expect_stats_of_whole(db, {p.whole});
}

TEST(SessionStats, APartNamingANewModelAddsItAndLaterPartsKeepTheLists) {
  // A fold leaves a session's lists as they are when its row is known to hold every model,
  // provider and system the new rows name: a part naming another model adds it (and the row
  // is known to hold both since), a later one naming the first keeps them; after SQL of the
  // caller's own (which may change the rows), nothing is taken as known.
  TempDir dir;
  DuckDBTraceManager db(dir.db(), DuckDBOptions{.on_existing = OnExistingSession::merge});
  const auto part = [](const std::string& model, int start) {
    SessionTrace t = sample_session("models", {.steps = 1, .model = model, .start_second = start});
    for (SessionTimeStep& step : t.session_time_steps) step.step_id += "-" + std::to_string(start);
    return t;
  };
  const auto models = [&] { return db.query("SELECT to_json(models) FROM session_stats").rows[0][0]; };
  db.insert_trace(part("model-a", 0));
  for (const bool held : {false, true}) {
    StoreAccess::batch_append(db, part("model-b", held ? 20 : 10), OnExistingSession::merge);
    StoreAccess::batch_commit(db, !held);
    StoreAccess::batch_append(db, part("model-a", held ? 25 : 15), OnExistingSession::merge);
    StoreAccess::batch_commit(db, true);
    EXPECT_EQ(models(), Value("[\"model-a\",\"model-b\"]"));
    expect_consistent(db);
  }
  db.query("UPDATE session_stats SET models = ['model-a']");
  db.insert_trace(part("model-b", 30));
  EXPECT_EQ(models(), Value("[\"model-a\",\"model-b\"]"));
  db.insert_trace(part("model-c", 40));
  EXPECT_EQ(models(), Value("[\"model-a\",\"model-b\",\"model-c\"]"));
  expect_consistent(db);
}
