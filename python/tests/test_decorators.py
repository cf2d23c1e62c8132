"""Decorators on sync and async functions and methods; context helpers; cost and PII."""

import asyncio
import threading

import pytest

from synth_tracing import decorators
from synth_tracing.config import TracingConfig
from synth_tracing.decorators import (ai_call, calculate_cost, environment_step, function_call, get_session_tracer,
                                      mask_pii, runtime_operation, set_session_tracer, set_system_id,
                                      set_turn_number, trace_span)
from synth_tracing.session_tracer import CAISEvent, EnvironmentEvent, RuntimeEvent, SessionTracer


@ai_call
def complete(prompt, model="gpt-4"):
    return {"model": model, "usage": {"prompt_tokens": 1000, "completion_tokens": 500}, "text": prompt.upper()}


@ai_call(v2_only=True)
async def acomplete(prompt, model="claude-3-haiku-20240307"):
    await asyncio.sleep(0)
    return {"usage": {"input_tokens": 10, "output_tokens": 20}}


class Env:
    @environment_step
    def step(self, action):
        return {"reward": 1.0, "done": action == "stop"}

    @environment_step
    async def astep(self, action):
        return {"reward": 0.5, "done": False}


@runtime_operation(operation_type="tool_validation")
def validate(x):
    if x < 0:
        raise ValueError("negative")
    return x * 2


@function_call
async def helper(a, b):
    return a + b


async def test_events_land_in_the_current_timestep():
    tracer = SessionTracer()
    set_session_tracer(tracer)
    set_system_id("agent-1")
    set_turn_number(3)
    env = Env()
    async with tracer.start_session("deco"):
        async with tracer.timestep(3) as step:
            assert complete("hi")["text"] == "HI"
            assert (await acomplete("x")) == {"usage": {"input_tokens": 10, "output_tokens": 20}}
            assert env.step("stop") == {"reward": 1.0, "done": True}
            assert (await env.astep("go"))["reward"] == 0.5
            assert validate(2) == 4
            assert await helper(1, 2) == 3
    kinds = [type(e) for e in step.events]
    assert kinds == [CAISEvent, CAISEvent, EnvironmentEvent, EnvironmentEvent, RuntimeEvent, RuntimeEvent]
    ai, aai, env1, _, rt, fc = step.events
    assert ai.model_name == "gpt-4" and ai.prompt_tokens == 1000 and ai.total_tokens == 1500
    assert ai.cost == pytest.approx(calculate_cost("gpt-4", 1000, 500)) and ai.cost > 0
    assert ai.provider == "openai" and ai.system_instance_id == "agent-1" and ai.latency_ms >= 0
    assert aai.model_name == "claude-3-haiku-20240307" and aai.completion_tokens == 20 and aai.provider == "anthropic"
    assert env1.action_taken == "stop" and env1.reward == 1.0 and env1.terminated is True
    assert rt.event_type == "tool_validation" and rt.success is True and rt.function_name == "validate"
    assert fc.event_type == "function_call"
    assert all(e.time_record.message_time == 3 for e in step.events)


async def test_exceptions_pass_through_unchanged_and_are_recorded():
    tracer = SessionTracer()
    set_session_tracer(tracer)
    async with tracer.start_session("errs") as trace:
        with pytest.raises(ValueError, match="negative"):
            validate(-1)
    event = trace.event_history[0]
    assert event.success is False and event.error_message == "negative"
    assert event.metadata["error_type"] == "ValueError"


def test_without_tracer_or_session_calls_just_run():
    assert validate(3) == 6
    set_session_tracer(SessionTracer())
    assert complete("a")["text"] == "A"


def test_disabled_config_skips_recording(monkeypatch):
    monkeypatch.setattr(decorators, "get_config", lambda: TracingConfig(enabled=False))
    tracer = SessionTracer()
    set_session_tracer(tracer)
    with tracer.start_session("off") as trace:
        validate(1)
    assert trace.event_history == []


def test_tracer_is_seen_on_plain_threads():
    tracer = SessionTracer()
    set_session_tracer(tracer)
    seen = []
    t = threading.Thread(target=lambda: seen.append(get_session_tracer()))
    t.start()
    t.join()
    assert seen == [tracer]
    set_session_tracer(None)
    assert get_session_tracer() is None


def test_trace_span_with_event_type():
    tracer = SessionTracer()
    set_session_tracer(tracer)

    @trace_span("custom.op", event_type=lambda: RuntimeEvent(event_type="span"),
                attrs_fn=lambda a, k, r, e: {"result": r})
    def op(x):
        return x + 1

    with tracer.start_session("span") as trace:
        assert op(1) == 2
    assert trace.event_history[0].metadata["span_name"] == "custom.op"
    assert trace.event_history[0].metadata["result"] == 2


def test_calculate_cost():
    assert calculate_cost("gpt-4", 1000, 1000) == pytest.approx(0.09)
    assert calculate_cost("no-such-model", 10, 10) == 0.0


def test_mask_pii():
    assert mask_pii("My SSN is 123-45-6789") == "My SSN is [SSN]"
    assert mask_pii("card 4111 1111 1111 1111") == "card [CREDIT_CARD]"
    assert mask_pii("mail john@example.com now") == "mail [EMAIL] now"
    for phone in ("(555) 987-6543", "+1-555-321-9876", "555-1234"):
        assert mask_pii(f"call {phone}") == "call [PHONE]", phone
    assert mask_pii(42) == 42
    assert mask_pii("id EMP-12345", {"employee": r"EMP-\d+"}) == "id [EMPLOYEE]"


def test_ai_call_cost_is_the_pricing_tables_and_a_replaced_calculate_cost_counts(monkeypatch):
    tracer = SessionTracer()
    set_session_tracer(tracer)

    @ai_call
    def usage_object(prompt):
        class Usage:  # an SDK-style object, read by attribute
            prompt_tokens, completion_tokens = 120, 30
        return {"model": "gpt-4o-mini", "usage": Usage()}

    with tracer.start_session("priced") as trace:
        with tracer.timestep(0):
            complete("a", model="gpt-4o-mini")
            complete("b", model="no-such-model")
            usage_object("c")
            monkeypatch.setattr(decorators, "calculate_cost", lambda model, p, c: 42.0)
            complete("d", model="gpt-4o-mini")
    costs = [e.cost for e in trace.event_history]
    assert costs[0] == calculate_cost("gpt-4o-mini", 1000, 500) and costs[0] > 0
    assert costs[1] == 0.0
    assert costs[2] == calculate_cost("gpt-4o-mini", 120, 30) and trace.event_history[2].total_tokens == 150
    assert costs[3] == 42.0
    # The time record is (now as local ISO text, turn), as datetime.now().isoformat() gives.
    event_time = trace.event_history[0].time_record.event_time
    assert isinstance(event_time, str) and len(event_time) in (19, 26) and event_time[10] == "T"
