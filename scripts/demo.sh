#!/usr/bin/env bash
# Usage: scripts/demo.sh [synth-trace demo options, e.g. --episodes 10]
# Installs dependencies, builds synth-trace (Release) into build/ and runs `synth-trace demo`,
# which stores its traces in ./traces.duckdb (or $SYNTH_TRACING_DB).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Set-up and build chatter goes to stderr so that stdout is the demo's output alone.
{
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" "$root/build" -DSYNTH_TRACING_BUILD_TESTS=OFF \
    -DSYNTH_TRACING_BUILD_BENCHMARKS=OFF -DSYNTH_TRACING_BUILD_EXAMPLES=OFF
} >&2

exec "$root/build/cli/synth-trace" demo "$@"
