#!/usr/bin/env bash
# Installs what the project needs on a fresh Debian bookworm machine, and nothing into the places
# a developer's machine boots from or runs its own Python from:
# - Debian packages through apt (build and test dependencies, QEMU for the test VM);
# - virtme-ng (not packaged in bookworm) into a virtual environment of the project's own,
#   ${XDG_CACHE_HOME:-~/.cache}/checker/virtme-ng, made with Debian's python3-venv: the system
#   Python gets no package (PEP 668 would refuse it anyway).
# The kernels the test VM boots are not installed at all: `checker kernel fetch` (and `checker vm`,
# `checker series` on demand) unpack Debian's image packages into the checker's cache, so /boot,
# /vmlinuz, /lib/modules and the boot menu stay as they were.
# Idempotent: run it as often as you like; it installs only what dpkg (or the venv's vng) says is
# missing. Needs root only when an apt package is missing.
set -euo pipefail

log() { printf 'setup: %s\n' "$*"; }

# Build and unit-test dependencies: libbpf and its own dependencies, found through pkg-config
# (the CLibBPF system library in Package.swift).
# The test VM (`checker vm`, DESIGN.md "Facts measured"): QEMU (TCG), busybox for virtme's
# initramfs, udev (virtme-ng's init starts it so the guest gets /dev/virtio-ports, through which
# vng returns the guest command's output and exit status), kmod (depmod indexes the fetched
# kernels' modules; modprobe in the guest), file (vng reads a kernel image's version with it).
# `checker series` (out-of-tree module builds against Debian's headers, which name gcc-12, and
# module BTF by pahole from dwarves, then strip from binutils; the source and headers packages themselves are fetched into
# the checker's cache by `apt-get download`, not installed).
# The SNP harness compiles a patch's functions with `cc` (gcc: the `cc` alternative) and names a
# crash's place with `addr2line` (binutils).
# `checker kernel build` configures a whole kernel tree (make x86_64_defconfig, olddefconfig):
# the kconfig tool is built from flex and bison sources. CI tests that configuration step; the
# full build's own needs (bc, libssl-dev) are installed by scripts/sanitizer-kernel.sh.
packages=(libbpf-dev libelf-dev zlib1g-dev pkg-config
          qemu-system-x86 busybox-static udev kmod file python3-venv
          make gcc gcc-12 libc6-dev patch xz-utils dwarves binutils flex bison)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/checker
venv=$cache/virtme-ng
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
# virtme-ng from PyPI, pinned, in the project's own virtual environment (Debian's python3, not a
# pyenv or conda one that may be on PATH). `checker vm` finds it there; scripts put its bin first
# on PATH (scripts/env.sh).
vng_version() { "$venv/bin/vng" --version 2>/dev/null | awk '{print $NF}' || true; }
if [[ "$(vng_version)" == "$virtme_version" ]]; then
    log "virtme-ng $virtme_version present in $venv"
else
    log "/usr/bin/python3 -m venv $venv"
    rm -rf "$venv"
    if ! /usr/bin/python3 -m venv "$venv"; then
        echo "setup: error: cannot create the virtual environment $venv (is python3-venv installed?)" >&2
        exit 1
    fi
    log "$venv/bin/pip install virtme-ng==$virtme_version"
    if ! "$venv/bin/pip" install --quiet --disable-pip-version-check "virtme-ng==$virtme_version"; then
        echo "setup: error: pip install virtme-ng==$virtme_version into $venv failed (see pip's messages above)" >&2
        exit 1
    fi
    if [[ "$(vng_version)" != "$virtme_version" ]]; then
        echo "setup: error: $venv/bin/vng reports '$(vng_version)', not $virtme_version" >&2
        exit 1
    fi
    log "virtme-ng $virtme_version installed in $venv"
fi

log "libbpf $(pkg-config --modversion libbpf) (pkg-config)"
log "test VM: $("$venv/bin/vng" --version), $(qemu-system-x86_64 --version | head -n 1); kernels: checker kernel fetch"
log "done"
