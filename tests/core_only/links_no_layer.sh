#!/usr/bin/env bash
# Usage: links_no_layer.sh PROGRAM
# PROGRAM links synth::tracing_core alone: it must need none of the layers' libraries (RE2, libcurl,
# zlib, yaml-cpp, toml++, DuckDB) and contain none of the layers' code (their entry points stay
# weak references, resolved to nothing).
set -euo pipefail
program=${1:?program}
needed=$(readelf -d "$program" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
printf 'needs: %s\n' "$(echo $needed)"
if grep -E 're2|curl|libz\.|yaml|toml|duckdb' <<<"$needed"; then
  echo "FAIL: $program (core only) needs a layer's library" >&2
  exit 1
fi
for entry in synth_tracing_policy_layer synth_tracing_otel_layer synth_tracing_config_files_layer; do
  kind=$(nm "$program" | awk -v e="$entry" '$NF == e {print $(NF-1)}')
  if [ "$kind" != "w" ]; then
    echo "FAIL: $entry is '${kind:-absent}' in $program, not a weak reference: a layer was linked in" >&2
    exit 1
  fi
done
echo "core only: no layer linked"
