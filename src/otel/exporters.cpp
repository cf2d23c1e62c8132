// The OTLP exporters: OTLP/HTTP (binary protobuf or JSON, optional gzip, retries as the OTLP
// specification says) and a JSON-lines file for offline use.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <memory>
#include <stop_token>
#include <vector>

#include "diagnostics.hpp"
#include "http/client.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/otel.hpp"
#include "synth/tracing/secrets.hpp"

namespace synth::tracing {

namespace {

// ExportTraceServiceResponse.partial_success: {rejected_spans (1, int64), error_message (2)}.
struct PartialSuccess {
  std::int64_t rejected_spans = 0;
  std::string error_message;
};

bool read_varint(std::string_view& in, std::uint64_t& out) {
  out = 0;
  for (int shift = 0; shift < 64 && !in.empty(); shift += 7) {
    const auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    out |= static_cast<std::uint64_t>(byte & 0x7F) << shift;
    if ((byte & 0x80) == 0) return true;
  }
  return false;
}

// Walks one protobuf message, calling `field(number, wire_type, varint, bytes)`; false when malformed.
template <class Field>
bool walk_protobuf(std::string_view in, Field&& field) {
  while (!in.empty()) {
    std::uint64_t key = 0;
    if (!read_varint(in, key)) return false;
    const auto number = static_cast<std::uint32_t>(key >> 3);
    const auto wire = static_cast<std::uint32_t>(key & 7);
    std::uint64_t varint = 0;
    std::string_view bytes;
    switch (wire) {
      case 0:
        if (!read_varint(in, varint)) return false;
        break;
      case 1:
      case 5: {
        const std::size_t n = wire == 1 ? 8 : 4;
        if (in.size() < n) return false;
        in.remove_prefix(n);
        break;
      }
      case 2: {
        std::uint64_t length = 0;
        if (!read_varint(in, length) || length > in.size()) return false;
        bytes = in.substr(0, length);
        in.remove_prefix(length);
        break;
      }
      default:
        return false;
    }
    field(number, wire, varint, bytes);
  }
  return true;
}

std::optional<PartialSuccess> partial_success_of_protobuf(std::string_view body) {
  std::optional<PartialSuccess> result;
  walk_protobuf(body, [&](std::uint32_t number, std::uint32_t wire, std::uint64_t, std::string_view bytes) {
    if (number != 1 || wire != 2) return;
    PartialSuccess p;
    walk_protobuf(bytes, [&](std::uint32_t n, std::uint32_t w, std::uint64_t v, std::string_view b) {
      if (n == 1 && w == 0) p.rejected_spans = static_cast<std::int64_t>(v);
      if (n == 2 && w == 2) p.error_message = std::string(b);
    });
    result = std::move(p);
  });
  return result;
}

std::optional<PartialSuccess> partial_success_of_json(std::string_view body) {
  try {
    const Value response = Value::parse(body, "OTLP response");
    const Value* p = response.is_object() ? response.find("partialSuccess") : nullptr;
    if (p == nullptr || !p->is_object()) return std::nullopt;
    PartialSuccess result;
    if (const Value* n = p->find("rejectedSpans")) {
      result.rejected_spans = n->is_string() ? std::stoll(n->as_string()) : n->is_integer() ? n->as_int() : 0;
    }
    if (const Value* m = p->find("errorMessage"); m != nullptr && m->is_string()) result.error_message = m->as_string();
    return result;
  } catch (...) {
    return std::nullopt;  // a 2xx with an unreadable body still means the spans were accepted
  }
}

std::string first_line(std::string_view text, std::size_t max = 200) {
  text = text.substr(0, text.find('\n'));
  return std::string(text.substr(0, max));
}

// The message of a google.rpc.Status error body (protobuf field 2, or JSON "message"), else the
// body's first line.
std::string status_message(const http::Response& response, bool json) {
  if (json) {
    try {
      const Value body = Value::parse(response.body, "OTLP error");
      if (const Value* m = body.is_object() ? body.find("message") : nullptr; m != nullptr && m->is_string()) {
        return m->as_string();
      }
    } catch (...) {
    }
  } else {
    std::string message;
    if (walk_protobuf(response.body, [&](std::uint32_t n, std::uint32_t w, std::uint64_t, std::string_view b) {
          if (n == 2 && w == 2) message = std::string(b);
        }) && !message.empty()) {
      return message;
    }
  }
  return first_line(response.body);
}

bool retryable(int status) { return status == 429 || status == 502 || status == 503 || status == 504; }

using Clock = std::chrono::steady_clock;

// What is left until `deadline`, never negative.
std::chrono::milliseconds left_until(Clock::time_point deadline) {
  return std::max(std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()), std::chrono::milliseconds(0));
}

}  // namespace

// ---- OtlpHttpExporter ----

struct OtlpHttpExporter::Impl {
  // What one export in progress uses: exports run concurrently (BatchOptions'
  // max_concurrent_exports), each on a connection of its own (a curl handle is single-threaded).
  struct Slot {
    Slot(const OtlpHttpOptions& o) : backoff(o.initial_backoff, o.max_backoff, std::chrono::milliseconds(60000)) {}
    http::Client client;
    http::RetryBackoff backoff;
    // The request body, reused: ~300 KB per 512 spans, fresh memory every time otherwise (page
    // faults cost more here than the encoding).
    std::string body;
  };

  explicit Impl(OtlpHttpOptions o) : options(std::move(o)) {
    headers.emplace_back("Content-Type", options.json ? "application/json" : "application/x-protobuf");
    if (options.gzip) headers.emplace_back("Content-Encoding", "gzip");
    for (const auto& [name, value] : options.headers) {
      headers.emplace_back(name, value);
      // Header values are credentials more often than not: never in a trace or a log line.
      register_secret(value);
      if (const auto space = value.find(' '); space != std::string::npos) register_secret(value.substr(space + 1));
    }
    // Every connection is made here, on the constructing thread: libcurl's (and OpenSSL's)
    // set-up must not run on an export thread while the process exits and tears them down
    // (test Shutdown.AStalledCollectorHoldsTheExitOnlyUntilTheDeadline).
    const std::size_t n = std::max<std::size_t>(options.connections, 1);
    idle.reserve(n);
    for (std::size_t i = 0; i < n; ++i) idle.push_back(std::make_unique<Slot>(options));
  }

  // Waits `delay` unless shutdown() comes first; false then.
  bool wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(wait_mutex);
    return !woken.wait_for(lock, stop.get_token(), delay, [] { return false; }) && !stop.stop_requested();
  }

  // A slot for this export: an idle one (its connection kept alive), else a new one (more
  // exports at once than options.connections).
  std::unique_ptr<Slot> acquire() {
    {
      std::lock_guard lock(slots_mutex);
      if (!idle.empty()) {
        std::unique_ptr<Slot> slot = std::move(idle.back());
        idle.pop_back();
        return slot;
      }
    }
    return std::make_unique<Slot>(options);
  }
  void release(std::unique_ptr<Slot> slot) {
    std::lock_guard lock(slots_mutex);
    idle.push_back(std::move(slot));
  }

  OtlpHttpOptions options;
  http::Headers headers;
  std::mutex slots_mutex;
  std::vector<std::unique_ptr<Slot>> idle;  // guarded by slots_mutex
  // shutdown(): cancels the request or wait in progress and every later export.
  std::stop_source stop;
  std::mutex wait_mutex;
  std::condition_variable_any woken;
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> spans_sent{0};
  std::atomic<std::uint64_t> spans_rejected{0};
};

OtlpHttpExporter::OtlpHttpExporter(OtlpHttpOptions options) {
  http::require_http_url("OTLP endpoint", options.endpoint, "for example http://localhost:4318/v1/traces");
  impl_ = std::make_unique<Impl>(std::move(options));
}

OtlpHttpExporter::~OtlpHttpExporter() = default;

void OtlpHttpExporter::shutdown() noexcept { impl_->stop.request_stop(); }

ExportResult OtlpHttpExporter::export_spans(std::span<SpanData> spans) {
  if (spans.empty()) return ExportResult::success;
  Impl& x = *impl_;
  // One deadline for the whole export, retries and their waits included (OTEL_EXPORTER_OTLP_TIMEOUT).
  const auto deadline = Clock::now() + x.options.timeout;
  const auto refuse = [&](const std::string& why) {
    const std::uint64_t n = x.spans_rejected.fetch_add(spans.size(), std::memory_order_relaxed) + spans.size();
    detail::report("OTLP export to " + x.options.endpoint + " failed: " + why + "; " + std::to_string(spans.size()) +
                   " spans dropped (" + std::to_string(n) + " so far)");
    return ExportResult::failure;
  };
  const auto cancelled = [&] { return refuse("abandoned at shutdown"); };
  if (x.stop.stop_requested()) return cancelled();
  std::unique_ptr<Impl::Slot> slot = x.acquire();
  // Back to the pool on every return (a refused export's connection is still good to reuse).
  struct Release {
    Impl& x;
    std::unique_ptr<Impl::Slot>& slot;
    ~Release() { x.release(std::move(slot)); }
  } release{x, slot};
  const std::span<const SpanData> batch(spans.data(), spans.size());
  if (x.options.json) {
    encode_otlp_json(batch, x.options.resource, slot->body);
  } else {
    encode_otlp_protobuf(batch, x.options.resource, slot->body);
  }
  // (Compressed apart, so that the encoding buffer keeps its capacity.)
  const std::string compressed = x.options.gzip ? http::gzip_compress(slot->body) : std::string();
  const std::string& body = x.options.gzip ? compressed : slot->body;
  for (int attempt = 0;; ++attempt) {
    const std::chrono::milliseconds left = left_until(deadline);
    if (left.count() == 0) {  // (a zero timeout would mean none to libcurl)
      return refuse("the export timeout (" + std::to_string(x.options.timeout.count()) + " ms) passed after " +
                    std::to_string(attempt) + " attempts");
    }
    x.requests.fetch_add(1, std::memory_order_relaxed);
    const http::Response response = slot->client.post(x.options.endpoint, x.headers, body, left, {}, x.stop.get_token());
    if (response.outcome == http::Outcome::cancelled) return cancelled();
    if (response.ok()) {
      const auto partial = x.options.json ? partial_success_of_json(response.body)
                                          : partial_success_of_protobuf(response.body);
      const auto rejected = static_cast<std::uint64_t>(
          std::clamp<std::int64_t>(partial ? partial->rejected_spans : 0, 0, static_cast<std::int64_t>(spans.size())));
      x.spans_sent.fetch_add(spans.size() - rejected, std::memory_order_relaxed);
      if (rejected > 0 || (partial && !partial->error_message.empty())) {
        // A partial success is final: the spec forbids retrying it.
        x.spans_rejected.fetch_add(rejected, std::memory_order_relaxed);
        detail::report("OTLP receiver at " + x.options.endpoint + " rejected " + std::to_string(rejected) + " of " +
                       std::to_string(spans.size()) + " spans: " + first_line(partial->error_message));
      }
      return ExportResult(ExportResult::success, rejected);
    }
    const bool answered = response.outcome == http::Outcome::response;
    const std::string what = answered ? "HTTP " + std::to_string(response.status) : response.error;
    if (answered && !retryable(response.status)) {
      const std::string message = status_message(response, x.options.json);
      return refuse(what + (message.empty() ? "" : " (" + message + ")") + ", not retried");
    }
    const std::string attempts = std::to_string(attempt + 1) + (attempt == 0 ? " attempt" : " attempts");
    if (attempt >= x.options.max_retries) return refuse(what + " after " + attempts);
    // A retry that cannot start before the deadline is not attempted (nor waited for).
    const std::chrono::milliseconds wait = slot->backoff.delay(attempt + 1, response);
    if (wait >= left_until(deadline)) {
      return refuse(what + " after " + attempts + "; the export timeout (" + std::to_string(x.options.timeout.count()) +
                    " ms) leaves no time to retry");
    }
    x.retries.fetch_add(1, std::memory_order_relaxed);
    if (!x.wait(wait)) return cancelled();
  }
}

OtlpExporterStats OtlpHttpExporter::stats() const {
  return {.requests = impl_->requests.load(std::memory_order_relaxed),
          .retries = impl_->retries.load(std::memory_order_relaxed),
          .spans_sent = impl_->spans_sent.load(std::memory_order_relaxed),
          .spans_rejected = impl_->spans_rejected.load(std::memory_order_relaxed)};
}

const OtlpHttpOptions& OtlpHttpExporter::options() const noexcept { return impl_->options; }

bool OtlpHttpExporter::concurrent_exports() const noexcept { return true; }

// ---- OtlpFileExporter ----

struct OtlpFileExporter::Impl {
  std::filesystem::path path;
  OtlpResource resource;
  std::ofstream out;
};

OtlpFileExporter::OtlpFileExporter(std::filesystem::path path, OtlpResource resource)
    : impl_(std::make_unique<Impl>(Impl{std::move(path), std::move(resource), {}})) {
  impl_->out.open(impl_->path, std::ios::binary | std::ios::app);
  if (!impl_->out) {
    throw Error("cannot open span file '" + impl_->path.string() +
                "' for appending: check that its folder exists and is writable");
  }
}

OtlpFileExporter::~OtlpFileExporter() = default;

ExportResult OtlpFileExporter::export_spans(std::span<SpanData> spans) {
  if (spans.empty()) return ExportResult::success;
  std::string line = encode_otlp_json(std::span<const SpanData>(spans.data(), spans.size()), impl_->resource);
  line.push_back('\n');
  impl_->out.write(line.data(), static_cast<std::streamsize>(line.size()));
  impl_->out.flush();
  if (!impl_->out) {
    impl_->out.clear();
    detail::report("cannot write spans to '" + impl_->path.string() + "' (disk full?): " +
                   std::to_string(spans.size()) + " spans dropped");
    return ExportResult::failure;
  }
  return ExportResult::success;
}

}  // namespace synth::tracing
