"""DuckDBTraceManager (the original's ``synth_ai.tracing_v2.duckdb.manager``) on the C++ trace
store: the original's schema, bound parameters, the GIL released while DuckDB works. Query
results are pandas DataFrames when pandas imports, else lists of row dicts."""

from __future__ import annotations

import logging
from typing import Any, Callable, Iterable, List, Optional

from .. import _core
from ..abstractions import SessionTrace, from_core

logger = logging.getLogger(__name__)

try:
    import pandas as _pd
except ImportError:  # results become lists of dicts
    _pd = None

#: SQL errors and unusable database files (a RuntimeError).
StorageError = _core.StorageError


def _frame(result: tuple) -> Any:
    columns, _types, rows = result
    if _pd is not None:
        return _pd.DataFrame(rows, columns=columns)
    return [dict(zip(columns, row)) for row in rows]


class _Result:
    """What ``conn.execute`` returns: ``.df()``, ``.fetchall()``, ``.fetchone()``."""

    def __init__(self, result: tuple):
        self._result = result
        self._next = 0

    def df(self) -> Any:
        return _frame(self._result)

    def fetchall(self) -> List[tuple]:
        rows = [tuple(r) for r in self._result[2][self._next:]]
        self._next = len(self._result[2])
        return rows

    def fetchone(self) -> Optional[tuple]:
        rows = self._result[2]
        if self._next >= len(rows):
            return None
        self._next += 1
        return tuple(rows[self._next - 1])

    @property
    def description(self) -> List[tuple]:
        return [(name, type_name) for name, type_name in zip(self._result[0], self._result[1])]


class _Connection:
    """The manager's connection, as the original exposed it (``manager.conn.execute``)."""

    def __init__(self, core: Any):
        self._core = core

    def execute(self, sql: str, params: Optional[Iterable[Any]] = None) -> _Result:
        return _Result(self._core.query(sql, None if params is None else list(params)))


class _FlushingCore:
    """The store of a SessionTracer's DuckDB sink: every call first waits (bounded) for the
    sessions already ended to be written, so that reading right after a session ends sees it, as
    with the original's synchronous store."""

    __slots__ = ("_core", "_flush")

    def __init__(self, core: Any, flush: Callable[[], Any]):
        self._core = core
        self._flush = flush

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._core, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            self._flush()
            return method(*args, **kwargs)

        return call


class DuckDBTraceManager:
    """Stores traces in a DuckDB file (created with its schema when missing; an existing empty
    file, as ``tempfile.NamedTemporaryFile`` leaves, counts as new)."""

    def __init__(self, db_path: Any = "traces.duckdb", read_only: bool = False):
        self.db_path = str(db_path)
        self._core = _core.CoreDuckDB(self.db_path, read_only)
        self.conn = _Connection(self._core)

    @classmethod
    def _of_sink(cls, core: Any, db_path: str, flush: Callable[[], Any]) -> "DuckDBTraceManager":
        """The manager of a SessionTracer's DuckDB sink (one connection per file and process)."""
        manager = cls.__new__(cls)
        manager.db_path = db_path
        manager._core = _FlushingCore(core, flush)
        manager.conn = _Connection(manager._core)
        return manager

    def insert_session_trace(self, trace: SessionTrace) -> bool:
        """Stores a session (keyed by ``trace.session_id``); an id already stored is skipped with
        a warning and False returned."""
        inserted = self._core.insert_trace(trace)
        if not inserted:
            logger.warning("synth_tracing: session %s is already stored in %s; skipped", trace.session_id,
                           self.db_path)
        return inserted

    insert_trace = insert_session_trace

    def batch_upload(self, traces: Iterable[SessionTrace], batch_size: int = 1000) -> int:
        """Stores many sessions, one transaction per ``batch_size``; returns how many were new."""
        inserted, _skipped = self._core.insert_traces(list(traces), batch_size)
        return inserted

    def load_session_trace(self, session_id: str) -> Optional[SessionTrace]:
        """A stored session rebuilt as a SessionTrace, or None."""
        d = self._core.load_trace(session_id)
        return None if d is None else from_core(d)

    def session_ids(self) -> List[str]:
        return self._core.session_ids()

    def query_traces(self, sql: str, params: Optional[Iterable[Any]] = None) -> Any:
        """Runs SQL with ``?`` / ``$1`` placeholders bound to ``params``."""
        return _frame(self._core.query(sql, None if params is None else list(params)))

    def query_messages(self, session_ids: Optional[List[str]] = None,
                       message_types: Optional[List[str]] = None) -> Any:
        return _frame(self._core.query_messages(list(session_ids or []), list(message_types or [])))

    def get_model_usage(self, start_date: Any = None, end_date: Any = None) -> Any:
        def text(d):
            return None if d is None else (d.isoformat() if hasattr(d, "isoformat") else str(d))
        return _frame(self._core.get_model_usage(text(start_date), text(end_date)))

    def get_expensive_calls(self, threshold: float) -> Any:
        return _frame(self._core.get_expensive_calls(float(threshold)))

    def get_session_summary(self, session_id: Optional[str] = None) -> Any:
        return _frame(self._core.get_session_summary(session_id))

    def export_to_parquet(self, directory: Any) -> None:
        self._core.export_to_parquet(str(directory))

    # ---- experiments ----

    def create_system(self, system_id: str, name: str, description: str = "") -> None:
        self._core.create_system(system_id, name, description)

    def create_system_version(self, version_id: str, system_id: str, branch: str = "", commit: str = "",
                              description: str = "") -> None:
        self._core.create_system_version(version_id, system_id, branch, commit, description)

    def create_experiment(self, experiment_id: str, name: str, description: str = "", systems=None) -> None:
        self._core.create_experiment(experiment_id, name, description, list(systems or []))

    def link_session_to_experiment(self, session_id: str, experiment_id: str) -> None:
        self._core.link_session_to_experiment(session_id, experiment_id)

    def get_experiment_sessions(self, experiment_id: str) -> Any:
        return _frame(self._core.get_experiment_sessions(experiment_id))

    def get_experiments_by_system_version(self, version_id: str) -> Any:
        return _frame(self._core.get_experiments_by_system_version(version_id))

    def close(self) -> None:
        """Closes the database file (other processes may open it afterwards)."""
        self._core = None
        self.conn = None

    def __enter__(self) -> "DuckDBTraceManager":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


__all__ = ["DuckDBTraceManager", "StorageError"]
