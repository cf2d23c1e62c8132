#!/usr/bin/python3
"""Python benchmarks of issue 14: synth_tracing (C++ core) against the same operations done the
original's way (plain Python dataclasses, the original's tracer and decorator shape, json.dumps),
measured in the same run.

    PYTHONPATH=build/python:python /usr/bin/python3 bench/python_bench.py [--quick]

Recording is timed per event (best of several rounds, each of many events); saving per session of
STEPS timesteps x (EVENTS events + MESSAGES messages). The original's DuckDB manager built each
row with to_dict() + json.dumps() and inserted it through the duckdb Python package, which Debian
does not ship: its baseline here is the row building alone, a lower bound of what it cost."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import functools
import gc
import json
import os
import platform
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Dict, List, Optional

from synth_tracing import decorators as st_decorators
from synth_tracing.abstractions import CAISEvent, SessionEventMessage, TimeRecord
from synth_tracing.duckdb.manager import DuckDBTraceManager
from synth_tracing.session_tracer import SessionTracer

STEPS, EVENTS, MESSAGES = 20, 3, 2


# ---------------------------------------------------------------------------------------------
# The original's shape in plain Python (synth_ai.tracing_v2 as its users ran it).

@dataclass
class PyTimeRecord:
    event_time: Any
    message_time: Optional[int] = None


@dataclass
class PyEvent:
    time_record: Optional[PyTimeRecord] = None
    system_instance_id: str = ""
    system_state_before: Any = None
    system_state_after: Any = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    event_metadata: List[Any] = field(default_factory=list)


@dataclass
class PyCAISEvent(PyEvent):
    model_name: Optional[str] = None
    provider: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None
    cost: Optional[float] = None
    latency_ms: Optional[float] = None


@dataclass
class PyEnvironmentEvent(PyEvent):
    reward: Optional[float] = None
    terminated: Optional[bool] = None
    action_taken: Any = None


@dataclass
class PyMessage:
    content: Any
    message_type: str
    time_record: Optional[PyTimeRecord] = None
    timestamp: str = ""


@dataclass
class PyStep:
    step_id: Any
    turn_number: int
    events: List[Any] = field(default_factory=list)
    messages: List[Any] = field(default_factory=list)


@dataclass
class PyTrace:
    session_id: str
    metadata: Dict[str, Any] = field(default_factory=dict)
    timesteps: List[PyStep] = field(default_factory=list)
    event_history: List[Any] = field(default_factory=list)
    message_history: List[Any] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)


class PyTracer:
    """The original SessionTracer's recording path: attributes, hooks, two appends."""

    def __init__(self) -> None:
        self.hooks: list = []
        self.current_session: Optional[PyTrace] = None
        self.current_timestep: Optional[PyStep] = None
        self.sessions: Dict[str, PyTrace] = {}

    async def add_event(self, event: Any) -> None:
        if self.current_session is None:
            raise ValueError("no session")
        for hook in self.hooks:
            hook.on_event(event)
        if self.current_timestep is not None:
            self.current_timestep.events.append(event)
        self.current_session.event_history.append(event)

    def add_event_sync(self, event: Any) -> None:
        if self.current_session is None:
            raise ValueError("no session")
        if self.current_timestep is not None:
            self.current_timestep.events.append(event)
        self.current_session.event_history.append(event)


_PRICES = {"gpt-4o-mini": (0.15, 0.60)}


def py_environment_step(fn):
    """The original decorator's work for an environment step: time it, build the event, add it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        event = PyEnvironmentEvent(
            time_record=PyTimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="env",
            action_taken=args[0] if args else None, reward=result.get("reward"), terminated=result.get("done"),
            metadata={"duration_ms": (time.perf_counter() - started) * 1000})
        PY_TRACER.add_event_sync(event)
        return result
    return wrapper


def py_ai_call(fn):
    """The original decorator's work for an AI call: usage and cost from the returned dict."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        result = fn(*args, **kwargs)
        usage = result.get("usage") or {}
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        price = _PRICES.get(result.get("model"))
        cost = None if price is None else (prompt * price[0] + completion * price[1]) / 1e6
        event = PyCAISEvent(
            time_record=PyTimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
            model_name=result.get("model"), provider="openai", prompt_tokens=prompt, completion_tokens=completion,
            total_tokens=prompt + completion, cost=cost, latency_ms=(time.perf_counter() - started) * 1000)
        PY_TRACER.add_event_sync(event)
        return result
    return wrapper


PY_TRACER = PyTracer()


def py_trace(i: int) -> PyTrace:
    trace = PyTrace(session_id=f"py-{i}", metadata={"experiment": "bench", "i": i})
    for s in range(STEPS):
        step = PyStep(step_id=s, turn_number=s)
        for e in range(EVENTS):
            event = PyCAISEvent(time_record=PyTimeRecord(event_time=1.7e9 + s, message_time=s),
                                system_instance_id="agent", model_name="gpt-4o-mini", prompt_tokens=120 + e,
                                completion_tokens=30, total_tokens=150 + e, latency_ms=12.5,
                                system_state_before={"messages": [{"role": "user", "content": f"step {s} event {e}"}]},
                                system_state_after={"content": "go north", "finish_reason": "stop"})
            step.events.append(event)
            trace.event_history.append(event)
        for m in range(MESSAGES):
            message = PyMessage(content={"origin_system_id": "env", "payload": {"obs": [s, m], "text": "a wall"}},
                                message_type="observation", time_record=PyTimeRecord(1.7e9 + s, s),
                                timestamp="2026-12-02T12:00:00")
            step.messages.append(message)
            trace.message_history.append(message)
        trace.timesteps.append(step)
    return trace


def py_rows(trace: PyTrace) -> list:
    """The original manager's row building: one JSON text per event and message."""
    rows = []
    for step in trace.timesteps:
        for event in step.events:
            d = dataclasses.asdict(event)
            rows.append((trace.session_id, step.step_id, d["model_name"], d["prompt_tokens"], d["completion_tokens"],
                         json.dumps(d["system_state_before"]), json.dumps(d["system_state_after"]),
                         json.dumps(d["metadata"]), json.dumps(d)))
        for message in step.messages:
            rows.append((trace.session_id, step.step_id, message.message_type, json.dumps(message.content),
                         message.timestamp))
    return rows


# ---------------------------------------------------------------------------------------------
# The same with synth_tracing.

async def st_trace(tracer: SessionTracer, i: int):
    async with tracer.start_session(f"st-{i}", {"experiment": "bench", "i": i}) as trace:
        for s in range(STEPS):
            async with tracer.timestep(s):
                for e in range(EVENTS):
                    tracer.add_event(CAISEvent(
                        time_record=TimeRecord(event_time=1.7e9 + s, message_time=s), system_instance_id="agent",
                        model_name="gpt-4o-mini", prompt_tokens=120 + e, completion_tokens=30, total_tokens=150 + e,
                        latency_ms=12.5,
                        system_state_before={"messages": [{"role": "user", "content": f"step {s} event {e}"}]},
                        system_state_after={"content": "go north", "finish_reason": "stop"}))
                for m in range(MESSAGES):
                    tracer.add_message(SessionEventMessage(
                        content={"origin_system_id": "env", "payload": {"obs": [s, m], "text": "a wall"}},
                        message_type="observation", time_record=TimeRecord(1.7e9 + s, s),
                        timestamp="2026-12-02T12:00:00"))
    return trace


# ---------------------------------------------------------------------------------------------

def best(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="fewer events and sessions (a smoke run)")
    args = parser.parse_args()
    n_events = 5_000 if args.quick else 50_000
    n_sessions = 20 if args.quick else 200
    rounds = 3 if args.quick else 5
    results = []
    background: list = []  # µs per session from the first end to the last one stored (DuckDB sink)

    def report(name: str, ours: float, theirs: float, unit: str, per: int) -> None:
        results.append((name, ours / per * 1e6, theirs / per * 1e6, theirs / ours, unit))

    loop = asyncio.new_event_loop()

    def recording(suffix: str) -> None:
        """The recording rows; `suffix` names the garbage collector setting they ran with."""
        # -- recording: await tracer.add_event(...)
        tracer = SessionTracer()

        async def record_ours():
            async with tracer.start_session():
                async with tracer.timestep(0):
                    for i in range(n_events):
                        await tracer.add_event(CAISEvent(
                            time_record=TimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                            model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30))

        async def record_py():
            PY_TRACER.current_session = PyTrace(session_id="p")
            PY_TRACER.current_timestep = PyStep(step_id=0, turn_number=0)
            for i in range(n_events):
                await PY_TRACER.add_event(PyCAISEvent(
                    time_record=PyTimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                    model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30))

        ours = best(lambda: loop.run_until_complete(record_ours()), rounds)
        theirs = best(lambda: loop.run_until_complete(record_py()), rounds)
        report("`await tracer.add_event(CAISEvent(...))`" + suffix, ours, theirs, "µs/event", n_events)

        # -- recording: decorated calls
        st_decorators.set_session_tracer(tracer)

        @st_decorators.environment_step
        def st_step(action):
            return {"reward": 1.0, "done": False}

        @py_environment_step
        def py_step(action):
            return {"reward": 1.0, "done": False}

        @st_decorators.ai_call
        def st_ai(prompt):
            return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 120, "completion_tokens": 30}}

        @py_ai_call
        def py_ai(prompt):
            return {"model": "gpt-4o-mini", "usage": {"prompt_tokens": 120, "completion_tokens": 30}}

        def decorated(fn_ours, fn_py, name):
            def run_ours():
                with tracer.start_session():
                    with tracer.timestep(0):
                        for _ in range(n_events // 5):
                            fn_ours("up")

            def run_py():
                PY_TRACER.current_session = PyTrace(session_id="p")
                PY_TRACER.current_timestep = PyStep(step_id=0, turn_number=0)
                for _ in range(n_events // 5):
                    fn_py("up")

            report(name, best(run_ours, rounds), best(run_py, rounds), "µs/call", n_events // 5)

        decorated(st_step, py_step, "`@environment_step` no-op (sync)" + suffix)
        decorated(st_ai, py_ai, "`@ai_call` returning `{model, usage}` (sync)" + suffix)
        st_decorators.set_session_tracer(None)

    recording("")
    # The same with the cyclic garbage collector off: the tracer's own work. With it on, the
    # finished sessions the tracer keeps (get_session_trace; the baseline keeps none) make
    # every full collection longer.
    gc.collect()
    gc.disable()
    try:
        recording(", garbage collector off")
    finally:
        gc.enable()

    # -- saving
    save_tracer = SessionTracer()
    st_traces = [loop.run_until_complete(st_trace(save_tracer, i)) for i in range(n_sessions)]
    py_traces = [py_trace(i) for i in range(n_sessions)]
    with tempfile.TemporaryDirectory(prefix="python-bench-") as tmp:
        def save_ours():
            for t in st_traces:
                save_tracer.save_trace(t.session_id, os.path.join(tmp, "ours.json"))

        def save_py():
            for t in py_traces:
                with open(os.path.join(tmp, "py.json"), "w") as f:
                    f.write(json.dumps(t.to_dict(), indent=2))

        report("save a session to JSON (file)", best(save_ours, rounds), best(save_py, rounds), "µs/session",
               n_sessions)

        db_round = [0]

        def store_ours():
            db_round[0] += 1
            manager = DuckDBTraceManager(os.path.join(tmp, f"ours-{db_round[0]}.duckdb"))
            manager.batch_upload(st_traces)
            manager.close()

        def rows_py():
            for t in py_traces:
                py_rows(t)

        report("store a session in DuckDB (`batch_upload`) vs row building only", best(store_ours, rounds),
               best(rows_py, rounds), "µs/session", n_sessions)

        def insert_rows_py():
            # The original's per-row path: row building, then one INSERT with bound parameters
            # per row, through DuckDB (this package's connection: the duckdb Python package is
            # not available here).
            db_round[0] += 1
            manager = DuckDBTraceManager(os.path.join(tmp, f"py-{db_round[0]}.duckdb"))
            conn = manager.conn
            conn.execute("CREATE TABLE py_events (session_id VARCHAR, step INTEGER, model_name VARCHAR, "
                         "prompt_tokens BIGINT, completion_tokens BIGINT, state_before JSON, state_after JSON, "
                         "metadata JSON, event JSON)")
            conn.execute("CREATE TABLE py_messages (session_id VARCHAR, step INTEGER, message_type VARCHAR, "
                         "content JSON, ts VARCHAR)")
            for t in py_traces:
                conn.execute("BEGIN TRANSACTION")
                for row in py_rows(t):
                    if len(row) == 9:
                        conn.execute("INSERT INTO py_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", row)
                    else:
                        conn.execute("INSERT INTO py_messages VALUES (?, ?, ?, ?, ?)", row)
                conn.execute("COMMIT")
            manager.close()

        report("store a session in DuckDB (`batch_upload`) vs rows built in Python and inserted one "
               "`INSERT` at a time", best(store_ours, rounds), best(insert_rows_py, rounds), "µs/session", n_sessions)

        def insert_one_by_one():
            db_round[0] += 1
            manager = DuckDBTraceManager(os.path.join(tmp, f"ours-{db_round[0]}.duckdb"))
            for t in st_traces:
                manager.insert_session_trace(t)
            manager.close()

        report("store a session in DuckDB (`insert_session_trace` each) vs row building only",
               best(insert_one_by_one, rounds), best(rows_py, rounds), "µs/session", n_sessions)
        # -- ending a session with duckdb_path: what the agent's thread pays (the conversion to
        # the C++ model; the C++ tracer's DuckDB sink stores it on its own thread), against
        # storing it synchronously at the end, as the original and this package's previous
        # version did. Then how fast the background sink keeps up.
        def record_sync(tracer: SessionTracer, session_id: str) -> float:
            ctx = tracer.start_session(session_id, {"experiment": "bench"})
            ctx.__enter__()
            for s in range(STEPS):
                with tracer.timestep(s):
                    for e in range(EVENTS):
                        tracer.add_event(CAISEvent(
                            time_record=TimeRecord(event_time=1.7e9 + s, message_time=s), system_instance_id="agent",
                            model_name="gpt-4o-mini", prompt_tokens=120 + e, completion_tokens=30,
                            system_state_before={"messages": [{"role": "user", "content": f"step {s} event {e}"}]}))
                    for m in range(MESSAGES):
                        tracer.add_message(SessionEventMessage(content={"payload": {"obs": [s, m]}},
                                                               message_type="observation"))
            started = time.perf_counter()
            ctx.__exit__(None, None, None)
            return time.perf_counter() - started

        db_round[0] += 1
        end_tracer = SessionTracer(duckdb_path=os.path.join(tmp, f"ends-{db_round[0]}.duckdb"))
        ended = sum(record_sync(end_tracer, f"end-{i}") for i in range(n_sessions))
        started = time.perf_counter()
        end_tracer.flush(600)
        drained = time.perf_counter() - started
        end_tracer.close()
        sync_manager = DuckDBTraceManager(os.path.join(tmp, f"sync-{db_round[0]}.duckdb"))
        plain = SessionTracer()
        stored = 0.0
        for i in range(n_sessions):
            record_sync(plain, f"sync-{i}")
            started = time.perf_counter()
            sync_manager.insert_session_trace(plain.get_session_trace(f"sync-{i}"))
            stored += time.perf_counter() - started
        sync_manager.close()
        report("end a session with `SessionTracer(duckdb_path=...)`: the agent's thread (ours) vs storing it "
               "synchronously (`insert_session_trace`, as the original did)", ended, stored, "µs/session", n_sessions)
        background.append((ended + drained) / n_sessions * 1e6)
    loop.close()

    events_per_session = STEPS * (EVENTS + MESSAGES)
    print(f"# {platform.python_implementation()} {platform.python_version()} on {platform.machine()}, "
          f"{n_events} events, {n_sessions} sessions of {STEPS} steps x ({EVENTS} events + {MESSAGES} messages) "
          f"= {events_per_session} items, best of {rounds}")
    print("| operation | synth_tracing | original shape (pure Python) | speed-up |")
    print("|---|---:|---:|---:|")
    for name, ours, theirs, ratio, unit in results:
        print(f"| {name} | {ours:.2f} {unit} | {theirs:.2f} {unit} | {ratio:.2f}× |")
    for per_session in background:
        print(f"\nThe C++ tracer's DuckDB sink stored those sessions at {per_session:.0f} µs/session "
              f"(ending all of them, then `flush()`), on its own thread.")


if __name__ == "__main__":
    sys.exit(main())
