// POST /api/v1/query: one SELECT, in a read-only transaction on a connection of its own, with
// its values bound, at most query_max_rows rows back and query_timeout to run. The database
// reaches no file but its own (enable_external_access is off: no read_csv, COPY or ATTACH).
#include <condition_variable>
#include <mutex>
#include <stop_token>
#include <thread>

#include "server/read.hpp"
#include "server/routes.hpp"
#include "worker_thread.hpp"

namespace synth::tracing::server {

namespace {

using detail::duck::Connection;
using detail::duck::Prepared;

// Interrupts the connection's query if it still runs after `timeout`.
class Watchdog {
 public:
  Watchdog(Connection& conn, std::chrono::milliseconds timeout)
      : thread_([this, &conn, timeout](std::stop_token stop) {
          detail::name_this_thread("serve-query-dog");
          std::unique_lock lock(mutex_);
          if (!wake_.wait_for(lock, stop, timeout, [] { return false; }) && !stop.stop_requested()) {
            fired_ = true;
            duckdb_interrupt(conn.handle());
          }
        }) {}
  ~Watchdog() {
    thread_.request_stop();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  /// True once the query was interrupted (call after the query ended).
  bool fired() {
    std::lock_guard lock(mutex_);
    return fired_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable_any wake_;
  bool fired_ = false;
  std::jthread thread_;
};

struct QueryRequest {
  std::string sql;
  std::vector<Value> params;
  std::size_t max_rows;
};

QueryRequest parse_request(const std::string& body, std::size_t server_max) {
  Value v;
  try {
    v = Value::parse(body, "the request");
  } catch (const Error& e) {
    throw ApiError(400, e.what());
  }
  if (!v.is_object() || !v["sql"].is_string()) {
    throw ApiError(400, "expected {\"sql\": \"SELECT ...\", \"params\": [values for ?], \"max_rows\": N}");
  }
  QueryRequest q{v["sql"].as_string(), {}, server_max};
  if (v["params"].is_array()) q.params = v["params"].as_array();
  if (!v["params"].is_null() && !v["params"].is_array()) throw ApiError(400, "\"params\" must be an array of values");
  if (!v["max_rows"].is_null()) {
    if (!v["max_rows"].is_integer() || v["max_rows"].as_int() < 0) throw ApiError(400, "\"max_rows\" must be a whole number");
    q.max_rows = std::min<std::size_t>(server_max, static_cast<std::size_t>(v["max_rows"].as_int()));
  }
  return q;
}

void query(ServerContext& ctx, const httplib::Request& req, httplib::Response& res, const httplib::ContentReader& reader) {
  if (media_type(req) != "application/json") {
    throw ApiError(415, "send the query as application/json: {\"sql\": \"SELECT ...\", \"params\": [...]}");
  }
  const QueryRequest q = parse_request(read_body(req, reader, ctx.options.max_body_bytes), ctx.options.query_max_rows);
  Reader store(ctx);
  Connection& conn = store.connection();
  conn.exec("BEGIN TRANSACTION READ ONLY");
  struct RollBack {
    Connection& conn;
    ~RollBack() { detail::duck::roll_back(conn); }
  } roll_back{conn};
  Prepared stmt(conn, q.sql);
  if (stmt.statement_type() != DUCKDB_STATEMENT_TYPE_SELECT) {
    throw ApiError(400, "only SELECT queries run here (read-only, one statement): " + q.sql);
  }
  if (stmt.parameter_count() != q.params.size()) {
    throw ApiError(400, "the query has " + std::to_string(stmt.parameter_count()) + " placeholders but " +
                            std::to_string(q.params.size()) + " params were given");
  }
  for (std::size_t i = 0; i < q.params.size(); ++i) stmt.bind(i + 1, q.params[i]);
  QueryResult result;
  {
    Watchdog watchdog(conn, ctx.options.query_timeout);
    try {
      result = stmt.execute_streaming(q.max_rows).to_query_result();
    } catch (const StorageError&) {
      if (watchdog.fired()) {
        throw ApiError(400, "the query ran longer than " + std::to_string(ctx.options.query_timeout.count()) +
                                " ms and was stopped (serve --query-timeout-ms)");
      }
      throw;
    }
  }
  const bool truncated = result.rows.size() > q.max_rows;
  if (truncated) result.rows.resize(q.max_rows);
  Value::Array rows;
  rows.reserve(result.rows.size());
  for (auto& row : result.rows) rows.emplace_back(Value::Array(std::make_move_iterator(row.begin()), std::make_move_iterator(row.end())));
  Value::Array columns(result.columns.begin(), result.columns.end());
  Value::Array types(result.types.begin(), result.types.end());
  send_json(res, Value{{"columns", Value(std::move(columns))},
                       {"types", Value(std::move(types))},
                       {"rows", Value(std::move(rows))},
                       {"truncated", truncated},
                       {"max_rows", q.max_rows}}
                     .dump());
}

}  // namespace

void add_query_routes(httplib::Server& http, ServerContext& ctx) {
  http.Post("/api/v1/query", guarded_post({}, [&ctx](const httplib::Request& req, httplib::Response& res,
                                                 const httplib::ContentReader& reader) { query(ctx, req, res, reader); }));
}

}  // namespace synth::tracing::server
