// Exports: one session as our JSON, OTLP/JSON or Chrome Trace JSON; every session as JSON lines;
// a core table as Parquet (what `synth-trace export` reads beside a running server).
#include <atomic>
#include <fstream>

#include "duckdb/access.hpp"
#include "server/exports.hpp"
#include "server/read.hpp"
#include "server/routes.hpp"

namespace synth::tracing::server {

namespace {

void export_session(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  const std::string id = req.matches[1];
  const std::string format = choice_param(req, "format", {"json", "otlp-json", "chrome"}, "json");
  Reader reader(ctx);
  const std::optional<SessionTrace> trace = detail::duck::load_trace(reader.connection(), id);
  if (!trace) throw ApiError(404, "no session '" + id + "' in the database (list them: GET /api/v1/sessions)");
  if (format == "otlp-json") return send_json(res, otlp_json(*trace));
  if (format == "chrome") return send_json(res, chrome_trace_json(*trace));
  send_json(res, trace->to_json());
}

// Every session, one JSON trace per line, in the order `synth-trace export --jsonl` writes them
// (oldest first), streamed: one session in memory at a time.
void export_jsonl(ServerContext& ctx, const httplib::Request&, httplib::Response& res) {
  auto reader = std::make_shared<Reader>(ctx);
  auto ids = std::make_shared<std::vector<std::string>>();
  const QueryResult r = reader->query("SELECT session_id FROM session_traces ORDER BY created_at DESC, session_id");
  for (auto it = r.rows.rbegin(); it != r.rows.rend(); ++it) ids->push_back((*it)[0].as_string());
  res.set_header("Cache-Control", "no-store");
  res.set_chunked_content_provider("application/x-ndjson", [reader, ids, next = std::size_t{0}](
                                                                std::size_t, httplib::DataSink& sink) mutable {
    try {
      // A few sessions per call: each call is one HTTP chunk.
      std::string lines;
      while (next < ids->size() && lines.size() < (std::size_t{1} << 20)) {
        if (const auto trace = detail::duck::load_trace(reader->connection(), (*ids)[next++])) {
          trace->write_json(lines);
          lines += '\n';
        }
      }
      if (!lines.empty() && !sink.write(lines.data(), lines.size())) return false;
      if (next >= ids->size()) sink.done();
      return true;
    } catch (...) {
      return false;  // the client sees the stream cut short
    }
  });
}

void export_parquet(ServerContext& ctx, const httplib::Request& req, httplib::Response& res) {
  static std::atomic<std::uint64_t> counter{0};
  const std::string table = req.matches[1];
  const std::filesystem::path file = ctx.export_dir / (table + "-" + std::to_string(counter++) + ".parquet");
  {
    Reader reader(ctx);
    reader.connection().exec(detail::duck::parquet_export_sql(table, file));
  }
  auto in = std::make_shared<std::ifstream>(file, std::ios::binary);
  if (!*in) throw ApiError(500, "the Parquet export of " + table + " could not be read back");
  const std::size_t size = std::filesystem::file_size(file);
  res.set_header("Cache-Control", "no-store");
  res.set_content_provider(
      size, "application/vnd.apache.parquet",
      [in](std::size_t offset, std::size_t length, httplib::DataSink& sink) {
        std::string buffer(std::min<std::size_t>(length, std::size_t{1} << 20), '\0');
        in->seekg(static_cast<std::streamoff>(offset));
        in->read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
        const auto got = static_cast<std::size_t>(in->gcount());
        return got > 0 && sink.write(buffer.data(), got);
      },
      [file](bool) {
        std::error_code ec;
        std::filesystem::remove(file, ec);
      });
}

}  // namespace

void add_export_routes(httplib::Server& http, ServerContext& ctx) {
  http.Get(R"(/api/v1/sessions/([\s\S]+)/export)", api_route(ctx, {"format"}, export_session));  // any id (routes_read.cpp)
  http.Get("/api/v1/export/jsonl", api_route(ctx, {}, export_jsonl));
  http.Get(R"(/api/v1/export/parquet/(session_traces|session_timesteps|events|messages))", api_route(ctx, {}, export_parquet));
}

}  // namespace synth::tracing::server
