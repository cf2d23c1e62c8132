#!/usr/bin/env python3
"""One line per benchmark from Google Benchmark JSON files holding every repetition.

    build/bench/tracer_bench --benchmark_repetitions=7 --benchmark_display_aggregates_only=true \
        --benchmark_out=tracer.json --benchmark_out_format=json
    bench/summarize.py tracer.json

Prints a Markdown table: the median over the repetitions of the wall-clock time per iteration
(manual time for UseManualTime benchmarks), its spread (min-max and coefficient of variation), the
median CPU time, and the median (min-max) of each counter the benchmark reports.
"""
import json
import statistics
import sys

SKIPPED = {"name", "family_index", "per_family_instance_index", "run_name", "run_type", "repetitions",
           "repetition_index", "threads", "iterations", "real_time", "cpu_time", "time_unit",
           "aggregate_name", "aggregate_unit", "label", "error_occurred", "error_message"}


def figure(value):
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def rate(value):
    for unit, scale in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= scale:
            return f"{value / scale:.2f} {unit}/s"
    return f"{value:.0f}/s"


def main(paths):
    runs = {}
    for path in paths:
        with open(path) as f:
            for b in json.load(f)["benchmarks"]:
                if b.get("run_type") != "iteration" or b.get("error_occurred"):
                    continue
                runs.setdefault(b["run_name"], []).append(b)
    print("| benchmark | median | min-max | cv | CPU median | counters: median (min-max) |")
    print("|---|---|---|---|---|---|")
    for name, reps in runs.items():
        unit = reps[0]["time_unit"]
        real = [r["real_time"] for r in reps]
        cpu = [r["cpu_time"] for r in reps]
        mean = statistics.mean(real)
        cv = statistics.stdev(real) / mean * 100 if len(real) > 1 and mean else 0.0
        counters = []
        for key in reps[0]:
            if key in SKIPPED or not isinstance(reps[0][key], (int, float)):
                continue
            values = [r[key] for r in reps]
            show = rate if key.endswith("_per_second") else figure
            counters.append(f"{key} {show(statistics.median(values))} ({show(min(values))}-{show(max(values))})")
        print(f"| {name} | {figure(statistics.median(real))} {unit} | {figure(min(real))}-{figure(max(real))} | "
              f"{cv:.1f}% | {figure(statistics.median(cpu))} {unit} | {', '.join(counters)} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
