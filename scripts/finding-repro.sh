#!/usr/bin/env bash
# Runs a standalone C reproducer of a finding about a patch series in the test VM, with the
# series' rebuilt vsock modules loaded in place of the stock ones, and reports whether the guest
# kernel oopsed (BUG / Oops / general protection fault on the console).
#
#   bash scripts/finding-repro.sh MODULES PROGRAM.c [MODULE...]
#
#   MODULES   folder of rebuilt modules (checker series --build-only prints it)
#   PROGRAM.c the reproducer (series/<series>/findings/*.c); built here with cc
#   MODULE... modules to load from MODULES, in order (default: vsock
#             vmw_vsock_virtio_transport_common vsock_loopback vmw_vsock_virtio_transport)
#
# Prints `finding: reproduced: <first oops line>` and exits 0 when the kernel oopsed, or
# `finding: not reproduced` and exits 1. A missing prerequisite fails with exit 2.
set -euo pipefail

die() { echo "finding-repro: error: $*" >&2; exit 2; }
[[ $# -ge 2 ]] || die "usage: $0 MODULES PROGRAM.c [MODULE...]"
modules=$(cd "$1" 2>/dev/null && pwd) || die "MODULES $1 is not a folder"
program=$2
[[ -f $program ]] || die "no reproducer at $program"
shift 2
load=("$@")
((${#load[@]})) || load=(vsock vmw_vsock_virtio_transport_common vsock_loopback vmw_vsock_virtio_transport)
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
kernel=${KERNEL:-$checker_cache/kernels/6.1.0-50-amd64/boot/vmlinuz-6.1.0-50-amd64}
[[ -f $kernel ]] || die "kernel image $kernel missing (checker kernel fetch 6.1.176-1)"
command -v vng >/dev/null || die "vng (virtme-ng) missing (bash scripts/setup.sh)"
command -v cc >/dev/null || die "cc missing (apt-get install gcc)"
for m in "${load[@]}"; do [[ -f $modules/$m.ko ]] || die "$modules/$m.ko missing"; done

# The guest sees the host's filesystem read-only, so everything it runs lives here.
work=$(mktemp -d /tmp/finding-repro.XXXXXX)
trap 'rm -rf "$work"' EXIT
cc -O2 -Wall -o "$work/repro" "$program" || die "$program does not compile"
printf '%s\n' "${load[@]}" > "$work/modules.txt"
cat > "$work/guest.sh" <<'GUEST'
set -u
modules=$1 work=$2
# Stock dependencies (vhost, virtio) come from modprobe; the rebuilt ones from MODULES, in order.
while read -r m; do
    for dep in $(modinfo -F depends "$modules/$m.ko" | tr ',' ' '); do
        [[ -f $modules/$dep.ko ]] || modprobe "$dep"
    done
    insmod "$modules/$m.ko" || { echo "guest: insmod $m failed"; exit 1; }
done < "$work/modules.txt"
echo "guest: loaded $(lsmod | awk '/vsock/ {printf "%s ", $1}')"
"$work/repro"
echo "guest: reproducer exited with status $?"
sleep 2   # let the console drain an oops
GUEST

# A guest whose kernel oopsed in a syscall usually never finishes: stop the VM 10 s after the
# console shows the oops instead of waiting for the timeout (240 s).
set +e
setsid timeout -k 10 240 vng -r "$kernel" --disable-kvm --force-9p --memory 2G --cpus 2 --verbose --append=loglevel=5 \
    --exec "bash $work/guest.sh $modules $work" < /dev/null > "$work/console.log" 2>&1 &
vm=$!
while kill -0 "$vm" 2>/dev/null; do
    if grep -a -q -E 'BUG: |Oops|general protection fault' "$work/console.log"; then
        sleep 10
        kill -TERM -- "-$vm" 2>/dev/null
        break
    fi
    sleep 2
done
wait "$vm"
set -e
cp "$work/console.log" "${FINDING_CONSOLE:-/dev/null}" 2>/dev/null || true
grep -a 'guest:\|received\|sent ' "$work/console.log" | sed 's/^/    /' || true
oops=$(grep -a -m 1 -E 'BUG: |Oops|general protection fault' "$work/console.log" || true)
if [[ -n $oops ]]; then
    grep -a -E '^\s*(\[[ 0-9.]+\])?\s*(\? )?(RIP: |[a-z_]+\+0x[0-9a-f]+/0x[0-9a-f]+)' "$work/console.log" | head -n 6 | sed 's/^/    /' || true
    echo "finding: reproduced: ${oops#*] }"
    exit 0
fi
echo "finding: not reproduced"
exit 1
