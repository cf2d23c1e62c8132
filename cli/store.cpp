// Where the reading commands read: the database file, or the synth-trace serve that owns it.
#include <algorithm>
#include <fstream>
#include <iostream>

#include <synth/tracing.hpp>

#include "cli.hpp"
#include "server/journal.hpp"
#include "server/lock_file.hpp"
#include "server_client.hpp"

namespace synth_trace {

namespace {

class LocalStore : public TraceStore {
 public:
  explicit LocalStore(const std::filesystem::path& db) : store_(db, st::DuckDBOptions{.read_only = true}) {}

  st::QueryResult query(std::string_view sql, const std::vector<st::Value>& params) override {
    return store_.query(sql, params);
  }
  std::optional<st::SessionTrace> load_trace(std::string_view session_id) override { return store_.load_trace(session_id); }
  std::size_t export_jsonl(std::ostream& out) override {
    auto ids = store_.session_ids();
    std::reverse(ids.begin(), ids.end());  // oldest first
    std::string line;
    std::size_t written = 0;
    Progress progress("exporting", ids.size());
    for (const auto& id : ids) {
      const auto trace = store_.load_trace(id);
      if (!trace) continue;
      line.clear();
      trace->write_json(line);
      line += '\n';
      out.write(line.data(), static_cast<std::streamsize>(line.size()));
      ++written;
      progress.advance();
    }
    return written;
  }
  void export_parquet(const std::filesystem::path& dir) override { store_.export_to_parquet(dir); }

 private:
  st::DuckDBTraceManager store_;
};

class RemoteStore : public TraceStore {
 public:
  RemoteStore(std::string url, std::string token) : client_(std::move(url), std::move(token)) {}

  st::QueryResult query(std::string_view sql, const std::vector<st::Value>& params) override {
    const st::Value request{{"sql", sql}, {"params", st::Value(st::Value::Array(params.begin(), params.end()))}};
    const st::Value answer = client_.post_json("/api/v1/query", "application/json", request.dump());
    st::QueryResult r;
    for (const st::Value& c : answer["columns"].as_array()) r.columns.push_back(c.as_string());
    for (const st::Value& t : answer["types"].as_array()) r.types.push_back(t.as_string());
    for (const st::Value& row : answer["rows"].as_array()) r.rows.push_back(row.as_array());
    if (answer["truncated"].is_bool() && answer["truncated"].as_bool()) {
      std::cerr << "synth-trace: only the first " << r.rows.size() << " rows: the server at " << client_.url()
                << " returns at most that many (serve --query-max-rows)\n";
    }
    return r;
  }
  std::optional<st::SessionTrace> load_trace(std::string_view session_id) override {
    const auto json = client_.get("/api/v1/sessions/" + url_encode(session_id) + "/export?format=json");
    if (!json) return std::nullopt;
    return st::SessionTrace::from_json(*json, client_.url());
  }
  std::size_t export_jsonl(std::ostream& out) override {
    std::size_t lines = 0;
    client_.download("/api/v1/export/jsonl", [&](std::string_view chunk) {
      out.write(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      lines += static_cast<std::size_t>(std::count(chunk.begin(), chunk.end(), '\n'));
    });
    return lines;
  }
  void export_parquet(const std::filesystem::path& dir) override {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) throw st::StorageError("cannot create Parquet folder '" + dir.string() + "': " + ec.message());
    for (const char* table : {"session_traces", "session_timesteps", "events", "messages"}) {
      const std::filesystem::path file = dir / (std::string(table) + ".parquet");
      std::ofstream out(file, std::ios::binary | std::ios::trunc);
      if (!out) throw st::Error("cannot write '" + file.string() + "': check that its folder is writable");
      client_.download(std::string("/api/v1/export/parquet/") + table,
                       [&](std::string_view chunk) { out.write(chunk.data(), static_cast<std::streamsize>(chunk.size())); });
      out.close();
      if (!out) throw st::Error("writing '" + file.string() + "' failed (disk full?)");
    }
  }

 private:
  ServerClient client_;
};

}  // namespace

std::optional<std::string> server_of(const Target& target) {
  if (target.server) return target.server;
  if (const auto running = st::server::find_server(target.db)) return running->url;
  return std::nullopt;
}

void refuse_if_served(const Target& target, const char* command) {
  if (const auto url = server_of(target)) {
    throw st::Error(std::string(command) + " writes the database file itself, and the synth-trace serve at " + *url +
                    " owns '" + target.db.string() + "': stop that server first, or choose another file (--db)");
  }
}

std::unique_ptr<TraceStore> open_for_reading(const Target& target) {
  if (const auto url = server_of(target)) return std::make_unique<RemoteStore>(*url, target.token);
  if (st::server::IngestJournal::left_requests(target.db)) {
    std::cerr << "synth-trace: '" << st::server::IngestJournal::folder_of(target.db).string()
              << "' holds requests a synth-trace serve acknowledged and had not stored when it stopped: "
                 "they are not in this output; `synth-trace serve` on this file stores them first\n";
  }
  return std::make_unique<LocalStore>(target.db);
}

}  // namespace synth_trace
