#!/usr/bin/env bash
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS] [HARNESS...]
# Builds the libFuzzer harnesses of tests/fuzz with clang-14 under ASan+UBSan (build-fuzz/), then
# runs each (all of them by default; names as in tests/fuzz/<name>_fuzz.cpp) for
# SECONDS_PER_HARNESS (default 60) on a copy of its committed seed corpus, with its dictionary
# when it has one. The committed corpus never grows by itself: new inputs stay in
# build-fuzz/fuzz-runs/<name>/corpus. FUZZ_JOBS harnesses run at a time (default: one per core).
# Exits non-zero when any harness finds a crash (or a timeout, or memory beyond the limit),
# printing the path of the input that caused it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
seconds=${1:-60}
shift $(($# > 0 ? 1 : 0))
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc)}
if ! [[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]]; then
  echo "fuzz.sh: SECONDS_PER_HARNESS must be a positive number of seconds, got '$seconds'" >&2
  exit 2
fi
if ! command -v clang++-14 >/dev/null 2>&1; then
  echo "fuzz.sh: clang++-14 is missing: run scripts/setup.sh" >&2
  exit 2
fi

# ccache (see build.sh) hashes paths relative to the repository.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}
# A build directory already configured for fuzzing (scripts/test.sh's build-asan, where the tests
# are built with the same flags) is used as it is; any other is configured here.
if ! grep -qs '^SYNTH_TRACING_BUILD_FUZZERS:BOOL=ON$' "$build_dir/CMakeCache.txt"; then
  # -O1 as the sanitizers advise, with line tables for the stack traces.
  cmake -S "$root" -B "$build_dir" -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug \
    "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" -DSYNTH_TRACING_BUILD_FUZZERS=ON -DSYNTH_TRACING_SANITIZE= \
    -DSYNTH_TRACING_BUILD_TESTS=OFF -DSYNTH_TRACING_BUILD_BENCHMARKS=OFF -DSYNTH_TRACING_BUILD_EXAMPLES=OFF >/dev/null
fi
cmake --build "$build_dir" -j "$(nproc)" --target fuzzers

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for source in "$root"/tests/fuzz/*_fuzz.cpp; do
    name=$(basename "$source" _fuzz.cpp)
    harnesses+=("$name")
  done
fi

# halt_on_error: the first report ends the run (libFuzzer then saves the input).
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# Runs one harness; its output goes to build-fuzz/fuzz-runs/<name>/log.
run_harness() {
  local name=$1 binary="$build_dir/tests/fuzz/${1}_fuzz" work="$build_dir/fuzz-runs/$1"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [ -d "$root/tests/fuzz/corpus/$name" ]; then cp -R "$root/tests/fuzz/corpus/$name/." "$work/corpus/"; fi
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
              -artifact_prefix="$work/artifacts/")
  if [ -f "$root/tests/fuzz/$name.dict" ]; then args+=(-dict="$root/tests/fuzz/$name.dict"); fi
  "$binary" "${args[@]}" "$work/corpus" >"$work/log" 2>&1
}

# Reports one finished harness; returns non-zero when it failed.
report() {
  local name=$1 status=$2 work="$build_dir/fuzz-runs/$1" runs crash
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -1)
  if [ "$status" -eq 0 ]; then
    printf '%-12s ok      %s runs, corpus %s inputs\n' "$name" "${runs:-?}" "$(find "$work/corpus" -type f | wc -l)"
    return 0
  fi
  printf '%-12s FAILED  (exit %d)\n' "$name" "$status"
  tail -n 60 "$work/log" | sed 's/^/    /'
  for crash in "$work"/artifacts/*; do
    [ -e "$crash" ] && printf '    input: %s\n' "$crash"
  done
  printf '    log: %s\n' "$work/log"
  return 1
}

for name in "${harnesses[@]}"; do
  [ -x "$build_dir/tests/fuzz/${name}_fuzz" ] || { echo "fuzz.sh: no harness '$name' (tests/fuzz/${name}_fuzz.cpp)" >&2; exit 2; }
done
printf 'fuzzing %d harnesses for %ss each, %d at a time\n' "${#harnesses[@]}" "$seconds" "$jobs"
failed=0
declare -A running=()  # pid -> harness
for name in "${harnesses[@]}"; do
  while [ "${#running[@]}" -ge "$jobs" ]; do
    status=0
    wait -n -p done_pid "${!running[@]}" || status=$?
    report "${running[$done_pid]}" "$status" || failed=1
    unset "running[$done_pid]"
  done
  run_harness "$name" &
  running[$!]=$name
done
for pid in "${!running[@]}"; do
  status=0
  wait "$pid" || status=$?
  report "${running[$pid]}" "$status" || failed=1
done
exit "$failed"
