// synth-trace import: JSON trace files (ours or the Python original's) into the database. A bad
// file is reported and skipped; the good ones are imported.
#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <synth/tracing.hpp>

#include "cli.hpp"
#include "server_client.hpp"

namespace synth_trace {

namespace {

constexpr std::size_t kBatchSessions = 500;

bool is_trace_file(const std::filesystem::path& p) { return p.extension() == ".json" || p.extension() == ".jsonl"; }

// The files named, folders expanded (recursively, in name order); missing paths reported.
std::vector<std::filesystem::path> collect(const std::vector<std::string>& paths, std::size_t& failures) {
  std::vector<std::filesystem::path> files;
  for (const auto& p : paths) {
    std::error_code ec;
    const std::filesystem::path path(p);
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> found;
      for (auto it = std::filesystem::recursive_directory_iterator(path, ec); !ec && it != std::filesystem::end(it);
           it.increment(ec)) {
        if (it->is_regular_file() && is_trace_file(it->path())) found.push_back(it->path());
      }
      if (ec) {
        std::cerr << p << ": cannot read the folder: " << ec.message() << "\n";
        ++failures;
      }
      std::sort(found.begin(), found.end());
      files.insert(files.end(), found.begin(), found.end());
    } else if (std::filesystem::exists(path, ec)) {
      files.push_back(path);
    } else {
      std::cerr << p << ": no such file or folder\n";
      ++failures;
    }
  }
  return files;
}

// One trace per file, or one per line for .jsonl (as `synth-trace export --jsonl` writes).
std::vector<st::SessionTrace> read_traces(const std::filesystem::path& file) {
  if (file.extension() != ".jsonl") return {st::SessionTrace::read_file(file)};
  std::ifstream in(file, std::ios::binary);
  if (!in) throw st::TraceFormatError(file.string(), 0, 0, 0, "cannot open the file");
  std::vector<st::SessionTrace> traces;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    traces.push_back(st::SessionTrace::from_json(line, file.string() + " line " + std::to_string(number)));
  }
  return traces;
}

// Where import puts sessions: the database file, or the server that owns it.
class Destination {
 public:
  Destination(const Target& target, st::OnExistingSession on_existing) {
    if (const auto url = server_of(target)) {
      server_.emplace(*url, target.token);
      on_existing_ = on_existing == st::OnExistingSession::replace ? "replace"
                     : on_existing == st::OnExistingSession::fail  ? "fail"
                     : on_existing == st::OnExistingSession::merge ? "merge"
                                                                   : "skip";
    } else {
      store_.emplace(target.db, st::DuckDBOptions{.on_existing = on_existing});
    }
  }

  /// Stores a batch; sessions the server refused are reported and counted in `refused`.
  void insert(const std::vector<st::SessionTrace>& batch, st::InsertSummary& total, std::size_t& refused) {
    if (store_) {
      const st::InsertSummary s = store_->insert_traces(batch);
      add(total, s);
      return;
    }
    std::string body;
    for (const auto& t : batch) {
      t.write_json(body);
      body += '\n';
    }
    // The server answers once the batch is committed, with what became of each session.
    const st::Value answer = server_->post_json("/api/v1/sessions?wait=commit&on_existing=" + on_existing_,
                                                "application/x-ndjson", body, true);
    const st::Value& stored = answer["stored"];
    add(total, st::InsertSummary{.inserted = static_cast<std::size_t>(stored["inserted"].as_int()),
                                 .skipped = static_cast<std::size_t>(stored["skipped"].as_int()),
                                 .replaced = static_cast<std::size_t>(stored["replaced"].as_int()),
                                 .merged = static_cast<std::size_t>(stored["merged"].as_int())});
    for (const st::Value& r : answer["rejected"].as_array()) {
      std::cerr << "session '" << (r["session_id"].is_string() ? r["session_id"].as_string() : "?")
                << "' was not stored: " << r["error"].as_string() << "\n";
      ++refused;
    }
  }

 private:
  static void add(st::InsertSummary& total, const st::InsertSummary& s) {
    total.inserted += s.inserted;
    total.skipped += s.skipped;
    total.replaced += s.replaced;
    total.merged += s.merged;
  }

  std::optional<st::DuckDBTraceManager> store_;
  std::optional<ServerClient> server_;
  std::string on_existing_;
};

}  // namespace

int run_import(const Target& target, const ImportOptions& options) {
  std::size_t bad_paths = 0;
  const auto files = collect(options.paths, bad_paths);
  std::size_t bad_files = 0;
  std::size_t refused = 0;
  Destination destination(target, options.on_existing);
  st::InsertSummary total;
  std::vector<st::SessionTrace> batch;
  const auto insert_batch = [&] {
    destination.insert(batch, total, refused);
    batch.clear();
  };
  {
    Progress progress("importing", files.size());
    for (const auto& file : files) {
      try {
        auto traces = read_traces(file);
        for (auto& t : traces) batch.push_back(std::move(t));
      } catch (const st::TraceFormatError& e) {
        std::cerr << e.what() << " (file skipped)\n";
        ++bad_files;
      }
      if (batch.size() >= kBatchSessions) insert_batch();
      progress.advance();
    }
    if (!batch.empty()) insert_batch();
  }
  std::cout << "imported " << total.inserted << (total.inserted == 1 ? " session" : " sessions") << " from "
            << files.size() - bad_files << " of " << files.size() << " files into " << target.db.string();
  if (total.skipped > 0) std::cout << "; " << total.skipped << " already stored (skipped)";
  if (total.replaced > 0) std::cout << "; " << total.replaced << " replaced";
  if (total.merged > 0) std::cout << "; " << total.merged << " merged into stored sessions";
  std::cout << "\n";
  if (bad_files + bad_paths > 0) {
    std::cout << bad_files + bad_paths << (bad_files + bad_paths == 1 ? " path" : " paths")
              << " could not be imported (see above)\n";
    return kBadInput;
  }
  if (refused > 0) {
    std::cout << refused << (refused == 1 ? " session was" : " sessions were") << " not stored (see above)\n";
    return kBadInput;
  }
  return kOk;
}

namespace {
// Hands recovered sessions to the destination in batches; a folder whose sessions are not all
// stored keeps its files (flush throws).
class DestinationSink : public st::SessionSink {
 public:
  DestinationSink(Destination& destination, st::InsertSummary& total) : destination_(destination), total_(total) {}
  void write(const st::SessionTrace& trace) override {
    batch_.push_back(trace);
    if (batch_.size() >= kBatchSessions) flush();  // a big folder is stored in batches
  }
  void flush() override {
    std::size_t refused = 0;
    destination_.insert(batch_, total_, refused);
    batch_.clear();
    if (refused > 0) throw st::Error(std::to_string(refused) + " sessions were refused (see above)");
  }

 private:
  Destination& destination_;
  st::InsertSummary& total_;
  std::vector<st::SessionTrace> batch_;
};
}  // namespace

int run_recover(const Target& target, const RecoverOptions& options) {
  const std::filesystem::path dir =
      options.spill_dir ? std::filesystem::path(*options.spill_dir) : st::TracingConfig{}.load().spill_dir.value();
  Destination destination(target, options.on_existing);
  st::InsertSummary total;
  DestinationSink sink(destination, total);
  const st::SpillRecovery r = st::recover_spilled_sessions(dir, sink);
  std::cout << "recovered " << r.sessions << (r.sessions == 1 ? " session" : " sessions") << " (" << r.aborted
            << " aborted, " << r.events << " events, " << r.messages << " messages) from " << dir.string() << " into "
            << target.db.string();
  if (total.skipped > 0) std::cout << "; " << total.skipped << " already stored (skipped)";
  std::cout << "\n";
  if (r.bytes_cut > 0) std::cout << r.bytes_cut << " bytes of torn records were cut (written as the process died)\n";
  if (r.folders_in_use > 0) {
    std::cout << r.folders_in_use << (r.folders_in_use == 1 ? " folder belongs" : " folders belong")
              << " to a tracer still running; left alone\n";
  }
  for (const auto& problem : r.problems) std::cerr << problem << "\n";
  return r.problems.empty() ? kOk : kBadInput;
}

}  // namespace synth_trace
