// OTLP/HTTP request bodies for the server's ingest benchmark (server_bench's BM_OtlpIngest),
// built in advance so that the benchmark times the server, not the body building.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <synth/tracing/model.hpp>

namespace synth_bench {

/// Whose spans: the shape our own OTLP exporter sends, or a foreign GenAI instrumentation's.
enum class OtlpShape : std::uint8_t {
  /// Session, timestep and event spans with `synth.*` attributes (the server's OTLP export of
  /// sessions whose events were recorded by scopes, as the tracer exports them): per session 1
  /// session span, 10 timestep spans, 30 event spans (LLM call, environment step, tool), and a
  /// message per timestep as a span event.
  ours,
  /// Conversations of an agent instrumented by the GenAI semantic conventions: per turn one trace
  /// of an `invoke_agent` root (the only span naming the conversation, gen_ai.conversation.id),
  /// two `chat` spans with gen_ai.input.messages / gen_ai.output.messages and usage, and one
  /// `execute_tool` span; 5 turns per conversation.
  foreign,
};

/// The requests of one client, in the order it sends them.
struct OtlpClientBodies {
  std::vector<std::string> bodies;
  std::uint64_t spans = 0;     ///< spans in all of them
  std::uint64_t sessions = 0;  ///< sessions (conversations) they make
};

/// What a client sends: `sessions` sessions of `shape`, 8 of them in progress at any time (their
/// spans interleaved as they end), exported in end order as batches of `batch_spans` spans (a
/// BatchSpanProcessor's): a session's spans may come in several requests, which the server
/// merges. `client` keeps the ids of different clients apart. JSON (OTLP/JSON) or protobuf.
OtlpClientBodies otlp_client_bodies(OtlpShape shape, bool json, int client, int sessions, std::size_t batch_spans = 512);

/// One session of our shape as one request (all its spans), for the acknowledged-to-committed
/// measure.
std::string otlp_one_session_body(const std::string& session_id, bool json);

/// The benchmarks' session: `steps` timesteps, each with an LLM call, an environment step, a tool
/// call and an observation message, starting at `start` (LLM models and rewards vary by `seed`).
/// With `scope_ids`, its events carry span ids as the tracer's scopes record them (so that they
/// become spans of their own in OTLP, not span events).
synth::tracing::SessionTrace bench_session(const std::string& id, int steps, std::int64_t seed,
                                           synth::tracing::Timestamp start, bool scope_ids = false);

}  // namespace synth_bench
