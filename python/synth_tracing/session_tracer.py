"""SessionTracer (the original's ``synth_ai.tracing_v2.session_tracer``): sessions and
timesteps as (async) context managers, recording of events and messages, hooks, saving.

The current session, timestep and turn live in ``contextvars``: each asyncio task sees the
session it (or the task that created it) entered. Threads get them through ``current_context()``
and ``ContextHandle.attach()`` or ``wrap()``, like the C++ API's Context and ContextScope."""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import logging
import threading
import uuid
import weakref
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from . import _core
from .abstractions import (CAISEvent, EnvironmentEvent, LMCAISEvent, RuntimeEvent, SessionEvent,
                           SessionEventMessage, SessionMessage, SessionMetadum, SessionTimeStep, SessionTrace,
                           SystemEvent, TimeRecord)
from .utils import make_serializable, now_iso

logger = logging.getLogger(__name__)


# An exhausted iterator stays exhausted: one serves every await of _DONE.
_NOTHING_LEFT = iter(())


class _Done:
    """The awaitable returned when nothing is left to wait for (also fine never awaited)."""

    __slots__ = ()

    def __await__(self):
        return _NOTHING_LEFT


_DONE = _Done()


def _log_hook_error(hook: Any, method: str, exc: BaseException) -> None:
    logger.warning("synth_tracing: hook %s.%s raised %s: %s (recording goes on)", type(hook).__name__, method,
                   type(exc).__name__, exc)


async def _await_all(pending: List[tuple]) -> None:
    for hook, method, awaitable in pending:
        try:
            await awaitable
        except Exception as exc:  # a hook's failure never reaches the agent
            _log_hook_error(hook, method, exc)


def run_awaitable(awaitable: Any) -> Any:
    """From sync code: schedules ``awaitable`` on the running loop (returning the task), or runs it
    to completion on a private loop when this thread has none."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        return asyncio.ensure_future(awaitable)
    coroutine = awaitable
    if not inspect.iscoroutine(awaitable):
        async def wrapper():
            return await awaitable
        coroutine = wrapper()
    private = asyncio.new_event_loop()
    try:
        return private.run_until_complete(coroutine)
    finally:
        private.close()


class ContextHandle:
    """A tracer's position (session, timestep, turn) captured on one thread, to be attached on
    another: ``with handle.attach(): tracer.add_event(...)``."""

    __slots__ = ("_tracer", "_values")

    def __init__(self, tracer: "SessionTracer", values: tuple):
        self._tracer = tracer
        self._values = values

    @property
    def session_id(self) -> Optional[str]:
        session = self._values[0]
        return None if session is None else session.session_id

    def attach(self) -> "_Attached":
        return _Attached(self._tracer, self._values)


class _Attached:
    def __init__(self, tracer: "SessionTracer", values: tuple):
        self._tracer = tracer
        self._values = values
        self._tokens: Optional[list] = None

    def __enter__(self) -> None:
        self._tokens = [var.set(v) for var, v in zip(self._tracer._vars, self._values)]

    def __exit__(self, *exc) -> None:
        for var, token in zip(self._tracer._vars, self._tokens or []):
            var.reset(token)


class _SessionContext:
    """``start_session``'s result: an async (and sync) context manager yielding the SessionTrace."""

    def __init__(self, tracer: "SessionTracer", session_id: Optional[str], metadata: Optional[Dict[str, Any]]):
        self._tracer = tracer
        self._session_id = session_id
        self._metadata = metadata
        self._tokens: Optional[list] = None
        self._trace: Optional[SessionTrace] = None

    def _enter(self) -> Any:
        t = self._tracer
        session_id = self._session_id if self._session_id is not None else str(uuid.uuid4())
        metadata = self._metadata if self._metadata is not None else {}
        trace = SessionTrace(session_id=session_id, metadata=metadata)
        with t._lock:
            t._sessions[session_id] = trace
        self._trace = trace
        self._tokens = [t._session_var.set(trace), t._step_var.set(None), t._in_step_var.set(False),
                        t._turn_var.set(0)]
        return t._state_change("session_start", session_id=session_id, metadata=metadata)

    def _reset(self) -> None:
        t = self._tracer
        for var, token in zip(t._vars, self._tokens or []):
            var.reset(token)

    def _exit(self) -> None:
        try:
            if self._trace is not None:
                self._tracer._session_ended(self._trace)
        finally:
            self._reset()

    async def __aenter__(self) -> SessionTrace:
        pending = self._enter()
        await pending
        return self._trace

    async def __aexit__(self, *exc) -> None:
        self._exit()

    def __enter__(self) -> SessionTrace:
        self._enter_sync()
        return self._trace

    def _enter_sync(self) -> None:
        pending = self._enter()
        if pending is not _DONE:
            run_awaitable(pending)

    def __exit__(self, *exc) -> None:
        self._exit()


class _TimestepContext:
    """``timestep``'s result: an async (and sync) context manager yielding the SessionTimeStep."""

    def __init__(self, tracer: "SessionTracer", turn_number: int, step_metadata: Dict[str, Any]):
        self._tracer = tracer
        self._turn = turn_number
        self._step_metadata = step_metadata
        self._tokens: Optional[list] = None
        self._step: Optional[SessionTimeStep] = None

    def _enter(self) -> Any:
        t = self._tracer
        session = t.current_session
        if session is None:
            raise ValueError("Must start a session before creating timesteps")
        step = SessionTimeStep(step_id=self._turn, turn_number=self._turn, step_metadata=dict(self._step_metadata))
        session.add_timestep(step)
        self._step = step
        self._tokens = [t._step_var.set(step), t._in_step_var.set(True)]
        t._turn_var.set(self._turn)
        return t._state_change("timestep_start", turn_number=self._turn, session_id=session.session_id)

    def _exit(self) -> None:
        t = self._tracer
        t._step_var.reset(self._tokens[0])
        t._in_step_var.reset(self._tokens[1])

    async def __aenter__(self) -> SessionTimeStep:
        await self._enter()
        return self._step

    async def __aexit__(self, *exc) -> None:
        self._exit()

    def __enter__(self) -> SessionTimeStep:
        pending = self._enter()
        if pending is not _DONE:
            run_awaitable(pending)
        return self._step

    def __exit__(self, *exc) -> None:
        self._exit()


def _close_core(core: Any) -> None:
    try:
        core.close()
    except Exception as exc:  # at exit or collection: report, never raise
        logger.warning("synth_tracing: closing the tracer failed: %s", exc)


class SessionTracer:
    """Records sessions of an agent. Nothing is created up front: ``traces_dir`` appears on the
    first ``save_session``, and DuckDB opens only when ``duckdb_path`` is given.

    Each session that ends is handed to a C++ tracer (``_core.CoreTracer``) configured by
    ``synth_tracing.config.get_config()`` and the ``SYNTH_TRACING_*`` environment: it masks and
    prices it and stores it (DuckDB at ``duckdb_path``, JSON files in ``SYNTH_TRACING_SAVE_DIR``,
    the collector of ``SYNTH_TRACING_COLLECTOR``, OTLP export) on its own thread, so ending a
    session returns at once. ``flush()`` waits for that; ``close()`` and interpreter exit do too,
    within the configured shutdown timeout."""

    def __init__(self, traces_dir: Any = "traces", hooks: Optional[list] = None, duckdb_path: Any = None,
                 experiment_id: Optional[str] = None):
        self.traces_dir = Path(traces_dir)
        self.hooks: list = list(hooks) if hooks else []
        self.experiment_id = experiment_id
        self._sessions: Dict[str, SessionTrace] = {}
        self._lock = threading.Lock()
        tag = f"{id(self):x}"
        self._session_var: contextvars.ContextVar = contextvars.ContextVar(f"synth_session_{tag}", default=None)
        self._step_var: contextvars.ContextVar = contextvars.ContextVar(f"synth_step_{tag}", default=None)
        self._in_step_var: contextvars.ContextVar = contextvars.ContextVar(f"synth_in_step_{tag}", default=False)
        self._turn_var: contextvars.ContextVar = contextvars.ContextVar(f"synth_turn_{tag}", default=0)
        self._vars = (self._session_var, self._step_var, self._in_step_var, self._turn_var)
        self.db_manager = None
        from .config import get_config
        self._core_tracer = _core.CoreTracer(get_config().to_core(),
                                             None if duckdb_path is None else str(duckdb_path))
        # Closed (what is queued delivered, bounded) when this tracer is collected or at exit.
        self._finalizer = weakref.finalize(self, _close_core, self._core_tracer)
        if duckdb_path is not None:
            from .duckdb.manager import DuckDBTraceManager
            try:
                store = self._core_tracer.duckdb()
            except RuntimeError as exc:
                # The file is locked by another process or owned by a running synth-trace serve:
                # the sink still delivers (to <file>.pending/ or to that server), and says so.
                logger.warning("synth_tracing: %s is not open here (%s); db_manager is None", duckdb_path, exc)
            else:
                self.db_manager = DuckDBTraceManager._of_sink(store, str(duckdb_path), self._core_tracer.flush)

    # ---- the caller's position, per asyncio task / thread ----

    @property
    def current_session(self) -> Optional[SessionTrace]:
        return self._session_var.get()

    @current_session.setter
    def current_session(self, value: Optional[SessionTrace]) -> None:
        self._session_var.set(value)

    @property
    def current_timestep(self) -> Optional[SessionTimeStep]:
        return self._step_var.get()

    @current_timestep.setter
    def current_timestep(self, value: Optional[SessionTimeStep]) -> None:
        self._step_var.set(value)

    @property
    def in_timestep(self) -> bool:
        return self._in_step_var.get()

    @in_timestep.setter
    def in_timestep(self, value: bool) -> None:
        self._in_step_var.set(value)

    @property
    def current_turn(self) -> int:
        return self._turn_var.get()

    @current_turn.setter
    def current_turn(self, value: int) -> None:
        self._turn_var.set(value)

    def current_context(self) -> ContextHandle:
        """This task's / thread's position, to attach on another thread."""
        return ContextHandle(self, tuple(var.get() for var in self._vars))

    def wrap(self, fn: Callable) -> Callable:
        """``fn`` running in the current position wherever it is called (a worker thread, a pool)."""
        handle = self.current_context()

        def wrapped(*args, **kwargs):
            with handle.attach():
                return fn(*args, **kwargs)

        return wrapped

    # ---- sessions and timesteps ----

    def start_session(self, session_id: Optional[str] = None, metadata: Optional[Dict[str, Any]] = None):
        """``async with tracer.start_session(id, metadata) as trace:`` (or plain ``with``)."""
        return _SessionContext(self, session_id, metadata)

    def timestep(self, turn_number: int, **step_metadata):
        """``async with tracer.timestep(turn) as step:`` (or plain ``with``). Without a session:
        ValueError."""
        return _TimestepContext(self, turn_number, step_metadata)

    # ---- recording ----

    def _stamp(self, item: Any) -> None:
        if getattr(item, "time_record", None) is None:
            item.time_record = TimeRecord(event_time=now_iso(), message_time=self.current_turn)

    def add_event(self, event: SessionEvent):
        """Stores ``event`` in the open timestep and the event history, then runs the hooks'
        ``on_event``. Returns an awaitable (awaiting it waits for async hooks; not awaiting it is
        fine). Without a session: ValueError."""
        session = self._session_var.get()
        if session is None:
            raise ValueError("Must start a session before recording events")
        if getattr(event, "time_record", None) is None:
            event.time_record = TimeRecord(event_time=now_iso(), message_time=self._turn_var.get())
        hooks = self.hooks
        if not hooks:  # the common case, kept short: recording is on the agent's path
            step = self._step_var.get()
            if step is not None:
                step.events.append(event)
            session.event_history.append(event)
            return _DONE
        for hook in hooks:
            check = getattr(hook, "check", None)
            if check is None:
                continue
            try:
                result = check(event)
            except Exception as exc:
                _log_hook_error(hook, "check", exc)
                continue
            if result is not None:
                event.event_metadata.append(result)
        step = self.current_timestep
        if step is not None:
            step.events.append(event)
        session.event_history.append(event)
        return self._call_hooks("on_event", event, session.session_id)

    def add_message(self, message: SessionEventMessage):
        """Stores ``message`` in the open timestep (else the session's last one) and the message
        history, then runs the hooks' ``on_message``. Returns an awaitable, as add_event."""
        session = self.current_session
        if session is None:
            raise ValueError("Must start a session before recording messages")
        self._stamp(message)
        step = self.current_timestep
        if step is None and session.timesteps:
            step = session.timesteps[-1]
        if step is not None:
            step.messages.append(message)
        session.message_history.append(message)
        return self._call_hooks("on_message", message, session.session_id)

    def _call_hooks(self, method: str, *args: Any):
        pending = []
        for hook in self.hooks:
            fn = getattr(hook, method, None)
            if fn is None:
                continue
            try:
                result = fn(*args)
            except Exception as exc:
                _log_hook_error(hook, method, exc)
                continue
            if inspect.isawaitable(result):
                pending.append((hook, method, result))
        if not pending:
            return _DONE
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            run_awaitable(_await_all(pending))  # no loop on this thread: run them now
            return _DONE
        return loop.create_task(_await_all(pending))

    def _state_change(self, state_type: str, **kwargs: Any):
        pending = []
        for hook in self.hooks:
            fn = getattr(hook, "on_state_change", None)
            if fn is None:
                continue
            try:
                result = fn(self, state_type, **kwargs)
            except Exception as exc:
                _log_hook_error(hook, "on_state_change", exc)
                continue
            if inspect.isawaitable(result):
                pending.append((hook, "on_state_change", result))
        return _await_all(pending) if pending else _DONE

    def add_hook(self, hook: Any) -> None:
        self.hooks.append(hook)

    # ---- the original's synchronous API ----

    def record_event(self, event: SessionEvent) -> None:
        if self.current_timestep is None:
            raise ValueError("Must start a timestep before recording events")
        self.add_event(event)

    def record_message(self, message: SessionEventMessage) -> None:
        if self.current_timestep is None:
            raise ValueError("Must start a timestep before recording messages")
        self.add_message(message)

    def add_session_metadata(self, metadata_type: str, data: Dict[str, Any]) -> None:
        session = self.current_session
        if session is None:
            raise ValueError("Must start a session before adding metadata")
        session.add_metadata(SessionMetadum(metadata_type, data))

    # ---- delivery ----

    def _session_ended(self, trace: SessionTrace) -> None:
        core = self._core_tracer
        if core is None or not core.has_outlets:
            return
        try:
            core.submit(trace)  # converted here, stored on the C++ tracer's thread
        except Exception as exc:  # delivery trouble must not break the agent's code
            logger.warning("synth_tracing: handing session %s to the sinks failed: %s", trace.session_id, exc)

    def flush(self, timeout: float = 30.0) -> bool:
        """Waits up to ``timeout`` seconds until every ended session is stored (DuckDB, files,
        collector) and its spans exported; False on timeout."""
        core = self._core_tracer
        return True if core is None else core.flush(timeout)

    def stats(self) -> Dict[str, int]:
        """The C++ tracer's counters (sessions_ended, sessions_pending, sessions_dropped, ...)."""
        core = self._core_tracer
        return {} if core is None else core.stats()

    # ---- results ----

    def get_session_trace(self, session_id: str) -> Optional[SessionTrace]:
        """The trace of a session started by this tracer (also after it ended), or None."""
        return self._sessions.get(session_id)

    def save_trace(self, session_id: str, path: Any) -> Path:
        """Writes the session as JSON to ``path`` through the C++ writer: the original's keys
        (session_time_steps, step_messages, event_history, ...) plus ``event_type`` on every
        event, which the original's readers, the C++ library and ``synth-trace import`` read.
        Unknown id: KeyError."""
        trace = self._sessions.get(session_id)
        if trace is None:
            raise KeyError(f"no session {session_id!r} in this tracer (start it with start_session first)")
        path = Path(path)
        if path.parent and not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        _core.write_trace_file(trace, str(path), 2)
        return path

    def save_session(self, session_id: Optional[str] = None) -> Path:
        """Saves a session (default: the current one) as ``<traces_dir>/<id>.json``."""
        if session_id is None:
            session = self.current_session
            if session is None:
                raise ValueError("Must start a session before saving it")
            session_id = session.session_id
        return self.save_trace(session_id, self.traces_dir / f"{session_id}.json")

    def close(self) -> None:
        """Delivers the ended sessions (within the configured shutdown timeout) and stops the
        C++ tracer; the DuckDB file is released once nothing refers to it any more."""
        if self._core_tracer is not None:
            self._finalizer()
            self._core_tracer = None
        if self.db_manager is not None:
            self.db_manager.close()
            self.db_manager = None


__all__ = [
    "SessionTracer", "ContextHandle", "TimeRecord", "SessionMessage", "SessionEventMessage", "SessionEvent",
    "SystemEvent", "CAISEvent", "LMCAISEvent", "EnvironmentEvent", "RuntimeEvent", "SessionMetadum",
    "SessionTimeStep", "SessionTrace", "make_serializable",
]
