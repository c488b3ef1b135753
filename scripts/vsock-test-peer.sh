#!/usr/bin/env bash
# Peer suite: builds the vsock series' own test program (tools/testing/vsock/vsock_test, with the
# dgram tests of "[PATCH RFC net-next v5 14/14] test/vsock: add vsock dgram tests") from a
# patched tree and runs it in the test VM, single-VM loopback mode (peer CID 1, served by
# vsock_loopback), against the rebuilt patched vsock modules.
#
#   bash scripts/vsock-test-peer.sh TREE MODULES RESULTS_DIR
#
#   TREE         patched tree (tools/testing/vsock/, include/uapi/linux/vm_sockets.h, Makefile),
#                e.g. ~/.cache/checker/builds/<key>/tree; never modified.
#   MODULES      folder with the rebuilt vsock.ko, vmw_vsock_virtio_transport_common.ko and
#                vsock_loopback.ko, e.g. ~/.cache/checker/builds/<key>/modules.
#   RESULTS_DIR  where the logs go (created; our own files in it are replaced on every run).
#
# Environment (optional):
#   VSOCK_TEST_SKIP  test names or IDs to skip, separated by ';' (default: the tests listed in
#                    DEFAULT_SKIP below, which cannot work in single-VM loopback mode). Set it
#                    to the empty string to run everything.
#   GUEST_EXTRA_MODULES  rebuilt modules from MODULES to insmod after vsock_loopback, separated
#                    by spaces (default none). With the series, socket(AF_VSOCK, SOCK_DGRAM)
#                    picks a transport at creation time from the remote CID VMADDR_CID_ANY, which
#                    only a guest->host (g2h), host->guest (h2g) or dgram-fallback transport
#                    serves, never the local one: with vsock_loopback alone it fails with ENODEV.
#                    GUEST_EXTRA_MODULES=vmw_vsock_virtio_transport (registers as g2h even without
#                    a virtio-vsock device) lets the dgram tests reach the loopback data path.
#   KERNEL           guest kernel image (default: Debian 6.1.176 in the checker's cache,
#                    checker kernel fetch 6.1.176-1).
#   LINUX_SOURCE_TARBALL  where tools/include comes from when TREE lacks it
#                    (default /usr/src/linux-source-6.1.tar.xz).
#   PAIR_TIMEOUT     seconds one server/client pair may run (default 120).
#   VM_TIMEOUT       seconds the whole VM may run (default 1800).
#   SCRATCH          scratch base folder (default /tmp/vt); the guest must see it (it sees the
#                    host filesystem read-only), so it must not be a guest tmpfs.
#
# Output: one line `vsock_test: N ok, M failed, K skipped`; exit 0 only if no test failed and
# the guest kernel logged no BUG/WARNING/Oops. Results: RESULTS_DIR/results.tsv (id, verdict,
# name), NN-server.log / NN-client.log per test, guest.log, dmesg.log, vm.log.
set -euo pipefail

die() { echo "vsock-test-peer: error: $*" >&2; exit 1; }

[[ $# -eq 3 ]] || die "usage: $0 TREE MODULES RESULTS_DIR"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tree=$(cd "$1" 2>/dev/null && pwd) || die "TREE $1 is not a folder"
modules=$(cd "$2" 2>/dev/null && pwd) || die "MODULES $2 is not a folder"
mkdir -p "$3" || die "cannot create RESULTS_DIR $3"
results=$(cd "$3" && pwd)

source "$here/env.sh"
kernel=${KERNEL:-$checker_cache/kernels/6.1.0-50-amd64/boot/vmlinuz-6.1.0-50-amd64}
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
pair_timeout=${PAIR_TIMEOUT:-120}
vm_timeout=${VM_TIMEOUT:-1800}
scratch=${SCRATCH:-/tmp/vt}
compat=$here/../series/vsock-dgram-v5/6.1.176-1/vsock_test/0014-vsock_test-on-6.1.diff
# Loopback mode: server and client both run in the guest, so each one's peer is the local CID
# (VMADDR_CID_LOCAL = 1). "SOCK_DGRAM drop big packets" decides what to do from the peer CID
# (server: the peer must be a guest, CID > 2; client: the peer must be the host, CID <= 2); with
# CID 1 on both sides the server returns at once while the client waits for a "DONE" that never
# comes, so it can only fail here. It needs a host/guest pair.
DEFAULT_SKIP="SOCK_DGRAM drop big packets"
skip=${VSOCK_TEST_SKIP-$DEFAULT_SKIP}
extra=${GUEST_EXTRA_MODULES:-}

# --- Prerequisites: every one missing is a loud failure, not a half-run suite. -------------
[[ -d $tree/tools/testing/vsock && -f $tree/tools/testing/vsock/vsock_test.c ]] \
    || die "$tree has no tools/testing/vsock/vsock_test.c (not a patched kernel tree?)"
[[ -f $tree/include/uapi/linux/vm_sockets.h ]] || die "$tree has no include/uapi/linux/vm_sockets.h"
[[ -f $tree/Makefile ]] || die "$tree has no top-level Makefile (needed for its kernel version)"
[[ -f $compat ]] || die "compat diff missing: $compat"
for ko in vsock vmw_vsock_virtio_transport_common vsock_loopback $extra; do
    [[ -f $modules/$ko.ko ]] || die "$modules/$ko.ko missing"
done
[[ -f $kernel ]] || die "kernel image $kernel missing (checker kernel fetch 6.1.176-1)"
for tool in gcc make patch vng modinfo timeout tar; do
    command -v "$tool" >/dev/null || die "$tool not found on PATH${tool/vng/ (virtme-ng; bash scripts/setup.sh)}"
done
# The rebuilt modules must be for the guest kernel, or insmod fails late inside the VM.
release=$(modinfo -F vermagic "$modules/vsock.ko" | awk '{print $1}')
# The guest's /lib/modules/$release: beside a fetched image (virtme-ng links it), else the host's.
moddir=$(dirname "$kernel")/../lib/modules/$release
[[ -d $moddir ]] || moddir=/lib/modules/$release
[[ -d $moddir ]] || die "modules are for $release, but neither the kernel's folder nor /lib/modules has $release"
case $kernel in *"$release"*) ;; *) die "modules are for $release, kernel image is $kernel" ;; esac
# vng passes --rwdir and --exec paths through its own parsing: no spaces, no '='.
for p in "$results" "$scratch" "$modules"; do
    [[ $p != *[[:space:]=]* ]] || die "path '$p' contains a space or '=', which vng cannot pass to the guest"
done

mkdir -p "$scratch"
work=$(mktemp -d "$scratch/peer.XXXXXX")
# Everything built here is private to this run, so two runs never share a build folder.
trap 'rm -rf "$work"' EXIT

# --- tools/include: vsock_test.c uses min() and ARRAY_SIZE() from tools/include/linux/kernel.h
# (the Makefile's -I../../include). The cached checker trees hold only the folders the series
# touches, so take tools/include from the Debian source tarball of the same version, cached by
# the tarball's identity (extracting it costs ~20 s).
if [[ -d $tree/tools/include/linux ]]; then
    tools_include=$tree/tools/include
else
    [[ -f $tarball ]] || die "$tree has no tools/include and $tarball is missing (apt-get install linux-source-6.1)"
    key=$(stat -c '%s-%Y' "$tarball")
    tools_include=$scratch/cache/tools-include-$key/tools/include
    if [[ ! -d $tools_include ]]; then
        echo "vsock-test-peer: extracting tools/include from $tarball"
        tmp=$(mktemp -d "$scratch/cache.XXXXXX")
        # Debian's tarball linux-source-6.1.tar.xz has everything under linux-source-6.1/.
        top=$(basename "$tarball" .tar.xz)
        tar -xJf "$tarball" -C "$tmp" "$top/tools/include" "$top/Makefile" \
            || { rm -rf "$tmp"; die "cannot extract $top/tools/include from $tarball"; }
        mkdir -p "$tmp/out/tools"
        mv "$tmp/$top/tools/include" "$tmp/out/tools/include"
        mv "$tmp/$top/Makefile" "$tmp/out/Makefile"
        mkdir -p "$scratch/cache"
        # mv of a whole folder is atomic; if a concurrent run won the race, keep theirs.
        mv -T "$tmp/out" "$scratch/cache/tools-include-$key" 2>/dev/null || true
        rm -rf "$tmp"
    fi
    # Same kernel version, or the helpers may not match the tree.
    version() { awk -F' = ' '/^(VERSION|PATCHLEVEL|SUBLEVEL) =/ {printf "%s.", $2}' "$1"; }
    [[ $(version "$tree/Makefile") == "$(version "$scratch/cache/tools-include-$key/Makefile")" ]] \
        || die "$tarball is not the same kernel version as $tree"
fi

# --- Build: same layout as the kernel tree, so the Makefile's relative -I paths mean what they
# mean upstream: -I. -I../../include (tools/include) -I../../../usr/include (uapi headers).
mkdir -p "$work/tools/testing" "$work/usr/include/linux"
cp -r "$tree/tools/testing/vsock" "$work/tools/testing/vsock"
ln -s "$tools_include" "$work/tools/include"
# usr/include holds the tree's vsock uapi headers (the series changes virtio_vsock.h), so they
# come before the system's /usr/include. Copied the way `make headers_install` would
# (the _UAPI guard prefix and compiler.h includes removed); the raw include/uapi folder itself
# cannot be used, its linux/stddef.h pulls kernel-internal headers.
for h in vm_sockets.h virtio_vsock.h vm_sockets_diag.h vsockmon.h; do
    [[ -f $tree/include/uapi/linux/$h ]] || continue
    sed -E -e 's@^#include <linux/compiler(|_types)\.h>@@' \
        -e 's@#(ifndef|define|endif[[:space:]]*/[*])[[:space:]]*_UAPI@#\1 @' \
        "$tree/include/uapi/linux/$h" > "$work/usr/include/linux/$h"
done
(cd "$work" && patch -p1 --fuzz=0 --quiet < "$compat") \
    || die "the compat diff does not apply to $tree/tools/testing/vsock (patch -p1 --fuzz=0)"
make -C "$work/tools/testing/vsock" vsock_test > "$work/build.log" 2>&1 \
    || { cat "$work/build.log" >&2; die "vsock_test does not build"; }
bin=$work/tools/testing/vsock/vsock_test

# `vsock_test --list` exits 1 by design; the table must hold patch 14's dgram tests, or the
# compat fix did not take.
list=$("$bin" --list || true)
grep -q $'^[0-9]*\tSOCK_DGRAM client sendto$' <<<"$list" || die "vsock_test --list lacks the dgram tests"
printf '%s\n' "$list" | tail -n +2 > "$work/tests.tsv"
printf '%s\n' "$skip" | tr ';' '\n' | sed '/^[[:space:]]*$/d' > "$work/skip.txt"
while read -r s; do
    awk -F'\t' -v s="$s" '$1 == s || $2 == s {found=1} END {exit !found}' "$work/tests.tsv" \
        || die "VSOCK_TEST_SKIP names an unknown test: '$s'"
done < "$work/skip.txt"
echo "vsock vmw_vsock_virtio_transport_common vsock_loopback $extra" > "$work/modules.txt"

# --- Guest script: loads the rebuilt modules, runs one server/client pair per test.
cat > "$work/guest.sh" <<'GUEST'
# Runs inside the test VM. Arguments: BIN MODULES RESULTS WORK PAIR_TIMEOUT.
set -uo pipefail
bin=$1 modules=$2 out=$3 work=$4 pair_timeout=$5
log() { echo "guest: $*" | tee -a "$out/guest.log"; }
fatal() { log "error: $*"; exit 1; }

# The control channel is TCP over loopback.
ip link set lo up || fatal "cannot bring lo up"
log "kernel $(uname -r); lo $(cat /sys/class/net/lo/operstate)"
log "vsock modules at boot: $(lsmod | awk '/vsock/ {printf "%s ", $1}')"
# Stock vsock modules (autoloaded by a virtio-vsock device, for instance) must go first, or
# insmod of the rebuilt vsock.ko fails with "File exists".
for m in vsock_loopback vmw_vsock_virtio_transport vhost_vsock vmw_vsock_vmci_transport \
         hv_sock vsock_diag vmw_vsock_virtio_transport_common vsock; do
    [[ -d /sys/module/$m ]] && { rmmod "$m" || fatal "cannot unload stock $m"; }
done
# Dependency order (modules.txt: the three loopback modules, then GUEST_EXTRA_MODULES). A dep
# that was rebuilt must already be loaded from MODULES; other deps (virtio, vhost) are stock and
# come from modprobe.
for m in $(cat "$work/modules.txt"); do
    for dep in $(modinfo -F depends "$modules/$m.ko" | tr ',' ' '); do
        if [[ -f $modules/$dep.ko ]]; then
            [[ -d /sys/module/$dep ]] || fatal "$m needs the rebuilt $dep; list it before $m"
        else
            modprobe "$dep" || fatal "modprobe $dep"
        fi
    done
    insmod "$modules/$m.ko" || fatal "insmod $modules/$m.ko"
    want=$(modinfo -F srcversion "$modules/$m.ko")
    have=$(cat "/sys/module/$m/srcversion" 2>/dev/null || true)
    [[ -z $want || $want == "$have" ]] || fatal "$m loaded, but srcversion $have is not the rebuilt $want"
done
# The patched af_vsock has the series' dgram bind lookup; the stock one does not.
grep -q ' vsock_find_bound_dgram_socket' /proc/kallsyms \
    || fatal "vsock_find_bound_dgram_socket not in kallsyms: not the patched vsock.ko"
log "loaded: $(lsmod | awk '/vsock/ {printf "%s ", $1}')"
dmesg > "$out/dmesg-before.log"

mapfile -t ids < <(cut -f1 "$work/tests.tsv")
: > "$out/results.tsv"
for id in "${ids[@]}"; do
    name=$(awk -F'\t' -v i="$id" '$1 == i {print $2}' "$work/tests.tsv")
    nn=$(printf '%02d' "$id")
    if awk -v i="$id" -v n="$name" '$0 == i || $0 == n {f=1} END {exit !f}' "$work/skip.txt"; then
        printf '%s\tskipped\t%s\n' "$id" "$name" >> "$out/results.tsv"
        log "$id - $name: skipped (VSOCK_TEST_SKIP)"
        continue
    fi
    # One server/client pair per test, all other tests --skip'ed: a failing test exits the
    # program (6.1's vsock_test has no FAIL line: it prints the error and exits), which would
    # otherwise leave every later test without a result. The kernel state is shared, so port
    # reuse across tests is still exercised. A fresh control port per pair keeps a client from
    # reaching a previous pair's server.
    others=()
    for j in "${ids[@]}"; do [[ $j == "$id" ]] || others+=("--skip=$j"); done
    port=$((20000 + id))
    start=$(date +%s%N)
    timeout -k 5 "$pair_timeout" "$bin" --mode=server --control-port="$port" --peer-cid=1 \
        "${others[@]}" > "$out/$nn-server.log" 2>&1 &
    spid=$!
    for _ in $(seq 1 200); do
        grep -q 'Control socket listening' "$out/$nn-server.log" && break
        kill -0 "$spid" 2>/dev/null || break
        sleep 0.1
    done
    timeout -k 5 "$pair_timeout" "$bin" --mode=client --control-host=127.0.0.1 \
        --control-port="$port" --peer-cid=1 "${others[@]}" > "$out/$nn-client.log" 2>&1
    crc=$?
    wait "$spid"; src=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    # ok: both sides exited 0 and printed "ID - name...ok" (text a test prints itself may sit
    # between the dots and "ok").
    verdict=ok
    for side in server client; do
        grep -q "^$id - .*ok\$" "$out/$nn-$side.log" || verdict=failed
    done
    [[ $crc -eq 0 && $src -eq 0 ]] || verdict=failed
    note="server exit $src, client exit $crc, ${ms} ms"
    [[ $crc -eq 124 || $src -eq 124 ]] && note="$note (timeout ${pair_timeout}s)"
    printf '%s\t%s\t%s\t%s\n' "$id" "$verdict" "$name" "$note" >> "$out/results.tsv"
    log "$id - $name: $verdict ($note)"
done
dmesg > "$out/dmesg.log"
log "done"
GUEST

# --- Results folder: replace only what this script writes, so a rerun never mixes runs.
rm -f "$results"/results.tsv "$results"/[0-9][0-9]-server.log "$results"/[0-9][0-9]-client.log \
    "$results"/guest.log "$results"/dmesg.log "$results"/dmesg-before.log "$results"/vm.log \
    "$results"/build.log
cp "$work/build.log" "$results/build.log"

# This 2-core machine runs at most two VMs at once; wait for a slot instead of slowing both.
for _ in $(seq 1 120); do
    [[ $(pgrep -c qemu-system || true) -lt 2 ]] && break
    echo "vsock-test-peer: two VMs already running; waiting for one to finish"
    sleep 10
done
[[ $(pgrep -c qemu-system || true) -lt 2 ]] || die "no VM slot free after 20 minutes"

echo "vsock-test-peer: running vsock_test in the VM ($kernel, TCG); logs in $results"
t0=$(date +%s)
set +e
# timeout signals the whole process group (vng and the QEMU it starts) when the VM overruns.
timeout -k 30 "$vm_timeout" vng -r "$kernel" --disable-kvm --force-9p --memory 2G --cpus 2 --rwdir "$results" \
    --exec "bash $work/guest.sh $bin $modules $results $work $pair_timeout" \
    < /dev/null > "$results/vm.log" 2>&1
vm_status=$?
set -e
t1=$(date +%s)
echo "vsock-test-peer: VM finished in $((t1 - t0)) s (vng exit $vm_status)"

[[ -s $results/results.tsv ]] \
    || { tail -n 20 "$results/vm.log" >&2; die "the guest produced no results (vng exit $vm_status; see $results/vm.log and guest.log)"; }
n_tests=$(wc -l < "$work/tests.tsv")
n_done=$(wc -l < "$results/results.tsv")
ok=$(awk -F'\t' '$2 == "ok"' "$results/results.tsv" | wc -l)
failed=$(awk -F'\t' '$2 == "failed"' "$results/results.tsv" | wc -l)
skipped=$(awk -F'\t' '$2 == "skipped"' "$results/results.tsv" | wc -l)
# Tests the guest never reached (VM timeout, guest crash) count as failed.
failed=$((failed + n_tests - n_done))

# Show each failure with the lines each side printed for it.
awk -F'\t' '$2 == "failed" {print $1 "\t" $3 "\t" $4}' "$results/results.tsv" | while IFS=$'\t' read -r id name note; do
    nn=$(printf '%02d' "$id")
    # Exit 137 is SIGKILL: what a task gets when the kernel oopses under it.
    echo "FAILED $id - $name ($note)"
    for side in server client; do
        grep -v '^Control socket\|skipped$\|^All tests have been executed' "$results/$nn-$side.log" \
            | sed "s/^/    $side: /" || true
    done
done
# Tests that pass but print a complaint (the dgram bounds test only warns on broken message
# bounds or loss, it does not fail).
grep -H 'broken dgram message bounds\|packet loss' "$results"/[0-9][0-9]-*.log 2>/dev/null \
    | sed 's/^/warning: /' || true
# A kernel splat during the tests is a failure even if every test printed ok. Only the lines
# logged after the modules were loaded count (boot messages are not the series' doing).
splat=0
if [[ -f $results/dmesg.log && -f $results/dmesg-before.log ]] \
        && tail -n +"$(( $(wc -l < "$results/dmesg-before.log") + 1 ))" "$results/dmesg.log" \
            | awk '/BUG|WARNING|Oops|refcount_t|general protection/ {print; n++}
                   /Call Trace:/ {t=1; next}
                   t && /<TASK>/ {next}
                   t {print "  first frame:" substr($0, index($0, "]") + 1); t=0}
                   END {exit !n}' | sed 's/^/kernel: /'; then
    splat=1
fi

echo "vsock_test: $ok ok, $failed failed, $skipped skipped"
[[ $failed -eq 0 && $splat -eq 0 ]] || exit 1
