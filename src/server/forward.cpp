#include "server/forward.hpp"

#include "diagnostics.hpp"
#include "http/client.hpp"
#include "server/exports.hpp"
#include "synth/tracing/error.hpp"

namespace synth::tracing::server {

namespace {

std::string traces_endpoint(std::string_view given) {
  http::require_http_url("--forward-otlp", given,
                         "the OTLP/HTTP traces endpoint of a collector, for example http://localhost:4318/v1/traces");
  std::string url(given);
  const std::size_t host_start = url.find("://") + 3;
  const std::size_t path = url.find('/', host_start);
  if (path == std::string::npos || path == url.size() - 1) {
    while (!url.empty() && url.back() == '/') url.pop_back();
    url += "/v1/traces";
  }
  return url;
}

}  // namespace

OtlpForwarder::OtlpForwarder(std::string url) : endpoint_(traces_endpoint(url)) {
  OtlpHttpOptions options;
  options.endpoint = endpoint_;
  options.gzip = true;
  options.resource = otlp_spans(SessionTrace{}).resource;  // the resource every session export carries
  // Spans go out in batches as they come (a short delay: a server is a long-lived process).
  processor_ = std::make_unique<BatchSpanProcessor>(
      std::make_unique<OtlpHttpExporter>(std::move(options)),
      BatchOptions{.max_queue_size = 65536, .max_export_batch_size = 2048, .schedule_delay = std::chrono::milliseconds(500)});
}

OtlpForwarder::~OtlpForwarder() { stop(std::chrono::seconds(5)); }

void OtlpForwarder::forward(const SessionTrace& trace) noexcept {
  try {
    OtlpSpans spans = otlp_spans(trace);
    for (SpanData& span : spans.spans) processor_->end(std::move(span));
  } catch (...) {
    detail::report("synth-trace serve: session '" + trace.session_id + "' could not be forwarded to " + endpoint_ +
                   ": " + detail::current_exception_text());
  }
}

bool OtlpForwarder::stop(std::chrono::milliseconds timeout) { return processor_->shutdown(timeout); }

BatchStats OtlpForwarder::stats() const { return processor_->stats(); }

}  // namespace synth::tracing::server
