"""SessionTracer: sessions and timesteps (async and sync), recording, contexts across asyncio
tasks and threads, hooks, saving."""

import asyncio
import json
import os
import threading

import pytest

from synth_tracing.hooks import HookResult, TraceHook, TraceStateHook
from synth_tracing.session_tracer import (CAISEvent, EnvironmentEvent, RuntimeEvent, SessionEventMessage,
                                          SessionTrace, SessionTracer, TimeRecord)


async def test_session_and_timestep_record_into_the_trace():
    tracer = SessionTracer()
    async with tracer.start_session("s-1", {"experiment": "demo"}) as trace:
        assert tracer.current_session is trace and tracer.current_timestep is None
        async with tracer.timestep(1) as step:
            assert tracer.in_timestep and tracer.current_timestep is step and tracer.current_turn == 1
            event = CAISEvent(system_instance_id="planner", model_name="gpt-4")
            await tracer.add_event(event)
            message = SessionEventMessage(content={"payload": 1}, message_type="observation")
            await tracer.add_message(message)
        assert not tracer.in_timestep and tracer.current_timestep is None
        # A message after the step lands in the last step.
        late = SessionEventMessage(content="late")
        tracer.add_message(late)
    assert tracer.current_session is None
    got = tracer.get_session_trace("s-1")
    assert got is trace and got.metadata == {"experiment": "demo"}
    assert step.step_id == 1 and step.events == [event] and step.messages == [message, late]
    assert trace.event_history == [event] and trace.message_history == [message, late]
    # The stored objects are the caller's, stamped with (now, turn).
    assert event.time_record.message_time == 1 and isinstance(event.time_record.event_time, str)


def test_sync_with_and_add_event_without_await():
    tracer = SessionTracer()
    with tracer.start_session() as trace:
        with tracer.timestep(0):
            tracer.add_event(RuntimeEvent(event_type="tool"))
    assert len(trace.session_id) == 36 and len(trace.timesteps[0].events) == 1


async def test_errors_without_session_and_unknown_ids():
    tracer = SessionTracer()
    with pytest.raises(ValueError, match="Must start a session before creating timesteps"):
        async with tracer.timestep(0):
            pass
    with pytest.raises(ValueError, match="Must start a session before recording events"):
        tracer.add_event(CAISEvent())
    with pytest.raises(ValueError, match="Must start a session before recording messages"):
        await tracer.add_message(SessionEventMessage("x"))
    with pytest.raises(KeyError):
        tracer.save_trace("nope", "/tmp/never.json")
    assert tracer.get_session_trace("nope") is None


async def test_session_ends_on_error_and_error_propagates():
    tracer = SessionTracer()
    with pytest.raises(RuntimeError, match="boom"):
        async with tracer.start_session("err"):
            async with tracer.timestep(0):
                raise RuntimeError("boom")
    assert tracer.current_session is None and tracer.get_session_trace("err") is not None


async def test_each_asyncio_task_has_its_own_session():
    tracer = SessionTracer()
    started = asyncio.Event()
    count = 0

    async def episode(i):
        nonlocal count
        async with tracer.start_session(f"task-{i}"):
            count += 1
            if count == 5:
                started.set()
            await started.wait()  # all five sessions are open at once
            for turn in range(3):
                async with tracer.timestep(turn):
                    await asyncio.sleep(0)
                    await tracer.add_event(EnvironmentEvent(reward=float(i)))
                    assert tracer.current_session.session_id == f"task-{i}"

    await asyncio.gather(*(episode(i) for i in range(5)))
    for i in range(5):
        trace = tracer.get_session_trace(f"task-{i}")
        assert [e.reward for e in trace.event_history] == [float(i)] * 3
        assert [s.turn_number for s in trace.timesteps] == [0, 1, 2]


def test_threads_through_a_context_handle():
    tracer = SessionTracer()
    with tracer.start_session("threads"):
        with tracer.timestep(7):
            handle = tracer.current_context()
            errors = []

            def worker(n):
                try:
                    # A plain thread has no session until it attaches the handle.
                    assert tracer.current_session is None
                    with handle.attach():
                        for _ in range(100):
                            tracer.add_event(RuntimeEvent(function_name=f"w{n}"))
                except Exception as exc:  # reported below
                    errors.append(exc)

            threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
            threads += [threading.Thread(target=tracer.wrap(lambda: tracer.add_event(CAISEvent())))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    assert errors == []
    trace = tracer.get_session_trace("threads")
    assert len(trace.event_history) == 401 and len(trace.timesteps[0].events) == 401
    assert all(e.time_record.message_time == 7 for e in trace.event_history)


class Recorder(TraceStateHook):
    def __init__(self):
        self.seen = []

    async def on_event(self, event, session_id):
        await asyncio.sleep(0)
        self.seen.append(("event", session_id, type(event).__name__))

    def on_message(self, message, session_id):  # a sync hook is fine too
        self.seen.append(("message", session_id, message.message_type))

    async def on_state_change(self, tracer, state_type, **kw):
        self.seen.append((state_type, kw.get("session_id"), kw.get("turn_number")))
        if state_type == "session_start":
            tracer.current_session.metadata["hooked"] = True

    def analyze_state(self, before, after, event):
        if before != after:
            return HookResult(hook_name="diff", data={"before": before, "after": after})
        return None


class Failing(TraceHook):
    async def on_event(self, event, session_id):
        raise RuntimeError("hook failure")


async def test_hooks_run_and_failures_are_isolated(caplog):
    hook = Recorder()
    tracer = SessionTracer(hooks=[Failing()])
    tracer.add_hook(hook)
    async with tracer.start_session("h", {"a": 1}) as trace:
        assert trace.metadata == {"a": 1, "hooked": True}
        async with tracer.timestep(2):
            event = EnvironmentEvent(system_state_before={"x": 0}, system_state_after={"x": 1})
            await tracer.add_event(event)
            await tracer.add_message(SessionEventMessage("m", message_type="obs"))
    assert hook.seen == [("session_start", "h", None), ("timestep_start", "h", 2), ("event", "h", "EnvironmentEvent"),
                         ("message", "h", "obs")]
    assert event.event_metadata[0].hook_name == "diff"
    assert "hook failure" in caplog.text


def test_async_hooks_run_from_sync_code():
    hook = Recorder()
    tracer = SessionTracer(hooks=[hook])
    with tracer.start_session("sync-hooks"):
        tracer.add_event(CAISEvent())
    assert ("event", "sync-hooks", "CAISEvent") in hook.seen


async def test_save_trace_writes_json_the_cpp_reader_loads(tmp_path):
    tracer = SessionTracer()
    async with tracer.start_session("saved", {"experiment": "demo"}):
        async with tracer.timestep(1):
            await tracer.add_event(CAISEvent(system_instance_id="planner", model_name="gpt-4", prompt_tokens=50,
                                             completion_tokens=100, cost=0.0015))
            await tracer.add_event(RuntimeEvent(event_type="function_call", function_name="f", success=True))
            await tracer.add_message(SessionEventMessage(content={"origin_system_id": "a", "payload": {"x": 1}},
                                                         message_type="observation"))
    path = tracer.save_trace("saved", tmp_path / "out" / "saved.json")
    data = json.loads(path.read_text())
    # The original's keys, read by its readers.
    assert data["session_id"] == "saved"
    assert data["session_time_steps"][0]["step_messages"][0]["message_type"] == "observation"
    assert [e["event_type"] for e in data["event_history"]] == ["cais", "runtime"]
    loaded = SessionTrace.load(path)
    assert loaded.metadata == {"experiment": "demo"}
    assert loaded.event_history[1].event_type == "function_call"
    assert loaded.event_history[0].cost == 0.0015 and loaded.timesteps[0].step_id == 1


def test_default_tracer_creates_no_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracer = SessionTracer()
    with tracer.start_session("quiet"):
        tracer.add_event(CAISEvent())
    assert os.listdir(tmp_path) == []
