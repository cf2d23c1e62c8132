#include "otlp_decode_receiver.hpp"

#include <httplib.h>

#include <chrono>
#include <stdexcept>

#include "server/otlp_decode.hpp"

namespace synth_bench {

DecodeOnlyReceiver::DecodeOnlyReceiver() : server_(std::make_unique<httplib::Server>()) {
  server_->Post("/v1/traces", [this](const httplib::Request& req, httplib::Response& res) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    try {
      // httplib has already inflated a gzip body.
      const auto traces = synth::tracing::server::decode_otlp_traces_protobuf(req.body);
      spans_.fetch_add(traces.spans.size(), std::memory_order_relaxed);
      // An ExportTraceServiceResponse with no partial_success encodes as zero bytes.
      res.set_content(std::string(), "application/x-protobuf");
    } catch (const std::exception& e) {
      errors_.fetch_add(1, std::memory_order_relaxed);
      res.status = 400;
      res.set_content(e.what(), "text/plain");
    }
  });
  port_ = server_->bind_to_any_port("127.0.0.1");
  if (port_ <= 0) throw std::runtime_error("DecodeOnlyReceiver: cannot listen on 127.0.0.1 (no free port?)");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

DecodeOnlyReceiver::~DecodeOnlyReceiver() {
  server_->stop();
  if (thread_.joinable()) thread_.join();
}

std::string DecodeOnlyReceiver::endpoint() const { return "http://127.0.0.1:" + std::to_string(port_) + "/v1/traces"; }

}  // namespace synth_bench
