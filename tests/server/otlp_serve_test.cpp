// The real `synth-trace serve` taking OTLP from the official OpenTelemetry JS SDK (the proto and
// the JSON exporters, tests/server/otlp_sdk) on its port and on the extra OTLP port, and from
// our own tracer's exporter: the stored
// sessions hold the model, tokens, messages, tools and errors the spans carried.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdio>
#include <map>
#include <set>

#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"
#include "synth/tracing.hpp"

using namespace synth::tracing;
using synth::tracing::testing::TempDir;
using synth_test::ServeProcess;

namespace {

// Runs the SDK client; its exit code and what it printed.
synth::tracing::testing::CommandResult send_with_sdk(const std::string& base, const char* protocol, const std::string& conversation) {
  return synth::tracing::testing::run_command(std::string(NODE_BINARY) + " " + OTLP_SDK_DIR + "/send_spans.js " + base + " " + protocol +
                                  " " + conversation);
}

// A port nobody listens on now (the kernel's pick, released).
int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(fd);
  return ntohs(a.sin_port);
}

void expect_agent_turn(DuckDBTraceManager& store, const std::string& conversation, const char* protocol) {
  const auto t = store.load_trace(conversation);
  ASSERT_TRUE(t) << conversation << " was not stored";
  ASSERT_EQ(t->event_history.size(), 4u) << t->to_json();
  ASSERT_EQ(t->session_time_steps.size(), 1u) << "one trace, one timestep";
  const CAISEvent* chat = nullptr;
  const RuntimeEvent* tool = nullptr;
  const RuntimeEvent* http = nullptr;
  for (const Event& e : t->event_history) {
    if (const auto* c = std::get_if<CAISEvent>(&e)) chat = c;
    if (const auto* r = std::get_if<RuntimeEvent>(&e)) {
      if (r->metadata["operation"] == Value("get_weather")) tool = r;
      if (r->metadata["span"] == Value("GET")) http = r;
    }
  }
  ASSERT_NE(chat, nullptr);
  EXPECT_EQ(chat->model_name, "gpt-4o-mini-2024-07-18");
  EXPECT_EQ(chat->metadata["request_model"], Value("gpt-4o-mini"));
  EXPECT_EQ(chat->provider, "openai");
  EXPECT_EQ(chat->prompt_tokens, 31);
  EXPECT_EQ(chat->completion_tokens, 9);
  EXPECT_EQ(chat->total_tokens, 40);
  EXPECT_DOUBLE_EQ(chat->latency_ms.value_or(0), 800.0);
  EXPECT_EQ(chat->system_instance_id, "js-agent");
  EXPECT_EQ(chat->system_state_before["messages"][0]["content"], Value(std::string("Weather in Paris? (") + protocol + ")"));
  EXPECT_EQ(chat->system_state_before["temperature"], Value(0.3));
  EXPECT_EQ(chat->system_state_after["messages"][0]["content"], Value("Sunny, 24 C."));
  EXPECT_EQ(chat->system_state_after["finish_reason"], Value("stop"));
  ASSERT_NE(tool, nullptr);
  EXPECT_EQ(tool->system_state_before["arguments"]["city"], Value("Paris"));
  ASSERT_NE(http, nullptr);
  EXPECT_EQ(http->metadata["error"]["message"], Value("upstream unavailable"));
  EXPECT_EQ(http->metadata["parent_span_id"], tool->metadata["span_id"]) << "the tree stays connected";
}

}  // namespace

TEST(OtlpServe, OfficialJsSdkProtoAndJsonExportersAreStored) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-port", "0"});
  for (const char* protocol : {"proto", "http"}) {
    const auto [code, out] = send_with_sdk(serve.url(), protocol, std::string("js-") + protocol);
    EXPECT_EQ(code, 0) << out;
  }
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  DuckDBTraceManager store(dir.db(), DuckDBOptions{.read_only = true});
  expect_agent_turn(store, "js-proto", "proto");
  expect_agent_turn(store, "js-http", "http");
  EXPECT_EQ(store.session_ids().size(), 2u);
}

TEST(OtlpServe, TheOtlpPortAnswersTheSameRoutesWithTheHostCheck) {
  TempDir dir;
  const int otlp = free_port();
  ServeProcess serve(dir.db(), {"--otlp-port", std::to_string(otlp)});
  const std::string base = "http://127.0.0.1:" + std::to_string(otlp);
  const auto [code, out] = send_with_sdk(base, "proto", "via-otlp-port");
  EXPECT_EQ(code, 0) << out;

  httplib::Client client("127.0.0.1", otlp);
  auto r = client.Get("/api/v1/health");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_GE(Value::parse(r->body)["ingest"]["otlp_spans"].as_int(), 4);
  client.set_default_headers({{"Host", "rebind.example:" + std::to_string(otlp)}});
  r = client.Post("/v1/traces", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  // The main port's Host is not the OTLP port's.
  client.set_default_headers({{"Host", "127.0.0.1:" + std::to_string(serve.port())}});
  r = client.Post("/v1/traces", "{}", "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;

  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  const std::string printed = serve.output();
  EXPECT_NE(printed.find(base + "/v1/traces"), std::string::npos) << printed;
  DuckDBTraceManager store(dir.db(), DuckDBOptions{.read_only = true});
  expect_agent_turn(store, "via-otlp-port", "proto");
}

TEST(OtlpServe, AnOtlpPortAskedForAndTakenStopsTheStart) {
  TempDir dir;
  httplib::Server other;
  const int taken = other.bind_to_any_port("127.0.0.1");
  ASSERT_GT(taken, 0);
  try {
    ServeProcess serve(dir.db(), {"--otlp-port", std::to_string(taken)});
    FAIL() << "started although port " << taken << " is taken";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen for OTLP on 127.0.0.1:" + std::to_string(taken)), std::string::npos)
        << e.what();
  }
}

namespace {

// An episode through the library's scopes: LLM calls, a tool, environment steps with rewards,
// a message, over `steps` timesteps.
void record_episode(SessionTracer& tracer, const std::string& id, int steps) {
  auto session = tracer.start_session(id);
  for (int s = 0; s < steps; ++s) {
    auto step = tracer.timestep(s, {}, Value{{"phase", s == 0 ? "explore" : "exploit"}, {"room", s}});
    SessionEventMessage m;
    m.message_type = "observation";
    m.content = Value{{"origin_system_id", "gridworld"}, {"payload", "room " + std::to_string(s)}};
    m.timestamp = now();
    tracer.add_message(std::move(m));
    {
      auto call = ai_call("chat", {.model = "gpt-4o-mini", .system_id = "planner", .tracer = &tracer});
      call.request({{"model", "gpt-4o-mini"}, {"temperature", 0.2}});
      call.response({{"content", "go north"}, {"finish_reason", "stop"}});
      call.usage({.prompt_tokens = 1000 + s, .completion_tokens = 200, .cached_tokens = 100});
    }
    {
      auto tool = runtime_operation("search", {.system_id = "planner", .tracer = &tracer});
      tool.actions({{"query", "weather"}});
    }
    {
      auto env = environment_step("move", {.system_id = "gridworld", .tracer = &tracer});
      env.action("north").reward(0.5 + s).terminated(s + 1 == steps);
    }
  }
}

struct Totals {
  std::size_t events = 0, calls = 0, steps = 0, messages = 0;
  std::int64_t prompt = 0, completion = 0, cached = 0;
  double cost = 0, reward = 0;
  int terminated = 0;
  std::set<std::string> models;
  /// Each timestep in step_index order: "index:step_id:turn:events:metadata", events outside any last.
  std::vector<std::string> steps_placed;
  bool operator==(const Totals&) const = default;
  friend std::ostream& operator<<(std::ostream& os, const Totals& t) {
    os << "{events " << t.events << ", calls " << t.calls << ", steps " << t.steps << ", messages " << t.messages
              << ", tokens " << t.prompt << "/" << t.completion << "/" << t.cached << ", cost " << t.cost << ", reward "
              << t.reward << ", terminated " << t.terminated << ", models " << t.models.size() << ", steps";
    for (const std::string& s : t.steps_placed) os << " " << s;
    return os << "}";
  }
};

Totals totals_of(const SessionTrace& t) {
  Totals out;
  out.events = t.event_history.size();
  out.steps = t.session_time_steps.size();
  out.messages = t.message_history.size();
  std::vector<const SessionTimeStep*> steps;
  for (const SessionTimeStep& s : t.session_time_steps) steps.push_back(&s);
  std::stable_sort(steps.begin(), steps.end(), [](auto* x, auto* y) { return x->step_index < y->step_index; });
  std::size_t placed = 0;
  for (const SessionTimeStep* s : steps) {
    out.steps_placed.push_back(std::to_string(s->step_index) + ":" + s->step_id + ":" + std::to_string(s->turn_number) +
                               ":" + std::to_string(s->events.size()) + ":" + s->step_metadata.dump());
    placed += s->events.size();
  }
  out.steps_placed.push_back("outside:" + std::to_string(t.event_history.size() - placed));
  for (const Event& e : t.event_history) {
    if (const auto* c = std::get_if<CAISEvent>(&e)) {
      ++out.calls;
      out.prompt += c->prompt_tokens.value_or(0);
      out.completion += c->completion_tokens.value_or(0);
      out.cached += c->cached_tokens.value_or(0);
      out.cost += c->cost.value_or(0);
      if (c->model_name) out.models.insert(*c->model_name);
    } else if (const auto* env = std::get_if<EnvironmentEvent>(&e)) {
      out.reward += env->reward.value_or(0);
      out.terminated += env->terminated.value_or(false) ? 1 : 0;
    }
  }
  return out;
}

}  // namespace

// The library's own OTLP exporter sending to serve: what is stored from the spans equals what the
// tracer recorded (mode dual keeps the session in memory too, to compare), in one request at the
// end or in many small ones; in mode otel, where directly recorded events and messages travel as
// span events, the messages arrive too (mode dual sends only the scopes' spans).
TEST(OtlpServe, OurTracersSpansAreStoredAsTheSessionItRecorded) {
  TempDir dir;
  ServeProcess serve(dir.db(), {"--otlp-port", "0"});
  struct Run {
    TracingMode mode;
    std::size_t delay_ms;
    std::string id;
  };
  const std::vector<Run> runs = {{TracingMode::dual, 3600000, "dual-one-request"},
                                 {TracingMode::dual, 1, "dual-many-requests"},
                                 {TracingMode::otel, 1, "otel-many-requests"}};
  std::optional<Totals> recorded;
  for (const Run& run : runs) {
    TracingConfig c;
    c.mode = run.mode;
    c.otel_endpoint = serve.url() + "/v1/traces";
    c.otel_schedule_delay_ms = run.delay_ms;
    c.otel_max_export_batch_size = run.delay_ms == 1 ? std::size_t{2} : std::size_t{512};
    c.save_dir = std::filesystem::path();
    SessionTracer tracer(c);
    record_episode(tracer, run.id, 3);
    ASSERT_TRUE(tracer.flush(std::chrono::seconds(30)));
    EXPECT_EQ(tracer.stats().spans_exported, tracer.stats().spans_ended) << run.id;
    if (run.mode == TracingMode::dual && !recorded) {
      const auto trace = tracer.get_session_trace(run.id);
      ASSERT_TRUE(trace);
      recorded = totals_of(*trace);
    }
  }
  ASSERT_TRUE(recorded);
  EXPECT_EQ(recorded->messages, 3u);
  ASSERT_EQ(serve.stop(), 0) << serve.stderr_text();
  DuckDBTraceManager store(dir.db(), DuckDBOptions{.read_only = true});
  EXPECT_EQ(store.session_ids().size(), runs.size());
  for (const Run& run : runs) {
    const auto stored = store.load_trace(run.id);
    ASSERT_TRUE(stored) << run.id;
    Totals want = *recorded;
    if (run.mode == TracingMode::dual) want.messages = 0;
    EXPECT_EQ(totals_of(*stored), want) << run.id;
  }
}
