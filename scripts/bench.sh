#!/usr/bin/env bash
# Usage: scripts/bench.sh [BUILD_DIR] [OUT_DIR]
# Runs the recording benchmarks as BENCHMARKS.md reports them, and prints its tables:
#   1. every recording benchmark (tracer_bench, instrument_bench, rollout_bench, lm_bench, and
#      otel_bench's scope with span export on), bare and with the default sinks, REPS
#      repetitions each (median and spread over them);
#   2. the same pinned to one core (taskset -c 0), where the sinks' thread competes with the agent;
#   3. instructions per call of the hot paths under callgrind, bare and with the default sinks
#      (stable under load, unlike wall-clock time).
# BUILD_DIR (default build/) must be configured with -DSYNTH_TRACING_BUILD_BENCHMARKS=ON and
# -DSYNTH_TRACING_BUILD_TESTS=ON (otel_bench uses the tests' OTLP receiver); the benchmarks are
# built first. OUT_DIR (default a new temporary folder) keeps the Google Benchmark
# JSON files and callgrind outputs. REPS (default 5) and MIN_TIME (seconds per repetition,
# default 0.3) tune the runs; SKIP_CALLGRIND=1 leaves out part 3.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
out_dir=${2:-$(mktemp -d -t synth-bench.XXXXXX)}
reps=${REPS:-5}
min_time=${MIN_TIME:-0.3}
benches=(tracer_bench instrument_bench rollout_bench lm_bench otel_bench)
# The recording benchmarks of a program that has others too (BENCHMARKS.md runs those apart).
declare -A filters=([otel_bench]=BM_AiCallScopeWithSpans)
mkdir -p "$out_dir"

cmake --build "$build_dir" -j 2 --target "${benches[@]}"

# Every repetition goes into the JSON file (the console shows only the aggregates), so that
# summarize.py can give the min-max spread as well as the median.
run() {  # run OUTPUT_NAME BENCH [PREFIX...]
  local name=$1 bench=$2
  shift 2
  "$@" "$build_dir/bench/$bench" --benchmark_filter="${filters[$bench]:-.}" \
    --benchmark_repetitions="$reps" --benchmark_display_aggregates_only=true \
    --benchmark_min_time="$min_time" --benchmark_out="$out_dir/$name.json" --benchmark_out_format=json
}

echo "commit $(git -C "$root" rev-parse --short HEAD), $(date -u '+%Y-%m-%d %H:%M UTC'), load: $(cut -d' ' -f1-3 /proc/loadavg)"
for bench in "${benches[@]}"; do
  run "$bench" "$bench"
done
for bench in "${benches[@]}"; do
  run "$bench.pinned" "$bench" taskset -c 0
done

summarize() {  # summarize SUFFIX: the table of every bench's OUT_DIR/BENCH.SUFFIX
  local files=()
  for bench in "${benches[@]}"; do files+=("$out_dir/$bench.$1"); done
  python3 "$root/bench/summarize.py" "${files[@]}"
}
echo "## All cores"
summarize json
echo "## Pinned to one core (taskset -c 0)"
summarize pinned.json

[[ ${SKIP_CALLGRIND:-0} == 1 ]] && exit 0
# Instructions per call on the agent's thread (the function's own and everything it calls): a
# short and a longer run of each variant, whose difference cancels what the first calls pay once.
callgrind() {  # callgrind BENCH FILTER FUNCTION...
  local bench=$1 filter=$2
  shift 2
  local out="$out_dir/callgrind.$bench.${filter//[^A-Za-z0-9_]/_}"
  for min_time in 0.01 0.5; do
    valgrind --tool=callgrind --callgrind-out-file="$out.$min_time.out" "$build_dir/bench/$bench" \
      --benchmark_filter="$filter" --benchmark_min_time="$min_time" >/dev/null 2>&1
  done
  echo "$filter: $(python3 "$root/bench/callgrind_per_call.py" "$out.0.01.out" "$out.0.5.out" "$@" | paste -sd ';')"
}
echo "## Instructions per call (callgrind)"
for setup in bare default_sinks; do
  callgrind tracer_bench "BM_AddEvent/$setup/real_time/threads:1\$" add_event_once
  callgrind instrument_bench "BM_AiCallScope/$setup\$" ai_call_once
  callgrind instrument_bench "BM_EnvironmentStepScope/$setup\$" environment_step_once
  callgrind instrument_bench "BM_Wrapped10us/$setup/" traced_call_once plain_call_once
  callgrind rollout_bench "BM_RolloutStep/$setup/" traced_step untraced_step
  callgrind lm_bench "BM_InProcess/$setup\$" generate_once
  callgrind otel_bench "BM_AiCallScopeWithSpans/$setup\$" ai_call_once
done
callgrind lm_bench 'BM_InProcess/untraced$' generate_once
