#include "synth/tracing/config.hpp"

#include <charconv>
#include <cstdlib>
#include <string>

#include "synth/tracing/error.hpp"

namespace synth::tracing {

namespace {
std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

const char* env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

[[noreturn]] void bad_env(const char* name, std::string_view value, std::string_view expected) {
  throw Error("environment variable " + std::string(name) + "=\"" + std::string(value) + "\" is invalid: expected " +
              std::string(expected));
}

void env_bool(const char* name, bool& out) {
  const char* v = env(name);
  if (v == nullptr) return;
  const std::string s = lower(v);
  if (s == "true" || s == "1" || s == "yes" || s == "on") {
    out = true;
  } else if (s == "false" || s == "0" || s == "no" || s == "off") {
    out = false;
  } else {
    bad_env(name, v, "true/1/yes/on or false/0/no/off");
  }
}

void env_size(const char* name, std::size_t& out) {
  const char* v = env(name);
  if (v == nullptr) return;
  const std::string_view s(v);
  std::size_t parsed = 0;
  const auto r = std::from_chars(s.data(), s.data() + s.size(), parsed);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size()) bad_env(name, s, "a non-negative integer");
  out = parsed;
}
}  // namespace

TracingConfig TracingConfig::load() {
  TracingConfig c;
  env_bool("SYNTH_TRACING_ENABLED", c.enabled);
  if (const char* dir = env("SYNTH_TRACING_SAVE_DIR")) c.save_dir = dir;
  env_size("SYNTH_TRACING_MAX_FINISHED_SESSIONS", c.max_finished_sessions);
  env_size("SYNTH_TRACING_SINK_QUEUE_CAPACITY", c.sink_queue_capacity);
  c.validate();
  return c;
}

void TracingConfig::validate() const {
  if (sink_queue_capacity == 0) throw Error("TracingConfig::sink_queue_capacity must be positive");
}

}  // namespace synth::tracing
