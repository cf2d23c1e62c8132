#include "synth/tracing/model.hpp"

#include <regex>

#include "file_io.hpp"
#include "json/trace_json.hpp"
#include "text.hpp"

namespace synth::tracing {

EventType event_type(const Event& event) noexcept { return static_cast<EventType>(event.index()); }

std::string_view event_type_name(EventType type) noexcept {
  switch (type) {
    case EventType::cais:
      return "cais";
    case EventType::environment:
      return "environment";
    case EventType::runtime:
      return "runtime";
  }
  return "cais";
}

std::optional<EventType> parse_event_type(std::string_view name) noexcept {
  const std::string lower = detail::ascii_lower(name);
  if (lower == "cais" || lower == "caisevent" || lower == "lmcaisevent" || lower == "lm_cais" || lower == "lmcais") {
    return EventType::cais;
  }
  if (lower == "environment" || lower == "environmentevent" || lower == "env") return EventType::environment;
  if (lower == "runtime" || lower == "runtimeevent") return EventType::runtime;
  return std::nullopt;
}

const std::optional<TimeRecord>& time_record(const Event& event) noexcept {
  return std::visit([](const auto& e) -> const std::optional<TimeRecord>& { return e.time_record; }, event);
}
std::optional<TimeRecord>& time_record(Event& event) noexcept {
  return std::visit([](auto& e) -> std::optional<TimeRecord>& { return e.time_record; }, event);
}
const std::string& system_instance_id(const Event& event) noexcept {
  return std::visit([](const auto& e) -> const std::string& { return e.system_instance_id; }, event);
}
const Value& metadata(const Event& event) noexcept {
  return std::visit([](const auto& e) -> const Value& { return e.metadata; }, event);
}
Value& metadata(Event& event) noexcept {
  return std::visit([](auto& e) -> Value& { return e.metadata; }, event);
}
const std::vector<Value>& event_metadata(const Event& event) noexcept {
  return std::visit([](const auto& e) -> const std::vector<Value>& { return e.event_metadata; }, event);
}
std::vector<Value>& event_metadata(Event& event) noexcept {
  return std::visit([](auto& e) -> std::vector<Value>& { return e.event_metadata; }, event);
}

SessionEventMessage make_message(std::string_view origin_system_id, Value payload, std::string message_type,
                                 std::int64_t turn) {
  const Timestamp t = now();
  SessionEventMessage m;
  Value::Object content;
  content.reserve(2);
  content.emplace_back("origin_system_id", Value(origin_system_id));
  content.emplace_back("payload", std::move(payload));
  m.content = Value(std::move(content));
  m.message_type = std::move(message_type);
  m.timestamp = t;
  m.time_record = TimeRecord{t, turn};
  return m;
}

const Value& SessionTrace::start_metadata() const noexcept {
  static const Value null_value;
  for (const auto& entry : session_metadata) {
    if (entry.metadata_type == kSessionStartMetadata) return entry.data;
  }
  return null_value;
}

std::string SessionTrace::to_json(JsonFormat format) const {
  std::string out;
  write_json(out, format);
  return out;
}

void SessionTrace::write_json(std::string& out, JsonFormat format) const {
  detail::JsonWriter w(out, format);
  detail::write_trace(w, *this);
}

SessionTrace SessionTrace::from_json(std::string_view text, std::string_view source) {
  detail::JsonReader reader(text, source);
  return detail::read_trace(reader);
}

namespace {
// The session a file holds when the file does not say: the original's (and JsonFileSink's) names
// are session_<id>_<YYYYmmdd>_<HHMMSS>[_<n>].json; other names give their stem.
std::string session_id_from_file_name(const std::filesystem::path& path) {
  static const std::regex written_name(R"(session_(.+)_\d{8}_\d{6}(_\d+)?)");
  const std::string stem = path.stem().string();
  std::smatch m;
  return std::regex_match(stem, m, written_name) ? m[1].str() : stem;
}
}  // namespace

SessionTrace SessionTrace::read_file(const std::filesystem::path& path) {
  const std::string text = detail::read_whole_file(path);
  detail::JsonReader reader(text, path.string());
  return detail::read_trace(reader, session_id_from_file_name(path));
}

void SessionTrace::write_file(const std::filesystem::path& path, JsonFormat format) const {
  detail::write_file_atomically(path, to_json(format), detail::IfExists::replace);
}

}  // namespace synth::tracing
