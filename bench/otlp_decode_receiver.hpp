// A decode-only OTLP/HTTP trace receiver for the export benchmarks, in process: cpp-httplib on
// 127.0.0.1 and the collector's own protobuf decoder (src/server/otlp_decode.hpp). Each
// POST /v1/traces is decompressed when gzip, fully decoded into spans, counted, and answered 200
// with an empty ExportTraceServiceResponse; nothing is kept. A body that does not decode is
// answered 400 and counted in errors().
//
//   synth_bench::DecodeOnlyReceiver receiver;
//   ... export to receiver.endpoint() ...
//   receiver.span_count();
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>

namespace httplib {
class Server;
}

namespace synth_bench {

/// One receiver, listening from construction to destruction. Not copyable. Throws
/// std::runtime_error when it cannot listen on 127.0.0.1.
class DecodeOnlyReceiver {
 public:
  DecodeOnlyReceiver();
  ~DecodeOnlyReceiver();
  DecodeOnlyReceiver(const DecodeOnlyReceiver&) = delete;
  DecodeOnlyReceiver& operator=(const DecodeOnlyReceiver&) = delete;

  /// "http://127.0.0.1:<port>/v1/traces".
  std::string endpoint() const;
  /// Spans decoded from the requests answered 200 so far.
  std::size_t span_count() const noexcept { return spans_.load(std::memory_order_relaxed); }
  /// POST /v1/traces received so far.
  std::size_t request_count() const noexcept { return requests_.load(std::memory_order_relaxed); }
  /// Requests answered 400 because their body did not decode.
  std::size_t errors() const noexcept { return errors_.load(std::memory_order_relaxed); }

 private:
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;
  std::atomic<std::size_t> spans_{0};
  std::atomic<std::size_t> requests_{0};
  std::atomic<std::size_t> errors_{0};
};

}  // namespace synth_bench
