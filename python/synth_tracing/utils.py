"""Helpers shared by the package (the original's ``synth_ai.tracing_v2.utils``)."""

from __future__ import annotations

import datetime as _dt
import time as _time
import uuid as _uuid
from typing import Any

from . import _core


def make_serializable(obj: Any) -> Any:
    """``obj`` as JSON-able values. First match wins: an object with ``to_dict()`` -> its result
    (converted too); UUID -> ``str``; date/time -> ``isoformat()``; bytes -> UTF-8 text (bad bytes
    dropped); dict/list/tuple -> converted recursively (tuple -> list); JSON scalars unchanged;
    anything else -> ``str(obj)``."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return make_serializable(obj.to_dict())
    if isinstance(obj, _uuid.UUID):
        return str(obj)
    if isinstance(obj, (_dt.datetime, _dt.date, _dt.time)):
        return obj.isoformat()
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="ignore")
    if isinstance(obj, dict):
        return {(k if isinstance(k, str) else str(k)): make_serializable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [make_serializable(v) for v in obj]
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


# The C++ conversion calls this for values that are not plain JSON.
_core.set_serializer(make_serializable)


# (second, its local-time ISO text): the local-time conversion is most of datetime.now()'s cost
# and changes once a second. Replaced whole, so threads never see half an update.
_iso_second = [(-1, "")]


def now_iso(_clock=_time.time, _int=int, _cache=_iso_second) -> str:
    """The current local time as ``datetime.now().isoformat()`` (the original's timestamps), with
    the conversion of the second cached."""
    t = _clock()
    second = _int(t)
    cached = _cache[0]
    if cached[0] != second:
        cached = (second, _dt.datetime.fromtimestamp(second).isoformat())
        _cache[0] = cached
    micro = _int((t - second) * 1e6)
    return "%s.%06d" % (cached[1], micro) if micro else cached[1]


__all__ = ["make_serializable", "now_iso"]
