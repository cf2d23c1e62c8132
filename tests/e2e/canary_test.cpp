// Issue 9, "nothing sensitive leaves the process", checked on every exit path at once: an email,
// a phone number, an SSN, a Luhn-valid card and an API key are planted in every free-form field
// the API accepts (session and step metadata, hooks, event states, metadata, event_metadata,
// call records, messages, scope setters, error messages, exceptions, span names and attributes,
// the LM client's prompt, answer and failure), a session runs through every sink and exporter
// (JSON files, DuckDB, OTLP protobuf and OTLP/JSON to the real receiver, the JSON-lines span
// file), and every byte written is scanned: every file, every column of every DuckDB table,
// every request the receiver decoded. No planted value may appear; their tokens must.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "lm/provider_server.hpp"
#include "otel/otlp_receiver.hpp"
#include "support.hpp"
#include "synth/tracing.hpp"
#include "synth/tracing/duckdb.hpp"

namespace st = synth::tracing;
namespace fs = std::filesystem;
using nlohmann::json;
using st::Value;

namespace {

const std::string kEmail = "canary.alice@example.com";
const std::string kPhone = "(415) 555-0142";
const std::string kSsn = "219-09-9999";
const std::string kCard = "4539 1488 0343 6467";  // Luhn-valid
const std::string kApiKey = "sk-proj-Cn4ryK3yZ9xW2vU7tS5rQ1pO8nM6lK4jH2gF0dS";

// Pieces of the planted values that must not appear anywhere either (a value cut or reformatted
// must not survive in part).
const std::vector<std::string> kFingerprints{
    kEmail, "canary.alice", "alice@example", kPhone, "555-0142", "4155550142", kSsn, "219099999", kCard,
    "4539 1488", "0343 6467", "4539148803436467", kApiKey, "Cn4ryK3yZ9xW2vU7", "lK4jH2gF0dS"};
const std::vector<std::string> kTokens{"[EMAIL]", "[PHONE]", "[SSN]", "[CREDIT_CARD]", "[API_KEY]"};

// All five planted values, labelled with the field they are planted in.
std::string planted(const std::string& field) {
  return field + ": contact " + kEmail + " or " + kPhone + ", ssn " + kSsn + ", card " + kCard + ", key " + kApiKey;
}
Value planted_object(const std::string& field) { return Value{{"note", planted(field)}}; }

// Every planted value found in `bytes`, with what surrounds it.
std::vector<std::string> leaks(const std::string& bytes) {
  std::vector<std::string> found;
  for (const std::string& f : kFingerprints) {
    for (std::size_t at = bytes.find(f); at != std::string::npos; at = bytes.find(f, at + 1)) {
      const std::size_t from = at < 60 ? 0 : at - 60;
      found.push_back("'" + f + "' in ..." + bytes.substr(from, 160) + "...");
    }
  }
  return found;
}

void expect_clean(const std::string& where, const std::string& bytes) {
  for (const std::string& leak : leaks(bytes)) ADD_FAILURE() << where << ": " << leak;
}

// The masked tokens arrived: the check above cannot pass by writing nothing.
void expect_tokens(const std::string& where, const std::string& bytes) {
  for (const std::string& token : kTokens) EXPECT_NE(bytes.find(token), std::string::npos) << where << " lacks " << token;
}

// The fake provider: the good call's answer and the failing call's error carry the canaries.
void serve(synth_test::ProviderServer& server) {
  server.respond_with([](const synth_test::Received& request) {
    if (request.body.find("LM failing prompt") != std::string::npos) {
      return synth_test::Reply{.status = 400, .body = json{{"error", {{"message", planted("provider error")}}}}.dump()};
    }
    return synth_test::Reply{
        .body = json{{"id", "chatcmpl-canary"},
                     {"model", "gpt-4o-mini"},
                     {"choices", {{{"index", 0},
                                   {"message", {{"role", "assistant"}, {"content", planted("LM response")}}},
                                   {"finish_reason", "stop"}}}},
                     {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 10}, {"total_tokens", 30}}}}
                    .dump()};
  });
}

// One session planting the canaries in every free-form field, through every way of recording.
void run_session(st::SessionTracer& tracer, const std::string& session_id, const std::string& provider_url) {
  tracer.add_hook({.on_session_start = [](std::string_view, Value& m) { m.set("hook", planted("on_session_start hook")); },
                   .on_timestep_start =
                       [](std::string_view, st::SessionTimeStep& step) {
                         step.step_metadata.set("hook", planted("on_timestep_start hook"));
                       },
                   .on_event = [](std::string_view, const st::Event&) -> std::optional<Value> {
                     return planted_object("on_event hook");
                   },
                   .on_session_end = [](const st::SessionTrace&) {
                     throw std::runtime_error(planted("on_session_end hook exception"));
                   }});
  st::LM lm({.model = "gpt-4o-mini", .provider = "openai", .base_url = provider_url, .api_key = kApiKey,
             .max_retries = 0, .session_tracer = &tracer, .system_id = "canary_agent"});
  auto session = tracer.start_session(session_id, planted_object("start metadata"));
  tracer.add_session_metadata("contact", {{"note", planted("session metadata")}, {"list", Value::array({kEmail, kCard})}});
  auto step = tracer.timestep(0, "step_0", planted_object("step metadata"));
  tracer.add_event(st::CAISEvent{.system_state_before = planted_object("CAIS state before"),
                                 .system_state_after = planted_object("CAIS state after"),
                                 .llm_call_records = {planted_object("llm call record")},
                                 .model_name = "gpt-4o-mini",
                                 .metadata = planted_object("CAIS metadata"),
                                 .event_metadata = {planted_object("CAIS event_metadata")}});
  tracer.add_event(st::EnvironmentEvent{.system_state_before = planted_object("environment state before"),
                                        .system_state_after = planted_object("environment state after"),
                                        .observation_diff = planted_object("observation diff"),
                                        .metadata = planted_object("environment metadata"),
                                        .event_metadata = {planted_object("environment event_metadata")}});
  tracer.add_event(st::RuntimeEvent{.system_state_before = planted_object("runtime state before"),
                                    .system_state_after = planted_object("runtime state after"),
                                    .actions = Value::array({planted("runtime actions")}),
                                    .metadata = planted_object("runtime metadata"),
                                    .event_metadata = {planted_object("runtime event_metadata")}});
  tracer.add_message(st::make_message("user", planted_object("message payload"), "chat", 0));
  {
    auto call = st::ai_call("chat", {.model = "gpt-4o-mini", .system_id = "agent", .tracer = &tracer});
    call.request(planted_object("ai_call request"))
        .response(planted_object("ai_call response"))
        .set("note", planted("ai_call set"))
        .error("refusal", planted("ai_call error"));
  }
  {
    auto env = st::environment_step("move", {.system_id = "grid", .tracer = &tracer});
    env.action(planted("environment_step action"))
        .observation(planted("environment_step observation"))
        .state_before(planted_object("environment_step state before"))
        .state_after(planted_object("environment_step state after"))
        .observation_diff(planted_object("environment_step observation diff"))
        .set("note", planted("environment_step set"))
        .error("crash", planted("environment_step error"));
  }
  {
    auto op = st::runtime_operation("lookup " + kEmail, {.tracer = &tracer});
    op.actions(planted_object("runtime_operation actions"))
        .state_before(planted_object("runtime_operation state before"))
        .state_after(planted_object("runtime_operation state after"))
        .set("note", planted("runtime_operation set"))
        .error("timeout", planted("runtime_operation error"));
  }
  {
    auto span = st::trace_span("plan for " + kEmail, planted_object("trace_span attributes"),
                               {.record_event = true, .tracer = &tracer});
    span.set("extra", planted("trace_span set"));
    try {
      throw std::runtime_error(planted("exception"));
    } catch (const std::exception& e) {
      span.error(e);
    }
  }
  EXPECT_NE(lm.generate(planted("LM prompt")).text.find(kEmail), std::string::npos) << "the caller gets the answer as is";
  try {
    (void)lm.generate(planted("LM failing prompt"));
    ADD_FAILURE() << "the failing call did not throw";
  } catch (const st::LMBadRequestError& e) {
    EXPECT_EQ(std::string(e.what()).find(kApiKey), std::string::npos) << e.what();
  }
}

}  // namespace

TEST(Canary, NothingPlantedLeavesThroughAnySinkOrExporter) {
  st::testing::TempDir dir("canary");
  st::testing::CapturedDiagnostics diagnostics;
  st::testing::OtlpReceiver receiver;
  synth_test::ProviderServer provider;
  serve(provider);
  const fs::path duckdb_file = dir.file("traces.duckdb");
  const fs::path spans_file = dir.file("spans.jsonl");
  const fs::path json_dir = dir.file("json");

  struct Exit {
    std::string session_id;
    std::string endpoint;
    st::OtlpProtocol protocol;
  };
  const std::vector<Exit> exits{{"canary-protobuf", receiver.endpoint(), st::OtlpProtocol::http_protobuf},
                                {"canary-json", receiver.endpoint(), st::OtlpProtocol::http_json},
                                {"canary-file", "file://" + spans_file.string(), st::OtlpProtocol::http_protobuf}};
  for (const Exit& exit : exits) {
    st::TracingConfig config;
    config.save_dir = json_dir;
    config.otel_endpoint = exit.endpoint;
    config.otel_protocol = exit.protocol;
    config.otel_schedule_delay_ms = std::size_t{50};
    st::SessionTracer tracer(config);
    if (exit.session_id == "canary-protobuf") tracer.add_sink(std::make_shared<st::DuckDBSink>(duckdb_file));
    run_session(tracer, exit.session_id, provider.url("/v1"));
    ASSERT_TRUE(tracer.flush());
    EXPECT_EQ(tracer.stats().spans_dropped, 0u);
  }
  ASSERT_EQ(provider.request_count(), 6u);

  // Every file written: JSON traces, the DuckDB file (and its WAL), the span lines.
  std::size_t files = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path)) {
    if (!entry.is_regular_file()) continue;
    ++files;
    expect_clean(entry.path().string(), st::testing::file_contents(entry.path()));
  }
  EXPECT_GE(files, 5u);  // 3 traces, the database, the span lines
  std::size_t traces = 0;
  for (const auto& entry : fs::directory_iterator(json_dir)) {
    ++traces;
    expect_tokens(entry.path().string(), st::testing::file_contents(entry.path()));
  }
  EXPECT_EQ(traces, exits.size());
  const std::string span_lines = st::testing::file_contents(spans_file);
  expect_tokens("spans.jsonl", span_lines);

  // Every column of every table in the database, as text.
  {
    st::DuckDBTraceManager db(duckdb_file);
    const auto columns = db.query(
        "SELECT c.table_name, c.column_name FROM information_schema.columns c JOIN information_schema.tables t "
        "ON c.table_schema = t.table_schema AND c.table_name = t.table_name "
        "WHERE t.table_type = 'BASE TABLE' AND t.table_schema = 'main' ORDER BY c.table_name, c.ordinal_position");
    ASSERT_GE(columns.rows.size(), 20u);
    std::string everything;
    for (const auto& row : columns.rows) {
      const std::string table = row[0].as_string(), column = row[1].as_string();
      const auto values = db.query("SELECT CAST(\"" + column + "\" AS VARCHAR) FROM \"" + table + "\"");
      std::string text;
      for (const auto& value : values.rows) {
        if (value[0].is_string()) text += value[0].as_string() + "\n";
      }
      expect_clean("duckdb " + table + "." + column, text);
      everything += text;
    }
    expect_tokens("duckdb", everything);
  }

  // Every request the OTLP receiver got, decoded, per protocol.
  const json requests = receiver.requests();
  EXPECT_EQ(receiver.errors(), json::array());
  std::string protobuf_bodies, json_bodies;
  for (const json& r : requests) {
    ASSERT_FALSE(r["decoded"].is_null()) << r["decode_error"];
    (r["content_type"].get<std::string>().find("json") != std::string::npos ? json_bodies : protobuf_bodies) +=
        r["decoded"].dump() + "\n";
  }
  expect_clean("OTLP protobuf requests", protobuf_bodies);
  expect_clean("OTLP/JSON requests", json_bodies);
  expect_tokens("OTLP protobuf requests", protobuf_bodies);
  expect_tokens("OTLP/JSON requests", json_bodies);

  // The library's log lines: the hooks' exceptions were reported, without the key.
  const auto logged = diagnostics.all();
  ASSERT_FALSE(logged.empty());
  for (const std::string& line : logged) EXPECT_EQ(line.find(kApiKey), std::string::npos) << line;
}
