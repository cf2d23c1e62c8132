"""synth_tracing.lm.LM on the C++ LM client, against a local OpenAI-compatible server."""

import asyncio
import threading
import time

import pytest

from fake_provider import Reply, openai_answer, openai_stream
from synth_tracing.abstractions import CAISEvent
from synth_tracing.lm import LM, LMBadRequestError, LMChunk, LMConnectionError
from synth_tracing.session_tracer import SessionTracer


def lm_for(server, tracer=None, **kw):
    return LM(model="gpt-4", provider="openai", base_url=server.base_url, api_key="sk-test-123456",
              session_tracer=tracer, system_id="my_agent", max_retries=0, **kw)


def test_construction_never_touches_the_network(fake_provider):
    LM(model="gpt-4", base_url=fake_provider.base_url)
    LM(model="claude-3-5-sonnet-20241022")  # the public endpoint: nothing is sent either
    lm = LM(model_name="gpt-4o-mini", temperature=0.3, synth_logging=False, formatting_model_name="gpt-4o-mini")
    assert lm.model == "gpt-4o-mini" and lm.provider == "openai" and lm.temperature == 0.3
    assert LM(model="claude-3-5-sonnet-20241022").provider == "anthropic"
    assert fake_provider.received == []


async def test_agenerate_records_one_cais_event_in_the_timestep(fake_provider):
    fake_provider.script(Reply(body=openai_answer("Go north.", prompt_tokens=12, completion_tokens=5)))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer, temperature=0.2, max_tokens=64)
    async with tracer.start_session("s-lm"):
        async with tracer.timestep(3):
            response = await lm.agenerate("Which way?")
    assert response.text == "Go north." and response.raw_response == "Go north."
    assert response.finish_reason == "stop" and response.usage["prompt_tokens"] == 12
    request = fake_provider.received[0]
    assert request.path == "/v1/chat/completions"
    assert request.headers["Authorization"] == "Bearer sk-test-123456"
    assert request.body["messages"] == [{"role": "user", "content": "Which way?"}]
    assert request.body["temperature"] == 0.2

    trace = tracer.get_session_trace("s-lm")
    events = trace.timesteps[0].events
    assert len(events) == 1 and trace.event_history == events
    event = events[0]
    assert isinstance(event, CAISEvent)
    assert event.system_instance_id == "my_agent"
    assert event.model_name == "gpt-4" and event.provider == "openai"
    assert (event.prompt_tokens, event.completion_tokens, event.total_tokens) == (12, 5, 17)
    assert event.cost is not None and event.cost > 0
    assert event.latency_ms is not None and event.latency_ms >= 0
    assert event.time_record.message_time == 3
    assert event.system_state_before["messages"] == [{"role": "user", "content": "Which way?"}]
    assert event.system_state_before["temperature"] == 0.2
    assert event.system_state_after["content"] == "Go north."


def test_generate_from_sync_code_and_message_lists(fake_provider):
    fake_provider.script(Reply(body=openai_answer("4")))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer)
    messages = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "2+2?"}]
    with tracer.start_session("s-sync"):
        with tracer.timestep(0):
            assert lm.generate(messages, turn_number=7).text == "4"
    assert fake_provider.received[0].body["messages"] == messages
    (event,) = tracer.get_session_trace("s-sync").event_history
    assert event.time_record.message_time == 7


async def test_the_event_loop_runs_during_a_call(fake_provider):
    fake_provider.script(Reply(body=openai_answer("slow"), delay_s=0.4))
    lm = lm_for(fake_provider)
    ticks = 0

    async def ticker():
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.ensure_future(ticker())
    try:
        assert (await lm.agenerate("hi")).text == "slow"
    finally:
        task.cancel()
    assert ticks >= 10, "the loop was blocked during the call"


def test_threads_call_in_parallel_with_the_gil_released(fake_provider):
    fake_provider.script(*[Reply(body=openai_answer(f"r{i}"), delay_s=0.5) for i in range(4)])
    lm = lm_for(fake_provider)
    results = []
    started = time.perf_counter()
    threads = [threading.Thread(target=lambda: results.append(lm.generate("hi").text)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert sorted(results) == ["r0", "r1", "r2", "r3"]
    assert elapsed < 1.5, f"4 calls of 0.5 s took {elapsed:.2f} s: they did not overlap"


async def test_astream_yields_the_text_then_records_the_call(fake_provider):
    fake_provider.script(Reply(events=openai_stream(["Go ", "north", "."], prompt_tokens=9, completion_tokens=3)))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer)
    chunks = []
    async with tracer.start_session("s-stream"):
        async with tracer.timestep(1):
            async for chunk in lm.astream("Which way?"):
                assert isinstance(chunk, LMChunk)
                chunks.append(chunk.text)
                assert tracer.get_session_trace("s-stream").event_history == []  # only after the end
    assert "".join(chunks) == "Go north."
    assert fake_provider.received[0].body["stream"] is True
    (event,) = tracer.get_session_trace("s-stream").event_history
    assert (event.prompt_tokens, event.completion_tokens) == (9, 3)
    assert event.system_state_after["content"] == "Go north."


async def test_a_stream_left_early_is_still_recorded_once(fake_provider):
    pieces = [f"w{i} " for i in range(20)]
    fake_provider.script(Reply(events=openai_stream(pieces), event_gap_s=0.02))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer)
    async with tracer.start_session("s-early"):
        stream = lm.astream("talk")
        async for chunk in stream:
            break
        await stream.aclose()
    events = tracer.get_session_trace("s-early").event_history
    assert len(events) == 1 and "error" in events[0].metadata  # the call ended by the consumer


async def test_a_failed_call_is_recorded_then_raised(fake_provider):
    fake_provider.script(Reply(status=400, body={"error": {"message": "model does not exist"}}))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer)
    async with tracer.start_session("s-err"):
        with pytest.raises(LMBadRequestError, match="model does not exist") as info:
            await lm.agenerate("hi")
    assert info.value.status == 400 and info.value.provider == "openai"
    (event,) = tracer.get_session_trace("s-err").event_history
    assert "model does not exist" in event.metadata["error"]["message"]


def test_unreachable_server_raises_a_connection_error(fake_provider):
    url = fake_provider.base_url
    fake_provider.stop()
    lm = LM(model="gpt-4", base_url=url, api_key="k", max_retries=0, timeout=2)
    with pytest.raises(LMConnectionError):
        lm.generate("hi")


async def test_nothing_is_recorded_without_a_session_or_with_tracing_off(fake_provider):
    fake_provider.script(Reply(body=openai_answer("a")), Reply(body=openai_answer("b")))
    tracer = SessionTracer()
    lm = lm_for(fake_provider, tracer)
    assert (await lm.agenerate("hi")).text == "a"  # no session: just the answer
    lm._enable_v2_tracing = False
    async with tracer.start_session("s-off"):
        assert (await lm.agenerate("hi")).text == "b"
    assert tracer.get_session_trace("s-off").event_history == []


async def test_seed_readme_basic_usage(fake_provider, monkeypatch):
    # The server comes from the provider's variables, as for the OpenAI SDK.
    monkeypatch.setenv("OPENAI_BASE_URL", fake_provider.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdef")
    fake_provider.script(Reply(body=openai_answer("Hello! How can I help?")))

    # ---- the README's block, verbatim except its imports ----
    from synth_tracing.session_tracer import SessionTracer
    from synth_tracing.lm import LM

    # Create tracer
    tracer = SessionTracer()

    # Use with LM class (recommended)
    lm = LM(
        model="gpt-4",
        session_tracer=tracer,
        system_id="my_agent",
        enable_v2_tracing=True
    )

    # Start session
    async with tracer.start_session("session-123", {"experiment": "test"}):
        # Use timesteps to organize turns
        async with tracer.timestep(0):
            response = await lm.agenerate("Hello!")
    # ---- end ----

    assert response.raw_response == "Hello! How can I help?"
    trace = tracer.get_session_trace("session-123")
    (event,) = trace.timesteps[0].events
    assert event.system_instance_id == "my_agent" and event.model_name == "gpt-4"
    assert trace.metadata == {"experiment": "test"}


async def test_async_hooks_see_the_call_before_agenerate_returns(fake_provider):
    fake_provider.script(Reply(body=openai_answer("ok")))
    seen = []

    class Hook:
        async def on_event(self, event, session_id):
            await asyncio.sleep(0.01)
            seen.append((type(event).__name__, session_id))

    tracer = SessionTracer(hooks=[Hook()])
    lm = lm_for(fake_provider, tracer)
    async with tracer.start_session("s-hook"):
        await lm.agenerate("hi")
        assert seen == [("CAISEvent", "s-hook")]
