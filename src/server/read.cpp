#include "server/read.hpp"

#include "duckdb/access.hpp"

namespace synth::tracing::server {

Reader::Reader(ServerContext& ctx) {
  // Read-your-writes in the aggregates: what the writer holds is stored first (at its next
  // commit, or within 20 ms when idle); past the wait, they are read as they are.
  ctx.held_stats->await_stored(HeldStats::Clock::now() + kHeldStatsWait);
  conn_ = detail::duck::StoreAccess::reader(ctx.store);
}

QueryResult Reader::query(std::string_view sql, const std::vector<Value>& params) {
  return run(sql, params).to_query_result();
}

detail::duck::Result Reader::run(std::string_view sql, const std::vector<Value>& params) {
  detail::duck::Prepared stmt(*conn_, sql);
  for (std::size_t i = 0; i < params.size(); ++i) stmt.bind(i + 1, params[i]);
  return stmt.execute();
}

Value row_value(const QueryResult& result, std::size_t row) {
  Value::Object members;
  members.reserve(result.columns.size());
  for (std::size_t c = 0; c < result.columns.size(); ++c) {
    const Value& cell = result.rows[row][c];
    if (result.types[c] == "JSON" && cell.is_string()) {
      members.emplace_back(result.columns[c], Value::parse(cell.as_string(), result.columns[c]));
    } else {
      members.emplace_back(result.columns[c], cell);
    }
  }
  return Value(std::move(members));
}

Value rows_value(const QueryResult& result) {
  Value::Array rows;
  rows.reserve(result.rows.size());
  for (std::size_t r = 0; r < result.rows.size(); ++r) rows.push_back(row_value(result, r));
  return Value(std::move(rows));
}

Value session_row(Reader& reader, const std::string& session_id) {
  const QueryResult r =
      reader.query(std::string("SELECT ") + kSessionColumns +
                       ", s.first_event_id, s.last_event_id, s.first_message_id, s.last_message_id "
                       "FROM session_stats s WHERE s.session_id = ?",
                   {Value(session_id)});
  if (r.rows.empty()) {
    throw ApiError(404, "no session '" + session_id + "' in the database (list them: GET /api/v1/sessions)");
  }
  return row_value(r, 0);
}

}  // namespace synth::tracing::server
