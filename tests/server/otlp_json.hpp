// OTLP/JSON spans and GenAI log records as the tests of /v1/traces and /v1/logs send them, and
// what they read back from a running `synth-trace serve` (tests/server/serve_process.hpp).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "server/serve_process.hpp"
#include "support.hpp"
#include "synth/tracing/duckdb.hpp"

namespace synth_test::otlp_json {

using synth::tracing::Value;
using synth::tracing::testing::wait_until;

inline const std::string kTrace = "4bf92f3577b34da6a3ce929d0e0e4736";
inline const std::string kRoot = "00f067aa0ba902b7";
inline const std::string kChat = "53995c3f42cd8ad8";

inline std::string str(const std::string& key, const std::string& value) {
  return R"({"key":")" + key + R"(","value":{"stringValue":")" + value + R"("}})";
}

// One OTLP/JSON log record of `span` (none: "") in trace `trace`.
inline std::string record(const std::string& event, const std::string& body, const std::string& span,
                   const std::string& trace = kTrace, const std::string& attributes = "", int nanos = 0) {
  return R"({"timeUnixNano":")" + std::to_string(1735689800000000000LL + nanos) + R"(","traceId":")" + trace +
         R"(")" + (span.empty() ? std::string() : R"(,"spanId":")" + span + R"(")") + R"(,"eventName":")" + event +
         R"(","attributes":[)" + attributes + R"(],"body":)" + body + "}";
}

inline std::string logs_body(const std::vector<std::string>& records) {
  std::string out = R"({"resourceLogs":[{"resource":{"attributes":[)" + str("service.name", "agent") +
                    R"(]},"scopeLogs":[{"logRecords":[)";
  for (std::size_t i = 0; i < records.size(); ++i) out += (i ? "," : "") + records[i];
  return out + "]}]}]}";
}

inline std::string kv(const std::string& key, const std::string& text) {
  return R"({"kvlistValue":{"values":[{"key":")" + key + R"(","value":{"stringValue":")" + text + R"("}}]}})";
}

// The turn span naming the session, and (when `chat`) the chat call under it, in trace `trace`.
inline std::string spans_body(const std::string& session, bool root, bool chat, const std::string& trace = kTrace,
                       const std::string& chat_extra = "") {
  std::vector<std::string> spans;
  if (root) {
    spans.push_back(R"({"traceId":")" + trace + R"(","spanId":")" + kRoot +
                    R"(","name":"invoke_agent weather","startTimeUnixNano":"1735689799000000000",)"
                    R"("endTimeUnixNano":"1735689802000000000","attributes":[)" +
                    str("gen_ai.operation.name", "invoke_agent") + "," + str("gen_ai.conversation.id", session) + "]}");
  }
  if (chat) {
    spans.push_back(R"({"traceId":")" + trace + R"(","spanId":")" + kChat + R"(","parentSpanId":")" + kRoot +
                    R"(","name":"chat gpt-4o","startTimeUnixNano":"1735689800000000000",)"
                    R"("endTimeUnixNano":"1735689801000000000","attributes":[)" +
                    str("gen_ai.operation.name", "chat") + "," + str("gen_ai.request.model", "gpt-4o") +
                    R"(,{"key":"gen_ai.usage.input_tokens","value":{"intValue":"12"}})" + chat_extra + "]}");
  }
  std::string out = R"({"resourceSpans":[{"resource":{"attributes":[)" + str("service.name", "agent") +
                    R"(]},"scopeSpans":[{"spans":[)";
  for (std::size_t i = 0; i < spans.size(); ++i) out += (i ? "," : "") + spans[i];
  return out + "]}]}]}";
}

// Posts as an OTLP exporter does: a 503 (the queue's bound in time, under a slow build's load)
// is sent again, for up to 30 s.
inline void post(const ServeProcess& serve, const char* path, const std::string& body) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  auto client = serve.client();
  httplib::Result r = client->Post(path, body, "application/json");
  while (r && r->status == 503 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    r = client->Post(path, body, "application/json");
  }
  ASSERT_TRUE(r) << path;
  ASSERT_EQ(r->status, 200) << path << ": " << r->body;
  EXPECT_EQ(r->body, "{}") << path << ": nothing rejected";
}

// The session once it holds `events` events and `messages` messages (ingest is asynchronous).
inline Value stored_session(const ServeProcess& serve, const std::string& id, std::int64_t events, std::int64_t messages,
                     std::chrono::milliseconds limit = std::chrono::seconds(15)) {
  Value detail;
  const bool reached = wait_until(
      [&] {
        const auto r = serve.client()->Get("/api/v1/sessions/" + id);
        if (!r || r->status != 200) return false;
        detail = Value::parse(r->body);
        return detail["session"]["num_events"].as_int() == events && detail["session"]["num_messages"].as_int() == messages;
      },
      limit);
  EXPECT_TRUE(reached) << id << " did not reach " << events << " events and " << messages << " messages: " << detail.dump();
  return detail;
}

// The LLM call event of a session, with its payloads.
inline Value chat_event(const ServeProcess& serve, const std::string& session) {
  const Value events = get_json(serve, "/api/v1/sessions/" + session + "/events");
  for (const Value& e : events["events"].as_array()) {
    if (e["kind"] == Value("cais")) return get_json(serve, "/api/v1/events/" + std::to_string(e["id"].as_int()));
  }
  ADD_FAILURE() << "no LLM call in " << events.dump();
  return Value();
}

inline std::vector<std::string> session_ids(const ServeProcess& serve) {
  std::vector<std::string> ids;
  const Value list = get_json(serve, "/api/v1/sessions");
  for (const Value& s : list["sessions"].as_array()) ids.push_back(s["session_id"].as_string());
  std::sort(ids.begin(), ids.end());
  return ids;
}

inline Value ingest_counts(const ServeProcess& serve) { return get_json(serve, "/api/v1/health")["ingest"]; }

// A trace id of `fill` characters ending in `n`.
inline std::string trace_id_ending(int n, char fill) {
  const std::string digits = std::to_string(n);
  return std::string(32 - digits.size(), fill) + digits;
}

// The chat span's attribute (after a comma, for spans_body's `chat_extra`) asking `text`.
inline std::string input_messages(const std::string& text) {
  return "," + str("gen_ai.input.messages", R"([{\"role\":\"user\",\"content\":\")" + text + R"(\"}])");
}

// The first value of `sql` on the database file, read directly (no server owns it then).
inline std::int64_t count_rows(const std::filesystem::path& db, const std::string& sql) {
  synth::tracing::DuckDBTraceManager store(db);
  return store.query(sql).rows.at(0).at(0).as_int();
}


}  // namespace synth_test::otlp_json
