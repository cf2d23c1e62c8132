#!/usr/bin/env bash
# shellcheck disable=SC2317  # the stage_* functions are called through run_stage
# The full test suite (also what CI runs): installs dependencies, then
#   release  Release build with tests, benchmarks and examples; every test   (build/)
#   asan     ASan+UBSan build with clang-14 (no benchmarks, no examples), configured for fuzzing
#            too; every test but the install check, soak and the browser tests (build-asan/)
#   tsan     TSan build of the threaded test programs; the tests labelled "threaded"
#                                                                            (build-tsan/)
#   fuzz     the libFuzzer harnesses, built in build-asan/ beside the tests (one sanitizer build
#            serves both); each runs FUZZ_SECONDS (default 10) on its seed corpus, scripts/fuzz.sh
# Every stage runs even when an earlier one failed; exits non-zero when any failed.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

# Tests never see the caller's tracing settings (each test program clears them as well).
while IFS= read -r name; do
  unset "$name"
done < <(compgen -e | grep -E '^(SYNTH_TRACING_|OTEL_|DEPLOYMENT_ENV$)' || true)

# Exported before building too: gtest_discover_tests runs the test binaries at build time.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=1:second_deadlock_stack=1:suppressions=$root/scripts/tsan.supp}

# --no-tests=error: a label or discovery mistake that selects nothing must not pass.
ctest_args=(--output-on-failure --no-tests=error -j2)

# Stages chain with && because `set -e` is off inside a function called from `if`.
stage_release() {
  scripts/build.sh build -DCMAKE_BUILD_TYPE=Release -DSYNTH_TRACING_SANITIZE= \
    -DSYNTH_TRACING_BUILD_TESTS=ON -DSYNTH_TRACING_BUILD_BENCHMARKS=ON -DSYNTH_TRACING_BUILD_EXAMPLES=ON &&
    ctest --test-dir build "${ctest_args[@]}"
}

# -O1 (as the sanitizers advise) with line tables: the tests run twice as fast as at -O0. The fuzz
# configuration (SYNTH_TRACING_BUILD_FUZZERS: ASan+UBSan with coverage, clang-14) builds the tests
# and the fuzz harnesses from one compilation of the library.
stage_asan() {
  # A build-asan/ configured by an older version of this script used another compiler.
  if [ -f build-asan/CMakeCache.txt ] && ! grep -qs '^SYNTH_TRACING_BUILD_FUZZERS:BOOL=ON$' build-asan/CMakeCache.txt; then
    rm -rf build-asan/CMakeCache.txt build-asan/CMakeFiles
  fi
  scripts/build.sh build-asan -DCMAKE_CXX_COMPILER=clang++-14 -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-O1 -g1" \
    -DSYNTH_TRACING_SANITIZE= -DSYNTH_TRACING_BUILD_FUZZERS=ON \
    -DSYNTH_TRACING_BUILD_TESTS=ON -DSYNTH_TRACING_BUILD_BENCHMARKS=OFF -DSYNTH_TRACING_BUILD_EXAMPLES=OFF &&
    ctest --test-dir build-asan "${ctest_args[@]}" -LE "install|soak|browser"
}

# RelWithDebInfo: the threaded tests need speed to interleave much under TSan; line tables (-g1)
# suffice for its reports and compile faster than full debug information.
stage_tsan() {
  BUILD_TARGET=threaded_tests scripts/build.sh build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O2 -g1 -DNDEBUG" \
    -DSYNTH_TRACING_SANITIZE=thread \
    -DSYNTH_TRACING_BUILD_TESTS=ON -DSYNTH_TRACING_BUILD_BENCHMARKS=OFF -DSYNTH_TRACING_BUILD_EXAMPLES=OFF &&
    ctest --test-dir build-tsan "${ctest_args[@]}" -L threaded
}

stage_fuzz() {
  FUZZ_BUILD_DIR=build-asan scripts/fuzz.sh "${FUZZ_SECONDS:-10}"
}

summary=()
failed=0

run_stage() {
  local name=$1 start=$SECONDS status=ok elapsed
  shift
  printf '\n===== %s =====\n' "$name"
  if ! "$@"; then
    status=FAILED
    failed=1
  fi
  elapsed=$((SECONDS - start))
  summary+=("$(printf '%-8s %-7s %dm%02ds' "$name" "$status" $((elapsed / 60)) $((elapsed % 60)))")
}

print_summary() {
  printf '\n===== summary =====\n'
  printf '%s\n' "${summary[@]}"
}

run_stage setup scripts/setup.sh
if [ "$failed" -ne 0 ]; then
  print_summary
  exit 1
fi
run_stage release stage_release
run_stage asan stage_asan
run_stage tsan stage_tsan
run_stage fuzz stage_fuzz
print_summary
exit "$failed"
