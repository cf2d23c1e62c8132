#!/usr/bin/env bash
# Usage: scripts/demo.sh [agent_loop args...]
# Installs dependencies, builds the examples (Release) into build/ and runs the agent_loop example.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Set-up and build chatter goes to stderr so that stdout is the example's output alone.
{
  "$root/scripts/setup.sh"
  "$root/scripts/build.sh" "$root/build" -DSYNTH_TRACING_BUILD_TESTS=OFF \
    -DSYNTH_TRACING_BUILD_BENCHMARKS=OFF -DSYNTH_TRACING_BUILD_EXAMPLES=ON
} >&2

exec "$root/build/examples/agent_loop" "$@"
