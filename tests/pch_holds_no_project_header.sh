#!/usr/bin/env bash
# Fails when a precompiled header includes one of this project's headers (a quoted include).
# ccache can return a precompiled header built from an earlier version of such a header whose
# comments differ; GCC then misses its `#pragma once` and includes it twice (tests/test_pch.hpp).
set -euo pipefail
status=0
for header in "$@"; do
  if grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$header"; then
    echo "$header: a precompiled header may include standard and third-party headers (<...>) only" >&2
    status=1
  fi
done
exit $status
