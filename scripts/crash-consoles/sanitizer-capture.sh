#!/usr/bin/env bash
# Captures real KASAN, KCSAN and lockdep reports from a sanitizer kernel (checker kernel build) as
# console logs, the fixtures of the crash signature parser's tests
# (Tests/CheckerTests/Consoles/<kind>-6.1-*.log). Boots the kernel in the test VM once per kind
# and makes the kernel report with its own tests, nothing of the project's:
#   kasan    modprobe kasan_test (CONFIG_KASAN_KUNIT_TEST=m): KUnit cases that overflow, use after
#            free and free twice, each printing a real KASAN report;
#   kcsan    modprobe kcsan_test (CONFIG_KCSAN_KUNIT_TEST=m): KUnit cases that race;
#   lockdep  the boot-time locking self-test (CONFIG_DEBUG_LOCKING_API_SELFTESTS) with
#            debug_locks_verbose=1 on the command line: its spinlock cases print lockdep's real
#            reports (recursive and circular locking, inconsistent lock state, bad unlock balance).
# The whole console goes to $OUT (default /tmp/sanitizer-consoles/<kind>.log); the committed
# fixtures are cut from it (see CrashSignatureTests).
#
#   KERNEL=$(checker kernel build --kasan --lockdep) bash scripts/crash-consoles/sanitizer-capture.sh kasan lockdep
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/../env.sh"
die() { echo "sanitizer-capture: error: $*" >&2; exit 2; }
[[ -n ${KERNEL:-} && -f $KERNEL ]] || die "give KERNEL=<image of checker kernel build>"
command -v vng >/dev/null || die "vng (virtme-ng) missing (bash scripts/setup.sh)"
out=${OUT:-/tmp/sanitizer-consoles}
mkdir -p "$out"
((${#@})) || die "give the kinds to capture: kasan, kcsan, lockdep"

for kind in "$@"; do
    append=()
    case $kind in
        kasan) command="modprobe kasan_test; echo capture: done" ;;
        kcsan) command="modprobe kcsan_test; echo capture: done" ;;
        lockdep) command="echo capture: done"; append=(--append=debug_locks_verbose=1) ;;
        *) die "unknown kind $kind; give kasan, kcsan or lockdep" ;;
    esac
    log=$out/$kind.log
    setsid timeout -k 10 ${TIMEOUT:-600} vng -r "$KERNEL" --disable-kvm --force-9p --memory 2G --cpus 2 --verbose \
        --append=loglevel=5 "${append[@]}" --exec "$command" < /dev/null > "$log.raw" 2>&1 || true
    tr -d '\r' < "$log.raw" > "$log"
    rm -f "$log.raw"
    echo "sanitizer-capture: $kind: $(grep -a -c '' "$log") lines in $log"
done
