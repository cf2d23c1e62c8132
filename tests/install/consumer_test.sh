#!/usr/bin/env bash
# Usage: consumer_test.sh BUILD_DIR SOURCE_DIR SCRATCH_DIR CXX [SANITIZERS]
# Installs the built tree BUILD_DIR into SCRATCH_DIR/prefix, then builds and runs
# tests/install/consumer against that prefix twice: with CMake's find_package(synth_tracing)
# and with plain CXX plus `pkg-config synth_tracing`. SANITIZERS (e.g. "address,undefined") is
# the SYNTH_TRACING_SANITIZE the library was built with: its consumers must link the same runtime.
set -euo pipefail

build_dir=${1:?build dir}
source_dir=${2:?source dir}
scratch=${3:?scratch dir}
cxx=${4:?C++ compiler}
sanitize=${5:-}

consumer_src=$source_dir/tests/install/consumer
prefix=$scratch/prefix
sanitize_flags=()
[ -z "$sanitize" ] || sanitize_flags=("-fsanitize=$sanitize")

step() { printf '== %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }

rm -rf "$scratch"
mkdir -p "$scratch"

step "install $build_dir into $prefix"
# A DESTDIR from the caller would put the files somewhere else.
env -u DESTDIR cmake --install "$build_dir" --prefix "$prefix"

step "license, third-party notices and changelog installed"
for doc in LICENSE THIRD_PARTY_NOTICES.md CHANGELOG.md; do
  [ -s "$prefix/share/doc/synth_tracing/$doc" ] || fail "$doc is not installed in $prefix/share/doc/synth_tracing"
done

step "CMake consumer: find_package(synth_tracing)"
# Package registries off: only the scratch prefix may provide the package.
cmake -S "$consumer_src" -B "$scratch/cmake-build" \
  -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_CXX_COMPILER="$cxx" \
  -DCMAKE_CXX_FLAGS="${sanitize_flags[*]}" \
  -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF \
  -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF
package_dir=$(sed -n 's/^synth_tracing_DIR:PATH=//p' "$scratch/cmake-build/CMakeCache.txt")
[[ $package_dir == "$prefix"/* ]] || fail "find_package used $package_dir, not the package in $prefix"
cmake --build "$scratch/cmake-build"
"$scratch/cmake-build/consumer"
"$scratch/cmake-build/store_consumer" "$scratch/cmake-store.duckdb"
"$scratch/cmake-build/core_consumer"
"$source_dir/tests/core_only/links_no_layer.sh" "$scratch/cmake-build/core_consumer"

step "pkg-config consumer"
pc_file=$(find "$prefix" -name synth_tracing.pc -print -quit)
[ -n "$pc_file" ] || fail "no synth_tracing.pc under $prefix"
pc_dir=$(dirname "$pc_file")
export PKG_CONFIG_PATH=$pc_dir${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
pc_prefix=$(pkg-config --variable=prefix synth_tracing)
[ "$pc_prefix" -ef "$prefix" ] || fail "synth_tracing.pc says prefix=$pc_prefix, but it was installed into $prefix"
version=$(pkg-config --modversion synth_tracing)
read -ra pc_flags <<<"$(pkg-config --cflags --libs synth_tracing)"
printf 'pkg-config flags: %s\n' "${pc_flags[*]}"
# The flags come after the source so that the static library's symbols resolve.
"$cxx" -O2 "${sanitize_flags[@]}" -DSYNTH_EXPECTED_VERSION="\"$version\"" "$consumer_src/main.cpp" \
  "${pc_flags[@]}" -o "$scratch/consumer-pkgconfig"
"$scratch/consumer-pkgconfig"

step "pkg-config consumer of the core alone"
read -ra core_flags <<<"$(pkg-config --cflags --libs synth_tracing_core)"
printf 'pkg-config flags: %s\n' "${core_flags[*]}"
"$cxx" -O2 "${sanitize_flags[@]}" "$consumer_src/core.cpp" "${core_flags[@]}" -o "$scratch/core-pkgconfig"
"$scratch/core-pkgconfig"
"$source_dir/tests/core_only/links_no_layer.sh" "$scratch/core-pkgconfig"

step "pkg-config consumer of the DuckDB store"
read -ra store_flags <<<"$(pkg-config --cflags --libs synth_tracing_duckdb)"
"$cxx" -O2 "${sanitize_flags[@]}" "$consumer_src/store.cpp" "${store_flags[@]}" -o "$scratch/store-pkgconfig"
"$scratch/store-pkgconfig" "$scratch/pkgconfig-store.duckdb"

step "installed synth-trace"
# It must find the libduckdb.so installed beside the library, not the build tree's copy.
duckdb_used=$(ldd "$prefix/bin/synth-trace" | awk '/libduckdb/ {print $3}')
[ "$duckdb_used" -ef "$prefix/lib/libduckdb.so" ] || [[ $duckdb_used == "$prefix"/* ]] ||
  fail "installed synth-trace loads $duckdb_used, not the libduckdb.so in $prefix"
"$prefix/bin/synth-trace" --version
"$prefix/bin/synth-trace" --db "$scratch/cli.duckdb" demo --episodes 1 >/dev/null
"$prefix/bin/synth-trace" --db "$scratch/cli.duckdb" sessions --format csv | grep -q '^demo-' ||
  fail "installed synth-trace demo stored no session"

step "install consumer test passed"
