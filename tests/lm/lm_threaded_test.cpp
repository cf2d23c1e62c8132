// LM calls from several threads and futures land in the sessions and timesteps they were made in.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "lm/provider_server.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/lm.hpp"

namespace st = synth::tracing;
using st::testing::MemorySink;
using json = nlohmann::json;
using synth_test::Reply;
using namespace std::chrono_literals;

namespace {


// Answers with the last user message, so each answer names the call that asked for it.
Reply echo(const synth_test::Received& r) {
  const json body = json::parse(r.body);
  const std::string prompt = body["messages"].back()["content"];
  if (body.value("stream", false)) {
    return Reply{.events = {json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", {{"content", prompt}}}}}}}.dump(),
                            json{{"id", "c"}, {"choices", {{{"index", 0}, {"delta", json::object()}, {"finish_reason", "stop"}}}}}.dump(),
                            json{{"id", "c"}, {"choices", json::array()}, {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 1}}}}.dump(),
                            "[DONE]"}};
  }
  return Reply{.body = json{{"id", "c"},
                            {"model", "gpt-4o-mini"},
                            {"choices", {{{"index", 0}, {"message", {{"role", "assistant"}, {"content", prompt}}}, {"finish_reason", "stop"}}}},
                            {"usage", {{"prompt_tokens", 3}, {"completion_tokens", 1}}}}
                           .dump()};
}

class LMThreadedTest : public ::testing::Test {
 protected:
  LMThreadedTest() : tracer(st::TracingConfig{.mask_pii = false}) {
    tracer.add_sink(sink);
    server.respond_with(echo);
  }

  std::map<std::string, st::SessionTrace> finished() {
    EXPECT_TRUE(tracer.flush());
    std::map<std::string, st::SessionTrace> out;
    for (auto& t : sink->traces()) out[t.session_id] = t;
    return out;
  }

  synth_test::ProviderServer server;
  std::shared_ptr<MemorySink> sink = std::make_shared<MemorySink>();
  st::SessionTracer tracer;
};

std::string content_of(const st::Event& e) {
  return std::get<st::CAISEvent>(e).system_state_after["content"].as_string();
}

TEST_F(LMThreadedTest, CallsFromThreadsLandInTheirOwnSessions) {
  st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = server.url("/v1"), .api_key = "k",
             .session_tracer = &tracer, .system_id = "agent"});
  constexpr int kThreads = 4;
  constexpr int kTurns = 5;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto session = tracer.start_session("thread-" + std::to_string(t));
      for (int turn = 0; turn < kTurns; ++turn) {
        auto step = tracer.timestep(turn);
        const std::string prompt = "t" + std::to_string(t) + "-turn" + std::to_string(turn);
        if (turn % 2 == 0) {
          EXPECT_EQ(lm.generate(prompt).text, prompt);
        } else {
          std::string text;
          EXPECT_EQ(lm.stream(prompt, [&](std::string_view p) { text += p; }).text, prompt);
          EXPECT_EQ(text, prompt);
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  const auto traces = finished();
  for (int t = 0; t < kThreads; ++t) {
    const auto& trace = traces.at("thread-" + std::to_string(t));
    ASSERT_EQ(trace.session_time_steps.size(), static_cast<std::size_t>(kTurns));
    for (int turn = 0; turn < kTurns; ++turn) {
      const auto& step = trace.session_time_steps[static_cast<std::size_t>(turn)];
      ASSERT_EQ(step.events.size(), 1u);
      EXPECT_EQ(content_of(step.events[0]), "t" + std::to_string(t) + "-turn" + std::to_string(turn));
      EXPECT_EQ(st::time_record(step.events[0])->message_time, turn);
    }
  }
}

TEST_F(LMThreadedTest, FuturesLandInTheSessionAndTimestepWhereTheyWereStarted) {
  st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = server.url("/v1"), .api_key = "k",
             .session_tracer = &tracer});
  {
    auto session = tracer.start_session("futures");
    for (int turn = 0; turn < 3; ++turn) {
      auto step = tracer.timestep(turn);
      std::vector<std::future<st::LMResponse>> futures;
      for (int i = 0; i < 3; ++i) futures.push_back(lm.agenerate("turn" + std::to_string(turn) + "-call" + std::to_string(i)));
      for (int i = 0; i < 3; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].get().text, "turn" + std::to_string(turn) + "-call" + std::to_string(i));
    }
  }
  const auto trace = finished().at("futures");
  ASSERT_EQ(trace.session_time_steps.size(), 3u);
  for (int turn = 0; turn < 3; ++turn) {
    const auto& step = trace.session_time_steps[static_cast<std::size_t>(turn)];
    ASSERT_EQ(step.events.size(), 3u);
    std::set<std::string> contents;
    for (const auto& e : step.events) {
      contents.insert(content_of(e));
      EXPECT_EQ(st::time_record(e)->message_time, turn);
    }
    EXPECT_EQ(contents, (std::set<std::string>{"turn" + std::to_string(turn) + "-call0", "turn" + std::to_string(turn) + "-call1",
                                               "turn" + std::to_string(turn) + "-call2"}));
  }
}

TEST_F(LMThreadedTest, FuturesWithoutAnExplicitTracerUseTheCallersSession) {
  st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = server.url("/v1"), .api_key = "k"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      auto session = tracer.start_session("implicit-" + std::to_string(t));
      auto step = tracer.timestep(7);
      auto f1 = lm.agenerate("implicit" + std::to_string(t) + "a");
      auto f2 = lm.agenerate(std::vector<st::Message>{st::Message::user("implicit" + std::to_string(t) + "b")});
      EXPECT_EQ(f1.get().text, "implicit" + std::to_string(t) + "a");
      EXPECT_EQ(f2.get().text, "implicit" + std::to_string(t) + "b");
    });
  }
  for (auto& th : threads) th.join();
  const auto traces = finished();
  for (int t = 0; t < 3; ++t) {
    const auto& trace = traces.at("implicit-" + std::to_string(t));
    ASSERT_EQ(trace.session_time_steps.size(), 1u);
    const auto& events = trace.session_time_steps[0].events;
    ASSERT_EQ(events.size(), 2u);
    std::set<std::string> contents{content_of(events[0]), content_of(events[1])};
    EXPECT_EQ(contents, (std::set<std::string>{"implicit" + std::to_string(t) + "a", "implicit" + std::to_string(t) + "b"}));
    EXPECT_EQ(st::time_record(events[0])->message_time, 7);
  }
}

// agenerate() never starts a thread per call: at most async_threads run the calls, at most
// async_queue_capacity wait, and beyond that the caller runs the call itself.
TEST_F(LMThreadedTest, AgenerateRunsOnABoundedPoolAndTheCallerRunsTheOverflow) {
  std::mutex mutex;
  std::condition_variable changed;
  int blocked = 0;        // calls holding a pool thread until released
  bool released = false;
  std::set<std::thread::id> pool_threads;
  std::map<std::string, std::thread::id> thread_of;
  st::LM lm({.model = "synth-offline-policy",
             .session_tracer = &tracer,
             .async_threads = 2,
             .async_queue_capacity = 3,
             .in_process_model = [&](const st::LMRequest& request) {
               const std::string prompt = request.messages.back().content;
               std::unique_lock lock(mutex);
               thread_of[prompt] = std::this_thread::get_id();
               if (prompt.starts_with("hold")) {
                 ++blocked;
                 changed.notify_all();
                 changed.wait(lock, [&] { return released; });
               }
               st::LMResponse r;
               r.text = prompt;
               return r;
             }});
  std::vector<std::future<st::LMResponse>> futures;
  {
    auto session = tracer.start_session("bounded");
    futures.push_back(lm.agenerate("hold-1"));
    futures.push_back(lm.agenerate("hold-2"));
    {
      std::unique_lock lock(mutex);
      changed.wait(lock, [&] { return blocked == 2; });  // both threads are busy
    }
    EXPECT_EQ(std::ranges::count(st::testing::thread_names(), "synth-lm-calls"), 2) << "what top -H and perf show";
    for (int i = 0; i < 3; ++i) futures.push_back(lm.agenerate("queued-" + std::to_string(i)));  // fills the queue
    auto overflow = lm.agenerate("overflow");
    EXPECT_EQ(overflow.wait_for(0s), std::future_status::ready) << "the caller ran it";
    EXPECT_EQ(overflow.get().text, "overflow");
    {
      std::lock_guard lock(mutex);
      EXPECT_EQ(thread_of.at("overflow"), std::this_thread::get_id());
      EXPECT_EQ(thread_of.count("queued-0"), 0u) << "queued calls wait for a thread";
      released = true;
    }
    changed.notify_all();
    for (auto& f : futures) (void)f.get();
  }
  std::lock_guard lock(mutex);
  for (const auto& [prompt, id] : thread_of) {
    if (prompt != "overflow") pool_threads.insert(id);
  }
  EXPECT_EQ(pool_threads.size(), 2u) << "two threads ran the five other calls";
  EXPECT_EQ(pool_threads.count(std::this_thread::get_id()), 0u);
  const auto trace = finished().at("bounded");
  EXPECT_EQ(trace.event_history.size(), 6u) << "every call is traced in the caller's session";
}

TEST_F(LMThreadedTest, DestroyingTheLMRunsTheQueuedCalls) {
  std::atomic<int> answered{0};
  std::vector<std::future<st::LMResponse>> futures;
  {
    st::LM lm({.model = "synth-offline-policy", .async_threads = 1, .async_queue_capacity = 16,
               .in_process_model = [&](const st::LMRequest& request) {
                 ++answered;
                 st::LMResponse r;
                 r.text = request.messages.back().content;
                 return r;
               }});
    for (int i = 0; i < 10; ++i) futures.push_back(lm.agenerate("call-" + std::to_string(i)));
  }
  EXPECT_EQ(answered.load(), 10);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(futures[static_cast<std::size_t>(i)].get().text, "call-" + std::to_string(i));
}

TEST_F(LMThreadedTest, AFutureCarriesTheCallsErrorAndRecordsIt) {
  server.respond_with([](const synth_test::Received&) {
    return Reply{.status = 400, .body = R"({"error":{"message":"bad things"}})"};
  });
  st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = server.url("/v1"), .api_key = "k",
             .session_tracer = &tracer});
  {
    auto session = tracer.start_session("future-error");
    auto f = lm.agenerate("x");
    EXPECT_THROW(f.get(), st::LMBadRequestError);
  }
  const auto trace = finished().at("future-error");
  ASSERT_EQ(trace.event_history.size(), 1u);
  EXPECT_TRUE(st::metadata(trace.event_history[0]).contains("error"));
}

}  // namespace
