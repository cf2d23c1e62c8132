// What leaves the process: finished sessions (their metadata, timesteps, events and messages) and
// spans are masked, truncated and priced per TracingConfig; registered secrets never leave, not
// even in diagnostics.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <stdexcept>

#include "support.hpp"
#include "synth/tracing.hpp"

namespace st = synth::tracing;
using st::CAISEvent;
using st::SessionTracer;
using st::TracingConfig;
using st::Value;

namespace {
std::shared_ptr<const st::SessionTrace> record(SessionTracer& tracer, const std::function<void()>& body) {
  {
    auto session = tracer.start_session("s");
    auto step = tracer.timestep(0);
    body();
  }
  return tracer.get_session_trace("s");
}
}  // namespace

TEST(Outgoing, PiiIsMaskedEverywhereBeforeLeaving) {
  SessionTracer tracer(TracingConfig{.mask_pii = true});
  const auto trace = record(tracer, [&] {
    tracer.add_event(CAISEvent{.system_state_before = {{"prompt", "mail jane.doe@example.com or call (555) 987-6543"}},
                               .system_state_after = {{"text", "card 4111 1111 1111 1111"}},
                               .metadata = {{"note", "ssn 123-45-6789"}, {"count", 3}}});
    tracer.add_message(st::make_message("user", {{"text", "my key is sk-abcdefghijklmnopqrstuvwx1234"}}, "chat", 0));
  });
  const auto& e = std::get<CAISEvent>(trace->event_history.at(0));
  EXPECT_EQ(e.system_state_before["prompt"].as_string(), "mail [EMAIL] or call [PHONE]");
  EXPECT_EQ(e.system_state_after["text"].as_string(), "card [CREDIT_CARD]");
  EXPECT_EQ(e.metadata["note"].as_string(), "ssn [SSN]");
  EXPECT_EQ(e.metadata["count"].as_int(), 3);
  EXPECT_EQ(trace->message_history.at(0).content["payload"]["text"].as_string(), "my key is [API_KEY]");
  // The timestep's copy is the same masked item.
  EXPECT_EQ(trace->session_time_steps[0].events[0], trace->event_history[0]);
  EXPECT_EQ(trace->to_json().find("jane.doe"), std::string::npos);
}

TEST(Outgoing, MaskingOffAndCustomPatterns) {
  SessionTracer off(TracingConfig{.mask_pii = false});
  const auto plain = record(off, [&] { off.add_event(CAISEvent{.metadata = {{"email", "a@b.com"}}}); });
  EXPECT_EQ(st::metadata(plain->event_history[0])["email"].as_string(), "a@b.com");

  SessionTracer custom(TracingConfig{.pii_patterns = std::vector<st::PiiPattern>{{"employee", "E\\d{6}", "[EMPLOYEE]"}}});
  const auto masked = record(custom, [&] { custom.add_event(CAISEvent{.metadata = {{"who", "E123456 at a@b.com"}}}); });
  EXPECT_EQ(st::metadata(masked->event_history[0])["who"].as_string(), "[EMPLOYEE] at [EMAIL]");

  EXPECT_THROW(SessionTracer(TracingConfig{.pii_patterns = std::vector<st::PiiPattern>{{"bad", "(", "[X]"}}}), st::Error);
}

TEST(Outgoing, LongStringsAreTruncatedAfterMasking) {
  SessionTracer tracer(TracingConfig{.max_payload_bytes = 16});
  const std::string long_text = "\xC3\xA9" + std::string(40, 'x');  // starts with a 2-byte character
  const auto trace = record(tracer, [&] {
    tracer.add_event(CAISEvent{.system_state_before = {{"text", long_text}, {"short", "ok"}}});
  });
  const auto& before = std::get<CAISEvent>(trace->event_history[0]).system_state_before;
  EXPECT_EQ(before["text"].as_string(), "\xC3\xA9" + std::string(14, 'x') + "... [truncated]");
  EXPECT_EQ(before["short"].as_string(), "ok");

  SessionTracer untouched(TracingConfig{.max_payload_bytes = 16, .truncate_payloads = false});
  const auto whole = record(untouched, [&] { untouched.add_event(CAISEvent{.system_state_before = {{"text", long_text}}}); });
  EXPECT_EQ(std::get<CAISEvent>(whole->event_history[0]).system_state_before["text"].as_string(), long_text);
}

TEST(Outgoing, CostsFromUsageAndUnknownModelsSayWhy) {
  SessionTracer tracer(TracingConfig{});
  const auto trace = record(tracer, [&] {
    tracer.add_event(CAISEvent{.model_name = "gpt-4", .prompt_tokens = 100, .completion_tokens = 200});
    tracer.add_event(CAISEvent{.model_name = "no-such-model-x", .prompt_tokens = 10, .completion_tokens = 10});
    tracer.add_event(CAISEvent{.model_name = "gpt-4", .prompt_tokens = 100, .completion_tokens = 200, .cost = 1.25});
    tracer.add_event(CAISEvent{.model_name = "gpt-4"});  // no usage: nothing to price, and it says so
  });
  const auto cost_of = [&](std::size_t i) { return std::get<CAISEvent>(trace->event_history.at(i)).cost; };
  ASSERT_TRUE(cost_of(0).has_value());
  EXPECT_DOUBLE_EQ(*cost_of(0), 0.015);
  EXPECT_FALSE(cost_of(1).has_value());
  EXPECT_EQ(st::metadata(trace->event_history[1])["cost_status"].as_string(), "unknown_model");
  EXPECT_DOUBLE_EQ(*cost_of(2), 1.25);  // a recorded cost is kept
  EXPECT_FALSE(cost_of(3).has_value()) << "a known model is never priced at $0 for lack of data";
  EXPECT_EQ(st::metadata(trace->event_history[3])["cost_status"].as_string(), "no_usage");
  EXPECT_FALSE(std::get<CAISEvent>(trace->event_history[3]).prompt_tokens.has_value());

  SessionTracer no_costs(TracingConfig{.track_costs = false});
  const auto unpriced = record(no_costs, [&] {
    no_costs.add_event(CAISEvent{.model_name = "gpt-4", .prompt_tokens = 100, .completion_tokens = 200});
  });
  EXPECT_FALSE(std::get<CAISEvent>(unpriced->event_history[0]).cost.has_value());
}

TEST(Outgoing, CacheWriteTokensArePricedAtTheCacheWriteRate) {
  SessionTracer tracer(TracingConfig{});
  const auto trace = record(tracer, [&] {
    // claude-sonnet-4: input 3, cached input 0.30, cache write 3.75, output 15 (USD per million).
    tracer.add_event(CAISEvent{.model_name = "claude-sonnet-4-20250514",
                               .prompt_tokens = 1000000,
                               .completion_tokens = 100000,
                               .cached_tokens = 200000,
                               .cache_write_tokens = 500000});
  });
  const auto& e = std::get<CAISEvent>(trace->event_history.at(0));
  EXPECT_EQ(e.cache_write_tokens, 500000);
  ASSERT_TRUE(e.cost.has_value());
  EXPECT_DOUBLE_EQ(*e.cost, 0.3 * 3 + 0.2 * 0.30 + 0.5 * 3.75 + 0.1 * 15);
  EXPECT_EQ(e.cost, st::calculate_cost("claude-sonnet-4-20250514", {.prompt_tokens = 1000000,
                                                                     .completion_tokens = 100000,
                                                                     .cached_tokens = 200000,
                                                                     .cache_write_tokens = 500000}));
}

TEST(Outgoing, UserPricingFileOverridesTheBuiltInTable) {
  const auto path = std::filesystem::temp_directory_path() / ("pricing_" + std::to_string(::getpid()) + ".json");
  std::ofstream(path) << R"({"as_of": "2025-01-01", "models": {"gpt-4": {"input": 1, "output": 2}, "house-model": {"input": 10, "output": 10}}})";
  SessionTracer tracer(TracingConfig{.pricing_file = path});
  const auto trace = record(tracer, [&] {
    tracer.add_event(CAISEvent{.model_name = "gpt-4", .prompt_tokens = 1000000, .completion_tokens = 1000000});
    tracer.add_event(CAISEvent{.model_name = "house-model", .prompt_tokens = 500000});
  });
  EXPECT_DOUBLE_EQ(*std::get<CAISEvent>(trace->event_history[0]).cost, 3.0);
  EXPECT_DOUBLE_EQ(*std::get<CAISEvent>(trace->event_history[1]).cost, 5.0);
  // The events say which table priced them (the viewer shows "price table (prices as of ...)"): the
  // file merged over the built-in table, whose prices were all checked by the earlier date.
  for (const auto& event : trace->event_history) {
    const auto& metadata = std::get<CAISEvent>(event).metadata;
    EXPECT_EQ(metadata["cost_source"].as_string(), "price_table");
    EXPECT_EQ(metadata["price_table_as_of"].as_string(), "2025-01-01");
  }
  std::filesystem::remove(path);
  EXPECT_THROW(SessionTracer(TracingConfig{.pricing_file = "/nonexistent/pricing.json"}), st::Error);
}

// Issue 9: metadata given at the start, added later, or added by hooks, and timestep metadata,
// pass the same masking and truncation as events and messages.
TEST(Outgoing, SessionAndStepMetadataAreMaskedAndTruncated) {
  SessionTracer tracer(TracingConfig{.max_payload_bytes = 64});
  tracer.add_hook({.on_session_start = [](std::string_view, Value& m) { m.set("hook_contact", "bob@example.org"); },
                   .on_timestep_start = [](std::string_view, st::SessionTimeStep& step) {
                     step.step_metadata.set("hook_phone", "(555) 987-6543");
                   }});
  const std::string long_text(200, 'x');
  {
    auto session = tracer.start_session("s", {{"user_email", "alice@example.com"}, {"n", 7}});
    tracer.add_session_metadata("contact", {{"ssn", "123-45-6789"}, {"notes", long_text}});
    auto step = tracer.timestep(0, "step_0", {{"card", "4111 1111 1111 1111"}, {"long", long_text}});
  }
  const auto trace = tracer.get_session_trace("s");
  ASSERT_EQ(trace->session_metadata.size(), 2u);
  const Value& start = trace->start_metadata();
  EXPECT_EQ(start["user_email"].as_string(), "[EMAIL]");
  EXPECT_EQ(start["hook_contact"].as_string(), "[EMAIL]");
  EXPECT_EQ(start["n"].as_int(), 7);
  const Value& contact = trace->session_metadata[1].data;
  EXPECT_EQ(contact["ssn"].as_string(), "[SSN]");
  EXPECT_EQ(contact["notes"].as_string(), std::string(64, 'x') + "... [truncated]");
  const Value& step = trace->session_time_steps.at(0).step_metadata;
  EXPECT_EQ(step["card"].as_string(), "[CREDIT_CARD]");
  EXPECT_EQ(step["hook_phone"].as_string(), "[PHONE]");
  EXPECT_EQ(step["long"].as_string(), std::string(64, 'x') + "... [truncated]");
  const std::string json = trace->to_json();
  for (const char* planted : {"alice@", "bob@", "123-45-6789", "4111 1111", "987-6543"}) {
    EXPECT_EQ(json.find(planted), std::string::npos) << planted;
  }
}

// Registered secrets never leave, even with PII masking off: not in sessions, not in spans.
TEST(Outgoing, RegisteredSecretsAreMaskedWithMaskingOff) {
  const std::string secret = "Tq4Lm9Xr2Vb7Nc5Zs8Kd";  // 20 random characters: no known key shape
  st::register_secret(secret);
  st::testing::TempDir dir;
  const std::filesystem::path spans = dir.file("spans.jsonl");
  {
    SessionTracer tracer(TracingConfig{.mask_pii = false, .otel_endpoint = "file://" + spans.string()});
    {
      auto session = tracer.start_session("s", {{"token", secret}, {"email", "a@b.com"}});
      tracer.add_session_metadata("later", {{"token", "x" + secret}});
      auto step = tracer.timestep(0, "step_0", {{"token", secret}});
      tracer.add_event(CAISEvent{.metadata = {{"token", secret}}});
      tracer.add_message(st::make_message("user", {{"text", "use " + secret}}, "chat", 0));
      auto span = st::trace_span("work " + secret, {{"token", secret}}, {.tracer = &tracer});
      span.error("failure", "rejected " + secret);
    }
    const auto trace = tracer.get_session_trace("s");
    const std::string json = trace->to_json();
    EXPECT_EQ(json.find(secret), std::string::npos) << json;
    EXPECT_NE(json.find("[SECRET]"), std::string::npos);
    EXPECT_EQ(trace->start_metadata()["email"].as_string(), "a@b.com");  // masking is off
    ASSERT_TRUE(tracer.flush());
  }
  const std::string exported = st::testing::file_contents(spans);
  EXPECT_NE(exported.find("[SECRET]"), std::string::npos) << exported;
  EXPECT_EQ(exported.find(secret), std::string::npos) << exported;
}

// Diagnostics (the library's log lines) carry no credentials, whoever wrote the message.
TEST(Outgoing, DiagnosticsNeverCarryCredentials) {
  const std::string secret = "Hw3Pz8Qe1Ry6Tu0Io5As";
  st::register_secret(secret);
  const std::string key = "sk-proj-" + std::string("Ab3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF3hJ5");
  st::testing::CapturedDiagnostics diagnostics;
  {
    SessionTracer tracer(TracingConfig{});
    tracer.add_hook({.on_session_end = [&](const st::SessionTrace&) {
      throw std::runtime_error("hook failed with " + secret + " and " + key + " at https://u:pw-123@host/x?token=t0k");
    }});
    { auto session = tracer.start_session("s"); }
    ASSERT_TRUE(tracer.flush());
  }
  const auto messages = diagnostics.all();
  ASSERT_FALSE(messages.empty());
  for (const std::string& m : messages) {
    EXPECT_EQ(m.find(secret), std::string::npos) << m;
    EXPECT_EQ(m.find(key), std::string::npos) << m;
    EXPECT_EQ(m.find("pw-123"), std::string::npos) << m;
    EXPECT_EQ(m.find("t0k"), std::string::npos) << m;
  }
  EXPECT_NE(messages[0].find("hook failed with [SECRET] and [API_KEY] at https://[API_KEY]@host/x?token=[API_KEY]"),
            std::string::npos)
      << messages[0];
}

TEST(Outgoing, ScopeIdsInMetadataAreNeverMaskedAsCardNumbers) {
  // A random span id whose digits "3660777173236" pass Luhn was stored as "47d[CREDIT_CARD]":
  // the ids are ours, never content; the rest of the metadata is masked as before.
  SessionTracer tracer(TracingConfig{.mask_pii = true});
  const auto trace = record(tracer, [&] {
    tracer.add_event(st::RuntimeEvent{.metadata = {{"span_id", "47d3660777173236"},
                                                   {"parent_span_id", "47d3660777173236"},
                                                   {"trace_id", "4bf92f3577b34da64111111111111111"},
                                                   {"note", "card 4111 1111 1111 1111"}}});
  });
  const Value& md = std::get<st::RuntimeEvent>(trace->event_history.at(0)).metadata;
  EXPECT_EQ(md["span_id"].as_string(), "47d3660777173236");
  EXPECT_EQ(md["parent_span_id"].as_string(), "47d3660777173236");
  EXPECT_EQ(md["trace_id"].as_string(), "4bf92f3577b34da64111111111111111");
  EXPECT_EQ(md["note"].as_string(), "card [CREDIT_CARD]");
}
