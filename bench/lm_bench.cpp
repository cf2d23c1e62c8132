// LM client overhead per call against a local server (cpp-httplib on 127.0.0.1), non-streamed and
// streamed, untraced and traced (bare and with the default sinks, bench_support.hpp); and the same
// calls served by an in-process model, which leaves out HTTP and so shows what tracing itself
// adds. Target (issue 11, sinks attached): tracing adds <= 1 us per in-process call.
#include <benchmark/benchmark.h>
#include <httplib.h>

#include <optional>
#include <thread>

#include <synth/tracing.hpp>
#include <synth/tracing/lm.hpp>

#include "bench_support.hpp"

namespace st = synth::tracing;
using synth_bench::Setup;

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

// The tracing of a benchmark: none (untraced: the LM's tracing off, no session), or a Setup.
using Tracing = std::optional<Setup>;

// Runs `call(lm)` in every iteration, on an LM made from `options`: with `tracing`, its tracing on,
// in a session and timestep of the run's tracer that end and start again every kRecordsPerSession
// calls.
template <class Call>
void run(benchmark::State& state, const Tracing& tracing, st::LMOptions options, Call&& call) {
  std::shared_ptr<synth_bench::BenchTracer> bench;
  if (tracing) {
    bench = synth_bench::run_tracer(*tracing);
    options.session_tracer = &bench->tracer();
  }
  options.system_id = "agent";
  options.enable_v2_tracing = tracing.has_value();
  st::LM lm(std::move(options));
  {
    std::optional<synth_bench::RotatingSession> session;
    if (bench) session.emplace(bench->tracer(), true);
    for (auto _ : state) {
      benchmark::DoNotOptimize(call(lm));
      if (session) session->next();
    }
  }
  state.SetItemsProcessed(state.iterations());
  if (bench) bench->report(state);
}

st::LMOptions http_options() {
  return {.model = "gpt-4o-mini", .provider = "openai", .temperature = 0.0, .base_url = server().url(),
          .api_key = "sk-bench"};
}

void BM_Generate(benchmark::State& state, Tracing tracing) {
  run(state, tracing, http_options(), [](st::LM& lm) { return lm.generate(kMessages); });
}
BENCHMARK_CAPTURE(BM_Generate, untraced, Tracing{})->UseRealTime();
BENCHMARK_CAPTURE(BM_Generate, bare, Tracing{Setup::bare})->UseRealTime();
BENCHMARK_CAPTURE(BM_Generate, default_sinks, Tracing{Setup::default_sinks})->UseRealTime();

void BM_Stream(benchmark::State& state, Tracing tracing) {
  std::size_t bytes = 0;
  run(state, tracing, http_options(),
      [&](st::LM& lm) { return lm.stream(kMessages, [&](std::string_view p) { bytes += p.size(); }); });
  benchmark::DoNotOptimize(bytes);
}
BENCHMARK_CAPTURE(BM_Stream, untraced, Tracing{})->UseRealTime();
BENCHMARK_CAPTURE(BM_Stream, bare, Tracing{Setup::bare})->UseRealTime();
BENCHMARK_CAPTURE(BM_Stream, default_sinks, Tracing{Setup::default_sinks})->UseRealTime();

// One call of BM_InProcess. Not inlined, so that callgrind counts its instructions per call
// (BENCHMARKS.md).
[[gnu::noinline]] st::LMResponse generate_once(st::LM& lm) { return lm.generate(kMessages); }

// No HTTP: what the client and its tracing cost around the model itself.
void BM_InProcess(benchmark::State& state, Tracing tracing) {
  run(state, tracing, {.model = "synth-offline-policy", .temperature = 0.0, .in_process_model = in_process},
      generate_once);
}
BENCHMARK_CAPTURE(BM_InProcess, untraced, Tracing{});
BENCHMARK_CAPTURE(BM_InProcess, bare, Tracing{Setup::bare});
BENCHMARK_CAPTURE(BM_InProcess, default_sinks, Tracing{Setup::default_sinks});

}  // namespace
