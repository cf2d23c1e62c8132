"""Decorators recording calls as events of the current session (the original's
``synth_ai.tracing_v2.decorators``): ``@ai_call``, ``@environment_step``, ``@runtime_operation``,
``@function_call``, ``@trace_span``, on sync and async functions and methods. Results and
exceptions pass through unchanged; a tracing failure is logged, never raised into the caller."""

from __future__ import annotations

import functools
import inspect
import logging
import random
import threading
from time import perf_counter
from contextvars import ContextVar
from typing import Any, Callable, Dict, Optional

from . import _core
from .abstractions import CAISEvent, EnvironmentEvent, RuntimeEvent, TimeRecord, _maker
from .config import BUILTIN_PII_NAMES, detect_provider, get_config
from .session_tracer import _DONE, run_awaitable
from .utils import now_iso

logger = logging.getLogger(__name__)

_session_tracer_ctx: ContextVar = ContextVar("synth_session_tracer", default=None)
_system_id_ctx: ContextVar = ContextVar("synth_system_id", default=None)
_turn_number_ctx: ContextVar = ContextVar("synth_turn_number", default=None)
# Plain worker threads (no copied context) still find the tracer.
_process_tracer: Dict[str, Any] = {"tracer": None}
_process_lock = threading.Lock()


def set_session_tracer(tracer: Any) -> None:
    """The tracer decorated calls record into, for this context and as the process-wide fallback;
    None clears both."""
    _session_tracer_ctx.set(tracer)
    with _process_lock:
        _process_tracer["tracer"] = tracer


def get_session_tracer() -> Any:
    tracer = _session_tracer_ctx.get()
    return tracer if tracer is not None else _process_tracer["tracer"]


#: The original's names.
set_active_session_tracer = set_session_tracer
get_active_session_tracer = get_session_tracer


def set_system_id(system_id: Optional[str]) -> None:
    _system_id_ctx.set(system_id)


def get_system_id() -> Optional[str]:
    return _system_id_ctx.get()


def set_turn_number(turn: Optional[int]) -> None:
    _turn_number_ctx.set(turn)


def get_turn_number() -> Optional[int]:
    return _turn_number_ctx.get()


# ---- cost and PII, from the C++ core ----

def calculate_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for a call, from the C++ pricing table; 0.0 for an unknown model."""
    cost = _core.calculate_cost(model or "", int(prompt_tokens or 0), int(completion_tokens or 0))
    return 0.0 if cost is None else cost


_builtin_calculate_cost = calculate_cost

_maskers: Dict[str, Any] = {}


def mask_pii(text: Any, patterns: Optional[Dict[str, Any]] = None) -> Any:
    """``text`` with SSNs, card numbers, emails and phone numbers replaced by [SSN],
    [CREDIT_CARD], [EMAIL], [PHONE] (C++ detectors, Luhn-checked cards), then matches of custom
    patterns (name -> regex) by [<NAME>]. Non-strings pass through."""
    if not isinstance(text, str):
        return text
    masker = _maskers.get("builtin")
    if masker is None:
        masker = _maskers["builtin"] = _core.PiiMasker()
    out = masker.mask(text)
    if patterns is None:
        patterns = get_config().pii_patterns
    for name, pattern in patterns.items():
        # The C++ pass did the built-ins; the Python phone pattern adds the short forms.
        if name in BUILTIN_PII_NAMES and name != "phone":
            continue
        regex = pattern if hasattr(pattern, "sub") else __import__("re").compile(pattern)
        out = regex.sub(f"[{name.upper()}]", out)
    return out


# ---- recording ----

def _should_trace(v2_only: bool, otel_only: bool) -> bool:
    config = get_config()
    if not config.enabled:
        return False
    if config.sampling_rate < 1.0 and random.random() >= config.sampling_rate:
        return False
    return True


def _recording_tracer() -> Any:
    """The tracer a decorated call records into now, or None (events off, no tracer, no session):
    checked before the event is built, so that calls outside sessions cost no event."""
    config = get_config()
    if not config.emit_events:
        return None
    tracer = _session_tracer_ctx.get()
    if tracer is None:
        tracer = _process_tracer["tracer"]
        if tracer is None:
            return None
    if getattr(tracer, "current_session", None) is None:
        return None
    return tracer


def _emit(tracer: Any, event: Any, is_async: bool) -> Any:
    """Hands ``event`` to ``tracer``; returns an awaitable for async wrappers (or None)."""
    try:
        result = tracer.add_event(event)
        if result is not _DONE and inspect.isawaitable(result):  # _DONE: nothing left to wait for
            if is_async:
                return result
            run_awaitable(result)
    except Exception as exc:  # tracing never breaks the traced call
        logger.warning("synth_tracing: recording %s failed: %s", type(event).__name__, exc)
    return None


_new_cais = _maker(CAISEvent)
_new_environment = _maker(EnvironmentEvent)
_new_runtime = _maker(RuntimeEvent)


def _time_record() -> TimeRecord:
    turn = _turn_number_ctx.get()
    return TimeRecord(now_iso(), 0 if turn is None else turn)


def _get(obj: Any, key: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(key)
    return getattr(obj, key, None)


def _bound_arg(fn: Callable, args: tuple, kwargs: dict, name: str) -> Any:
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        bound.apply_defaults()
        return bound.arguments.get(name)
    except (TypeError, ValueError):
        return kwargs.get(name)


def _error_metadata(error: Optional[BaseException]) -> Dict[str, Any]:
    return {} if error is None else {"error": str(error), "error_type": type(error).__name__}


_providers: Dict[str, Optional[str]] = {}
# model -> (input, output) USD per million tokens, or None: looked up in C++ once per model.
_prices: Dict[str, Any] = {}


def _cost_of(model: str, prompt: Any, completion: Any) -> float:
    """calculate_cost(), with the model's price looked up once: the same arithmetic as the C++
    pricing (tokens below 0 count as 0), without crossing into C++ per call."""
    price = _prices.get(model, _prices)
    if price is _prices:
        if len(_prices) > 4096:  # models are few; a bound all the same
            _prices.clear()
        price = _prices[model] = _core.model_price(model)
    if price is None:
        return 0.0
    prompt = int(prompt or 0)
    completion = int(completion or 0)
    return (max(prompt, 0) * price[0] + max(completion, 0) * price[1]) / 1e6


def _provider_of(model: str) -> Optional[str]:
    provider = _providers.get(model, _providers)
    if provider is _providers:
        if len(_providers) > 4096:  # models are few; a bound all the same
            _providers.clear()
        provider = _providers[model] = detect_provider(model)
    return provider


def _ai_event(fn, args, kwargs, result, error, latency_ms) -> CAISEvent:
    if type(result) is dict:  # the common shape, read without the generic helper
        model = result.get("model")
        usage = result.get("usage")
    else:
        model = _get(result, "model") if result is not None else None
        usage = _get(result, "usage") if result is not None else None
    if model is None:
        model = _bound_arg(fn, args, kwargs, "model")
    prompt = completion = total = None
    if usage is not None:
        get = usage.get if isinstance(usage, dict) else (lambda key: getattr(usage, key, None))
        prompt = get("prompt_tokens")
        if prompt is None:
            prompt = get("input_tokens")
        completion = get("completion_tokens")
        if completion is None:
            completion = get("output_tokens")
        total = get("total_tokens")
    if total is None and (prompt is not None or completion is not None):
        total = (prompt or 0) + (completion or 0)
    cost = provider = None
    if model is not None:
        model = model if type(model) is str else str(model)
        if model:
            provider = _provider_of(model)
            if (prompt is not None or completion is not None) and get_config().track_costs:
                if calculate_cost is _builtin_calculate_cost:
                    cost = _cost_of(model, prompt, completion)
                else:  # replaced (monkeypatched pricing): its answer counts
                    cost = calculate_cost(model, prompt or 0, completion or 0)
    turn = _turn_number_ctx.get()
    return _new_cais({
        "time_record": TimeRecord(now_iso(), 0 if turn is None else turn),
        "system_instance_id": _system_id_ctx.get() or "unknown", "model_name": model, "provider": provider,
        "prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": total, "cost": cost,
        "latency_ms": latency_ms, "metadata": {} if error is None else _error_metadata(error)})


def _environment_event(fn, args, kwargs, result, error, latency_ms) -> EnvironmentEvent:
    # The action is the first argument after self for methods.
    call_args = args[1:] if args and _is_method_call(fn, args) else args
    action = call_args[0] if call_args else (next(iter(kwargs.values())) if kwargs else None)
    system_id = _system_id_ctx.get() or "unknown"
    metadata = {"duration_ms": latency_ms} if error is None else {**_error_metadata(error), "duration_ms": latency_ms}
    if type(result) is dict:
        reward, done = result.get("reward"), result.get("done")
    else:
        reward = _get(result, "reward") if result is not None else None
        done = _get(result, "done") if result is not None else None
    turn = _turn_number_ctx.get()
    return _new_environment({
        "time_record": TimeRecord(now_iso(), 0 if turn is None else turn), "system_instance_id": system_id,
        "environment_name": system_id, "action_taken": action, "reward": reward, "terminated": done,
        "metadata": metadata})


def _runtime_event(operation_type: Optional[str]):
    def build(fn, args, kwargs, result, error, latency_ms) -> RuntimeEvent:
        return _new_runtime({
            "time_record": _time_record(), "system_instance_id": _system_id_ctx.get() or "unknown",
            "event_type": operation_type, "function_name": fn.__qualname__, "duration_ms": latency_ms,
            "success": error is None, "error_message": None if error is None else str(error),
            "metadata": _error_metadata(error)})
    return build


_first_param_is_self: Dict[Callable, bool] = {}


def _is_method_call(fn: Callable, args: tuple) -> bool:
    # inspect.signature costs tens of microseconds: once per function.
    known = _first_param_is_self.get(fn)
    if known is None:
        params = list(inspect.signature(fn).parameters)
        known = _first_param_is_self[fn] = bool(params) and params[0] in ("self", "cls")
    return known


def _decorate(fn: Callable, build: Optional[Callable], v2_only: bool = False, otel_only: bool = False) -> Callable:
    """Wraps ``fn`` (sync or async) so that each call ends by recording ``build(...)``'s event."""

    def record(args, kwargs, result, error, started, is_async):
        if build is None or otel_only:
            return None
        latency_ms = (perf_counter() - started) * 1000.0
        try:
            tracer = _recording_tracer()
            if tracer is None:
                return None
            event = build(fn, args, kwargs, result, error, latency_ms)
        except Exception as exc:
            logger.warning("synth_tracing: describing the call of %s failed: %s", fn.__qualname__, exc)
            return None
        return _emit(tracer, event, is_async)

    if inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def async_wrapper(*args, **kwargs):
            if build is None or otel_only or not _should_trace(v2_only, otel_only):
                return await fn(*args, **kwargs)
            started = perf_counter()
            try:
                result = await fn(*args, **kwargs)
            except BaseException as exc:
                pending = record(args, kwargs, None, exc, started, True)
                if pending is not None:
                    await pending
                raise
            pending = record(args, kwargs, result, None, started, True)
            if pending is not None:
                await pending
            return result
        return async_wrapper

    if build is None or otel_only:
        @functools.wraps(fn)
        def plain_wrapper(*args, **kwargs):
            return fn(*args, **kwargs)  # nothing to record (spans only)
        return plain_wrapper

    # The sync path is _should_trace, record, _recording_tracer and _emit inlined: a decorated
    # call is on the agent's hot path, and each Python call level costs as much as a field.
    @functools.wraps(fn)
    def sync_wrapper(*args, **kwargs):
        config = get_config()
        if not config.enabled or (config.sampling_rate < 1.0 and random.random() >= config.sampling_rate):
            return fn(*args, **kwargs)
        started = perf_counter()
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            record(args, kwargs, None, exc, started, False)
            raise
        latency_ms = (perf_counter() - started) * 1000.0
        try:
            if not config.emit_events:
                return result
            tracer = _session_tracer_ctx.get()
            if tracer is None:
                tracer = _process_tracer["tracer"]
            if tracer is None or getattr(tracer, "current_session", None) is None:
                return result
            event = build(fn, args, kwargs, result, None, latency_ms)
        except Exception as exc:
            logger.warning("synth_tracing: describing the call of %s failed: %s", fn.__qualname__, exc)
            return result
        try:
            pending = tracer.add_event(event)
            if pending is not _DONE and inspect.isawaitable(pending):  # _DONE: nothing left to wait for
                run_awaitable(pending)
        except Exception as exc:  # tracing never breaks the traced call
            logger.warning("synth_tracing: recording %s failed: %s", type(event).__name__, exc)
        return result
    return sync_wrapper


def _bare_or_called(build_factory: Callable, fn: Optional[Callable], **options: Any):
    if fn is not None and callable(fn):
        return _decorate(fn, build_factory(), **options)
    return lambda f: _decorate(f, build_factory(), **options)


def ai_call(fn: Optional[Callable] = None, *, v2_only: bool = False, otel_only: bool = False):
    """Records each call as a CAISEvent: model and token usage from the returned dict or object
    (``{"model", "usage": {...}}``) or the ``model`` argument, cost, provider, latency."""
    return _bare_or_called(lambda: _ai_event, fn, v2_only=v2_only, otel_only=otel_only)


def environment_step(fn: Optional[Callable] = None, *, v2_only: bool = False, otel_only: bool = False):
    """Records each call as an EnvironmentEvent: the first argument as the action, the result's
    ``reward`` and ``done``."""
    return _bare_or_called(lambda: _environment_event, fn, v2_only=v2_only, otel_only=otel_only)


def runtime_operation(operation_type: Optional[str] = None):
    """Records each call as a RuntimeEvent with ``event_type=operation_type``."""
    if callable(operation_type):  # used bare
        return _decorate(operation_type, _runtime_event(None))
    return lambda f: _decorate(f, _runtime_event(operation_type))


def function_call(fn: Optional[Callable] = None):
    """Records each call as ``RuntimeEvent(event_type="function_call")``."""
    return _bare_or_called(lambda: _runtime_event("function_call"), fn)


class SpanKind:
    """OpenTelemetry span kinds, for ``trace_span(kind=...)``."""

    INTERNAL = "internal"
    SERVER = "server"
    CLIENT = "client"
    PRODUCER = "producer"
    CONSUMER = "consumer"


def trace_span(name: str, kind: Any = SpanKind.INTERNAL, attrs_fn: Optional[Callable] = None,
               event_type: Optional[Callable] = None, v2_only: bool = False, otel_only: bool = False):
    """Records each call as ``event_type()`` (an event class, or a function returning an event)
    when given, with the span name in the event's metadata."""
    def build(fn, args, kwargs, result, error, latency_ms):
        if event_type is None:
            return None
        event = event_type()
        event.time_record = event.time_record or _time_record()
        event.metadata.update({"span_name": name, "duration_ms": latency_ms, **_error_metadata(error)})
        if attrs_fn is not None:
            event.metadata.update(attrs_fn(args, kwargs, result, error) or {})
        return event

    def decorator(fn):
        def builder(*a):
            event = build(*a)
            return event
        wrapped = _decorate(fn, builder if event_type is not None else None, v2_only=v2_only, otel_only=otel_only)
        return wrapped
    return decorator


#: The original's ``trace_*`` names.
trace_ai_call = ai_call
trace_environment_step = environment_step
trace_runtime_operation = runtime_operation

__all__ = [
    "ai_call", "environment_step", "runtime_operation", "function_call", "trace_span", "SpanKind",
    "set_session_tracer", "get_session_tracer", "set_active_session_tracer", "set_system_id", "get_system_id",
    "set_turn_number", "get_turn_number", "calculate_cost", "mask_pii", "get_config",
    "_session_tracer_ctx", "_system_id_ctx", "_turn_number_ctx",
]
