#include "otel/otlp_receiver.hpp"

#include <curl/curl.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>
#include <vector>

extern char** environ;

#ifndef SYNTH_NODE_BINARY
#error "SYNTH_NODE_BINARY (the node executable, or empty) must be defined: link otlp_receiver_harness"
#endif
#ifndef SYNTH_OTLP_RECEIVER_SCRIPT
#error "SYNTH_OTLP_RECEIVER_SCRIPT (the path of receiver.js) must be defined: link otlp_receiver_harness"
#endif

namespace synth::tracing::testing {

namespace {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr std::chrono::seconds kStartTimeout{20};
constexpr std::chrono::seconds kControlTimeout{20};

std::string errno_text(const char* what) { return std::string(what) + ": " + std::strerror(errno); }

void close_fd(int& fd) noexcept {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

void ensure_curl() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t append_body(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

size_t append_header(char* data, size_t size, size_t count, void* user) {
  std::string_view line(data, size * count);
  const std::size_t colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' ')) {
      value.remove_suffix(1);
    }
    static_cast<std::map<std::string, std::string>*>(user)->insert_or_assign(std::move(name), std::string(value));
  }
  return size * count;
}

bool counted(const json& request) {
  const json& status = request["status_answered"];
  return !request["decoded"].is_null() && status.is_number_integer() && status.get<int>() >= 200 &&
         status.get<int>() < 300 && !request["client_closed"].get<bool>();
}

std::size_t counted_spans(const json& request) {
  return counted(request) ? request["span_count"].get<std::size_t>() : 0;
}

// Reads the child's first stdout line, {"port":N}; 0 when it ended or timed out first. `reaped`:
// the child exited and was reaped here.
std::uint16_t read_port_line(int fd, pid_t pid, std::string& seen, bool& reaped) {
  const auto deadline = Clock::now() + kStartTimeout;
  while (seen.find('\n') == std::string::npos) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return 0;
    pollfd p{fd, POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 200)));
    if (ready < 0 && errno != EINTR) return 0;
    if (ready <= 0) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) {
        reaped = true;
        return 0;
      }
      continue;
    }
    char buf[256];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return 0;
    seen.append(buf, static_cast<std::size_t>(n));
  }
  try {
    const json line = json::parse(seen.substr(0, seen.find('\n')));
    const int port = line.at("port").get<int>();
    return port > 0 && port < 65536 ? static_cast<std::uint16_t>(port) : 0;
  } catch (const json::exception&) {
    return 0;
  }
}

}  // namespace

// ---- HTTP helpers ----

HttpResponse http_request(const std::string& method, const std::string& url, std::string_view body,
                          const std::map<std::string, std::string>& headers, std::chrono::milliseconds timeout) {
  ensure_curl();
  HttpResponse response;
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) {
    response.error = "curl_easy_init failed";
    return response;
  }
  curl_slist* list = nullptr;
  for (const auto& [name, value] : headers) list = curl_slist_append(list, (name + ": " + value).c_str());
  list = curl_slist_append(list, "Expect:");  // no 100-continue round trip for large bodies
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(list, &curl_slist_free_all);

  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
  if (method == "GET") {
    curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
  } else {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, body.data());
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    if (method != "POST") curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method.c_str());
  }
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &append_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &response.body);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &append_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &response.headers);
  const CURLcode rc = curl_easy_perform(h);
  if (rc != CURLE_OK) {
    response.error = curl_easy_strerror(rc);
    response.status = 0;
    return response;
  }
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &response.status);
  return response;
}

std::string gzip_compress(std::string_view data) {
  z_stream zs{};
  // windowBits 15 + 16: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
    throw std::runtime_error("deflateInit2 failed");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  const int rc = deflate(&zs, Z_FINISH);
  const std::size_t written = zs.total_out;
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) throw std::runtime_error("gzip compression failed");
  out.resize(written);
  return out;
}

HttpResponse post_otlp(const std::string& url, std::string_view body, bool json, bool gzip) {
  std::map<std::string, std::string> headers{
      {"Content-Type", json ? "application/json" : "application/x-protobuf"}};
  if (gzip) {
    headers.emplace("Content-Encoding", "gzip");
    const std::string compressed = gzip_compress(body);
    return http_request("POST", url, compressed, headers);
  }
  return http_request("POST", url, body, headers);
}

// ---- OtlpReceiver ----

std::string OtlpReceiver::unavailable_reason() {
  namespace fs = std::filesystem;
  const std::string node = SYNTH_NODE_BINARY;
  const fs::path script = SYNTH_OTLP_RECEIVER_SCRIPT;
  if (node.empty()) {
    return "node (Node.js) was not found when CMake configured the tests: run scripts/setup.sh, then "
           "configure again";
  }
  if (::access(node.c_str(), X_OK) != 0) {
    return "node " + node + " (found when CMake configured) is not executable: run scripts/setup.sh, then "
                            "configure again";
  }
  if (!fs::exists(script)) return "the OTLP receiver script " + script.string() + " is missing";
  const fs::path modules = script.parent_path() / "node_modules";
  for (const char* package : {"@opentelemetry/otlp-transformer", "protobufjs"}) {
    if (!fs::exists(modules / package / "package.json")) {
      return "the OTLP receiver's npm packages are not installed (" + (modules / package).string() +
             " is missing): run scripts/setup.sh (npm ci in " + script.parent_path().string() + ")";
    }
  }
  return {};
}

OtlpReceiver::OtlpReceiver(Keep keep) : keep_(keep) {
  if (std::string reason = unavailable_reason(); !reason.empty()) {
    throw std::runtime_error("OTLP receiver unavailable: " + reason);
  }
  start(0);
}

OtlpReceiver::~OtlpReceiver() { terminate_process(); }

void OtlpReceiver::start(std::uint16_t port) {
  int in[2] = {-1, -1};
  int out[2] = {-1, -1};
  if (::pipe2(in, O_CLOEXEC) != 0) throw std::runtime_error(errno_text("pipe2"));
  if (::pipe2(out, O_CLOEXEC) != 0) {
    const std::string error = errno_text("pipe2");
    close_fd(in[0]);
    close_fd(in[1]);
    throw std::runtime_error(error);
  }

  const std::string node = SYNTH_NODE_BINARY;
  const std::string script_path = SYNTH_OTLP_RECEIVER_SCRIPT;
  const std::string port_text = std::to_string(port);
  std::vector<std::string> args{node, script_path, "--exit-on-stdin-close", "--port", port_text};
  if (keep_ == Keep::counts) args.emplace_back("--count-only");
  if (keep_ == Keep::decode_only) args.emplace_back("--decode-only");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);  // stderr: inherited, shows in test logs
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigset_t defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGTERM, SIGINT, SIGPIPE, SIGCHLD}) sigaddset(&defaults, sig);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, node.c_str(), &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close_fd(in[0]);
  close_fd(out[1]);
  if (rc != 0) {
    close_fd(in[1]);
    close_fd(out[0]);
    throw std::runtime_error("cannot start " + node + ": " + std::strerror(rc) + " (run scripts/setup.sh)");
  }
  pid_ = pid;
  stdin_fd_ = in[1];

  std::string seen;
  bool reaped = false;
  const std::uint16_t got = read_port_line(out[0], pid, seen, reaped);
  close_fd(out[0]);  // the receiver writes nothing else on stdout
  if (got == 0) {
    if (reaped) pid_ = -1;
    terminate_process();
    throw std::runtime_error("the OTLP receiver (" + node + " " + script_path + " --port " + port_text +
                             ") did not report its port" + (seen.empty() ? "" : " (stdout: " + seen + ")") +
                             "; see its messages on stderr above. Is scripts/setup.sh run?");
  }
  port_ = got;
}

void OtlpReceiver::terminate_process() noexcept {
  close_fd(stdin_fd_);
  if (pid_ <= 0) return;
  const pid_t pid = pid_;
  pid_ = -1;
  int status = 0;
  ::kill(pid, SIGTERM);
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (Clock::now() < deadline) {
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
}

json OtlpReceiver::fetch_json(const std::string& method, const std::string& path, const std::string& body) const {
  const HttpResponse r = http_request(method, base_url() + path, body, {{"Content-Type", "application/json"}},
                                      kControlTimeout);
  if (r.status != 200) {
    throw std::runtime_error("OTLP receiver control " + method + " " + path + " failed: " +
                             (r.status == 0 ? r.error : "HTTP " + std::to_string(r.status) + " " + r.body));
  }
  return json::parse(r.body);
}

std::string OtlpReceiver::base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

std::string OtlpReceiver::endpoint() const { return base_url() + "/v1/traces"; }

void OtlpReceiver::script(json responses) {
  std::lock_guard lock(mutex_);
  if (!running()) throw std::runtime_error("OtlpReceiver::script: the receiver is stopped");
  if (!responses.is_array()) responses = json::array({std::move(responses)});
  fetch_json("POST", "/control/script", responses.dump());
}

json OtlpReceiver::requests() const {
  std::lock_guard lock(mutex_);
  json all = archived_;
  if (running()) {
    for (json& r : fetch_json("GET", "/control/requests")) all.push_back(std::move(r));
  }
  for (std::size_t i = 0; i < all.size(); ++i) all[i]["index"] = i;
  return all;
}

json OtlpReceiver::spans() const {
  json out = json::array();
  for (const json& request : requests()) {
    if (!counted(request)) continue;
    for (const json& rs : request["decoded"]["resourceSpans"]) {
      for (const json& ss : rs["scopeSpans"]) {
        for (json span : ss["spans"]) {
          span["resource"] = rs["resource"];
          span["scope"] = ss["scope"];
          span["request_index"] = request["index"];
          out.push_back(std::move(span));
        }
      }
    }
  }
  return out;
}

std::size_t OtlpReceiver::span_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = archived_spans_;
  if (running()) n += fetch_json("GET", "/control/stats")["spans"].get<std::size_t>();
  return n;
}

std::size_t OtlpReceiver::request_count() const {
  std::lock_guard lock(mutex_);
  std::size_t n = archived_.size();
  if (running()) n += fetch_json("GET", "/control/stats")["requests"].get<std::size_t>();
  return n;
}

bool OtlpReceiver::wait_for_spans(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    if (span_count() >= n) return true;
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

bool OtlpReceiver::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    {
      std::lock_guard lock(mutex_);
      std::size_t total = archived_.size();
      std::size_t pending = 0;
      if (running()) {
        const json stats = fetch_json("GET", "/control/stats");
        total += stats["requests"].get<std::size_t>();
        pending = stats["pending"].get<std::size_t>();
      }
      if (total >= n && pending == 0) return true;
    }
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

namespace {
json collect(const json& requests, const char* key, const char* name) {
  json out = json::array();
  for (const json& r : requests) {
    for (const json& e : r[key]) out.push_back({{"request_index", r["index"]}, {name, e}});
  }
  return out;
}
}  // namespace

json OtlpReceiver::errors() const { return collect(requests(), "errors", "error"); }

json OtlpReceiver::warnings() const { return collect(requests(), "warnings", "warning"); }

void OtlpReceiver::reset() {
  std::lock_guard lock(mutex_);
  archived_ = json::array();
  archived_spans_ = 0;
  if (running()) fetch_json("POST", "/control/reset");
}

void OtlpReceiver::stop() {
  std::lock_guard lock(mutex_);
  if (!running()) return;
  try {
    for (json& r : fetch_json("GET", "/control/requests")) {
      archived_spans_ += counted_spans(r);
      archived_.push_back(std::move(r));
    }
  } catch (const std::exception& e) {
    terminate_process();
    throw std::runtime_error(std::string("OtlpReceiver::stop: could not read the received requests: ") + e.what());
  }
  terminate_process();
}

void OtlpReceiver::restart() {
  stop();
  std::lock_guard lock(mutex_);
  // The port was just released; another process could take it meanwhile, so retry briefly.
  for (int attempt = 0;; ++attempt) {
    try {
      start(port_);
      return;
    } catch (const std::runtime_error&) {
      if (attempt >= 20) throw;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

json OtlpReceiver::plain_value(const json& any) {
  if (!any.is_object()) return nullptr;
  if (auto it = any.find("stringValue"); it != any.end()) return *it;
  if (auto it = any.find("boolValue"); it != any.end()) return *it;
  if (auto it = any.find("intValue"); it != any.end()) {
    return it->is_string() ? json(std::stoll(it->get<std::string>())) : *it;
  }
  if (auto it = any.find("doubleValue"); it != any.end()) {
    return it->is_number() ? json(it->get<double>()) : *it;  // 7.0 arrives as 7: make it a double again
  }
  if (auto it = any.find("arrayValue"); it != any.end()) {
    json out = json::array();
    if (it->is_object() && it->contains("values")) {
      for (const json& v : (*it)["values"]) out.push_back(plain_value(v));
    }
    return out;
  }
  if (auto it = any.find("kvlistValue"); it != any.end()) {
    return it->is_object() && it->contains("values") ? attributes((*it)["values"]) : json::object();
  }
  if (auto it = any.find("bytesValue"); it != any.end()) return *it;
  return nullptr;
}

json OtlpReceiver::attributes(const json& key_values) {
  json out = json::object();
  if (!key_values.is_array()) return out;
  for (const json& kv : key_values) out[kv.value("key", std::string())] = plain_value(kv.value("value", json()));
  return out;
}

}  // namespace synth::tracing::testing
