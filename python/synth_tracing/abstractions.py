"""The trace data model (the original's ``synth_ai.tracing_v2.abstractions``): plain mutable
Python objects that callers read, edit and compare. They are converted to the C++ model only
where the C++ core does the work (saving, storing, loading)."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Dict, List, Optional, Union

from .utils import make_serializable, now_iso


class _ToDict:
    """``to_dict()`` over the fields named in ``_dict_fields``, in that order."""

    _dict_fields: ClassVar[tuple] = ()

    def to_dict(self) -> Dict[str, Any]:
        return {name: make_serializable(getattr(self, name)) for name in self._dict_fields}


@dataclass(eq=True)
class TimeRecord(_ToDict):
    """When something happened: wall-clock ``event_time`` (an ISO string or a float epoch, kept as
    given) and logical ``message_time`` (the turn)."""

    event_time: Union[str, float, None] = None
    message_time: Optional[int] = None
    _dict_fields: ClassVar[tuple] = ("event_time", "message_time")


@dataclass(eq=True)
class SessionMessage(_ToDict):
    """Base of messages."""


@dataclass(eq=True, init=False)
class SessionEventMessage(SessionMessage):
    """A message between systems; ``content`` is any JSON-able value (by convention
    ``{"origin_system_id": ..., "payload": ...}``)."""

    content: Any
    message_type: str
    time_record: Optional[TimeRecord]
    timestamp: Optional[str]
    _dict_fields: ClassVar[tuple] = ("content", "timestamp", "message_type", "time_record")

    def __init__(self, content: Any, message_type: str = "unknown", time_record: Optional[TimeRecord] = None,
                 timestamp: Optional[str] = None):
        self.content = content
        self.message_type = message_type
        self.time_record = time_record
        self.timestamp = timestamp if timestamp is not None else now_iso()


@dataclass(eq=True, kw_only=True)
class SessionEvent(_ToDict):
    """Base of events: fields every event has."""

    time_record: Optional[TimeRecord] = None
    system_instance_id: str = ""
    system_state_before: Any = None
    system_state_after: Any = None
    metadata: Dict[str, Any] = field(default_factory=dict)
    event_metadata: List[Any] = field(default_factory=list)
    # The C++ model's event kind, used by the conversion.
    _kind: ClassVar[str] = "runtime"


@dataclass(eq=True, kw_only=True)
class SystemEvent(SessionEvent):
    """Base of the three event kinds."""


@dataclass(eq=True, kw_only=True)
class CAISEvent(SystemEvent):
    """An AI / LLM call: model, tokens, cost (USD), latency."""

    system_instance_id: str = "llm_agent"
    llm_call_records: List[Any] = field(default_factory=list)
    span_id: Optional[str] = None
    trace_id: Optional[str] = None
    model_name: Optional[str] = None
    provider: Optional[str] = None
    prompt_tokens: Optional[int] = None
    completion_tokens: Optional[int] = None
    total_tokens: Optional[int] = None
    cost: Optional[float] = None
    latency_ms: Optional[float] = None
    _kind: ClassVar[str] = "cais"
    _dict_fields: ClassVar[tuple] = (
        "time_record", "system_instance_id", "system_state_before", "system_state_after", "llm_call_records",
        "span_id", "trace_id", "model_name", "provider", "prompt_tokens", "completion_tokens", "total_tokens",
        "cost", "latency_ms", "metadata", "event_metadata")


#: The original's name for an LLM call event: the same class (one family).
LMCAISEvent = CAISEvent


@dataclass(eq=True, kw_only=True)
class EnvironmentEvent(SystemEvent):
    """A step of an environment: action, reward, termination."""

    system_instance_id: str = "environment"
    environment_name: Optional[str] = None
    state_before: Any = None
    state_after: Any = None
    action_taken: Any = None
    reward: Optional[float] = None
    terminated: Optional[bool] = None
    truncated: Optional[bool] = None
    observation_diff: Any = None
    _kind: ClassVar[str] = "environment"
    _dict_fields: ClassVar[tuple] = (
        "time_record", "system_instance_id", "system_state_before", "system_state_after", "environment_name",
        "state_before", "state_after", "action_taken", "reward", "terminated", "observation_diff", "metadata",
        "event_metadata")


@dataclass(eq=True, kw_only=True)
class RuntimeEvent(SystemEvent):
    """A runtime or tool operation. ``event_type`` is the user's label ("function_call", ...),
    never the JSON type tag."""

    system_instance_id: str = "runtime"
    event_type: Optional[str] = None
    function_name: Optional[str] = None
    duration_ms: Optional[float] = None
    success: Optional[bool] = None
    error_message: Optional[str] = None
    actions: Any = None
    _kind: ClassVar[str] = "runtime"
    _dict_fields: ClassVar[tuple] = (
        "time_record", "system_instance_id", "system_state_before", "system_state_after", "event_type",
        "function_name", "duration_ms", "success", "error_message", "actions", "metadata", "event_metadata")


@dataclass(eq=True, init=False)
class SessionMetadum(_ToDict):
    """A typed piece of session metadata."""

    metadata_type: str
    data: Dict[str, Any]
    timestamp: Optional[str]
    _dict_fields: ClassVar[tuple] = ("metadata_type", "data", "timestamp")

    def __init__(self, metadata_type: str, data: Optional[Dict[str, Any]] = None, timestamp: Optional[str] = None):
        self.metadata_type = metadata_type
        self.data = {} if data is None else data
        self.timestamp = timestamp if timestamp is not None else now_iso()


@dataclass(eq=True, init=False)
class SessionTimeStep(_ToDict):
    """One logical turn: its messages and events. ``step_messages`` is an alias of ``messages``."""

    step_id: Any
    turn_number: Any
    timestamp: Optional[str]
    step_metadata: Dict[str, Any]
    messages: List[SessionEventMessage]
    events: List[SessionEvent]
    _dict_fields: ClassVar[tuple] = ("step_id", "turn_number", "timestamp", "step_metadata", "messages", "events")

    def __init__(self, step_id: Any = None, turn_number: Any = None, timestamp: Optional[str] = None,
                 step_metadata: Optional[Dict[str, Any]] = None, messages: Optional[list] = None,
                 events: Optional[list] = None, step_messages: Optional[list] = None):
        self.step_id = step_id if step_id is not None else turn_number
        self.turn_number = turn_number if turn_number is not None else step_id
        self.timestamp = timestamp if timestamp is not None else now_iso()
        self.step_metadata = {} if step_metadata is None else step_metadata
        if messages is None:
            messages = step_messages
        self.messages = [] if messages is None else messages
        self.events = [] if events is None else events

    @property
    def step_messages(self) -> List[SessionEventMessage]:
        return self.messages

    @step_messages.setter
    def step_messages(self, value: List[SessionEventMessage]) -> None:
        self.messages = value

    def add_message(self, message: SessionEventMessage) -> None:
        self.messages.append(message)

    def add_event(self, event: SessionEvent) -> None:
        self.events.append(event)

    def to_original_dict(self) -> Dict[str, Any]:
        """The original's keys: ``{step_id, events, step_messages, timestamp, step_metadata}``."""
        return {"step_id": make_serializable(self.step_id), "events": make_serializable(self.events),
                "step_messages": make_serializable(self.messages), "timestamp": make_serializable(self.timestamp),
                "step_metadata": make_serializable(self.step_metadata)}


@dataclass(eq=True, init=False)
class SessionTrace(_ToDict):
    """Everything recorded in one session. ``session_time_steps`` is an alias of ``timesteps``;
    events and messages appear in their timestep and in the session-wide histories."""

    session_id: str
    metadata: Dict[str, Any]
    timesteps: List[SessionTimeStep]
    session_metadata: List[SessionMetadum]
    message_history: List[SessionEventMessage]
    event_history: List[SessionEvent]
    created_at: Optional[str]

    def __init__(self, session_id: str, metadata: Optional[Dict[str, Any]] = None,
                 timesteps: Optional[list] = None, session_metadata: Optional[list] = None,
                 message_history: Optional[list] = None, event_history: Optional[list] = None,
                 created_at: Optional[str] = None, session_time_steps: Optional[list] = None):
        self.session_id = session_id
        self.metadata = {} if metadata is None else metadata
        if timesteps is None:
            timesteps = session_time_steps
        self.timesteps = [] if timesteps is None else timesteps
        self.session_metadata = [] if session_metadata is None else session_metadata
        self.message_history = [] if message_history is None else message_history
        self.event_history = [] if event_history is None else event_history
        self.created_at = created_at if created_at is not None else now_iso()

    @property
    def session_time_steps(self) -> List[SessionTimeStep]:
        return self.timesteps

    @session_time_steps.setter
    def session_time_steps(self, value: List[SessionTimeStep]) -> None:
        self.timesteps = value

    def add_timestep(self, step: SessionTimeStep) -> None:
        self.timesteps.append(step)

    def add_metadata(self, entry: SessionMetadum) -> None:
        self.session_metadata.append(entry)

    def add_message(self, message: SessionEventMessage) -> None:
        self.message_history.append(message)

    def add_event(self, event: SessionEvent) -> None:
        self.event_history.append(event)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "session_id": self.session_id,
            "metadata": make_serializable(self.metadata),
            "timesteps": make_serializable(self.timesteps),
            "session_time_steps": [s.to_original_dict() for s in self.timesteps],
            "session_metadata": make_serializable(self.session_metadata),
            "message_history": make_serializable(self.message_history),
            "event_history": make_serializable(self.event_history),
            "created_at": make_serializable(self.created_at),
        }

    @classmethod
    def from_json(cls, text: str) -> "SessionTrace":
        """Reads trace JSON (ours, the original's, the C++ library's) through the C++ reader.
        Malformed JSON raises ValueError naming the position."""
        from . import _core
        return from_core(_core.trace_from_json(text))

    @classmethod
    def load(cls, path) -> "SessionTrace":
        """Reads a trace file written by ``SessionTracer.save_trace``, the C++ library or the original."""
        from . import _core
        return from_core(_core.read_trace_file(str(path)))


# ---- from the C++ model (dicts made by _core) back to these classes ----

_EXTRA = {
    "environment": ("environment_name", "state_before", "state_after", "action_taken"),
    "runtime": ("event_type", "function_name", "duration_ms", "success", "error_message"),
    "cais": (),
}
_KINDS = {"cais": CAISEvent, "environment": EnvironmentEvent, "runtime": RuntimeEvent}
# C++-only fields of LLM calls, kept in metadata when they have a value.
_CAIS_CPP_ONLY = ("cached_tokens", "cache_write_tokens", "reasoning_tokens")


def _time_record(d: Optional[dict]) -> Optional[TimeRecord]:
    return None if d is None else TimeRecord(event_time=d["event_time"], message_time=d["message_time"])


def _event(d: dict) -> SessionEvent:
    kind = d.pop("_kind")
    d["time_record"] = _time_record(d["time_record"])
    metadata = d.get("metadata")
    if isinstance(metadata, dict):
        # The Python-only fields travel in the C++ event's metadata (see python/src/convert.hpp).
        for name in _EXTRA[kind]:
            if name in metadata:
                d[name] = metadata.pop(name)
    if kind == "cais":
        for name in _CAIS_CPP_ONLY:
            value = d.pop(name)
            if value is not None and isinstance(metadata, dict):
                metadata[name] = value
    if metadata is None:
        d["metadata"] = {}
    return _KINDS[kind](**d)


def _message(d: dict) -> SessionEventMessage:
    return SessionEventMessage(content=d["content"], message_type=d["message_type"],
                               time_record=_time_record(d["time_record"]), timestamp=d["timestamp"])


def _step_id(step_id: str, turn: int) -> Any:
    # timestep(turn) makes the step id the int turn; the C++ model keeps ids as text.
    return turn if step_id == str(turn) else step_id


def _maker(cls: type) -> Any:
    """A constructor of the dataclass ``cls`` for the decorators' recording path:
    ``make(values)`` is equal to ``cls(**values)`` (every field, defaults and fresh containers
    included, in field order) for field names in ``values``, without the generated
    ``__init__``'s per-argument work (a fifth of an event's cost; not worth it for small classes)."""
    template: Dict[str, Any] = {}
    factories = []
    for f in fields(cls):
        if f.default_factory is not MISSING:
            factories.append((f.name, f.default_factory))
            template[f.name] = None
        else:
            template[f.name] = None if f.default is MISSING else f.default
    new = object.__new__

    def make(values: Dict[str, Any]) -> Any:
        obj = new(cls)
        d = template.copy()
        for name, factory in factories:
            d[name] = factory()
        d.update(values)
        obj.__dict__ = d
        return obj

    return make


def from_core(d: dict) -> SessionTrace:
    """A SessionTrace built from a dict of the C++ core (``_core.trace_from_json``, DuckDB loads)."""
    steps = [
        SessionTimeStep(step_id=_step_id(s["step_id"], s["turn_number"]), turn_number=s["turn_number"],
                        timestamp=s["timestamp"], step_metadata=s["step_metadata"] or {},
                        messages=[_message(m) for m in s["messages"]], events=[_event(e) for e in s["events"]])
        for s in d["timesteps"]
    ]
    return SessionTrace(
        session_id=d["session_id"], metadata=d["metadata"], timesteps=steps,
        session_metadata=[SessionMetadum(m["metadata_type"], m["data"], m["timestamp"]) for m in d["session_metadata"]],
        message_history=[_message(m) for m in d["message_history"]],
        event_history=[_event(e) for e in d["event_history"]], created_at=d["created_at"])


__all__ = [
    "TimeRecord", "SessionMessage", "SessionEventMessage", "SessionEvent", "SystemEvent", "CAISEvent",
    "LMCAISEvent", "EnvironmentEvent", "RuntimeEvent", "SessionMetadum", "SessionTimeStep", "SessionTrace",
    "make_serializable", "from_core",
]
