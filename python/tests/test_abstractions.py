"""Data classes: constructors, attributes, to_dict, equality, the C++ round trip."""

import datetime
import uuid

import pytest

from synth_tracing import _core
from synth_tracing import abstractions, session_tracer
from synth_tracing.abstractions import (CAISEvent, EnvironmentEvent, LMCAISEvent, RuntimeEvent, SessionEventMessage,
                                        SessionMetadum, SessionTimeStep, SessionTrace, TimeRecord, from_core,
                                        make_serializable)


def test_one_class_family():
    for name in ("CAISEvent", "LMCAISEvent", "EnvironmentEvent", "RuntimeEvent", "SessionEventMessage",
                 "TimeRecord", "SessionTimeStep", "SessionTrace", "SessionMetadum"):
        assert getattr(abstractions, name) is getattr(session_tracer, name)
    assert LMCAISEvent is CAISEvent


def test_time_record_keeps_what_was_given():
    assert TimeRecord(event_time=1700000000.5, message_time=3).event_time == 1700000000.5
    assert TimeRecord("2024-01-01T12:00:00", 5).to_dict() == {"event_time": "2024-01-01T12:00:00", "message_time": 5}


def test_message_defaults_and_content():
    content = {"origin_system_id": "agent", "payload": {"action": "move_north", "n": [1, 2.5, None, True]}}
    m = SessionEventMessage(content=content, message_type="action")
    assert m.content == content
    assert isinstance(m.timestamp, str) and m.time_record is None
    assert list(m.to_dict()) == ["content", "timestamp", "message_type", "time_record"]
    assert SessionEventMessage(content="x").message_type == "unknown"


def test_event_fields_defaults_and_to_dict_order():
    e = CAISEvent(model_name="gpt-4", prompt_tokens=50, completion_tokens=100)
    assert e.system_instance_id == "llm_agent" and e.metadata == {} and e.llm_call_records == []
    assert list(e.to_dict())[:2] == ["time_record", "system_instance_id"]
    assert list(e.to_dict())[-2:] == ["metadata", "event_metadata"]
    env = EnvironmentEvent(environment_name="grid", state_before={"x": 0}, state_after={"x": 1}, action_taken="up",
                           reward=1.0, terminated=True)
    assert env.system_instance_id == "environment" and env.to_dict()["action_taken"] == "up"
    rt = RuntimeEvent(event_type="tool", function_name="f", duration_ms=2.0, success=False, error_message="boom")
    assert rt.system_instance_id == "runtime" and rt.to_dict()["event_type"] == "tool"
    # Containers are per instance.
    a, b = CAISEvent(), CAISEvent()
    a.metadata["k"] = 1
    assert b.metadata == {}


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError):
        CAISEvent(no_such_field=1)
    with pytest.raises(TypeError):
        SessionTrace("s", bogus=1)


def test_equality_and_unhashable():
    assert CAISEvent(model_name="m") == CAISEvent(model_name="m")
    assert CAISEvent(model_name="m") != CAISEvent(model_name="n")
    assert RuntimeEvent() != EnvironmentEvent()
    with pytest.raises(TypeError):
        hash(CAISEvent())


def test_aliases():
    step = SessionTimeStep(step_messages=[SessionEventMessage("a")], turn_number=2)
    assert step.step_id == 2 and step.messages is step.step_messages
    trace = SessionTrace("s", session_time_steps=[step])
    assert trace.timesteps is trace.session_time_steps
    d = trace.to_dict()
    assert list(d) == ["session_id", "metadata", "timesteps", "session_time_steps", "session_metadata",
                       "message_history", "event_history", "created_at"]
    assert set(d["session_time_steps"][0]) == {"step_id", "events", "step_messages", "timestamp", "step_metadata"}


def test_make_serializable():
    u = uuid.uuid4()
    t = datetime.datetime(2024, 1, 2, 3, 4, 5)
    assert make_serializable({"u": u, "t": t, "b": b"hi\xff", "tup": (1, 2), "o": object}) == {
        "u": str(u), "t": t.isoformat(), "b": "hi", "tup": [1, 2], "o": str(object)}
    assert make_serializable(TimeRecord("x", 1)) == {"event_time": "x", "message_time": 1}


def test_cpp_round_trip_keeps_every_field():
    tr = TimeRecord("2024-01-01T12:00:00.250000Z", 4)
    trace = SessionTrace("round", metadata={"experiment": "e1", "n": 2})
    step = SessionTimeStep(step_id=4, turn_number=4, timestamp="2024-01-01T12:00:00.000000Z", step_metadata={"k": "v"})
    events = [
        CAISEvent(time_record=tr, system_instance_id="planner", model_name="gpt-4", provider="openai",
                  prompt_tokens=5, completion_tokens=7, total_tokens=12, cost=0.5, latency_ms=3.25,
                  system_state_before={"messages": [{"role": "user", "content": "hi"}]}, metadata={"m": 1},
                  event_metadata=[{"hook": "x"}], llm_call_records=[{"raw": True}]),
        EnvironmentEvent(time_record=tr, environment_name="grid", state_before={"p": 0}, state_after={"p": 1},
                         action_taken={"move": "up"}, reward=1.5, terminated=False, observation_diff={"d": 1}),
        RuntimeEvent(time_record=tr, event_type="function_call", function_name="Tool.run", duration_ms=1.0,
                     success=False, error_message="bad", actions=["a", "b"]),
    ]
    msg = SessionEventMessage(content={"origin_system_id": "a", "payload": [1, "two"]}, message_type="observation",
                              time_record=tr, timestamp="2024-01-01T12:00:00.500000Z")
    for e in events:
        step.add_event(e)
        trace.add_event(e)
    step.add_message(msg)
    trace.add_message(msg)
    trace.add_timestep(step)
    trace.created_at = "2024-01-01T11:00:00.000000Z"
    back = from_core(_core.roundtrip_trace(trace))
    assert back.event_history == events
    assert back.message_history == [msg]
    assert back.timesteps[0].step_id == 4 and back.timesteps[0].step_metadata == {"k": "v"}
    assert back.metadata == {"experiment": "e1", "n": 2}
    assert back == trace


def test_now_iso_is_local_time_as_datetime_now_gives_it():
    from synth_tracing.utils import now_iso
    before = datetime.datetime.now()
    stamps = [now_iso() for _ in range(1000)]  # many within one second share its cached text
    after = datetime.datetime.now()
    parsed = [datetime.datetime.fromisoformat(s) for s in stamps]
    assert before.replace(microsecond=0) <= parsed[0] and parsed[-1] <= after
    assert parsed == sorted(parsed)
    assert all(s[10] == "T" and s.count(":") == 2 and "+" not in s for s in stamps)
