#!/usr/bin/env bash
# Installs everything synth-tracing needs on a Debian 12 (bookworm) machine, at pinned versions.
# Idempotent: when every pinned package is already installed it touches nothing and takes a moment.
# Runs as root, or through sudo otherwise.
set -euo pipefail

# Debian packages as name=version. Add new ones here; the version is what
# `apt-cache madison NAME` offers on bookworm.
APT_PACKAGES=(
  "g++=4:12.2.0-3"
  "cmake=3.25.1-1"
  "make=4.3-4.1"
  "pkgconf=1.8.1-1"
  "libgtest-dev=1.12.1-0.2"
  "libgmock-dev=1.12.1-0.2"
  "libbenchmark-dev=1.7.1-1"
  "libsimdjson-dev=3.0.1-1"
  "nlohmann-json3-dev=3.11.2-2"
  "libcli11-dev=2.1.2+ds-1"
  "libre2-dev=20220601+dfsg-1+b1"
  "libyaml-cpp-dev=0.7.0+dfsg-8+b1"
  "libtomlplusplus-dev=3.3.0+ds-1"
  "libcurl4-openssl-dev=7.88.1-10+deb12u15"
  "zlib1g-dev=1:1.2.13.dfsg-1"
  "libcpp-httplib-dev=0.11.4+ds-1+deb12u1"
  "libmimalloc-dev=2.0.9+ds-2"
  "ccache=4.8+really4.7.5-1"
  "clang-14=1:14.0.6-12"
  "libclang-rt-14-dev=1:14.0.6-12"
  # Python package (python/): the extension, its tests and DataFrame results, for /usr/bin/python3.
  "pybind11-dev=2.10.3-1"
  "python3-dev=3.11.2-1+b1"
  "python3-pytest=7.2.1-2"
  "python3-pytest-asyncio=0.20.3-1"
  "python3-pandas=1.5.3+dfsg-2"
  # `pip install --no-build-isolation ./python`, offline, into the system Python or a venv.
  "python3-pip=23.0.1+dfsg-1"
  "python3-setuptools=66.1.1-1+deb12u2"
  "python3-wheel=0.38.4-2"
  "python3-venv=3.11.2-1+b1"
  # The viewer's browser tests (tests/web): playwright-core drives Debian's chromium.
  "chromium=156.0.8078.114-1~deb12u1"
)

# Only when no npm is on the PATH (machines of this kind already have Node.js and npm).
NPM_APT_PACKAGE="npm=9.2.0~ds1-1"

# DuckDB 1.4.4 comes from npm: libduckdb.so from the Node bindings package, duckdb.h from the
# source package (no npm package ships both). Fetched with `npm pack`, which runs no install
# scripts, into third_party/ (ignored by git), and pinned by sha256 at both stages.
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DUCKDB_DIR="$ROOT/third_party/duckdb"
DUCKDB_TARBALLS_SHA256="\
732fac4dc6b8f198870b9c4bb6ddf13544466daca00ad28ba2f1d80de5d7aa4b  duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz
5bb967dcbcd517670ba5f169f238fb9d6787e53752c60ebe24386169d76941ed  duckdb-1.4.4.tgz"
DUCKDB_FILES_SHA256="\
1ef33048e12235115ac0d277a0aaccbb560e33248144f488b5ac005cd9ba81b5  lib/libduckdb.so
cbe6a827284375c5a646b8f27dbd3a00808ce8738b5bbb49c190cb1e08540281  include/duckdb.h"

log() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] error: %s\n' "$*" >&2; exit 1; }

if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "run as root, or install sudo"
fi

# Packages of APT_PACKAGES not installed at exactly their pinned version.
missing_apt_packages() {
  local spec name version installed
  for spec in "${APT_PACKAGES[@]}"; do
    name=${spec%%=*}
    version=${spec#*=}
    installed=$(dpkg-query -W -f='${db:Status-Abbrev}${Version}' "$name" 2>/dev/null || true)
    [ "$installed" = "ii $version" ] || printf '%s\n' "$spec"
  done
}

install_apt_packages() {
  local missing spec name version offered
  mapfile -t missing < <(missing_apt_packages)
  if [ "${#missing[@]}" -eq 0 ]; then
    log "apt: all ${#APT_PACKAGES[@]} pinned packages present"
    return
  fi
  log "apt: installing ${missing[*]}"
  # `env` because sudo drops the caller's environment; the lock timeout waits for another apt
  # run (unattended upgrades, a parallel setup) instead of failing.
  local apt=("${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300)
  "${apt[@]}" update >/dev/null
  for spec in "${missing[@]}"; do
    name=${spec%%=*}
    version=${spec#*=}
    # apt-cache show exits 0 even for an unknown version, so compare with madison's list.
    offered=$(apt-cache madison "$name" | awk -F'|' '{gsub(/ /, "", $2); print $2}' | sort -u | paste -sd' ')
    if [[ " $offered " != *" $version "* ]]; then
      die "$name=$version is not available from apt (offered: ${offered:-none}); update the pin in scripts/setup.sh"
    fi
  done
  # --allow-downgrades: a newer version installed by hand is replaced by the pinned one.
  "${apt[@]}" install -y --no-install-recommends --allow-downgrades "${missing[@]}" >/dev/null
  mapfile -t missing < <(missing_apt_packages)
  [ "${#missing[@]}" -eq 0 ] || die "still not at the pinned version after install: ${missing[*]}"
  log "apt: done"
}

ensure_npm() {
  if command -v npm >/dev/null 2>&1; then
    return
  fi
  APT_PACKAGES+=("$NPM_APT_PACKAGE")
  install_apt_packages
}

install_duckdb() {
  if (cd "$DUCKDB_DIR" 2>/dev/null && sha256sum --check --quiet --status <<<"$DUCKDB_FILES_SHA256"); then
    log "duckdb: 1.4.4 present in third_party/duckdb"
    return
  fi
  ensure_npm
  log "duckdb: fetching 1.4.4 from npm"
  local tmp
  tmp=$(mktemp -d)
  # shellcheck disable=SC2064  # expand now: the trap must remove this very folder
  trap "rm -rf '$tmp'" RETURN
  (cd "$tmp" && npm pack --silent @duckdb/node-bindings-linux-x64@1.4.4-r.4 duckdb@1.4.4 >/dev/null) ||
    die "npm pack of DuckDB failed (is the npm registry reachable?)"
  (cd "$tmp" && sha256sum --check --quiet <<<"$DUCKDB_TARBALLS_SHA256") ||
    die "DuckDB tarballs from npm do not match their pinned sha256"
  rm -rf "$DUCKDB_DIR"
  mkdir -p "$DUCKDB_DIR/lib" "$DUCKDB_DIR/include"
  tar -xzf "$tmp/duckdb-node-bindings-linux-x64-1.4.4-r.4.tgz" -C "$DUCKDB_DIR/lib" --strip-components=1 \
    package/libduckdb.so
  tar -xzf "$tmp/duckdb-1.4.4.tgz" -C "$DUCKDB_DIR/include" --strip-components=5 \
    package/src/duckdb/src/include/duckdb.h
  (cd "$DUCKDB_DIR" && sha256sum --check --quiet <<<"$DUCKDB_FILES_SHA256") ||
    die "extracted DuckDB files do not match their pinned sha256"
  log "duckdb: done"
}

# The npm packages of the tests run on Node.js, each folder's exactly as its package-lock.json
# pins them (versions and integrity hashes), into its node_modules/ (ignored by git). Again when
# the lockfile is newer than node_modules:
# - tests/otel/receiver: an OTLP receiver decoding with the official OpenTelemetry protobuf code;
# - tests/server/otlp_sdk: the official OpenTelemetry JS SDK sending spans to `synth-trace serve`;
# - tests/server/genai_instrumentation: the openai instrumentations of OpenTelemetry, OpenInference
#   and OpenLLMetry on the `openai` client, exporting spans and log events to `synth-trace serve`;
# - tests/web: playwright-core, driving chromium through the viewer;
# - web: the viewer's own packages (preact, htm, uplot, esbuild), for `node web/build.mjs` during
#   development (the CMake build runs its own `npm ci` in the build folder).
NPM_TEST_DIRS=("$ROOT/tests/otel/receiver" "$ROOT/tests/server/otlp_sdk" "$ROOT/tests/server/genai_instrumentation"
               "$ROOT/tests/web" "$ROOT/web")

install_test_packages() {
  local dir modules
  for dir in "${NPM_TEST_DIRS[@]}"; do
    modules="$dir/node_modules"
    if [ -d "$modules" ] && [ "$modules" -nt "$dir/package-lock.json" ]; then
      log "npm: test packages present in ${dir#"$ROOT"/}"
      continue
    fi
    ensure_npm
    log "npm: installing the test packages (npm ci in ${dir#"$ROOT"/})"
    # --ignore-scripts: none of these packages needs an install script to work.
    (cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error >/dev/null) ||
      die "npm ci in ${dir#"$ROOT"/} failed (is the npm registry reachable?)"
    touch "$modules"  # newer than the lockfile from now on
  done
  log "npm: done"
}

install_apt_packages
install_duckdb
install_test_packages
