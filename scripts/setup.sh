#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian bookworm machine: Debian packages through
# apt, and virtme-ng (not packaged in bookworm) through pip, both pinned where it matters.
# Idempotent: run it as often as you like; it installs only what dpkg (or `vng --version`) says
# is missing. Needs root only when an apt package is missing.
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }

# Build and unit-test dependencies: libbpf and its own dependencies, found through pkg-config
# (the CLibBPF system library in Package.swift).
# The test VM for live checks (`checker vm`, DESIGN.md "Facts measured"): QEMU (TCG), busybox
# for virtme's guest, and the Debian 6.1.176 kernel the checks boot, pinned (`name=version`).
# `checker series` (out-of-tree module builds against Debian's headers, which name gcc-12, and
# module BTF by pahole from dwarves; the source and headers packages themselves are fetched into
# the checker's cache by `apt-get download`, not installed).
# The SNP trace check (scripts/snp-live-checks.sh) boots Debian's 6.12 kernel: it has
# KVM_AMD_SEV, guest_memfd and KVM_SET_MEMORY_ATTRIBUTES (6.1 has neither), pinned too.
packages=(libbpf-dev libelf-dev zlib1g-dev pkg-config
          qemu-system-x86 busybox-static linux-image-6.1.0-50-amd64-unsigned=6.1.176-1
          linux-image-6.12.111+deb12-amd64-unsigned=6.12.111-1~deb12u1
          make gcc-12 libc6-dev patch xz-utils dwarves)
kernel_image=/boot/vmlinuz-6.1.0-50-amd64
snp_kernel_image=/boot/vmlinuz-6.12.111+deb12-amd64
virtme_version=1.42

missing=()
for package in "${packages[@]}"; do
    name=${package%%=*}
    status=$(dpkg-query -W -f='${Status} ${Version}' "$name" 2>/dev/null || true)
    if [[ "$status" != "install ok installed"* ]]; then
        missing+=("$package")
    elif [[ "$package" == *=* && "$status" != "install ok installed ${package#*=}" ]]; then
        missing+=("$package")    # installed, but not the pinned version
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
    if ! apt-get update -qq; then
        echo "setup: error: apt-get update failed; check the network and /etc/apt/sources.list" >&2
        exit 1
    fi
    log "apt-get install ${missing[*]}"
    if ! apt-get install -y -qq --no-install-recommends --allow-downgrades "${missing[@]}"; then
        echo "setup: error: apt-get install failed for: ${missing[*]} (see apt's messages above)" >&2
        exit 1
    fi
fi
if [[ ! -f "$kernel_image" ]]; then
    echo "setup: error: $kernel_image is missing after installing linux-image-6.1.0-50-amd64-unsigned" >&2
    exit 1
fi
if [[ ! -f "$snp_kernel_image" ]]; then
    echo "setup: error: $snp_kernel_image is missing after installing linux-image-6.12.111+deb12-amd64-unsigned" >&2
    exit 1
fi

# virtme-ng (`vng`) is not in Debian bookworm: from PyPI, pinned, through a Python that allows
# pip installs (pyenv's on the project's machines; Debian's own python3 refuses them, PEP 668).
vng_version() { vng --version 2>/dev/null | awk '{print $NF}' || true; }
if [[ "$(vng_version)" == "$virtme_version" ]]; then
    log "virtme-ng $virtme_version present"
else
    python=""
    for candidate in "$HOME/.pyenv/shims/python3" python3; do
        if "$candidate" -m pip --version >/dev/null 2>&1 && "$candidate" -c '
import os, sys, sysconfig
sys.exit(os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED")))' 2>/dev/null; then
            python=$candidate
            break
        fi
    done
    if [[ -z "$python" ]]; then
        echo "setup: error: no python3 that may pip-install virtme-ng==$virtme_version (Debian's refuses, PEP 668); install pyenv's Python or pipx" >&2
        exit 1
    fi
    log "$python -m pip install virtme-ng==$virtme_version"
    if ! "$python" -m pip install --quiet --disable-pip-version-check --root-user-action=ignore "virtme-ng==$virtme_version"; then
        echo "setup: error: pip install virtme-ng==$virtme_version failed (see pip's messages above)" >&2
        exit 1
    fi
    if command -v pyenv >/dev/null 2>&1; then pyenv rehash; fi
    # Where pip put `vng`; make it reachable on any PATH that has /usr/local/bin.
    scripts=$("$python" -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
    if ! command -v vng >/dev/null 2>&1 && [[ -x "$scripts/vng" && ! -e /usr/local/bin/vng ]]; then
        ln -s "$scripts/vng" /usr/local/bin/vng
    fi
    if [[ "$(vng_version)" != "$virtme_version" ]]; then
        echo "setup: error: virtme-ng $virtme_version is installed in $scripts, but the vng on PATH reports '$(vng_version)'; put $scripts first on PATH" >&2
        exit 1
    fi
    log "virtme-ng $virtme_version installed"
fi

log "libbpf $(pkg-config --modversion libbpf) (pkg-config)"
log "test VM: $(vng --version), $(qemu-system-x86_64 --version | head -n 1), kernel $kernel_image"
log "done"
