#!/usr/bin/env bash
# Usage: scripts/build.sh [BUILD_DIR] [extra cmake args...]
# Configures (Release unless the extra args say otherwise) and builds on every core.
# BUILD_DIR defaults to build/ in the repository; BUILD_TARGET (environment) builds one target
# instead of all.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${1:-$root/build}
shift $(($# > 0 ? 1 : 0))

# ccache (when installed; CMakeLists.txt picks it up) shares objects between checkouts: paths
# inside the repository are hashed relative to it.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$root}

# The extra args come last so that they override the defaults.
cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$build_dir" -j "$(nproc)" ${BUILD_TARGET:+--target "$BUILD_TARGET"}
