#!/usr/bin/env python3
"""Instructions per call of named functions, from two callgrind runs of the same benchmark.

    for t in 0.01 0.5; do valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.$t.out \
        build/bench/tracer_bench --benchmark_filter='BM_AddEvent/bare/real_time/threads:1$' \
        --benchmark_min_time=$t; done
    bench/callgrind_per_call.py /tmp/cg.0.01.out /tmp/cg.0.5.out add_event_once

For each name given (an identifier within the function's full name, so that compiler clones such
as `add_event_once.constprop.0` count too, but `traced_step` does not match `untraced_step`),
prints the instructions executed per call, everything the function called included, as the
difference between the long run and the short one: what the first calls pay once (lazy
initialization, a tracer's first session; under valgrind they can take longer than the whole
short run) is in both and cancels. The benchmarks mark the functions worth counting
[[gnu::noinline]]. Instruction counts do not depend on the machine's load, so they compare two
variants where wall-clock time is too noisy; they do not see cache misses, page faults or time
spent waiting.
"""
import re
import sys


def per_call(path, patterns):
    matchers = {p: re.compile(r"(^|[^\w])" + re.escape(p) + r"($|[^\w])") for p in patterns}
    names = {}  # compressed function ids -> names
    positions = 1
    calls = {p: 0 for p in patterns}
    cost = {p: 0 for p in patterns}
    pending = None  # (pattern, call count) of the `calls=` line whose cost line comes next
    callee = None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("positions:"):
                positions = len(line.split()[1:])
            elif line.startswith(("fn=", "cfn=")):
                key, _, rest = line.partition("=")
                ident, _, name = rest.partition(" ")
                if name:
                    names[ident] = name
                name = names.get(ident, ident)
                callee = name if key == "cfn" else None
            elif line.startswith("calls="):
                count = int(line[len("calls="):].split()[0])
                match = next((p for p in patterns if callee and matchers[p].search(callee)), None)
                pending = (match, count) if match else None
            elif pending is not None:
                fields = line.split()
                pattern, count = pending
                calls[pattern] += count
                cost[pattern] += int(fields[positions]) if len(fields) > positions else 0
                pending = None
    return calls, cost


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    names = argv[3:]
    short_calls, short_cost = per_call(argv[1], names)
    long_calls, long_cost = per_call(argv[2], names)
    for name in names:
        n = long_calls[name] - short_calls[name]
        if n <= 0:
            print(f"{name}: no more calls in the long run than in the short one ({long_calls[name]})")
            continue
        print(f"{name}: {(long_cost[name] - short_cost[name]) / n:,.0f} instructions per call ({n} calls)")


if __name__ == "__main__":
    main(sys.argv)
