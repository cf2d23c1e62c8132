// What server_bench's files share: the client they talk to an in-process `synth-trace serve`
// with, and the sessions of its native ingest and read benchmarks.
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "otlp_workload.hpp"
#include "server/server.hpp"

namespace synth_bench {

/// A keep-alive client of `server` on 127.0.0.1, with Nagle off and minute-long timeouts.
inline std::unique_ptr<httplib::Client> client_of(const synth::tracing::server::Server& server) {
  auto c = std::make_unique<httplib::Client>("127.0.0.1", server.port());
  c->set_keep_alive(true);
  c->set_tcp_nodelay(true);
  c->set_read_timeout(std::chrono::seconds(60));
  c->set_write_timeout(std::chrono::seconds(60));  // under valgrind the server reads slowly
  return c;
}

/// The benchmarks' session (otlp_workload.hpp): `steps` timesteps of 3 events and a message,
/// starting `seed` minutes after 2025-01-01T10:00:00Z.
inline synth::tracing::SessionTrace server_bench_session(const std::string& id, int steps, std::int64_t seed) {
  return bench_session(id, steps, seed, synth::tracing::Timestamp(std::chrono::seconds(1'735'725'600 + seed * 60)));
}

}  // namespace synth_bench
