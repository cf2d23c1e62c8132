"""Hooks run by SessionTracer (the original's ``synth_ai.tracing_v2.hooks``). Methods may be
sync or async; awaitable results are awaited."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from .utils import make_serializable


@dataclass
class HookResult:
    """What a hook's ``check`` adds to an event's ``event_metadata``."""

    hook_name: str = ""
    description: str = ""
    data: Dict[str, Any] = field(default_factory=dict)
    timestamp: Optional[str] = None
    code: str = "?"
    priority: int = 0

    def to_dict(self) -> Dict[str, Any]:
        return {"hook_name": self.hook_name, "description": self.description, "data": make_serializable(self.data),
                "timestamp": self.timestamp, "code": self.code, "priority": self.priority}


#: The original's other name.
HookMetadataResult = HookResult


class TraceHook:
    """Base hook: every method does nothing."""

    async def on_event(self, event, session_id: str) -> None:
        """After an event was stored."""

    async def on_message(self, message, session_id: str) -> None:
        """After a message was stored."""

    def check(self, event) -> Optional[HookResult]:
        """Before an event is stored; a result is appended to its ``event_metadata``."""
        return None


class TraceStateHook(TraceHook):
    """A hook that also sees state changes ("session_start", "timestep_start") and compares an
    event's states."""

    async def on_state_change(self, tracer, state_type: str, **kwargs) -> None:
        """Awaited before the body of ``start_session`` / ``timestep`` runs."""

    def analyze_state(self, state_before, state_after, event) -> Optional[HookResult]:
        return None

    def check(self, event) -> Optional[HookResult]:
        return self.analyze_state(getattr(event, "system_state_before", None),
                                  getattr(event, "system_state_after", None), event)


__all__ = ["HookResult", "HookMetadataResult", "TraceHook", "TraceStateHook"]
