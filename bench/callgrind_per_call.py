#!/usr/bin/env python3
"""Instructions per call of named functions, from a callgrind output file.

    valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out \
        build/bench/tracer_bench --benchmark_filter='BM_AddEvent/bare/threads:1$' --benchmark_min_time=0.05
    bench/callgrind_per_call.py /tmp/cg.out add_event_once

For each name given (an identifier within the function's full name, so that compiler clones such
as `add_event_once.constprop.0` count too, but `traced_step` does not match `untraced_step`), prints the number of calls and the instructions executed per call,
everything the function called included. The benchmarks mark the functions worth counting
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
    if len(argv) < 3:
        sys.exit(__doc__)
    calls, cost = per_call(argv[1], argv[2:])
    for pattern in argv[2:]:
        n = calls[pattern]
        print(f"{pattern}: {n} calls, " + (f"{cost[pattern] / n:,.0f} instructions per call" if n else "never called"))


if __name__ == "__main__":
    main(sys.argv)
