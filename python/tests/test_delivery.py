"""Where ended sessions go: the C++ tracer behind SessionTracer masks and prices them and hands
them to its sinks (DuckDB, JSON files, a running synth-trace serve) on its own thread."""

import json
import os
import signal
import subprocess
import sys
import textwrap

from synth_tracing.duckdb.manager import DuckDBTraceManager
from synth_tracing.session_tracer import CAISEvent, SessionEventMessage, SessionTracer


def record(tracer, session_id):
    with tracer.start_session(session_id, {"user": "jane.doe@example.com"}):
        with tracer.timestep(0):
            tracer.add_event(CAISEvent(system_instance_id="agent", model_name="gpt-4o-mini", prompt_tokens=1000,
                                       completion_tokens=500, total_tokens=1500,
                                       system_state_before={"prompt": "write to jane.doe@example.com"}))
            tracer.add_message(SessionEventMessage(content={"text": "call (555) 987-6543"}, message_type="user"))


def test_stored_sessions_are_masked_and_priced_while_python_keeps_its_objects(tmp_path):
    tracer = SessionTracer(duckdb_path=tmp_path / "t.duckdb")
    record(tracer, "masked-1")
    df = tracer.db_manager.query_traces(
        "SELECT cost, CAST(system_state_before AS VARCHAR) AS before FROM events WHERE session_id = ?", ["masked-1"])
    assert len(df) == 1
    assert df["cost"].iloc[0] > 0  # priced from the model and tokens by the C++ pricing table
    assert "jane.doe" not in df["before"].iloc[0] and "[EMAIL]" in df["before"].iloc[0]
    text = tracer.db_manager.conn.execute("SELECT CAST(content AS VARCHAR) FROM messages").fetchone()[0]
    assert "987-6543" not in text
    # The Python objects stay as the agent recorded them (live, mutable, unmasked).
    assert tracer.get_session_trace("masked-1").event_history[0].system_state_before == {
        "prompt": "write to jane.doe@example.com"}
    stats = tracer.stats()
    assert stats["sessions_ended"] == 1 and stats["events_recorded"] == 1 and stats["messages_recorded"] == 1
    tracer.close()
    again = DuckDBTraceManager(tmp_path / "t.duckdb", read_only=True)
    assert again.session_ids() == ["masked-1"]
    again.close()


def test_save_dir_from_the_environment_gets_json_files(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNTH_TRACING_SAVE_DIR", str(tmp_path / "json"))
    tracer = SessionTracer()
    record(tracer, "json-1")
    assert tracer.flush(10)
    files = list((tmp_path / "json").iterdir())
    assert len(files) == 1 and "json-1" in files[0].name
    saved = json.loads(files[0].read_text())
    assert saved["session_id"] == "json-1"
    assert "jane.doe" not in files[0].read_text()
    tracer.close()


def test_without_an_outlet_nothing_is_converted_or_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tracer = SessionTracer()
    record(tracer, "nowhere")
    assert tracer.flush(10)
    assert tracer.stats()["sessions_ended"] == 0  # not handed over: no sink, no export
    assert tracer.get_session_trace("nowhere") is not None
    assert list(tmp_path.iterdir()) == []
    tracer.close()


def start_serve(synth_trace, db):
    """`synth-trace serve` on a free port of 127.0.0.1: (process, port)."""
    log = open(f"{db}.serve-log", "w")  # a file, not a pipe: an unread pipe could fill and stall it
    serve = subprocess.Popen([synth_trace, "--db", str(db), "serve", "--port", "0"], stdout=subprocess.PIPE,
                             stderr=log, text=True)
    log.close()
    first = serve.stdout.readline()
    marker = "listening on http://127.0.0.1:"
    if marker not in first:
        serve.kill()
        serve.wait()
        raise AssertionError("synth-trace serve did not start: " + first + open(f"{db}.serve-log").read())
    return serve, int(first.split(marker)[1].split()[0].rstrip("/"))


def test_sessions_reach_a_running_server_through_the_collector(tmp_path, monkeypatch, synth_trace):
    db = tmp_path / "served.duckdb"
    serve, port = start_serve(synth_trace, db)
    try:
        monkeypatch.setenv("SYNTH_TRACING_COLLECTOR", f"http://127.0.0.1:{port}")
        monkeypatch.chdir(tmp_path)  # the collector's fallback folder, if any, stays here
        tracer = SessionTracer()
        for i in range(3):
            record(tracer, f"served-{i}")
        assert tracer.flush(30)
        assert tracer.stats()["collector_sessions_sent"] == 3
        tracer.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    stored = DuckDBTraceManager(db, read_only=True)
    assert sorted(stored.session_ids()) == ["served-0", "served-1", "served-2"]
    stored.close()


def test_sessions_ended_just_before_exit_are_stored(tmp_path):
    # No flush, no close: interpreter exit delivers what is queued (within shutdown_timeout_ms).
    db = tmp_path / "exit.duckdb"
    script = textwrap.dedent(f"""
        from synth_tracing.session_tracer import RuntimeEvent, SessionTracer
        tracer = SessionTracer(duckdb_path={str(db)!r})
        for i in range(20):
            with tracer.start_session(f"exit-{{i}}"):
                with tracer.timestep(0):
                    tracer.add_event(RuntimeEvent(event_type="tool", function_name="f"))
    """)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(os.path.abspath(p) for p in sys.path if p))
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120, cwd=tmp_path, env=env)
    stored = DuckDBTraceManager(db, read_only=True)
    assert len(stored.session_ids()) == 20
    stored.close()


def test_a_duckdb_path_owned_by_a_running_server_is_served_through_it(tmp_path, monkeypatch, synth_trace):
    # The C++ DuckDB sink sees the server's lock file and sends the sessions to it instead.
    db = tmp_path / "owned.duckdb"
    serve, _port = start_serve(synth_trace, db)
    try:
        monkeypatch.chdir(tmp_path)
        tracer = SessionTracer(duckdb_path=db)
        assert tracer.db_manager is None  # the server has the file
        record(tracer, "owned-1")
        assert tracer.flush(30)
        assert tracer.stats()["sessions_lost"] == 0
        tracer.close()
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=60)
    stored = DuckDBTraceManager(db, read_only=True)
    assert stored.session_ids() == ["owned-1"]
    stored.close()


def test_otel_enabled_exports_the_session_and_timestep_spans(tmp_path, monkeypatch):
    from synth_tracing.config import TracingConfig, set_config
    spans = tmp_path / "spans.jsonl"
    monkeypatch.setenv("SYNTH_TRACING_OTEL_ENDPOINT", "file://" + str(spans))
    set_config(TracingConfig(otel_enabled=True))
    tracer = SessionTracer()
    record(tracer, "spans-1")
    assert tracer.flush(30)
    stats = tracer.stats()
    assert stats["spans_ended"] == 2 and stats["spans_exported"] == 2  # the session and its timestep
    tracer.close()
    exported = spans.read_text()
    assert "spans-1" in exported and "jane.doe" not in exported
