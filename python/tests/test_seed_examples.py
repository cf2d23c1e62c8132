"""The seed README's Python examples, verbatim except their import lines."""

from datetime import datetime

from synth_tracing.abstractions import CAISEvent
from synth_tracing.session_tracer import SessionEventMessage, SessionTracer, TimeRecord


async def test_manual_tracing_pattern():
    tracer = SessionTracer()
    turn_number = 0
    async with tracer.start_session("manual", {"experiment": "test"}):
        async with tracer.timestep(0):
            # ---- the README's block ----
            # Create event for LLM call
            event = CAISEvent(
                system_instance_id="agent_123",
                model_name="gpt-4",
                prompt_tokens=50,
                completion_tokens=100,
                time_record=TimeRecord(
                    event_time=datetime.now().isoformat(),
                    message_time=turn_number
                )
            )
            tracer.add_event(event)

            # Create message
            message = SessionEventMessage(
                content={
                    "origin_system_id": "agent_123",
                    "payload": {"action": "move_north"}
                },
                message_type="action",
                time_record=TimeRecord(...)
            )
            await tracer.add_message(message)
            # ---- end ----
    trace = tracer.get_session_trace("manual")
    assert trace.timesteps[0].events == [event] and trace.timesteps[0].messages == [message]
    assert trace.metadata == {"experiment": "test"}


def test_time_record_and_state_tracking_patterns():
    record = TimeRecord(
        event_time="2024-01-01T12:00:00",  # Wall clock
        message_time=5                      # Turn number
    )
    event = CAISEvent(time_record=record)
    event.system_state_before = {"x": 1}  # State before operation
    event.system_state_after = {"x": 2}   # State after operation
    event.metadata = {"why": "test"}      # Additional context
    assert event.to_dict()["time_record"] == {"event_time": "2024-01-01T12:00:00", "message_time": 5}
