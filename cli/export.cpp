// synth-trace export / finetune-export.
#include <fstream>
#include <iostream>

#include <synth/tracing.hpp>

#include "cli.hpp"

namespace synth_trace {

namespace {

// Writes `lines` through a temporary file renamed into place: no half-written output.
class OutputFile {
 public:
  explicit OutputFile(std::filesystem::path path) : path_(std::move(path)), tmp_(path_) {
    tmp_ += ".partial";
    out_.open(tmp_, std::ios::binary | std::ios::trunc);
    if (!out_) throw st::Error("cannot write '" + path_.string() + "': check that its folder exists and is writable");
  }
  ~OutputFile() {
    if (out_.is_open()) {
      out_.close();
      std::filesystem::remove(tmp_);
    }
  }
  std::ofstream& stream() { return out_; }
  void commit() {
    out_.close();
    if (!out_) throw st::Error("writing '" + path_.string() + "' failed (disk full?)");
    std::filesystem::rename(tmp_, path_);
  }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::ofstream out_;
};

// Chat messages of an LLM call, from its recorded request: {"messages": [{role, content}]} (as
// the LM client and the demo record) or {"prompt": text}.
std::optional<st::Value::Array> request_messages(const st::Value& before) {
  if (const st::Value* messages = before.find("messages"); messages != nullptr && messages->is_array()) {
    st::Value::Array out;
    for (const st::Value& m : messages->as_array()) {
      if (!m["role"].is_string() || !m["content"].is_string()) return std::nullopt;
      out.push_back(st::Value{{"role", m["role"]}, {"content", m["content"]}});
    }
    return out;
  }
  if (before["prompt"].is_string()) return st::Value::Array{st::Value{{"role", "user"}, {"content", before["prompt"]}}};
  return std::nullopt;
}

std::optional<std::string> response_text(const st::Value& after) {
  for (const char* key : {"content", "response", "completion", "text"}) {
    if (after[key].is_string()) return after[key].as_string();
  }
  return std::nullopt;
}

}  // namespace

int run_export(const Target& target, const ExportOptions& options) {
  const auto store = open_for_reading(target);
  if (options.parquet_dir) {
    store->export_parquet(*options.parquet_dir);
    std::cout << "wrote session_traces, session_timesteps, events and messages as Parquet into " << *options.parquet_dir
              << "\n";
    return kOk;
  }
  OutputFile file(*options.jsonl_file);
  const std::size_t written = store->export_jsonl(file.stream());
  file.commit();
  std::cout << "wrote " << written << (written == 1 ? " session" : " sessions") << " to " << *options.jsonl_file << "\n";
  return kOk;
}

int run_finetune_export(const Target& target, const FinetuneOptions& options) {
  const auto store = open_for_reading(target);
  const st::QueryResult successful = store->query(
      "SELECT session_id FROM session_summary WHERE COALESCE(total_reward, 0) > ? ORDER BY created_at, session_id",
      {st::Value(options.min_reward)});
  OutputFile file(options.out);
  std::size_t examples = 0;
  std::size_t unusable = 0;
  for (const auto& row : successful.rows) {
    const auto trace = store->load_trace(row[0].as_string());
    if (!trace) continue;
    for (const st::Event& e : trace->event_history) {
      const auto* call = std::get_if<st::CAISEvent>(&e);
      if (call == nullptr) continue;
      auto messages = request_messages(call->system_state_before);
      const auto response = response_text(call->system_state_after);
      if (!messages || !response || !st::metadata(e)["error"].is_null()) {
        ++unusable;
        continue;
      }
      messages->push_back(st::Value{{"role", "assistant"}, {"content", *response}});
      // Only "messages": OpenAI's fine-tuning format takes nothing else on a line.
      file.stream() << st::Value{{"messages", st::Value(std::move(*messages))}}.dump() << '\n';
      ++examples;
    }
  }
  file.commit();
  std::cout << "wrote " << examples << " chat examples from " << successful.rows.size()
            << " successful sessions (total reward > " << options.min_reward << ") to " << options.out << "\n";
  if (unusable > 0) {
    std::cout << unusable << " LLM calls left out: failed, or without request messages/response text in their states\n";
  }
  return kOk;
}

}  // namespace synth_trace
