// The mapping of OTLP requests to sessions, pinned: for each shape the server receives (our
// exporter's spans, a GenAI agent's conversations across requests, OpenInference's flattened keys,
// OpenLLMetry's gen_ai.prompt.N.*, the GenAI conventions' gen_ai.input.messages, GenAI log records
// folded into their spans or left loose), everything the mapping gives (sessions, timesteps,
// histories, where each item came from, the counts) is compared exactly with the files under
// otlp_fixtures/mapped/, written by the mapping as it was before its hot paths were optimised. A
// faster decoder or mapping must give the same sessions: any difference fails here, naming where.
// SYNTH_UPDATE_MAPPED_GOLDEN=1 rewrites the files: only for an intended change of the mapping.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_map>

#include "otlp_workload.hpp"
#include "server/otlp_map.hpp"
#include "support.hpp"

using namespace synth::tracing;
using namespace synth::tracing::server;

namespace {

std::string fixture(const std::string& name) {
  std::string text = synth::tracing::testing::file_contents(std::filesystem::path(OTLP_FIXTURES) / name);
  EXPECT_FALSE(text.empty()) << name;
  return text;
}

std::string hex64(std::uint64_t v) {
  char out[17];
  std::snprintf(out, sizeof out, "%016llx", static_cast<unsigned long long>(v));
  return out;
}

// Everything a mapping gives, as JSON.
Value mapped_json(const OtlpMapped& m) {
  Value sessions = Value::array();
  for (std::size_t i = 0; i < m.sessions.size(); ++i) {
    Value s{{"trace", Value::parse(m.sessions[i].to_json())}, {"unnamed", bool(m.unnamed.at(i))}};
    if (i < m.rooted.size()) s.set("rooted", bool(m.rooted[i]));
    if (i < m.bytes.size()) s.set("bytes", static_cast<std::int64_t>(m.bytes[i]));
    if (i < m.origins.size()) {
      const SpanOrigins& o = m.origins[i];
      Value keys = Value::array();
      for (const SpanKey& k : o.keys) keys.push_back(hex64(k.trace) + "/" + hex64(k.span));
      Value steps = Value::array(), events = Value::array(), messages = Value::array();
      for (const std::int32_t x : o.steps) steps.push_back(static_cast<std::int64_t>(x));
      for (const std::uint32_t x : o.events) events.push_back(static_cast<std::int64_t>(x));
      for (const std::uint32_t x : o.messages) messages.push_back(static_cast<std::int64_t>(x));
      s.set("origins", Value{{"keys", keys}, {"steps", steps}, {"events", events}, {"messages", messages}});
    }
    sessions.push_back(std::move(s));
  }
  Value named = Value::array();
  for (const auto& [trace, session] : m.named) named.push_back(Value::array({trace, session}));
  return Value{{"spans", static_cast<std::int64_t>(m.spans)},
               {"duplicate_spans", static_cast<std::int64_t>(m.duplicate_spans)},
               {"rejected_spans", static_cast<std::int64_t>(m.rejected_spans)},
               {"error_message", m.error_message},
               {"named", named},
               {"sessions", sessions}};
}

// Fails naming the first line where `text` and `want` differ.
void expect_golden_text(const std::string& name, const std::string& text, const std::string& want) {
  if (text == want) return;
  std::istringstream g(text), w(want);
  std::string gl, wl;
  for (int line = 1;; ++line) {
    const bool more_g = static_cast<bool>(std::getline(g, gl)), more_w = static_cast<bool>(std::getline(w, wl));
    if (!more_g && !more_w) break;
    if (gl != wl || more_g != more_w) {
      ADD_FAILURE() << name << " differs at line " << line << ":\n  want: " << (more_w ? wl : "<end>")
                    << "\n  got:  " << (more_g ? gl : "<end>");
      return;
    }
  }
}

// The requests' mappings without the sessions' share of their body's size (`bytes`), which
// depends on the encoding.
Value without_bytes(Value requests) {
  for (Value& request : requests.as_array()) {
    for (Value& session : request["sessions"].as_array()) {
      std::erase_if(session.as_object(), [](const Value::Member& m) { return m.first == "bytes"; });
    }
  }
  return requests;
}

// Compares `got` with the golden file `name` (or writes it when asked to), line by line so that a
// difference names its place. `ignore_bytes`: the file holds requests (mapped_requests) whose
// sessions' `bytes` are left out of the comparison.
void expect_golden(const std::string& name, const Value& got, bool ignore_bytes = false) {
  const std::string path = (std::filesystem::path(OTLP_FIXTURES) / "mapped" / name).string();
  const std::string text = got.dump(JsonFormat{.indent = 1}) + "\n";
  if (const char* update = std::getenv("SYNTH_UPDATE_MAPPED_GOLDEN");
      update != nullptr && std::string(update) == "1" && !ignore_bytes) {
    std::ofstream(path, std::ios::binary) << text;
    return;
  }
  std::string want = synth::tracing::testing::file_contents(path);
  ASSERT_FALSE(want.empty()) << path << " is missing (SYNTH_UPDATE_MAPPED_GOLDEN=1 writes it)";
  if (ignore_bytes) {
    want = without_bytes(Value::parse(want)).dump(JsonFormat{.indent = 1}) + "\n";
    const std::string got_text = without_bytes(got).dump(JsonFormat{.indent = 1}) + "\n";
    return expect_golden_text(name, got_text, want);
  }
  expect_golden_text(name, text, want);
}

// The requests of a client in order, mapped as the server maps them (one TraceSessions across them:
// a span without a session id takes its trace's from an earlier request).
Value mapped_requests(const std::vector<std::string>& bodies, bool json) {
  TraceSessions memory;
  Value out = Value::array();
  for (const std::string& body : bodies) {
    out.push_back(mapped_json(map_otlp_spans(json ? decode_otlp_traces_json(body) : decode_otlp_traces_protobuf(body), &memory)));
  }
  return out;
}

// A few sessions of the benchmark's client, in small batches: sessions in progress interleave,
// and a session's spans come in several requests.
void expect_workload(synth_bench::OtlpShape shape, const std::string& name) {
  const auto pb = synth_bench::otlp_client_bodies(shape, false, 0, 4, 64);
  const auto json = synth_bench::otlp_client_bodies(shape, true, 0, 4, 64);
  ASSERT_GT(pb.bodies.size(), 1u);
  // Both encodings of the same spans map alike: one file for both.
  expect_golden(name, mapped_requests(pb.bodies, false));
  expect_golden(name, mapped_requests(json.bodies, true), /*ignore_bytes=*/true);
}

}  // namespace

TEST(OtlpMapGolden, OurExportersSpans) { expect_workload(synth_bench::OtlpShape::ours, "ours.json"); }

TEST(OtlpMapGolden, GenAiAgentConversationsAcrossRequests) {
  expect_workload(synth_bench::OtlpShape::foreign, "genai_agent.json");
}

TEST(OtlpMapGolden, OpenInferenceFlattenedKeys) {
  expect_golden("openinference.json", mapped_json(map_otlp_spans(decode_otlp_traces_json(fixture("openinference.json")))));
}

TEST(OtlpMapGolden, OpenLLMetryPromptAndCompletionKeys) {
  expect_golden("openllmetry.json", mapped_json(map_otlp_spans(decode_otlp_traces_json(fixture("openllmetry.json")))));
}

TEST(OtlpMapGolden, GenAiInputMessagesAndOtherSpans) {
  expect_golden("genai.json", mapped_json(map_otlp_spans(decode_otlp_traces_json(fixture("genai.json")))));
}

// Log records joined to their spans as the OTLP handler joins them (routes_otlp.cpp,
// fold_held_logs): folded into their span's LLM call, else a span event, else loose messages.
TEST(OtlpMapGolden, GenAiLogRecordsFoldedOrLoose) {
  TraceSessions memory;
  OtlpTraces traces = decode_otlp_traces_json(fixture("genai_logs_spans.json"));
  const OtlpLogs logs = decode_otlp_logs_json(fixture("genai_logs.json"));
  ASSERT_EQ(logs.logs.size(), 9u);
  remember_sessions(sessions_of_traces(traces), memory);
  std::unordered_map<std::string, std::vector<OtlpLog>> by_span;
  OtlpLogs loose{logs.resources, {}};
  for (const OtlpLog& log : logs.logs) {
    if (log.span_id.empty()) {
      loose.logs.push_back(log);
    } else {
      by_span[log.trace_id + "/" + log.span_id].push_back(log);
    }
  }
  for (OtlpSpan& s : traces.spans) {
    auto it = by_span.find(s.trace_id + "/" + s.span_id);
    if (it == by_span.end()) continue;
    fold_logs_into_span(s, std::move(it->second));
    by_span.erase(it);
  }
  ASSERT_TRUE(by_span.empty());
  const OtlpMapped spans = map_otlp_spans(std::move(traces), &memory);
  const OtlpMapped loose_mapped = map_otlp_logs(loose, &memory);
  expect_golden("genai_logs.json", Value{{"spans", mapped_json(spans)}, {"loose", mapped_json(loose_mapped)}});
}
