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
)

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

install_apt_packages
