// The viewer's reading routes: health, the sessions list (filters, sorts, keyset pages), one
// session with its timesteps, its events without payloads, one event with its payload, its
// messages, and the changes since a sequence number.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <optional>

#include "json/writer.hpp"
#include "server/filter.hpp"
#include "server/read.hpp"
#include "server/routes.hpp"
#include "synth/tracing/version.hpp"

namespace synth::tracing::server {

namespace {

// A page's continuation, as opaque text: the sort and order of its pages (its key means nothing
// in another) and the last row's sort key and session id.
std::string encode_cursor(std::string_view sort, std::string_view order, const std::string& key, const std::string& session_id) {
  return Value(Value::Array{Value(sort), Value(order), Value(key), Value(session_id)}).dump();
}

// The last row's key and session id, from a cursor of pages in `sort` and `order` (whose keys
// are numbers unless `text`).
std::pair<std::string, std::string> decode_cursor(const std::string& cursor, std::string_view sort, std::string_view order,
                                                  bool text) {
  const ApiError not_ours(400,
                          "parameter cursor: not a cursor this server gave (pass next_cursor of the previous page as it is)");
  Value v;
  try {
    v = Value::parse(cursor, "cursor");
  } catch (const Error&) {
    throw not_ours;
  }
  const auto texts = [](const Value& x) { return x.is_string(); };
  if (!v.is_array() || v.size() != 4 || !std::all_of(v.as_array().begin(), v.as_array().end(), texts)) {
    throw not_ours;
  }
  if (v[0].as_string() != sort || v[1].as_string() != order) {
    throw ApiError(400, "parameter cursor: it continues the pages of sort=" + v[0].as_string() + "&order=" + v[1].as_string() +
                            ", not of sort=" + std::string(sort) + "&order=" + std::string(order) +
                            " (pass it with the sort and order of its pages, or start again without a cursor)");
  }
  const std::string& key = v[2].as_string();
  double number = 0;
  if (const auto r = std::from_chars(key.data(), key.data() + key.size(), number);
      !text && (r.ec != std::errc() || r.ptr != key.data() + key.size())) {
    throw not_ours;
  }
  return {key, v[3].as_string()};
}

// Sorts of the sessions list. Keys are never NULL, so that the keyset condition is a plain
// comparison: a missing number goes last in either order; missing text sorts as '' (first
// ascending, last descending). Text compares case-insensitively on its first 200 characters,
// which keeps cursors short (the message previews are 200 characters anyway).
struct Sort {
  const char* name;
  const char* column;  // may be NULL
  bool text = false;
};
constexpr Sort kSorts[] = {
    {"time", "epoch_us(s.created_at)"},
    {"cost", "s.cost"},
    {"tokens", "s.total_tokens"},
    {"reward", "s.reward"},
    {"duration", "(epoch_us(s.ended_at) - epoch_us(s.started_at))"},
    {"events", "s.num_events"},
    {"errors", "s.errors"},
    {"steps", "s.num_timesteps"},
    {"llm_calls", "s.num_llm_calls"},
    {"terminated", "s.terminated"},
    {"session_id", "s.session_id", true},
    {"experiment", "s.experiment_id", true},
    {"models", "array_to_string(s.models, ', ')", true},
    {"first_message", "s.first_message", true},
    {"last_message", "s.last_message", true},
};

const Sort& sort_param(const httplib::Request& req) {
  const auto name = param(req, "sort");
  if (!name) return kSorts[0];
  std::string known;
  for (const Sort& s : kSorts) {
    if (*name == s.name) return s;
    known += known.empty() ? s.name : std::string(", ") + s.name;
  }
  throw ApiError(400, "parameter sort=" + *name + ": expected one of " + known);
}

std::string sort_key(const Sort& sort, bool descending) {
  if (sort.text) return std::string("lower(left(COALESCE(") + sort.column + ", ''), 200))";
  return std::string("COALESCE(CAST(") + sort.column + " AS DOUBLE), " + (descending ? "'-inf'" : "'inf'") + "::DOUBLE)";
}

// Conditions of the list's query parameters, ANDed.
struct Where {
  std::string sql;
  std::vector<Value> params;
  void add(const std::string& condition, std::vector<Value> values = {}) {
    sql += (sql.empty() ? " WHERE " : " AND ") + condition;
    for (auto& v : values) params.push_back(std::move(v));
  }
};

Where list_conditions(const httplib::Request& req) {
  Where w;
  if (const auto from = time_param(req, "from")) w.add("s.created_at >= CAST(? AS TIMESTAMP)", {Value(format_timestamp(*from))});
  if (const auto to = time_param(req, "to")) w.add("s.created_at <= CAST(? AS TIMESTAMP)", {Value(format_timestamp(*to))});
  if (const auto v = param(req, "experiment")) w.add("s.experiment_id = ?", {Value(*v)});
  if (const auto v = param(req, "model")) w.add("list_contains(s.models, ?)", {Value(*v)});
  if (const auto v = param(req, "provider")) w.add("list_contains(s.providers, ?)", {Value(*v)});
  if (const auto v = param(req, "system")) w.add("list_contains(s.systems, ?)", {Value(*v)});
  if (const auto v = number_param(req, "min_reward")) w.add("s.reward >= ?", {Value(*v)});
  if (const auto v = number_param(req, "max_reward")) w.add("s.reward <= ?", {Value(*v)});
  if (const auto v = bool_param(req, "terminated")) w.add("COALESCE(s.terminated, false) = ?", {Value(*v)});
  if (const auto v = bool_param(req, "has_errors")) w.add(*v ? "s.errors > 0" : "s.errors = 0");
  if (const auto q = param(req, "q")) {
    // Text search: the session id, or a text value of any message of the session (case-
    // insensitive). The messages' JSON text is only a first sieve (with q as JSON writes it): its
    // keys and punctuation matched every session.
    std::string escaped = Value(*q).dump();
    escaped = escaped.substr(1, escaped.size() - 2);
    w.add("(contains(lower(s.session_id), lower(?)) OR s.session_id IN "
          "(SELECT m.session_id FROM messages m WHERE contains(lower(CAST(m.content AS VARCHAR)), lower(?)) AND EXISTS "
          "(SELECT 1 FROM json_tree(m.content) t WHERE t.type = 'VARCHAR' AND contains(lower(t.atom ->> '$'), lower(?)))))",
          {Value(*q), Value(std::move(escaped)), Value(*q)});
  }
  if (const auto f = param(req, "filter")) {
    try {
      SqlCondition c = compile_filter(*f);
      w.add(c.sql, std::move(c.params));
    } catch (const FilterError& e) {
      throw ApiError(400, e.what());
    }
  }
  return w;
}

// DuckDB's top-N keeps every row it reads when they come in the order asked for (sessions are
// stored oldest first and listed newest first): 30 ms of the list at 100 k sessions. The worst
// key of a page of `rows` (numeric sorts), found here among the matching rows' keys alone (1 ms),
// bounds the list's query so that its top-N sees little more than the page: the same rows, as
// every row of the page has a key at least as good. Nothing when all rows fit in the page.
std::optional<double> page_bound(Reader& reader, const std::string& key, const Where& w, std::size_t rows, bool descending) {
  detail::duck::Result keys = reader.run("SELECT " + key + " FROM session_stats s" + w.sql, w.params);
  if (rows == 0 || keys.rows() <= rows) return std::nullopt;
  std::vector<double> all = keys.numbers(0, 0);  // keys are never NULL (sort_key)
  // DuckDB's order of doubles: NaN above everything.
  const auto less = [](double a, double b) { return std::isnan(b) ? !std::isnan(a) : !std::isnan(a) && a < b; };
  const auto nth = all.begin() + static_cast<std::ptrdiff_t>(rows - 1);
  if (descending) {
    std::nth_element(all.begin(), nth, all.end(), [&](double a, double b) { return less(b, a); });
  } else {
    std::nth_element(all.begin(), nth, all.end(), less);
  }
  return *nth;
}

void sessions_list(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::size_t limit = count_param(req, "limit", 50, ctx.options.max_page, 1);
  const std::string order_name = choice_param(req, "order", {"desc", "asc"}, "desc");
  const bool descending = order_name == "desc";
  const Sort* sort = &sort_param(req);
  const std::string key = sort_key(*sort, descending);
  Where w = list_conditions(req);
  if (const auto cursor = param(req, "cursor")) {
    const auto [last_key, last_id] = decode_cursor(*cursor, sort->name, order_name, sort->text);
    const char* cmp = descending ? "<" : ">";
    const std::string bound = sort->text ? "CAST(? AS VARCHAR)" : "CAST(? AS DOUBLE)";
    w.add("(" + key + " " + cmp + " " + bound + " OR (" + key + " = " + bound + " AND s.session_id " + cmp + " ?))",
          {Value(last_key), Value(last_key), Value(last_id)});
  }
  Reader reader(ctx);
  const std::optional<double> bound = sort->text ? std::nullopt : page_bound(reader, key, w, limit + 1, descending);
  if (bound) w.add(key + (descending ? " >= " : " <= ") + "CAST(? AS DOUBLE)", {Value(*bound)});
  w.params.emplace_back(limit + 1);
  const std::string dir = descending ? " DESC" : " ASC";
  const std::string order = " ORDER BY " + key + dir + ", s.session_id" + dir;
  const std::string columns = std::string(kSessionColumns) + ", CAST(" + key + " AS VARCHAR) AS sort_key";
  // Unbounded, the page's ids first, then their columns: DuckDB would compute every selected
  // column of every matching row before taking the top ones (10x the time at 100k sessions).
  // Bounded, few rows match: the columns of those only.
  detail::duck::Result r =
      bound ? reader.run("SELECT " + columns + " FROM session_stats s" + w.sql + order + " LIMIT ?", w.params)
            : reader.run("WITH page AS (SELECT s.session_id FROM session_stats s" + w.sql + order + " LIMIT ?) SELECT " +
                             columns + " FROM session_stats s WHERE s.session_id IN (SELECT session_id FROM page)" + order,
                         w.params);
  const std::size_t shown = std::min(r.rows(), limit);
  std::string next;
  if (r.rows() > limit) {
    next = encode_cursor(sort->name, order_name, r.text(r.columns() - 1, limit - 1).value_or(""), r.text(0, limit - 1).value_or(""));
  }
  std::string body;
  {
    detail::JsonWriter out(body, JsonFormat{});
    out.begin_object();
    out.plain_key("sessions");
    out.begin_array();
    r.write_json_rows(out, 0, shown, 1);  // without sort_key, the last column
    out.end_array();
    out.plain_key("next_cursor");
    if (next.empty()) {
      out.null();
    } else {
      out.string(next);
    }
    out.end_object();
  }
  send_json(res, std::move(body));
}

void session_detail(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  Reader reader(ctx);
  Value session = session_row(reader, id);
  const QueryResult meta = reader.query("SELECT metadata FROM session_traces WHERE session_id = ?", {Value(id)});
  const Value first = session["first_event_id"];
  // Each timestep with its events' totals; events outside any timestep as a last row (step_id null).
  const QueryResult steps = reader.query(
      "WITH e AS (SELECT timestep_id, COUNT(*) AS events, COUNT(*) FILTER (WHERE event_type = 'cais') AS llm_calls, "
      "  SUM(COALESCE(total_tokens, prompt_tokens + completion_tokens)) AS tokens, SUM(cost) AS cost, "
      "  SUM(reward) AS reward, bool_or(terminated) AS terminated, "
      "  COUNT(*) FILTER (WHERE COALESCE(json_type(metadata, '$.error'), 'NULL') <> 'NULL') AS errors, "
      "  MIN(event_time) AS first_event_at, MAX(event_time + to_microseconds(CAST(1000 * COALESCE(latency_ms, "
      "    TRY_CAST(json_extract_string(metadata, '$.duration_ms') AS DOUBLE), 0) AS BIGINT))) AS ended_at "
      "  FROM events WHERE session_id = ? AND id BETWEEN ? AND ? GROUP BY timestep_id) "
      "SELECT t.id, t.step_id, t.step_index, t.turn_number, least(t.timestamp, e.first_event_at) AS started_at, "
      "  e.ended_at, t.num_events, t.num_messages, e.llm_calls, e.tokens, e.cost, e.reward, e.terminated, e.errors, "
      "  t.step_metadata "
      "FROM session_timesteps t LEFT JOIN e ON e.timestep_id = t.id WHERE t.session_id = ? "
      "UNION ALL SELECT NULL, NULL, NULL, NULL, e.first_event_at, e.ended_at, e.events, NULL, e.llm_calls, e.tokens, "
      "  e.cost, e.reward, e.terminated, e.errors, NULL FROM e WHERE e.timestep_id IS NULL "
      "ORDER BY step_index NULLS LAST, id",
      {Value(id), first.is_null() ? Value(0) : first, session["last_event_id"].is_null() ? Value(0) : session["last_event_id"],
       Value(id)});
  Value metadata = meta.rows.empty() || meta.rows[0][0].is_null() ? Value::array() : Value::parse(meta.rows[0][0].as_string());
  send_json(res, Value{{"session", std::move(session)}, {"metadata", std::move(metadata)}, {"timesteps", rows_value(steps)}}.dump());
}

// The light columns of an event (no payloads), from events_from().
constexpr const char* kEventColumns =
    "e.id, t.step_id, e.event_type AS kind, COALESCE(e.md[1], e.md[2], e.md[3], e.md[4], e.event_type) AS name, "
    "e.system_instance_id AS system, COALESCE(e.span_id, e.md[5]) AS span_id, e.md[6] AS parent_span_id, "
    "e.event_time AS started_at, COALESCE(e.latency_ms, TRY_CAST(e.md[7] AS DOUBLE)) AS duration_ms, "
    "e.message_time AS turn, e.model_name AS model, e.provider, e.prompt_tokens, e.completion_tokens, e.total_tokens, "
    "e.cached_tokens, e.cost, e.reward, e.terminated, e.truncated, "
    "CASE WHEN e.md[8] IS NULL THEN 'ok' ELSE 'error' END AS status";
// The events satisfying `condition` (on the events table's own columns) as alias e, with md: the
// metadata keys kEventColumns uses, each metadata parsed once, and only for those events; their
// timesteps as alias t. md[8], the error, is NULL when the key is missing or JSON null, as
// json_type(metadata, '$.error') is then.
std::string events_from(const std::string& condition) {
  return " FROM (SELECT *, json_extract_string(metadata, ['$.operation', '$.step', '$.operation_type', '$.span', "
         "'$.span_id', '$.parent_span_id', '$.duration_ms', '$.error']) AS md FROM events WHERE " +
         condition + ") e LEFT JOIN session_timesteps t ON t.id = e.timestep_id";
}

void session_events(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const std::size_t limit = count_param(req, "limit", 100, ctx.options.max_page);
  const std::size_t offset = count_param(req, "offset", 0, SIZE_MAX / 2);
  Reader reader(ctx);
  Value session = session_row(reader, id);
  // The session's events by their id range (its zone maps skip the other sessions' rows).
  std::string condition = "session_id = ? AND id BETWEEN ? AND ?";
  std::vector<Value> params{Value(id), session["first_event_id"].is_null() ? Value(0) : session["first_event_id"],
                            session["last_event_id"].is_null() ? Value(-1) : session["last_event_id"]};
  if (param(req, "kind")) {
    condition += " AND event_type = ?";
    params.emplace_back(choice_param(req, "kind", {"cais", "environment", "runtime"}, ""));
  }
  // The timesteps are joined only to filter by step: the total of a whole session needs no join.
  std::string count_sql = "SELECT COUNT(*) FROM events WHERE " + condition;
  std::string step_where;
  if (const auto step = param(req, "step")) {
    count_sql = "SELECT COUNT(*) FROM (SELECT timestep_id FROM events WHERE " + condition +
                ") e JOIN session_timesteps t ON t.id = e.timestep_id WHERE t.step_id = ?";
    step_where = " WHERE t.step_id = ?";
    params.emplace_back(*step);
  }
  // One query for the page: a first one selecting its ids (to compute the columns of those rows
  // only) cost more in planning and a second scan than it saved (BENCHMARKS.md, issue 12).
  std::vector<Value> page_params = params;
  page_params.emplace_back(limit);
  page_params.emplace_back(offset);
  detail::duck::Result r = reader.run(std::string("SELECT ") + kEventColumns + events_from(condition) + step_where +
                                          " ORDER BY e.event_time NULLS LAST, e.id LIMIT ? OFFSET ?",
                                      page_params);
  // A page that is not full ends the list: its total is known without counting.
  const bool page_ends_list = r.rows() < limit && (r.rows() > 0 || offset == 0);
  const std::int64_t total = page_ends_list ? static_cast<std::int64_t>(offset + r.rows())
                                            : reader.query(count_sql, params).rows[0][0].as_int();
  // Written straight from DuckDB's chunks: a 10 k-event list is 4 MB of JSON.
  std::string body;
  {
    detail::JsonWriter w(body, JsonFormat{});
    w.begin_object();
    w.plain_key("events");
    w.begin_array();
    r.write_json_rows(w, 0, r.rows());
    w.end_array();
    w.plain_key("total");
    w.integer(total);
    w.plain_key("offset");
    w.unsigned_integer(offset);
    w.plain_key("limit");
    w.unsigned_integer(limit);
    w.end_object();
  }
  send_json(res, std::move(body));
}

// A JSON text cut to `max` bytes at a character boundary.
std::string cut(const std::string& text, std::size_t max) {
  std::size_t end = std::min(max, text.size());
  while (end > 0 && end < text.size() && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end);
}

void event_detail(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  std::int64_t id = 0;
  const std::string text = req.matches[1];
  std::from_chars(text.data(), text.data() + text.size(), id);
  Reader reader(ctx);
  const QueryResult r = reader.query(std::string("SELECT ") + kEventColumns +
                                         ", e.session_id, e.event_provider, e.reasoning_tokens, e.cache_write_tokens, "
                                         "e.latency_ms, e.system_state_before, e.system_state_after, e.metadata, "
                                         "e.event_metadata, e.llm_call_records, e.observation_diff, e.actions" +
                                         events_from("id = ?"),
                                     {Value(id)});
  if (r.rows.empty()) throw ApiError(404, "no event " + text + " (event ids come from GET /api/v1/sessions/{id}/events)");
  // The payloads share --max-event-bytes. The smallest go whole; each of the others gets an equal
  // share of what is left and is sent as the start of its JSON text, named in "cut_payloads" (not
  // "truncated": an environment event's own flag).
  QueryResult row = r;
  std::vector<std::size_t> payloads;
  for (std::size_t c = 0; c < row.columns.size(); ++c) {
    if (row.types[c] == "JSON" && row.rows[0][c].is_string()) payloads.push_back(c);
  }
  std::stable_sort(payloads.begin(), payloads.end(), [&](std::size_t a, std::size_t b) {
    return row.rows[0][a].as_string().size() < row.rows[0][b].as_string().size();
  });
  std::size_t left = ctx.options.max_event_bytes;
  std::vector<std::size_t> cut_columns;
  for (std::size_t i = 0; i < payloads.size(); ++i) {
    Value& cell = row.rows[0][payloads[i]];
    const std::size_t share = left / (payloads.size() - i);
    if (cell.as_string().size() <= share) {
      left -= cell.as_string().size();
      continue;
    }
    cell = Value(cut(cell.as_string(), share));
    left -= share;
    row.types[payloads[i]] = "VARCHAR";
    cut_columns.push_back(payloads[i]);
  }
  std::sort(cut_columns.begin(), cut_columns.end());  // in the columns' order
  Value::Array cut_payloads;
  for (const std::size_t c : cut_columns) cut_payloads.emplace_back(row.columns[c]);
  Value event = row_value(row, 0);
  event.set("cut_payloads", Value(std::move(cut_payloads)));
  send_json(res, event.dump());
}

void session_messages(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const std::size_t limit = count_param(req, "limit", 100, ctx.options.max_page);
  const std::size_t offset = count_param(req, "offset", 0, SIZE_MAX / 2);
  Reader reader(ctx);
  Value session = session_row(reader, id);
  const QueryResult r = reader.query(
      "SELECT m.id, t.step_id, m.message_type, m.content, m.timestamp, m.event_time, m.message_time AS turn, "
      "COUNT(*) OVER () AS total FROM messages m LEFT JOIN session_timesteps t ON t.id = m.timestep_id "
      "WHERE m.session_id = ? AND m.id BETWEEN ? AND ? ORDER BY m.history_index NULLS LAST, m.id LIMIT ? OFFSET ?",
      {Value(id), session["first_message_id"].is_null() ? Value(0) : session["first_message_id"],
       session["last_message_id"].is_null() ? Value(-1) : session["last_message_id"], Value(limit), Value(offset)});
  Value messages = rows_value(r);
  for (Value& m : messages.as_array()) m.as_object().pop_back();
  send_json(res, Value{{"messages", std::move(messages)},
                       {"total", session["num_messages"]},
                       {"offset", offset},
                       {"limit", limit}}
                     .dump());
}

void changes(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::size_t since = count_param(req, "since", 0, SIZE_MAX / 2);
  const std::size_t limit = count_param(req, "limit", 100, ctx.options.max_page, 1);  // 0 would never move on
  Reader reader(ctx);
  const QueryResult r = reader.query(std::string("SELECT ") + kSessionColumns +
                                         " FROM session_stats s WHERE s.seq > ? ORDER BY s.seq LIMIT ?",
                                     {Value(since), Value(limit + 1)});
  Value::Array sessions;
  std::int64_t seq = static_cast<std::int64_t>(since);
  for (std::size_t row = 0; row < r.rows.size() && row < limit; ++row) {
    sessions.push_back(row_value(r, row));
    seq = sessions.back()["seq"].as_int();
  }
  send_json(res, Value{{"sessions", Value(std::move(sessions))}, {"seq", seq}, {"more", r.rows.size() > limit}}.dump());
}

void health(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  Reader reader(ctx);
  const QueryResult rows = reader.query(
      "SELECT (SELECT COUNT(*) FROM session_traces) AS sessions, (SELECT COUNT(*) FROM session_timesteps) AS timesteps, "
      "(SELECT COUNT(*) FROM events) AS events, (SELECT COUNT(*) FROM messages) AS messages, "
      "(SELECT COALESCE(MAX(seq), 0) FROM session_stats) AS seq");
  const IngestCounters& c = ctx.counters;
  const auto n = [](const std::atomic<std::uint64_t>& a) { return Value(a.load(std::memory_order_relaxed)); };
  const Value body{
      {"status", "ok"},
      {"version", kVersion},
      {"db", ctx.options.db.string()},
      {"url", ctx.url},
      {"queue", Value{{"sessions", ctx.queue.depth()},
                      {"bytes", ctx.queue.bytes()},
                      {"max_sessions", ctx.options.queue_sessions},
                      {"max_bytes", ctx.options.queue_bytes},
                      {"max_delay_ms", ctx.options.queue_delay.count()},
                      {"writer_bytes_per_second", ctx.queue.drain_pace()},
                      {"journal_waiting", ctx.journal ? ctx.journal->waiting() : 0},
                      {"journal_bytes", ctx.journal ? ctx.journal->bytes() : 0}}},
      {"ingest", Value{{"accepted", n(c.accepted)},
                       {"inserted", n(c.inserted)},
                       {"replaced", n(c.replaced)},
                       {"merged", n(c.merged)},
                       {"skipped", n(c.skipped)},
                       {"refused", n(c.refused)},
                       {"lost", n(c.lost)},
                       {"rejected", n(c.decode_rejected)},
                       {"throttled_requests", n(c.throttled)},
                       {"commits", n(c.commits)},
                       {"commits_failed", n(c.commits_failed)},
                       {"longest_commit_wait_ms", n(c.longest_commit_wait_ms)},
                       {"otlp_spans", n(c.otlp_spans)},
                       {"otlp_rejected_spans", n(c.otlp_rejected_spans)},
                       {"otlp_duplicate_spans", n(c.otlp_duplicate_spans)},
                       {"otlp_sessions_renamed", n(c.otlp_sessions_renamed)},
                       {"otlp_parts_waiting", n(c.otlp_parts_waiting)},
                       {"otlp_log_records", n(c.otlp_log_records)},
                       {"otlp_duplicate_log_records", n(c.otlp_duplicate_log_records)},
                       {"otlp_logs_attached", n(c.otlp_logs_attached)},
                       {"otlp_logs_messages", n(c.otlp_logs_messages)},
                       {"otlp_logs_unmatched", n(c.otlp_logs_unmatched)},
                       {"otlp_logs_lost", n(c.otlp_logs_lost)},
                       {"otlp_spans_lost", n(c.otlp_spans_lost)},
                       {"otlp_spans_waiting", ctx.span_hold->size()},
                       {"otlp_logs_held", ctx.log_hold->size()}}},
      {"rows", row_value(rows, 0)},
  };
  // Clients poll this: an unchanged answer is a 304 (uptime is left out so that it can be).
  std::string text = body.dump();
  const std::string etag = "\"" + std::to_string(std::hash<std::string>{}(text)) + "\"";
  res.set_header("ETag", etag);
  if (req.get_header_value("If-None-Match") == etag) {
    res.status = 304;
    return;
  }
  send_json(res, std::move(text));
}

}  // namespace

void add_read_routes(httplib::Server& http, ServerContext& ctx) {
  http.Get("/api/v1/health", api_route(ctx, {}, health));
  http.Get("/api/v1/sessions", api_route(ctx,
                                         {"from", "to", "experiment", "model", "provider", "system", "min_reward", "max_reward",
                                          "terminated", "has_errors", "q", "filter", "sort", "order", "limit", "cursor"},
                                         sessions_list));
  // Session ids may hold '/' (sent as %2F: httplib decodes the path before matching), so a
  // session's routes are told apart by their last segment ([\s\S]: ids may hold line breaks too).
  http.Get(R"(/api/v1/sessions/((?![\s\S]*/(?:events|messages|export)$)[\s\S]+))", api_route(ctx, {}, session_detail));
  http.Get(R"(/api/v1/sessions/([\s\S]+)/events)", api_route(ctx, {"limit", "offset", "kind", "step"}, session_events));
  http.Get(R"(/api/v1/sessions/([\s\S]+)/messages)", api_route(ctx, {"limit", "offset"}, session_messages));
  http.Get(R"(/api/v1/events/(\d+))", api_route(ctx, {}, event_detail));
  http.Get("/api/v1/changes", api_route(ctx, {"since", "limit"}, changes));
}

}  // namespace synth::tracing::server
