// CollectorSink: batches of sessions to `synth-trace serve`, retried, and kept in JSON files
// when the server cannot take them.
#include "synth/tracing/collector.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>
#include <vector>

#include "diagnostics.hpp"
#include "worker_thread.hpp"
#include "file_io.hpp"
#include "http/client.hpp"
#include "synth/tracing/error.hpp"
#include "synth/tracing/json.hpp"
#include "synth/tracing/secrets.hpp"

namespace synth::tracing {

namespace {

using Clock = std::chrono::steady_clock;

// Sessions named in one report, at most.
constexpr std::size_t kNamedSessions = 5;

// Statuses worth another try: the server is there but busy, or a proxy in front of it is.
bool retryable(int status) { return status == 429 || status == 502 || status == 503 || status == 504; }

std::string first_line(std::string_view text, std::size_t max = 300) {
  text = text.substr(0, text.find('\n'));
  return std::string(text.substr(0, max));
}

// The server's error message ({"error": "..."}), else the body's first line.
std::string error_message(const http::Response& response) {
  try {
    const Value body = Value::parse(response.body, "collector answer");
    if (const Value* e = body.is_object() ? body.find("error") : nullptr; e != nullptr && e->is_string()) {
      return e->as_string();
    }
  } catch (...) {
  }
  return first_line(response.body);
}

std::string plural(std::size_t n, const char* one, const char* many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

}  // namespace

CollectorOptions CollectorOptions::from_config(const TracingConfig& config) {
  CollectorOptions o;
  o.url = config.collector;
  o.token = config.collector_token;
  o.fallback_dir = config.collector_fallback_dir;
  o.batch_sessions = config.collector_batch_sessions;
  o.retry_timeout = std::chrono::milliseconds(*config.collector_timeout_ms);
  return o;
}

// One session on its way: its JSON on one line, and the file it is in when it came from the
// fallback folder (it stays there until the server has it).
struct Item {
  std::string session_id;
  std::string json;
  std::filesystem::path file;
};

struct CollectorSink::Impl {
  explicit Impl(CollectorOptions o)
      : options(std::move(o)),
        backoff(options.initial_backoff, options.max_backoff, std::chrono::milliseconds(30000)) {
    std::string base = options.url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    // wait=commit: the answer comes once the sessions are committed, so an acknowledged session
    // survives the server being killed right after.
    endpoint = base + "/api/v1/sessions?wait=commit";
    headers.emplace_back("Content-Type", "application/x-ndjson");
    if (options.gzip) headers.emplace_back("Content-Encoding", "gzip");
    if (!options.token.empty()) {
      headers.emplace_back("Authorization", "Bearer " + options.token);
      register_secret(options.token);  // never in a trace or a log line
    }
  }

  enum class Sent : std::uint8_t { delivered, too_large, refused, unreachable };
  struct Result {
    Sent what = Sent::unreachable;
    std::string why;
    std::vector<std::pair<std::size_t, std::string>> rejected;  // (index in the batch, error)
  };

  // The time retries must end by: the batch's own budget, or the shutdown deadline's.
  Clock::time_point give_up_time(Clock::time_point started) const {
    const Clock::time_point own = started + options.retry_timeout;
    const auto at_shutdown = give_up_at.load(std::memory_order_acquire);
    return std::min(own, Clock::time_point(Clock::duration(at_shutdown)));
  }
  bool shutting_down() const {
    return give_up_at.load(std::memory_order_acquire) != std::numeric_limits<Clock::rep>::max();
  }

  // Waits `delay`, or less when shutdown_by() moves the deadline.
  void wait(std::chrono::milliseconds delay) {
    std::unique_lock lock(wait_mutex);
    const std::uint64_t seen = notices;
    woken.wait_for(lock, delay, [&] { return notices != seen; });
  }

  // One batch to the server, retried (when `retry`) until its time is up; never throws.
  Result post(const std::vector<Item>& items, bool retry);
  Result try_post(const std::vector<Item>& items, bool retry);
  void send(std::vector<Item> items);
  void to_fallback(const std::vector<Item>& items, const std::string& why);
  void resend_fallback();
  void accepted(const std::vector<Item>& items, const Result& result);
  void send_batch();
  // Throws SessionsLost for the sessions refused or lost since the last call.
  void throw_if_lost();

  CollectorOptions options;
  std::string endpoint;
  http::Headers headers;
  http::Client client;
  http::RetryBackoff backoff;

  // The background thread's alone.
  std::vector<Item> batch;
  std::size_t batch_bytes = 0;
  std::string body;  // reused for every request
  std::unique_ptr<JsonFileSink> fallback;
  std::vector<Item> in_fallback;  // written there by this sink, not sent yet (json empty)
  bool down = false;              // the last batch could not be delivered
  Clock::time_point next_probe;
  std::uint64_t lost_now = 0;  // thrown as SessionsLost at the end of write() or flush()
  std::vector<std::string> lost_names;
  std::string lost_why;
  std::uint64_t fallback_reports = 0;  // batches reported written to files

  // shutdown_by(): steady-clock ticks, max() until then.
  std::atomic<Clock::rep> give_up_at{std::numeric_limits<Clock::rep>::max()};
  std::mutex wait_mutex;
  std::condition_variable woken;
  std::uint64_t notices = 0;  // guarded by wait_mutex

  std::atomic<std::uint64_t> sent{0};
  std::atomic<std::uint64_t> kept{0};  // in the fallback folder
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> lost{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> throttled{0};

  // A request in flight when the shutdown's give-up time comes is cancelled by the watchdog
  // (a server that takes the connection and never answers must not hold the exit).
  std::stop_source cancel;
  std::jthread watchdog;  // last: stopped and joined first
};

CollectorSink::Impl::Result CollectorSink::Impl::post(const std::vector<Item>& items, bool retry) {
  try {
    return try_post(items, retry);
  } catch (...) {
    // Out of memory building or compressing the body: the sessions go to files, not lost.
    return {Sent::refused, "the request could not be built: " + detail::current_exception_text(), {}};
  }
}

CollectorSink::Impl::Result CollectorSink::Impl::try_post(const std::vector<Item>& items, bool retry) {
  body.clear();
  for (const Item& item : items) body.append(item.json).push_back('\n');
  const std::string payload = options.gzip ? http::gzip_compress(body) : std::string();
  const std::string_view sent_body = options.gzip ? std::string_view(payload) : std::string_view(body);
  const Clock::time_point started = Clock::now();
  for (int attempt = 0;; ++attempt) {
    const Clock::time_point give_up = give_up_time(started);
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(give_up - Clock::now());
    if (left.count() <= 0) {
      return {Sent::unreachable, attempt == 0 ? "the shutdown deadline had come" : "no answer in time", {}};
    }
    requests.fetch_add(1, std::memory_order_relaxed);
    if (attempt > 0) retries.fetch_add(1, std::memory_order_relaxed);
    const http::Response response =
        client.post(endpoint, headers, sent_body, std::min(options.request_timeout, left), {}, cancel.get_token());
    if (response.outcome == http::Outcome::cancelled) return {Sent::unreachable, "no answer by the shutdown deadline", {}};
    if (response.ok()) {
      Result result{Sent::delivered, {}, {}};
      try {
        const Value answer = Value::parse(response.body, "collector answer");
        if (const Value* list = answer.find("rejected"); list != nullptr && list->is_array()) {
          for (const Value& r : list->as_array()) {
            const Value* index = r.find("index");
            const Value* error = r.find("error");
            if (index == nullptr || !index->is_integer() || index->as_int() < 0 ||
                static_cast<std::size_t>(index->as_int()) >= items.size()) {
              continue;
            }
            result.rejected.emplace_back(static_cast<std::size_t>(index->as_int()),
                                         "refused by the server: " +
                                             (error != nullptr && error->is_string() ? error->as_string() : "no reason given"));
          }
        }
      } catch (...) {
        // A 2xx answer means the request was taken; an unreadable body names no rejections.
      }
      return result;
    }
    const bool answered = response.outcome == http::Outcome::response;
    std::string what = answered ? "HTTP " + std::to_string(response.status) : response.error;
    if (answered) {
      const std::string message = error_message(response);
      if (!message.empty()) what += " (" + message + ")";
    }
    if (answered && response.status == 413) return {Sent::too_large, what, {}};
    if (answered && !retryable(response.status)) return {Sent::refused, what, {}};
    if (answered && (response.status == 503 || response.status == 429)) throttled.fetch_add(1, std::memory_order_relaxed);
    if (!retry) return {Sent::unreachable, what, {}};
    const std::chrono::milliseconds pause = backoff.delay(attempt + 1, response);
    if (Clock::now() + pause >= give_up_time(started)) {
      return {Sent::unreachable, what + " after " + plural(static_cast<std::size_t>(attempt) + 1, "attempt", "attempts"),
              {}};
    }
    wait(pause);
  }
}

void CollectorSink::Impl::accepted(const std::vector<Item>& items, const Result& result) {
  std::vector<bool> refused(items.size(), false);
  for (const auto& [index, error] : result.rejected) {
    if (refused[index]) continue;
    refused[index] = true;
    rejected.fetch_add(1, std::memory_order_relaxed);
    ++lost_now;
    if (lost_names.size() < kNamedSessions) lost_names.push_back(items[index].session_id);
    if (lost_why.empty()) lost_why = error;
  }
  std::uint64_t from_files = 0;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (!refused[i]) sent.fetch_add(1, std::memory_order_relaxed);
    if (items[i].file.empty()) continue;
    ++from_files;
    // Stored (or refused: then the file stays for a look, but is no longer this sink's to send).
    if (!refused[i]) {
      std::error_code ec;
      std::filesystem::remove(items[i].file, ec);
    }
  }
  kept.fetch_sub(from_files, std::memory_order_relaxed);
}

void CollectorSink::Impl::send(std::vector<Item> items) {
  if (items.empty()) return;
  // While the server is away, batches go to files and it is tried now and then, not per batch.
  if (down && (shutting_down() || Clock::now() < next_probe)) {
    to_fallback(items, "the collector did not answer earlier");
    return;
  }
  Result result = post(items, !down);
  switch (result.what) {
    case Sent::delivered: {
      accepted(items, result);
      if (down) {
        down = false;
        detail::report("collector " + options.url + " answers again: sessions are sent to it" +
                       (in_fallback.empty() ? std::string()
                                            : "; the " + plural(in_fallback.size(), "session", "sessions") +
                                                  " kept in '" + options.fallback_dir.string() + "' meanwhile follow"));
      }
      if (!in_fallback.empty() && items.front().file.empty() && !shutting_down()) resend_fallback();
      return;
    }
    case Sent::too_large: {
      if (items.size() == 1) {
        to_fallback(items, "the server refuses a request this large: " + result.why);
        return;
      }
      const auto middle = items.begin() + static_cast<std::ptrdiff_t>(items.size() / 2);
      std::vector<Item> second(std::make_move_iterator(middle), std::make_move_iterator(items.end()));
      items.erase(middle, items.end());
      send(std::move(items));
      send(std::move(second));
      return;
    }
    case Sent::refused:
      to_fallback(items, "the server refused the request: " + result.why);
      return;
    case Sent::unreachable:
      down = true;
      next_probe = Clock::now() + options.probe_interval;
      to_fallback(items, "the collector could not take them: " + result.why);
      return;
  }
}

void CollectorSink::Impl::to_fallback(const std::vector<Item>& items, const std::string& why) {
  std::size_t written = 0;
  std::string first_error;
  for (const Item& item : items) {
    if (!item.file.empty()) continue;  // still in its file
    try {
      if (!fallback) fallback = std::make_unique<JsonFileSink>(options.fallback_dir);
      fallback->write(SessionTrace::from_json(item.json, "a session for the collector"));
      in_fallback.push_back(Item{item.session_id, {}, fallback->last_file()});
      kept.fetch_add(1, std::memory_order_relaxed);
      ++written;
    } catch (...) {
      lost.fetch_add(1, std::memory_order_relaxed);
      ++lost_now;
      if (lost_names.size() < kNamedSessions) lost_names.push_back(item.session_id);
      if (first_error.empty()) first_error = detail::current_exception_text();
    }
  }
  if (fallback) {
    try {
      fallback->flush();
    } catch (...) {
      if (first_error.empty()) first_error = detail::current_exception_text();
    }
  }
  if (!first_error.empty() && lost_why.empty()) {
    lost_why = "could not be written to '" + options.fallback_dir.string() + "' either (" + why + "): " + first_error;
  }
  if (written == 0) return;
  // Every batch while shutting down (these files stay), else sparingly: an outage is long.
  if (!shutting_down() && !detail::is_report_worthy(++fallback_reports)) return;
  detail::report("collector " + options.url + ": " + plural(written, "session", "sessions") + " written to '" +
                 options.fallback_dir.string() + "' as JSON files instead (" + why + "); " +
                 std::to_string(in_fallback.size()) + " there now. " +
                 (shutting_down() ? "Store them with `synth-trace --server " + options.url + " import " +
                                        options.fallback_dir.string() + "` once it runs (or `synth-trace --db FILE import " +
                                        options.fallback_dir.string() + "`)"
                                  : "They are sent when it answers again (or store them with `synth-trace import " +
                                        options.fallback_dir.string() + "`)"));
}

// The files this sink left in the fallback folder, sent in batches and removed once stored.
void CollectorSink::Impl::resend_fallback() {
  while (!in_fallback.empty() && !down && !shutting_down()) {
    std::vector<Item> items;
    std::size_t bytes = 0;
    std::size_t taken = 0;
    for (; taken < in_fallback.size() && items.size() < options.batch_sessions && bytes < options.batch_bytes; ++taken) {
      Item item = in_fallback[taken];
      try {
        item.json = detail::read_whole_file(item.file);
      } catch (...) {
        // Gone (imported by hand, say): no longer this sink's to send.
        kept.fetch_sub(1, std::memory_order_relaxed);
        continue;
      }
      while (!item.json.empty() && (item.json.back() == '\n' || item.json.back() == '\r')) item.json.pop_back();
      bytes += item.json.size();
      items.push_back(std::move(item));
    }
    std::vector<Item> rest(in_fallback.begin() + static_cast<std::ptrdiff_t>(taken), in_fallback.end());
    const Result result = post(items, false);
    if (result.what != Sent::delivered) {
      // Still in their files: back at the front of the list.
      for (Item& item : items) item.json.clear();
      items.insert(items.end(), rest.begin(), rest.end());
      in_fallback = std::move(items);
      if (result.what == Sent::unreachable) {
        down = true;
        next_probe = Clock::now() + options.probe_interval;
      }
      return;
    }
    accepted(items, result);
    in_fallback = std::move(rest);
  }
}

void CollectorSink::Impl::throw_if_lost() {
  if (lost_now == 0) return;
  const std::uint64_t n = std::exchange(lost_now, 0);
  std::string names;
  for (std::size_t i = 0; i < lost_names.size(); ++i) names.append(i == 0 ? "'" : ", '").append(lost_names[i]).append("'");
  if (n > lost_names.size()) names += ", ...";
  lost_names.clear();
  throw SessionsLost(n, "collector " + options.url + ": " + plural(n, "session", "sessions") + " not stored (" + names +
                            "): " + std::exchange(lost_why, {}));
}

void CollectorSink::Impl::send_batch() {
  std::vector<Item> items = std::exchange(batch, {});
  batch_bytes = 0;
  send(std::move(items));
}

CollectorSink::CollectorSink(CollectorOptions options) {
  http::require_http_url("collector URL", options.url, "use the address `synth-trace serve` prints, for example http://127.0.0.1:4319");
  if (options.batch_sessions == 0 || options.batch_bytes == 0) {
    throw Error("CollectorOptions: batch_sessions and batch_bytes must be at least 1");
  }
  if (options.fallback_dir.empty()) {
    throw Error("CollectorOptions: fallback_dir cannot be empty (sessions the collector cannot take go there)");
  }
  impl_ = std::make_unique<Impl>(std::move(options));
}

CollectorSink::~CollectorSink() {
  Impl& x = *impl_;
  // The tracer flushed before letting go; a sink used on its own may still hold a batch. No
  // network here: it goes to files.
  if (!x.batch.empty()) {
    x.give_up_at.store(Clock::now().time_since_epoch().count(), std::memory_order_release);
    x.to_fallback(x.batch, "the sink was destroyed before sending them");
    x.batch.clear();
  }
  if (!x.in_fallback.empty()) {
    detail::report("collector " + x.options.url + ": " + plural(x.in_fallback.size(), "session is", "sessions are") +
                   " in '" + x.options.fallback_dir.string() + "' as JSON files, not sent: store them with `synth-trace --server " +
                   x.options.url + " import " + x.options.fallback_dir.string() +
                   "` once the server runs (or `synth-trace --db FILE import " + x.options.fallback_dir.string() + "`)");
  }
}

void CollectorSink::write(const SessionTrace& trace) {
  Impl& x = *impl_;
  Item item{trace.session_id, {}, {}};
  trace.write_json(item.json);  // one line: JsonFormat's default
  x.batch_bytes += item.json.size();
  x.batch.push_back(std::move(item));
  if (x.batch.size() >= x.options.batch_sessions || x.batch_bytes >= x.options.batch_bytes) x.send_batch();
  x.throw_if_lost();
}

void CollectorSink::flush() {
  Impl& x = *impl_;
  if (!x.batch.empty()) {
    x.send_batch();
  } else if (!x.in_fallback.empty() && !x.shutting_down() && (!x.down || Clock::now() >= x.next_probe)) {
    // Nothing new, but files waiting: try the server with them.
    const bool was_down = x.down;
    x.down = false;
    x.resend_fallback();
    if (!x.down && was_down) {
      detail::report("collector " + x.options.url + " answers again: the sessions kept in '" +
                     x.options.fallback_dir.string() + "' were sent");
    }
  }
  x.throw_if_lost();
}

void CollectorSink::shutdown_by(std::chrono::steady_clock::time_point deadline) noexcept {
  Impl& x = *impl_;
  // Retries end early enough to leave time for writing the files.
  const auto now = Clock::now();
  const auto margin = std::min<Clock::duration>(std::chrono::milliseconds(500), std::max<Clock::duration>(deadline - now, {}) / 2);
  const Clock::time_point give_up = deadline - margin;
  x.give_up_at.store(give_up.time_since_epoch().count(), std::memory_order_release);
  {
    std::lock_guard lock(x.wait_mutex);
    ++x.notices;
    if (!x.watchdog.joinable()) {
      try {
        x.watchdog = std::jthread([&x, give_up](std::stop_token stop) {
          detail::name_this_thread("synth-give-up");
          std::mutex mutex;
          std::condition_variable_any never;
          std::unique_lock held(mutex);
          never.wait_until(held, stop, give_up, [] { return false; });
          if (!stop.stop_requested()) x.cancel.request_stop();
        });
      } catch (...) {
        // No thread: a request in flight runs to its own timeout.
      }
    }
  }
  x.woken.notify_all();
}

const CollectorOptions& CollectorSink::options() const noexcept { return impl_->options; }

CollectorStats CollectorSink::stats() const noexcept {
  const Impl& x = *impl_;
  CollectorStats s;
  s.sessions_sent = x.sent.load(std::memory_order_relaxed);
  s.sessions_in_fallback = x.kept.load(std::memory_order_relaxed);
  s.sessions_rejected = x.rejected.load(std::memory_order_relaxed);
  s.sessions_lost = x.lost.load(std::memory_order_relaxed);
  s.requests = x.requests.load(std::memory_order_relaxed);
  s.retries = x.retries.load(std::memory_order_relaxed);
  s.throttled = x.throttled.load(std::memory_order_relaxed);
  return s;
}

}  // namespace synth::tracing
