// Conversions between Python objects and the C++ trace model, done once at the boundary (saving,
// storing, loading) so that Python code keeps working with live Python objects.
#pragma once

#include <pybind11/pybind11.h>

#include "synth/tracing/json.hpp"
#include "synth/tracing/model.hpp"

namespace synth::tracing::python {

namespace py = pybind11;

/// Sets the Python function used for objects that are not JSON values (UUID, datetime, objects
/// with to_dict, ...): synth_tracing.utils.make_serializable.
void set_serializer(py::object fn);

/// A Python value (dict, list, tuple, str, int, float, bool, None, bytes, or anything the
/// serializer turns into those) as a JSON value.
Value to_value(py::handle obj);
/// A JSON value as plain Python objects (dict, list, str, int, float, bool, None).
py::object from_value(const Value& value);

/// A Python SessionTrace (synth_tracing.abstractions) as the C++ model. The Python-only fields
/// of events (environment_name, function_name, the runtime event's own event_type, ...) go into
/// the event's metadata under their names, as the C++ JSON reader does with unknown keys.
SessionTrace to_trace(py::handle trace);
/// A C++ trace as a dict of plain values: {session_id, created_at, metadata, session_metadata,
/// timesteps[{step_id, turn_number, timestamp, step_metadata, messages, events}],
/// event_history, message_history}; every event dict carries "_kind" ("cais", "environment",
/// "runtime"). synth_tracing.abstractions builds its objects from it.
py::dict from_trace(const SessionTrace& trace);
/// One event as the dict from_trace() puts in its lists (with "_kind").
py::dict from_event(const Event& event);

}  // namespace synth::tracing::python
