// TracingConfig: how a tracer behaves.
#pragma once

#include <cstddef>
#include <filesystem>

namespace synth::tracing {

/// Settings of a SessionTracer. Build one in code with designated initializers, or start from
/// TracingConfig::load() (defaults overridden by SYNTH_TRACING_* environment variables) and
/// change fields in code, so code wins over the environment.
struct TracingConfig {
  /// When false every tracer call is a no-op (env SYNTH_TRACING_ENABLED).
  bool enabled = true;
  /// When set, each finished session is written as JSON into this folder in the background
  /// (env SYNTH_TRACING_SAVE_DIR).
  std::filesystem::path save_dir;
  /// How many finished sessions stay in memory for get_session_trace()
  /// (env SYNTH_TRACING_MAX_FINISHED_SESSIONS).
  std::size_t max_finished_sessions = 100;
  /// Finished sessions waiting for the sinks; when full, further sessions are dropped, counted
  /// and reported rather than blocking the agent (env SYNTH_TRACING_SINK_QUEUE_CAPACITY).
  std::size_t sink_queue_capacity = 1024;

  /// Defaults, overridden by the environment. Throws Error naming the variable when a value
  /// cannot be parsed (booleans: true/1/yes/on or false/0/no/off, any case).
  static TracingConfig load();
  /// Throws Error describing the first invalid setting.
  void validate() const;
};

}  // namespace synth::tracing
