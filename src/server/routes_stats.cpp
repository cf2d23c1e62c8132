// Time series of cost, tokens, calls, errors and reward, and the facets for filter typeahead.
#include <charconv>

#include "server/read.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

// A bucket width: "30s", "5m", "1h", "1d" (or plain seconds).
std::int64_t bucket_seconds(const httplib::Request& req) {
  const auto text = param(req, "bucket");
  if (!text) return 3600;
  std::int64_t n = 0;
  const auto r = std::from_chars(text->data(), text->data() + text->size(), n);
  const std::string_view unit(r.ptr, static_cast<std::size_t>(text->data() + text->size() - r.ptr));
  std::int64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1;
  if (unit == "m") scale = 60;
  if (unit == "h") scale = 3600;
  if (unit == "d") scale = 86400;
  if (r.ec != std::errc() || n <= 0 || scale == 0 || n > 366 * 86400 / scale) {
    throw ApiError(400, "parameter bucket=" + *text + ": expected a width such as 30s, 5m, 1h or 1d");
  }
  return n * scale;
}

void timeseries(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string metric = choice_param(req, "metric", {"cost", "tokens", "calls", "errors", "reward"}, "cost");
  const std::string group_by = choice_param(req, "group_by", {"none", "model", "experiment"}, "none");
  const std::int64_t bucket = bucket_seconds(req);
  const char* value = metric == "cost"     ? "SUM(e.cost)"
                      : metric == "tokens" ? "SUM(COALESCE(e.total_tokens, e.prompt_tokens + e.completion_tokens))"
                      : metric == "calls"  ? "COUNT(*) FILTER (WHERE e.event_type = 'cais')"
                      : metric == "errors" ? "COUNT(*) FILTER (WHERE COALESCE(json_type(e.metadata, '$.error'), 'NULL') <> 'NULL')"
                                           : "SUM(e.reward)";
  const char* group = group_by == "model" ? "e.model_name" : group_by == "experiment" ? "s.experiment_id" : "NULL";
  std::string sql = std::string("SELECT epoch(time_bucket(to_seconds(CAST(? AS BIGINT)), e.event_time)) AS t, ") + group +
                    " AS grp, " + value + " AS v FROM events e";
  if (group_by == "experiment") sql += " JOIN session_stats s USING (session_id)";
  sql += " WHERE e.event_time IS NOT NULL";
  std::vector<Value> params{Value(bucket)};
  if (const auto from = time_param(req, "from")) {
    sql += " AND e.event_time >= CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(*from));
  }
  if (const auto to = time_param(req, "to")) {
    sql += " AND e.event_time < CAST(? AS TIMESTAMP)";
    params.emplace_back(format_timestamp(*to));
  }
  // Only the events a metric is about (LLM calls for cost, tokens and calls): no empty groups.
  if (metric == "cost" || metric == "tokens" || metric == "calls") sql += " AND e.event_type = 'cais'";
  if (metric == "reward") sql += " AND e.reward IS NOT NULL";
  sql += " GROUP BY ALL ORDER BY grp NULLS FIRST, t";
  Reader reader(ctx);
  const QueryResult r = reader.query(sql, params);
  // One series per group: {"group": name or null, "points": [[seconds since the epoch, value], ...]}.
  Value::Array series;
  for (const auto& row : r.rows) {
    if (series.empty() || !(series.back()["group"] == row[1])) {
      series.push_back(Value{{"group", row[1]}, {"points", Value::array()}});
    }
    series.back()["points"].push_back(Value::array({row[0], row[2]}));
  }
  send_json(res, Value{{"metric", metric}, {"group_by", group_by}, {"bucket_seconds", bucket}, {"series", Value(std::move(series))}}
                     .dump());
}

void facets(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::size_t limit = count_param(req, "limit", 1000, ctx.options.max_page);
  Reader reader(ctx);
  // Distinct values with how many sessions have them, most common first.
  const auto listed = [&](const char* column) {
    return rows_value(reader.query(std::string("SELECT v AS value, COUNT(*) AS sessions FROM (SELECT unnest(") + column +
                                       ") AS v FROM session_stats) GROUP BY v ORDER BY sessions DESC, v LIMIT ?",
                                   {Value(limit)}));
  };
  Value body{{"models", listed("models")}, {"providers", listed("providers")}, {"systems", listed("systems")}};
  body.set("experiments", rows_value(reader.query("SELECT experiment_id AS value, COUNT(*) AS sessions FROM session_stats "
                                                  "WHERE experiment_id IS NOT NULL GROUP BY ALL ORDER BY sessions DESC, "
                                                  "value LIMIT ?",
                                                  {Value(limit)})));
  body.set("event_kinds", rows_value(reader.query("SELECT event_type AS value, COUNT(*) AS events FROM events "
                                                  "GROUP BY ALL ORDER BY events DESC, value")));
  send_json(res, body.dump());
}

}  // namespace

void add_stats_routes(httplib::Server& http, ServerContext& ctx) {
  http.Get("/api/v1/stats/timeseries", api_route(ctx, {"metric", "group_by", "bucket", "from", "to"}, timeseries));
  http.Get("/api/v1/facets", api_route(ctx, {"limit"}, facets));
}

}  // namespace synth::tracing::server
