#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian bookworm machine, through apt only.
# Idempotent: run it as often as you like; it installs only what dpkg says is missing.
# Needs root only when something is missing.
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }

# Build and unit-test dependencies: libbpf and its own dependencies, found through pkg-config
# (the CLibBPF system library in Package.swift).
packages=(libbpf-dev libelf-dev zlib1g-dev pkg-config)

# --- Next issue: the test VM for live checks. -----------------------------------------------
# Add here: qemu-system-x86, busybox-static and linux-image-6.1.0-50-amd64-unsigned to
# `packages`, and virtme-ng (`pip install virtme-ng`, pinned) after the apt step below.
# See DESIGN.md, "Facts measured on this project's machines".
# ---------------------------------------------------------------------------------------------

missing=()
for package in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    if [[ "$status" != "install ok installed" ]]; then
        missing+=("$package")
    fi
done

if ((${#missing[@]} == 0)); then
    log "apt packages present: ${packages[*]}"
else
    log "apt packages missing: ${missing[*]}"
    if [[ $(id -u) -ne 0 ]]; then
        echo "setup: error: not root, cannot install ${missing[*]}; run: sudo bash scripts/setup.sh" >&2
        exit 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    log "apt-get update"
    apt-get update -qq
    log "apt-get install ${missing[*]}"
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

log "libbpf $(pkg-config --modversion libbpf) (pkg-config)"
log "done"
