#!/usr/bin/env bash
# Captures real kernel bug reports from the test VM's kernel as console logs, the fixtures of the
# crash signature parser's tests (Tests/CheckerTests/Consoles/<kind>.log). Builds crashkind.ko
# against the base kernel's headers, boots the test VM once per kind, loads the module with that
# kind, and keeps the console from boot to the end of the report. Run once; the logs are committed.
#
#   bash scripts/crash-consoles/capture.sh [KIND...]      (default: every kind)
#   LOGLEVEL=7 SUFFIX=-loglevel7 bash scripts/crash-consoles/capture.sh hang
#
# The console log level is the test VM's (5) unless LOGLEVEL says otherwise: at 5 the kernel
# prints a hung task's header but not its stack (sched_show_task() prints at KERN_INFO).
#
# The two vsock logs are the series' own crashes (findings 1 and 2), captured with their C
# reproducers on the v5 modules (checker series --patches ../shared/patches/vsock-dgram-v5 --build-only):
#   FINDING_CONSOLE=Tests/CheckerTests/Consoles/vsock-wild-call.log bash scripts/finding-repro.sh MODULES \
#     series/vsock-dgram-v5/findings/vmci-socket-sendto-loopback-wild-call.c \
#     vsock vmw_vsock_vmci_transport vmw_vsock_virtio_transport_common vsock_loopback
#   FINDING_CONSOLE=Tests/CheckerTests/Consoles/vsock-recvfrom-null.log bash scripts/finding-repro.sh MODULES \
#     series/vsock-dgram-v5/findings/loopback-recvfrom-null-dgram-addr-init.c
#
# Needs what scripts/setup.sh installs and the base kernel (checker kernel fetch 6.1.176-1).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../env.sh"
die() { echo "capture: error: $*" >&2; exit 2; }
kinds=("$@")
loglevel=${LOGLEVEL:-5}
suffix=${SUFFIX:-}
((${#kinds[@]})) || kinds=(oops gpf warning bug hang rcu-stall soft-lockup)
kernel=${KERNEL:-$checker_cache/kernels/6.1.0-50-amd64/boot/vmlinuz-6.1.0-50-amd64}
headers=$checker_cache/base/6.1.176-1/usr/src/linux-headers-6.1.0-50-amd64
[[ -f $kernel ]] || die "kernel image $kernel missing (checker kernel fetch 6.1.176-1)"
[[ -d $headers ]] || die "kernel headers $headers missing (checker series --build-only unpacks them)"
command -v vng >/dev/null || die "vng (virtme-ng) missing (bash scripts/setup.sh)"
out=$here/../../Tests/CheckerTests/Consoles
mkdir -p "$out"

work=$(mktemp -d /tmp/crash-consoles.XXXXXX)
trap 'rm -rf "$work"' EXIT
cp "$here/crashkind.c" "$here/Kbuild" "$work/"
make -s -C "$headers" M="$work" modules >/dev/null || die "crashkind.ko does not build against $headers"

for kind in "${kinds[@]}"; do
    # Each detector fires within seconds, and only the one the kind is about: the hung task
    # detector after 5 s; RCU's stall warning after 3 s (the soft lockup watchdog off); the soft
    # lockup watchdog after 2 × 2 s (RCU's warning pushed to its 300 s maximum).
    cat > "$work/guest.sh" <<GUEST
echo 5 > /proc/sys/kernel/hung_task_timeout_secs
if [ $kind = rcu-stall ]; then echo 0 > /proc/sys/kernel/soft_watchdog; echo 3 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout; fi
if [ $kind = soft-lockup ]; then echo 300 > /sys/module/rcupdate/parameters/rcu_cpu_stall_timeout; echo 2 > /proc/sys/kernel/watchdog_thresh; fi
insmod $work/crashkind.ko kind=$kind
echo "capture: insmod returned \$?"
sleep 20
GUEST
    log=$work/$kind.log
    setsid timeout -k 10 180 vng -r "$kernel" --disable-kvm --force-9p --memory 2G --cpus 2 --verbose --append=loglevel=$loglevel \
        --exec "bash $work/guest.sh" < /dev/null > "$log" 2>&1 &
    vm=$!
    # Stop the VM a few seconds after the report ended (or the guest finished).
    for _ in $(seq 1 170); do
        kill -0 "$vm" 2>/dev/null || break
        if grep -a -q -E -- '---\[ end trace|end Kernel panic|capture: insmod returned' "$log"; then sleep 4; break; fi
        sleep 1
    done
    kill -- -"$vm" 2>/dev/null || true
    wait "$vm" 2>/dev/null || true
    tr -d '\r' < "$log" > "$out/$kind$suffix.log"
    echo "capture: $kind: $(grep -a -c '' "$out/$kind$suffix.log") lines in $out/$kind$suffix.log"
done
