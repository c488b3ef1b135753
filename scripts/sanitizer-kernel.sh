#!/usr/bin/env bash
# Builds the sanitizer kernels on demand: `checker kernel build` for each flavour asked for, then
# (with --boot) boots each once in the test VM and shows that it runs, has BTF for vsock, and
# that its sanitizer is on. Not run by CI: a fresh build takes most of an hour on the project's
# 2-core machine (README.md, "Sanitizer kernels"); CI checks the configuration step only
# (scripts/test.sh runs this script with --config-only).
#
# Usage: bash scripts/sanitizer-kernel.sh [--config-only] [--boot] [FLAVOUR...]
#   FLAVOUR: kasan-lockdep (the default), kcsan-lockdep, kasan, kcsan, lockdep
#   BASE=6.1.176-1 (the Debian kernel version), NICE=19 (the builds' niceness: a shared machine)
# Self-installing and safe to run twice: installs what a kernel build needs if dpkg says it is
# missing (root needed then), and a finished build is found in the cache at once.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
log() { printf 'sanitizer-kernel: %s\n' "$*"; }

config_only=false
boot=false
flavours=()
for argument in "$@"; do
    case $argument in
        --config-only) config_only=true ;;
        --boot) boot=true ;;
        kasan|kcsan|lockdep|kasan-lockdep|kcsan-lockdep) flavours+=("$argument") ;;
        *) echo "sanitizer-kernel: error: unknown argument '$argument'; give --config-only, --boot or flavours (kasan-lockdep, kcsan-lockdep, kasan, kcsan, lockdep)" >&2
           exit 2 ;;
    esac
done
((${#flavours[@]})) || flavours=(kasan-lockdep)
base=${BASE:-6.1.176-1}

# The project's own dependencies (Swift's, virtme-ng, flex and bison for the configuration).
bash scripts/setup.sh
# A whole kernel's: bc (kernel/time/timeconst), libssl-dev (certs/ and scripts/sign-file),
# libelf-dev (objtool), dwarves (pahole: BTF), gcc-12 (Debian 6.1's compiler; KCSAN needs GCC 11+).
packages=(bc libssl-dev libelf-dev dwarves gcc-12 flex bison make xz-utils)
missing=()
for package in "${packages[@]}"; do
    [[ "$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)" == "install ok installed" ]] || missing+=("$package")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -ne 0 ]]; then
        echo "sanitizer-kernel: error: not root, cannot install ${missing[*]}; run: sudo bash scripts/sanitizer-kernel.sh" >&2
        exit 1
    fi
    log "apt-get install ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

source scripts/env.sh
swift build -c release --product checker
checker=$(swift build -c release --show-bin-path)/checker

for flavour in "${flavours[@]}"; do
    flags=()
    [[ $flavour == kasan* ]] && flags+=(--kasan)
    [[ $flavour == kcsan* ]] && flags+=(--kcsan)
    [[ $flavour == *lockdep ]] && flags+=(--lockdep)
    if $config_only; then
        log "$flavour: configuration only"
        "$checker" kernel build --base "$base" "${flags[@]}" --config-only
        continue
    fi
    log "$flavour: load before: $(uptime)"
    start=$(date +%s)
    image=$(nice -n "${NICE:-19}" "$checker" kernel build --base "$base" "${flags[@]}")
    log "$flavour: $image ($(( $(date +%s) - start )) s; load after: $(uptime))"
    if $boot; then
        "$checker" vm --kernel "$image" --timeout 900 --exec \
            'uname -r; modprobe vsock && ls /sys/kernel/btf/vsock; dmesg | grep -i -E "kasan|kcsan|lockdep" | head'
    fi
done
