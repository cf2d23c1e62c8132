// LM client overhead per call against a local server (cpp-httplib on 127.0.0.1), non-streamed and
// streamed, with and without tracing; and the same calls served by an in-process model, which
// leaves out HTTP and so shows what tracing itself adds. Target (issue 6): tracing adds <= 2 us
// per call.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <optional>
#include <thread>

#include <synth/tracing.hpp>
#include <synth/tracing/lm.hpp>

namespace st = synth::tracing;

namespace {

constexpr const char* kAnswer =
    R"({"id":"chatcmpl-b","object":"chat.completion","model":"gpt-4o-mini-2024-07-18","choices":[{"index":0,)"
    R"("message":{"role":"assistant","content":"{\"action\": \"north\", \"reasoning\": \"toward the goal\"}"},)"
    R"("finish_reason":"stop"}],"usage":{"prompt_tokens":60,"completion_tokens":14,"total_tokens":74}})";

const char* const kEvents[] = {
    R"(data: {"id":"c","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"{\"action\": "}}]})",
    R"(data: {"id":"c","model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"\"north\"}"}}]})",
    R"(data: {"id":"c","model":"gpt-4o-mini","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})",
    R"(data: {"id":"c","model":"gpt-4o-mini","choices":[],"usage":{"prompt_tokens":60,"completion_tokens":14}})",
    "data: [DONE]",
};

// The server of every benchmark: started once, kept for the process.
class Server {
 public:
  Server() {
    svr_.set_tcp_nodelay(true);
    svr_.new_task_queue = [] { return new httplib::ThreadPool(32); };
    svr_.Post("/v1/chat/completions", [](const httplib::Request& req, httplib::Response& res) {
      if (req.body.find("\"stream\":true") == std::string::npos) {
        res.set_content(kAnswer, "application/json");
        return;
      }
      res.set_chunked_content_provider("text/event-stream", [](size_t, httplib::DataSink& sink) {
        for (const char* e : kEvents) {
          const std::string chunk = std::string(e) + "\n\n";
          sink.write(chunk.data(), chunk.size());
        }
        sink.done();
        return true;
      });
    });
    port_ = svr_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { svr_.listen_after_bind(); });
    while (!svr_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ~Server() {
    svr_.stop();
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1"; }

 private:
  httplib::Server svr_;
  std::thread thread_;
  int port_ = 0;
};

Server& server() {
  static Server s;
  return s;
}

st::SessionTracer& tracer() {
  static st::SessionTracer t(st::TracingConfig{.max_finished_sessions = 1});
  return t;
}

const std::vector<st::Message> kMessages = {
    st::Message::system("You are an agent in a 6x6 grid world looking for a treasure."),
    st::Message::user("You are at (2, 3). The treasure is at (5, 5). Blocked: north. Reply with JSON {\"action\": ...}."),
};

st::LMResponse in_process(const st::LMRequest&) {
  st::LMResponse r;
  r.text = R"({"action": "north", "reasoning": "toward the goal"})";
  r.usage = {.prompt_tokens = 60, .completion_tokens = 14};
  return r;
}

// Runs `call` in a session (when traced), starting a fresh session every 4096 calls so memory stays flat.
template <class Call>
void run(benchmark::State& state, bool traced, Call&& call) {
  std::optional<st::SessionScope> session;
  std::optional<st::TimestepScope> step;
  if (traced) {
    session.emplace(tracer().start_session());
    step.emplace(tracer().timestep(0));
  }
  std::int64_t n = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(call());
    if (traced && ++n % 4096 == 0) {
      state.PauseTiming();
      step.reset();
      session.reset();
      session.emplace(tracer().start_session());
      step.emplace(tracer().timestep(0));
      state.ResumeTiming();
    }
  }
  state.SetItemsProcessed(state.iterations());
}

st::LMOptions http_options(bool traced) {
  return {.model = "gpt-4o-mini", .provider = "openai", .temperature = 0.0, .base_url = server().url(),
          .api_key = "sk-bench", .session_tracer = &tracer(), .system_id = "agent", .enable_v2_tracing = traced};
}

void BM_Generate(benchmark::State& state) {
  const bool traced = state.range(0) != 0;
  st::LM lm(http_options(traced));
  run(state, traced, [&] { return lm.generate(kMessages); });
}
BENCHMARK(BM_Generate)->ArgName("traced")->Arg(0)->Arg(1)->UseRealTime();

void BM_Stream(benchmark::State& state) {
  const bool traced = state.range(0) != 0;
  st::LM lm(http_options(traced));
  std::size_t bytes = 0;
  run(state, traced, [&] { return lm.stream(kMessages, [&](std::string_view p) { bytes += p.size(); }); });
  benchmark::DoNotOptimize(bytes);
}
BENCHMARK(BM_Stream)->ArgName("traced")->Arg(0)->Arg(1)->UseRealTime();

// No HTTP: what the client and its tracing cost around the model itself.
void BM_InProcess(benchmark::State& state) {
  const bool traced = state.range(0) != 0;
  st::LM lm({.model = "synth-offline-policy", .temperature = 0.0, .session_tracer = &tracer(), .system_id = "agent",
             .enable_v2_tracing = traced, .in_process_model = in_process});
  run(state, traced, [&] { return lm.generate(kMessages); });
}
BENCHMARK(BM_InProcess)->ArgName("traced")->Arg(0)->Arg(1);

}  // namespace
