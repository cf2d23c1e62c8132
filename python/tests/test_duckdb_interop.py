"""DuckDB storage from Python, and traces moving between Python, the C++ library and synth-trace
through real DuckDB files."""

import asyncio
import json
import subprocess
import tempfile
import time

import pandas as pd
import pytest

from synth_tracing.duckdb.manager import DuckDBTraceManager, StorageError
from synth_tracing.session_tracer import (CAISEvent, EnvironmentEvent, RuntimeEvent, SessionEventMessage,
                                          SessionTrace, SessionTracer)


async def record(tracer, session_id, model="gpt-4"):
    async with tracer.start_session(session_id, {"experiment": "interop"}):
        for turn in range(2):
            async with tracer.timestep(turn):
                await tracer.add_message(SessionEventMessage(content={"origin_system_id": "env", "payload": turn},
                                                             message_type="observation"))
                await tracer.add_event(CAISEvent(system_instance_id="agent", model_name=model, provider="openai",
                                                 prompt_tokens=100, completion_tokens=50, total_tokens=150,
                                                 cost=0.01 * (turn + 1), latency_ms=12.5))
                await tracer.add_event(EnvironmentEvent(environment_name="grid", reward=1.0, terminated=turn == 1))
                await tracer.add_event(RuntimeEvent(event_type="tool", function_name="move", success=True))
                await tracer.add_message(SessionEventMessage(content={"origin_system_id": "agent", "payload": "up"},
                                                             message_type="action"))


async def test_insert_and_query_returns_dataframes(tmp_path):
    tracer = SessionTracer()
    await record(tracer, "db-1")
    manager = DuckDBTraceManager(tmp_path / "t.duckdb")
    assert manager.insert_session_trace(tracer.get_session_trace("db-1")) is True
    assert manager.insert_session_trace(tracer.get_session_trace("db-1")) is False  # duplicate skipped
    df = manager.query_traces("SELECT event_type, model_name FROM events WHERE session_id = ? ORDER BY id", ["db-1"])
    assert isinstance(df, pd.DataFrame)
    assert sorted(df["event_type"].unique()) == ["cais", "environment", "runtime"]
    msgs = manager.query_messages(session_ids=["db-1"], message_types=["action"])
    assert len(msgs) == 2
    expensive = manager.get_expensive_calls(0.015)
    assert len(expensive) == 1 and expensive["cost"].iloc[0] == pytest.approx(0.02)
    assert manager.conn.execute("SELECT count(*) FROM session_traces").fetchone() == (1,)
    loaded = manager.load_session_trace("db-1")
    original = tracer.get_session_trace("db-1")
    assert [type(e) for e in loaded.event_history] == [type(e) for e in original.event_history]
    assert loaded.event_history[2].function_name == "move" and loaded.event_history[2].event_type == "tool"
    with pytest.raises(StorageError):
        manager.query_traces("SELECT * FROM no_such_table")


async def test_tracer_with_duckdb_path_stores_each_session(tmp_path):
    path = tmp_path / "auto.duckdb"
    tracer = SessionTracer(duckdb_path=path)
    await record(tracer, "auto-1")
    assert tracer.db_manager.session_ids() == ["auto-1"]
    tracer.close()


async def test_ending_sessions_does_not_wait_for_duckdb(tmp_path):
    # The C++ tracer stores on its own thread: ending sessions costs far less than storing them
    # one transaction each, as the tracer did before (about 45 ms a session).
    tracer = SessionTracer(duckdb_path=tmp_path / "many.duckdb")
    started = time.perf_counter()
    await asyncio.gather(*[record(tracer, f"many-{i}") for i in range(8)])
    recorded_and_ended = time.perf_counter() - started
    direct = DuckDBTraceManager(tmp_path / "direct.duckdb")
    started = time.perf_counter()
    for i in range(8):
        direct.insert_session_trace(tracer.get_session_trace(f"many-{i}"))
    stored_one_by_one = time.perf_counter() - started
    direct.close()
    assert recorded_and_ended < stored_one_by_one / 2, (recorded_and_ended, stored_one_by_one)
    # Reading through tracer.db_manager first waits for the sessions already ended.
    assert sorted(tracer.db_manager.session_ids()) == sorted(f"many-{i}" for i in range(8))
    with tracer.start_session("sync-1"):
        with tracer.timestep(0):
            tracer.add_event(RuntimeEvent(event_type="tool"))
    assert "sync-1" in tracer.db_manager.session_ids()
    assert tracer.flush(10)
    stats = tracer.stats()
    assert stats["sessions_ended"] == 9 and stats["sessions_pending"] == 0 and stats["sessions_dropped"] == 0
    tracer.close()


async def test_existing_empty_file_is_a_new_database():
    # The C++ store treats a 0-byte file as new (no workaround in Python).
    with tempfile.NamedTemporaryFile(suffix=".duckdb") as f:
        with pytest.raises(StorageError, match="empty file"):
            DuckDBTraceManager(f.name, read_only=True)
        manager = DuckDBTraceManager(f.name)
        assert manager.session_ids() == []
        tracer = SessionTracer()
        await record(tracer, "in-empty")
        assert manager.insert_session_trace(tracer.get_session_trace("in-empty"))
        manager.close()
        again = DuckDBTraceManager(f.name, read_only=True)
        assert again.session_ids() == ["in-empty"]
        again.close()


async def test_seed_duckdb_example(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracer = SessionTracer()
    await record(tracer, "session-123")
    session_trace = tracer.get_session_trace("session-123")
    # The seed README's example, verbatim.
    manager = DuckDBTraceManager("traces.db")
    manager.insert_trace(session_trace)

    # Query traces
    df = manager.query_messages(
        session_ids=["session-123"],
        message_types=["observation", "action"]
    )
    assert len(df) == 4


async def test_python_trace_imports_with_synth_trace(tmp_path, synth_trace):
    tracer = SessionTracer()
    await record(tracer, "py-to-cli", model="gpt-4o-mini")
    saved = tracer.save_trace("py-to-cli", tmp_path / "py-to-cli.json")
    db = tmp_path / "cli.duckdb"
    run = subprocess.run([synth_trace, "--db", str(db), "import", str(saved)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    manager = DuckDBTraceManager(db)
    df = manager.query_traces("SELECT model_name, cost FROM events WHERE session_id = ? AND event_type = 'cais' "
                              "ORDER BY cost", ["py-to-cli"])
    assert list(df["model_name"]) == ["gpt-4o-mini", "gpt-4o-mini"]
    assert list(df["cost"]) == pytest.approx([0.01, 0.02])
    back = manager.load_session_trace("py-to-cli")
    assert back.metadata == {"experiment": "interop"}
    assert [m.content for m in back.message_history] == [m.content for m in
                                                         tracer.get_session_trace("py-to-cli").message_history]


def test_cpp_traces_load_in_python(tmp_path, synth_trace):
    db = tmp_path / "demo.duckdb"
    subprocess.run([synth_trace, "--db", str(db), "demo", "--episodes", "2", "--threads", "1"], check=True,
                   capture_output=True)
    jsonl = tmp_path / "all.jsonl"
    subprocess.run([synth_trace, "--db", str(db), "export", "--jsonl", str(jsonl)], check=True, capture_output=True)
    lines = [line for line in jsonl.read_text().splitlines() if line.strip()]
    assert len(lines) == 2
    traces = [SessionTrace.from_json(line) for line in lines]
    manager = DuckDBTraceManager(db)
    for trace in traces:
        assert trace.event_history, "the demo records events"
        stored = manager.load_session_trace(trace.session_id)
        assert [type(e) for e in stored.event_history] == [type(e) for e in trace.event_history]
        # And a Python tracer's JSON writer keeps them as they were.
        again = SessionTrace.from_json(json.dumps(json.loads(lines[0])))
        assert again.session_id == traces[0].session_id
