"""Shared fixtures: a clean environment and configuration per test, the synth-trace program."""

import os
import shutil
from pathlib import Path

import pytest

from synth_tracing import config as config_module
from synth_tracing import decorators


@pytest.fixture(autouse=True)
def _hermetic(monkeypatch):
    # The caller's SYNTH_TRACING_* variables must not change what the tests see.
    for name in list(os.environ):
        if name.startswith("SYNTH_TRACING_") or name.startswith("OTEL_"):
            monkeypatch.delenv(name, raising=False)
    # Nor the LM's: where requests go and which provider a bare model name means.
    for name in ("OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "SYNTH_AI_DEFAULT_PROVIDER"):
        monkeypatch.delenv(name, raising=False)
    config_module._config_cache.clear()
    decorators.set_session_tracer(None)
    yield
    config_module._config_cache.clear()
    decorators.set_session_tracer(None)


@pytest.fixture
def synth_trace() -> str:
    """Path of the synth-trace program of this build (SYNTH_TRACE_BIN, set by CTest)."""
    path = os.environ.get("SYNTH_TRACE_BIN") or shutil.which("synth-trace")
    if not path or not Path(path).exists():
        pytest.fail("synth-trace not found: build it (cmake --build build --target synth-trace) and set "
                    "SYNTH_TRACE_BIN, or run the tests through ctest -L python")
    return path


@pytest.fixture
def fake_provider():
    """A local OpenAI-compatible server (tests/fake_provider.py), stopped after the test."""
    import fake_provider as fp
    server = fp.start()
    yield server
    server.stop()
