#include "convert.hpp"

#include <chrono>
#include <cmath>
#include <string>
#include <unordered_map>
#include <utility>

namespace synth::tracing::python {

namespace {

py::object& serializer() {
  // Leaked on purpose: a py::object destroyed after the interpreter is gone would crash at exit.
  static auto* fn = new py::object();
  return *fn;
}

std::string to_utf8(py::handle s) {
  Py_ssize_t size = 0;
  const char* data = PyUnicode_AsUTF8AndSize(s.ptr(), &size);
  if (data == nullptr) {
    // Lone surrogates cannot be UTF-8: keep the rest of the text rather than failing the trace.
    PyErr_Clear();
    py::bytes b = py::reinterpret_steal<py::bytes>(PyUnicode_AsEncodedString(s.ptr(), "utf-8", "replace"));
    return std::string(b);
  }
  return std::string(data, static_cast<std::size_t>(size));
}

py::str utf8_str(const std::string& s) {
  PyObject* o = PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "replace");
  if (o == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<py::str>(o);
}

// `name` as an interned Python string, made once per name: PyObject_GetAttrString would build a
// new string on every call, a good part of converting an event. Keyed by the literal's address;
// used with the GIL held.
PyObject* interned(const char* name) {
  static auto* cache = new std::unordered_map<const char*, PyObject*>();  // leaked: outlives the interpreter
  const auto it = cache->find(name);
  if (it != cache->end()) return it->second;
  PyObject* s = PyUnicode_InternFromString(name);
  if (s == nullptr) throw py::error_already_set();
  cache->emplace(name, s);
  return s;
}

py::object attr(py::handle obj, const char* name) {
  PyObject* o = PyObject_GetAttr(obj.ptr(), interned(name));
  if (o == nullptr) {
    PyErr_Clear();
    return py::none();
  }
  return py::reinterpret_steal<py::object>(o);
}

std::optional<std::string> opt_string(py::handle obj, const char* name) {
  py::object v = attr(obj, name);
  if (v.is_none()) return std::nullopt;
  if (PyUnicode_Check(v.ptr())) return to_utf8(v);
  return to_utf8(py::str(v));
}

std::optional<std::int64_t> opt_int(py::handle obj, const char* name) {
  py::object v = attr(obj, name);
  if (v.is_none()) return std::nullopt;
  return py::cast<std::int64_t>(py::int_(v));
}

std::optional<double> opt_double(py::handle obj, const char* name) {
  py::object v = attr(obj, name);
  if (v.is_none()) return std::nullopt;
  return py::cast<double>(py::float_(v));
}

std::optional<bool> opt_bool(py::handle obj, const char* name) {
  py::object v = attr(obj, name);
  if (v.is_none()) return std::nullopt;
  return py::cast<bool>(py::bool_(v));
}

Timestamp to_timestamp(py::handle v) {
  if (v.is_none()) return {};
  if (PyUnicode_Check(v.ptr())) return parse_timestamp(to_utf8(v)).value_or(Timestamp{});
  if (PyFloat_Check(v.ptr()) || PyLong_Check(v.ptr())) {
    const double seconds = PyFloat_Check(v.ptr()) ? PyFloat_AS_DOUBLE(v.ptr()) : py::cast<double>(v);
    if (!std::isfinite(seconds)) return {};
    return Timestamp(std::chrono::nanoseconds(static_cast<std::int64_t>(std::llround(seconds * 1e9))));
  }
  if (py::hasattr(v, "isoformat")) return parse_timestamp(to_utf8(v.attr("isoformat")())).value_or(Timestamp{});
  return {};
}

py::object from_timestamp(Timestamp t) {
  if (t == Timestamp{}) return py::none();
  return utf8_str(format_timestamp(t));
}

std::optional<TimeRecord> to_time_record(py::handle obj) {
  py::object tr = attr(obj, "time_record");
  if (tr.is_none()) return std::nullopt;
  TimeRecord r;
  r.event_time = to_timestamp(attr(tr, "event_time"));
  py::object mt = attr(tr, "message_time");
  if (!mt.is_none()) r.message_time = py::cast<std::int64_t>(py::int_(mt));
  return r;
}

py::object from_time_record(const std::optional<TimeRecord>& r) {
  if (!r) return py::none();
  py::dict d;
  d["event_time"] = from_timestamp(r->event_time);
  d["message_time"] = r->message_time;
  return d;
}

std::vector<Value> to_value_list(py::handle obj, const char* name) {
  std::vector<Value> out;
  py::object v = attr(obj, name);
  if (v.is_none()) return out;
  for (py::handle item : v) out.push_back(to_value(item));
  return out;
}

py::list from_value_list(const std::vector<Value>& values) {
  py::list out;
  for (const auto& v : values) out.append(from_value(v));
  return out;
}

// Python-only event fields stored in the C++ event's metadata under their own names.
void put_extra(Value& metadata, py::handle obj, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    py::object v = attr(obj, name);
    if (v.is_none()) continue;
    if (metadata.is_null()) metadata = Value::object();
    if (!metadata.is_object()) return;  // a non-object metadata has no room for them
    metadata.set(name, to_value(v));
  }
}

template <class E>
void common_to(E& e, py::handle obj) {
  e.time_record = to_time_record(obj);
  if (auto id = opt_string(obj, "system_instance_id")) e.system_instance_id = *id;
  e.system_state_before = to_value(attr(obj, "system_state_before"));
  e.system_state_after = to_value(attr(obj, "system_state_after"));
  py::object md = attr(obj, "metadata");
  e.metadata = md.is_none() ? Value::object() : to_value(md);
  e.event_metadata = to_value_list(obj, "event_metadata");
}

Event to_event(py::handle obj) {
  const std::string kind = opt_string(obj, "_kind").value_or("runtime");
  if (kind == "cais") {
    CAISEvent e;
    common_to(e, obj);
    e.llm_call_records = to_value_list(obj, "llm_call_records");
    e.span_id = opt_string(obj, "span_id");
    e.trace_id = opt_string(obj, "trace_id");
    e.model_name = opt_string(obj, "model_name");
    e.provider = opt_string(obj, "provider");
    e.prompt_tokens = opt_int(obj, "prompt_tokens");
    e.completion_tokens = opt_int(obj, "completion_tokens");
    e.total_tokens = opt_int(obj, "total_tokens");
    e.cost = opt_double(obj, "cost");
    e.latency_ms = opt_double(obj, "latency_ms");
    return e;
  }
  if (kind == "environment") {
    EnvironmentEvent e;
    common_to(e, obj);
    e.reward = opt_double(obj, "reward");
    e.terminated = opt_bool(obj, "terminated");
    e.truncated = opt_bool(obj, "truncated");
    e.observation_diff = to_value(attr(obj, "observation_diff"));
    put_extra(e.metadata, obj, {"environment_name", "state_before", "state_after", "action_taken"});
    return e;
  }
  RuntimeEvent e;
  common_to(e, obj);
  e.actions = to_value(attr(obj, "actions"));
  put_extra(e.metadata, obj, {"event_type", "function_name", "duration_ms", "success", "error_message"});
  return e;
}

template <class E>
py::dict common_from(const E& e, const char* kind) {
  py::dict d;
  d["_kind"] = kind;
  d["time_record"] = from_time_record(e.time_record);
  d["system_instance_id"] = utf8_str(e.system_instance_id);
  d["system_state_before"] = from_value(e.system_state_before);
  d["system_state_after"] = from_value(e.system_state_after);
  d["metadata"] = from_value(e.metadata);
  d["event_metadata"] = from_value_list(e.event_metadata);
  return d;
}

template <class T>
py::object opt(const std::optional<T>& v) {
  if (!v) return py::none();
  if constexpr (std::is_same_v<T, std::string>) {
    return utf8_str(*v);
  } else {
    return py::cast(*v);
  }
}

SessionEventMessage to_message(py::handle obj) {
  SessionEventMessage m;
  m.content = to_value(attr(obj, "content"));
  if (auto t = opt_string(obj, "message_type")) m.message_type = *t;
  m.timestamp = to_timestamp(attr(obj, "timestamp"));
  m.time_record = to_time_record(obj);
  return m;
}

py::dict from_message(const SessionEventMessage& m) {
  py::dict d;
  d["content"] = from_value(m.content);
  d["timestamp"] = from_timestamp(m.timestamp);
  d["message_type"] = utf8_str(m.message_type);
  d["time_record"] = from_time_record(m.time_record);
  return d;
}

}  // namespace

py::dict from_event(const Event& event) {
  if (const auto* e = std::get_if<CAISEvent>(&event)) {
    py::dict d = common_from(*e, "cais");
    d["llm_call_records"] = from_value_list(e->llm_call_records);
    d["span_id"] = opt(e->span_id);
    d["trace_id"] = opt(e->trace_id);
    d["model_name"] = opt(e->model_name);
    d["provider"] = opt(e->provider);
    d["prompt_tokens"] = opt(e->prompt_tokens);
    d["completion_tokens"] = opt(e->completion_tokens);
    d["total_tokens"] = opt(e->total_tokens);
    d["cached_tokens"] = opt(e->cached_tokens);
    d["cache_write_tokens"] = opt(e->cache_write_tokens);
    d["reasoning_tokens"] = opt(e->reasoning_tokens);
    d["cost"] = opt(e->cost);
    d["latency_ms"] = opt(e->latency_ms);
    return d;
  }
  if (const auto* e = std::get_if<EnvironmentEvent>(&event)) {
    py::dict d = common_from(*e, "environment");
    d["reward"] = opt(e->reward);
    d["terminated"] = opt(e->terminated);
    d["truncated"] = opt(e->truncated);
    d["observation_diff"] = from_value(e->observation_diff);
    return d;
  }
  const auto& e = std::get<RuntimeEvent>(event);
  py::dict d = common_from(e, "runtime");
  d["actions"] = from_value(e.actions);
  return d;
}

void set_serializer(py::object fn) { serializer() = std::move(fn); }

Value to_value(py::handle obj) {
  PyObject* o = obj.ptr();
  if (o == Py_None) return {};
  if (PyBool_Check(o)) return Value(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0) return Value(static_cast<std::int64_t>(v));
    const unsigned long long u = PyLong_AsUnsignedLongLong(o);
    if (!PyErr_Occurred()) return Value(static_cast<std::uint64_t>(u));
    PyErr_Clear();
    return Value(PyLong_AsDouble(o));  // beyond 64 bits: JSON readers see a number either way
  }
  if (PyFloat_Check(o)) return Value(PyFloat_AS_DOUBLE(o));
  if (PyUnicode_Check(o)) return Value(to_utf8(obj));
  if (PyDict_Check(o)) {
    Value::Object members;
    members.reserve(static_cast<std::size_t>(PyDict_Size(o)));
    PyObject* key = nullptr;
    PyObject* value = nullptr;
    Py_ssize_t pos = 0;
    while (PyDict_Next(o, &pos, &key, &value)) {
      std::string k = PyUnicode_Check(key) ? to_utf8(key) : to_utf8(py::str(key));
      members.emplace_back(std::move(k), to_value(value));
    }
    return Value(std::move(members));
  }
  if (PyList_Check(o) || PyTuple_Check(o)) {
    Value::Array elements;
    py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    elements.reserve(seq.size());
    for (py::handle item : seq) elements.push_back(to_value(item));
    return Value(std::move(elements));
  }
  if (PyBytes_Check(o)) {
    py::object text = py::reinterpret_steal<py::object>(
        PyUnicode_DecodeUTF8(PyBytes_AS_STRING(o), PyBytes_GET_SIZE(o), "ignore"));
    if (!text) throw py::error_already_set();
    return Value(to_utf8(text));
  }
  if (serializer()) {
    py::object converted = serializer()(obj);
    // Only JSON kinds come back from make_serializable; anything else would recurse forever.
    PyObject* c = converted.ptr();
    if (c != o && (c == Py_None || PyBool_Check(c) || PyLong_Check(c) || PyFloat_Check(c) || PyUnicode_Check(c) ||
                   PyDict_Check(c) || PyList_Check(c) || PyTuple_Check(c))) {
      return to_value(converted);
    }
  }
  return Value(to_utf8(py::str(obj)));
}

py::object from_value(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::null:
      return py::none();
    case Value::Kind::boolean:
      return py::bool_(value.as_bool());
    case Value::Kind::integer:
      return py::int_(value.as_int());
    case Value::Kind::unsigned_integer:
      return py::int_(value.as_uint());
    case Value::Kind::floating:
      return py::float_(value.as_double());
    case Value::Kind::string:
      return utf8_str(value.as_string());
    case Value::Kind::array: {
      py::list out;
      for (const auto& e : value.as_array()) out.append(from_value(e));
      return out;
    }
    case Value::Kind::object: {
      py::dict out;
      for (const auto& [k, v] : value.as_object()) out[utf8_str(k)] = from_value(v);
      return out;
    }
  }
  return py::none();
}

SessionTrace to_trace(py::handle obj) {
  SessionTrace t;
  t.session_id = opt_string(obj, "session_id").value_or("");
  t.created_at = to_timestamp(attr(obj, "created_at"));

  // The Python trace keeps start_session()'s metadata in its own field; C++ keeps it as the
  // "session_start" entry.
  py::object metadata = attr(obj, "metadata");
  bool has_start_entry = false;
  std::vector<SessionMetadataEntry> entries;
  py::object md_list = attr(obj, "session_metadata");
  if (!md_list.is_none()) {
    for (py::handle item : md_list) {
      SessionMetadataEntry e;
      e.metadata_type = opt_string(item, "metadata_type").value_or("");
      e.data = to_value(attr(item, "data"));
      e.timestamp = to_timestamp(attr(item, "timestamp"));
      if (e.metadata_type == kSessionStartMetadata) has_start_entry = true;
      entries.push_back(std::move(e));
    }
  }
  if (!has_start_entry && !metadata.is_none() && !(PyDict_Check(metadata.ptr()) && PyDict_Size(metadata.ptr()) == 0)) {
    t.session_metadata.push_back(
        SessionMetadataEntry{std::string(kSessionStartMetadata), to_value(metadata), t.created_at});
  }
  for (auto& e : entries) t.session_metadata.push_back(std::move(e));

  // The history holds the timesteps' own objects again: each is converted once and copied (a
  // C++ copy costs a fraction of reading the Python object's attributes).
  std::unordered_map<PyObject*, std::pair<std::size_t, std::size_t>> event_at;
  std::unordered_map<PyObject*, std::pair<std::size_t, std::size_t>> message_at;
  py::object steps = attr(obj, "timesteps");
  if (!steps.is_none()) {
    std::int64_t index = 0;
    for (py::handle s : steps) {
      SessionTimeStep step;
      py::object id = attr(s, "step_id");
      step.step_id = id.is_none() ? "" : (PyUnicode_Check(id.ptr()) ? to_utf8(id) : to_utf8(py::str(id)));
      step.step_index = index++;
      step.turn_number = opt_int(s, "turn_number").value_or(0);
      step.timestamp = to_timestamp(attr(s, "timestamp"));
      py::object sm = attr(s, "step_metadata");
      step.step_metadata = sm.is_none() ? Value::object() : to_value(sm);
      py::object events = attr(s, "events");
      const std::size_t at = t.session_time_steps.size();
      if (!events.is_none()) {
        for (py::handle e : events) {
          event_at.emplace(e.ptr(), std::make_pair(at, step.events.size()));
          step.events.push_back(to_event(e));
        }
      }
      py::object messages = attr(s, "messages");
      if (!messages.is_none()) {
        for (py::handle m : messages) {
          message_at.emplace(m.ptr(), std::make_pair(at, step.step_messages.size()));
          step.step_messages.push_back(to_message(m));
        }
      }
      t.session_time_steps.push_back(std::move(step));
    }
  }
  py::object events = attr(obj, "event_history");
  if (!events.is_none()) {
    for (py::handle e : events) {
      const auto it = event_at.find(e.ptr());
      if (it == event_at.end()) {
        t.event_history.push_back(to_event(e));
      } else {
        t.event_history.push_back(t.session_time_steps[it->second.first].events[it->second.second]);
      }
    }
  }
  py::object messages = attr(obj, "message_history");
  if (!messages.is_none()) {
    for (py::handle m : messages) {
      const auto it = message_at.find(m.ptr());
      if (it == message_at.end()) {
        t.message_history.push_back(to_message(m));
      } else {
        t.message_history.push_back(t.session_time_steps[it->second.first].step_messages[it->second.second]);
      }
    }
  }
  return t;
}

py::dict from_trace(const SessionTrace& t) {
  py::dict d;
  d["session_id"] = utf8_str(t.session_id);
  d["created_at"] = from_timestamp(t.created_at);
  py::object metadata = py::dict();
  py::list entries;
  for (const auto& e : t.session_metadata) {
    if (e.metadata_type == kSessionStartMetadata && e.data.is_object()) {
      metadata = from_value(e.data);
      continue;
    }
    py::dict entry;
    entry["metadata_type"] = utf8_str(e.metadata_type);
    entry["data"] = from_value(e.data);
    entry["timestamp"] = from_timestamp(e.timestamp);
    entries.append(std::move(entry));
  }
  d["metadata"] = metadata;
  d["session_metadata"] = entries;
  py::list steps;
  for (const auto& s : t.session_time_steps) {
    py::dict step;
    step["step_id"] = utf8_str(s.step_id);
    step["turn_number"] = s.turn_number;
    step["timestamp"] = from_timestamp(s.timestamp);
    step["step_metadata"] = from_value(s.step_metadata);
    py::list events;
    for (const auto& e : s.events) events.append(from_event(e));
    step["events"] = events;
    py::list messages;
    for (const auto& m : s.step_messages) messages.append(from_message(m));
    step["messages"] = messages;
    steps.append(std::move(step));
  }
  d["timesteps"] = steps;
  py::list events;
  for (const auto& e : t.event_history) events.append(from_event(e));
  d["event_history"] = events;
  py::list messages;
  for (const auto& m : t.message_history) messages.append(from_message(m));
  d["message_history"] = messages;
  return d;
}

}  // namespace synth::tracing::python
