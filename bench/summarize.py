#!/usr/bin/env python3
"""One line per benchmark from Google Benchmark JSON files holding every repetition.

    build/bench/tracer_bench --benchmark_repetitions=5 --benchmark_display_aggregates_only=true \
        --benchmark_out=tracer.json --benchmark_out_format=json
    bench/summarize.py tracer.json

Prints a Markdown table: the median (min-max) over the repetitions of the wall-clock time per
iteration (manual time for UseManualTime benchmarks) and of the CPU time of the benchmark's
threads, the CPU time's coefficient of variation, and the median (min-max) of each counter the
benchmark reports.
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
    print("| benchmark | wall median (min-max) | CPU median (min-max) | CPU cv | counters: median (min-max) |")
    print("|---|---|---|---|---|")
    for name, reps in runs.items():
        unit = reps[0]["time_unit"]
        counters = []
        for key in reps[0]:
            if key in SKIPPED or not isinstance(reps[0][key], (int, float)):
                continue
            show = rate if key.endswith("_per_second") else figure
            counters.append(f"{key} {spread([r[key] for r in reps], show)}")
        print(f"| {name} | {spread([r['real_time'] for r in reps], figure)} {unit} | "
              f"{spread([r['cpu_time'] for r in reps], figure)} {unit} | {cv([r['cpu_time'] for r in reps]):.1f}% | "
              f"{', '.join(counters)} |")


def spread(values, show):
    return f"{show(statistics.median(values))} ({show(min(values))}-{show(max(values))})"


def cv(values):
    mean = statistics.mean(values)
    return statistics.stdev(values) / mean * 100 if len(values) > 1 and mean else 0.0


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
