"""LM (the original's ``synth_ai.lm.core.main_v2.LM``): chat with OpenAI, Anthropic, Gemini or any
OpenAI-compatible server through the C++ LM client, each call traced as one CAISEvent of the
current session.

The C++ client does the HTTP work with the GIL released (``agenerate`` and ``astream`` run it on a
worker thread, so the event loop keeps going). The event is the one the C++ library records
(model, provider, tokens, cost, latency, the request and the answer; ``metadata["error"]`` on a
failure); it goes to the tracer's ``add_event``, after which an error is raised again.

The server: ``base_url=`` or, for the provider's public endpoint, its ``<NAME>_BASE_URL``
variable (``OPENAI_BASE_URL``, ``ANTHROPIC_BASE_URL``, ...); the key: ``api_key=`` or the
provider's variable (``OPENAI_API_KEY``, ...). Construction never touches the network."""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import os
import random
import threading
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Dict, List, Optional

from . import _core
from .abstractions import CAISEvent, TimeRecord, _event
from .config import get_config
from .decorators import get_session_tracer, get_system_id, get_turn_number, set_session_tracer
from .session_tracer import _DONE, run_awaitable

logger = logging.getLogger(__name__)


class LMError(RuntimeError):
    """A failed LM call; ``provider`` and the HTTP ``status`` (0 when there was no answer). The
    message is the provider's own explanation, with credentials masked."""

    def __init__(self, message: str, provider: str = "", status: int = 0):
        super().__init__(message)
        self.provider = provider
        self.status = status


class LMAuthenticationError(LMError):
    """401/403, or no API key to send (set the provider's variable, e.g. OPENAI_API_KEY)."""


class LMRateLimitError(LMError):
    """429 still after the retries."""


class LMBadRequestError(LMError):
    """A request the server refused (400, 404, 422, ...)."""


class LMServerError(LMError):
    """5xx still after the retries."""


class LMTimeoutError(LMError):
    """No complete answer within the timeout, still after the retries."""


class LMConnectionError(LMError):
    """The server could not be reached, still after the retries."""


class LMResponseError(LMError):
    """An answer that is not what the provider's format says."""


_ERRORS = {cls.__name__: cls for cls in (LMError, LMAuthenticationError, LMRateLimitError, LMBadRequestError,
                                          LMServerError, LMTimeoutError, LMConnectionError, LMResponseError)}


@dataclass
class LMResponse:
    """What the model answered. ``raw_response`` is ``text`` (the original's name); ``usage`` is
    a dict of token counts (None when the provider reported none); ``raw`` is everything the C++
    client returned."""

    text: str = ""
    model: str = ""
    finish_reason: str = ""
    usage: Optional[Dict[str, int]] = None
    tool_calls: List[Dict[str, str]] = field(default_factory=list)
    cost: Optional[float] = None
    provider: str = ""
    latency_ms: float = 0.0
    response_id: str = ""
    raw: Dict[str, Any] = field(default_factory=dict)

    @property
    def raw_response(self) -> str:
        return self.text

    @property
    def structured_output(self) -> Any:
        return None


@dataclass
class LMChunk:
    """A piece of streamed text."""

    text: str = ""


class _StreamClosed(Exception):
    """Raised into the C++ stream when its consumer stopped iterating."""


def _default_provider(model: Optional[str]) -> str:
    env = os.environ.get("SYNTH_AI_DEFAULT_PROVIDER")
    if env:
        return env
    return "anthropic" if model and "claude" in model.lower() else "openai"


class LM:
    """A language model client with V2 tracing. ``model``, ``temperature``, ``max_tokens``,
    ``provider``, ``_session_tracer``, ``_system_id`` and ``_enable_v2_tracing`` may be assigned
    at any time. Legacy keyword arguments of the original (``synth_logging``,
    ``formatting_model_name``, ...) are accepted and ignored."""

    def __init__(self, model: Optional[str] = None, provider: Optional[str] = None,
                 temperature: Optional[float] = None, max_tokens: Optional[int] = None, session_tracer: Any = None,
                 system_id: Optional[str] = None, enable_v2_tracing: bool = True, *, base_url: Optional[str] = None,
                 api_key: Optional[str] = None, timeout: float = 60.0, max_retries: int = 2, **legacy: Any):
        if model is None:
            model = legacy.pop("model_name", None)
        if not model:
            raise ValueError("LM needs a model: LM(model=\"gpt-4o-mini\", ...)")
        self.model = model
        self.provider = provider if provider else _default_provider(model)
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.base_url = base_url
        self.api_key = api_key
        self.timeout = timeout
        self.max_retries = max_retries
        self._session_tracer = session_tracer
        self._system_id = system_id
        self._enable_v2_tracing = enable_v2_tracing
        self._legacy = legacy
        self._clients: Dict[tuple, Any] = {}
        self._clients_lock = threading.Lock()
        if session_tracer is not None:
            set_session_tracer(session_tracer)

    @property
    def model_name(self) -> str:
        return self.model

    @model_name.setter
    def model_name(self, value: str) -> None:
        self.model = value

    # ---- the C++ client ----

    def _get_client(self) -> Any:
        """The C++ client for the current settings (made on first use, kept per settings);
        creating one sends nothing."""
        config = get_config()
        key = (self.model, self.provider, self.base_url or "", self.api_key or "", float(self.timeout),
               int(self.max_retries), id(config))
        with self._clients_lock:
            client = self._clients.get(key)
            if client is None:
                client = _core.LMClient(self.model, self.provider or "", self.base_url or "", self.api_key or "",
                                        float(self.timeout), int(self.max_retries), "", config.to_core())
                self._clients[key] = client
        return client

    # ---- tracing ----

    def _tracer(self) -> Any:
        """The tracer this call records into, or None when it records nothing."""
        if not self._enable_v2_tracing:
            return None
        config = get_config()
        if not config.enabled or not config.emit_events:
            return None
        if config.sampling_rate < 1.0 and random.random() >= config.sampling_rate:
            return None
        tracer = self._session_tracer if self._session_tracer is not None else get_session_tracer()
        if tracer is None or getattr(tracer, "current_session", None) is None:
            return None
        return tracer

    def _turn(self, tracer: Any, turn_number: Optional[int]) -> int:
        if turn_number is not None:
            return int(turn_number)
        turn = get_turn_number()
        if turn is None:
            turn = getattr(tracer, "current_turn", None)
        return int(turn) if isinstance(turn, int) else 0

    def _event(self, out: Dict[str, Any], turn: int) -> Optional[CAISEvent]:
        d = out.get("event")
        if d is None:
            return None
        event = _event(dict(d))
        event.system_instance_id = self._system_id or get_system_id() or f"lm_{self.model}"
        event_time = event.time_record.event_time if event.time_record is not None else None
        event.time_record = TimeRecord(event_time=event_time, message_time=turn)
        return event

    @staticmethod
    def _add(tracer: Any, event: CAISEvent) -> Any:
        """tracer.add_event(event); the awaitable it may return (or None)."""
        try:
            result = tracer.add_event(event)
        except Exception as exc:  # tracing never breaks the call
            logger.warning("synth_tracing: recording the LM call failed: %s", exc)
            return None
        return result if result is not _DONE and inspect.isawaitable(result) else None

    @staticmethod
    def _result(out: Dict[str, Any]) -> LMResponse:
        error = out.get("error")
        if error is not None:
            kind, message, provider, status = error
            raise _ERRORS.get(kind, LMError)(message, provider, status)
        raised = out.get("callback_error")
        if raised is not None:
            raise raised
        r = out["response"]
        return LMResponse(text=r["text"], model=r["model"], finish_reason=r["finish_reason"], usage=r["usage"],
                          tool_calls=r["tool_calls"], cost=r["cost"], provider=r["provider"],
                          latency_ms=r["latency_ms"], response_id=r["response_id"], raw=r)

    def _prepare(self, kw: Dict[str, Any]):
        temperature = kw.pop("temperature", None)
        max_tokens = kw.pop("max_tokens", None)
        turn_number = kw.pop("turn_number", None)
        tracer = self._tracer()
        call = functools.partial(
            self._get_client().call,
            temperature=self.temperature if temperature is None else temperature,
            max_tokens=self.max_tokens if max_tokens is None else max_tokens,
            record=tracer is not None, turn=self._turn(tracer, turn_number) if tracer is not None else 0)
        return tracer, call

    # ---- calls ----

    def generate(self, prompt: Any, **kw: Any) -> LMResponse:
        """One call, blocking (the GIL released while it waits). ``prompt``: a string or a list of
        ``{"role", "content"}`` messages; ``kw``: ``temperature``, ``max_tokens``, ``turn_number``."""
        tracer, call = self._prepare(kw)
        out = call(prompt)
        if tracer is not None:
            event = self._event(out, call.keywords["turn"])
            if event is not None:
                pending = self._add(tracer, event)
                if pending is not None:
                    run_awaitable(pending)
        return self._result(out)

    async def agenerate(self, prompt: Any, **kw: Any) -> LMResponse:
        """``generate`` on a worker thread, awaited: the event loop runs on during the call."""
        tracer, call = self._prepare(kw)
        out = await asyncio.get_running_loop().run_in_executor(None, call, prompt)
        if tracer is not None:
            event = self._event(out, call.keywords["turn"])
            if event is not None:
                pending = self._add(tracer, event)
                if pending is not None:
                    await pending
        return self._result(out)

    async def astream(self, prompt: Any, **kw: Any) -> AsyncIterator[LMChunk]:
        """``async for chunk in lm.astream(prompt):`` the answer's text as it arrives. The call's
        event is recorded when the stream ends (also when the consumer stops early)."""
        tracer, call = self._prepare(kw)
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue = asyncio.Queue()
        stop = threading.Event()
        end = object()

        def on_text(text: str) -> None:
            if stop.is_set():
                raise _StreamClosed()
            loop.call_soon_threadsafe(queue.put_nowait, text)

        future = loop.run_in_executor(None, functools.partial(call, prompt, on_text=on_text))
        future.add_done_callback(lambda _: queue.put_nowait(end))
        finished = False
        try:
            while True:
                item = await queue.get()
                if item is end:
                    break
                yield LMChunk(text=item)
            finished = True
        finally:
            if not finished:
                stop.set()
            out = await future
            if tracer is not None:
                event = self._event(out, call.keywords["turn"])
                if event is not None:
                    pending = self._add(tracer, event)
                    if pending is not None:
                        await pending
        if isinstance(out.get("callback_error"), _StreamClosed):
            return
        self._result(out)  # raises the call's error, if any

    # ---- the original's respond_* ----

    @staticmethod
    def _messages(system_message: Optional[str], user_message: Optional[str],
                  messages: Optional[List[Dict[str, Any]]]) -> List[Dict[str, Any]]:
        if messages is not None:
            return list(messages)
        out = []
        if system_message:
            out.append({"role": "system", "content": system_message})
        if user_message is not None:
            out.append({"role": "user", "content": user_message})
        if not out:
            raise ValueError("respond needs messages=, or system_message= and user_message=")
        return out

    async def respond_async(self, system_message: Optional[str] = None, user_message: Optional[str] = None,
                            messages: Optional[List[Dict[str, Any]]] = None, **kw: Any) -> LMResponse:
        return await self.agenerate(self._messages(system_message, user_message, messages), **kw)

    def respond_sync(self, system_message: Optional[str] = None, user_message: Optional[str] = None,
                     messages: Optional[List[Dict[str, Any]]] = None, **kw: Any) -> LMResponse:
        return self.generate(self._messages(system_message, user_message, messages), **kw)


__all__ = [
    "LM", "LMResponse", "LMChunk", "LMError", "LMAuthenticationError", "LMRateLimitError", "LMBadRequestError",
    "LMServerError", "LMTimeoutError", "LMConnectionError", "LMResponseError", "get_config",
]
