"""The user's own share of the add_event benchmark row (bench/python_bench.py): the timestamp and the
event construction it does in its loop, timed apart from recording, next to both full loops.
PYTHONPATH is set inside; run from the repository root: /usr/bin/python3 bench/python_recording_floor.py"""
import asyncio, timeit, sys
from datetime import datetime
sys.path[:0] = ["build/python", "python", "bench"]
import python_bench as pb
from synth_tracing.abstractions import CAISEvent, TimeRecord
from synth_tracing.session_tracer import SessionTracer
n = 50000
loop = asyncio.new_event_loop()
async def construct_ours():
    for i in range(n):
        CAISEvent(time_record=TimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                  model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30)
async def construct_theirs():
    for i in range(n):
        pb.PyCAISEvent(time_record=pb.PyTimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                  model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30)
async def timestamp_only():
    for i in range(n):
        datetime.now().isoformat()
tracer = SessionTracer()
async def full_ours():
    async with tracer.start_session():
        async with tracer.timestep(0):
            for i in range(n):
                await tracer.add_event(CAISEvent(time_record=TimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                          model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30))
async def full_theirs():
    pb.PY_TRACER.current_session = pb.PyTrace(session_id="p")
    pb.PY_TRACER.current_timestep = pb.PyStep(step_id=0, turn_number=0)
    for i in range(n):
        await pb.PY_TRACER.add_event(pb.PyCAISEvent(time_record=pb.PyTimeRecord(event_time=datetime.now().isoformat(), message_time=0), system_instance_id="agent",
                  model_name="gpt-4o-mini", prompt_tokens=i, completion_tokens=30))
for name, fn in [("timestamp only", timestamp_only), ("construct ours", construct_ours), ("construct theirs", construct_theirs), ("full ours", full_ours), ("full theirs", full_theirs)]:
    print(f"{name:18s} {min(timeit.repeat(lambda: loop.run_until_complete(fn()), number=1, repeat=5)) / n * 1e6:.2f} µs/event")

# The least a decorator written in Python can do around the benchmark's @environment_step no-op:
# two clock reads, one ContextVar lookup, one tuple appended.
import contextvars, time
_step = contextvars.ContextVar("step", default=None)
_step.set([])


def minimal_decorator(fn):
    def wrapper(*args, **kwargs):
        started = time.time_ns()
        result = fn(*args, **kwargs)
        step = _step.get()
        if step is not None:
            step.append((fn.__name__, started, time.time_ns(), args, result))
        return result
    return wrapper


@minimal_decorator
def env_step(action):
    return {"reward": 1.0, "done": False}


def undecorated(action):
    return {"reward": 1.0, "done": False}


calls = 200_000
for name, fn in [("minimal decorator", env_step), ("undecorated", undecorated)]:
    print(f"{name:18s} {min(timeit.repeat(lambda: fn(1), number=calls, repeat=5)) / calls * 1e6:.2f} µs/call")
