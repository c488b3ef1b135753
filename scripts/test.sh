#!/usr/bin/env bash
# The project's test command: set up the machine, build, run every test.
# Exits non-zero if any step fails; swift test prints the closing summary.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Swift (in /opt/swift on the project's machines) and the project's virtme-ng on PATH.
source scripts/env.sh

# The checks below assert exact outcomes run by run: none may replay what an earlier one (or an
# earlier CI run on this machine) left in the failure store. snp-checks.sh tests the store itself
# with a store of its own.
export CHECKER_FAILURE_STORE=none

# setup.sh must leave a developer's machine as it was (issue 11): no kernel image installed, /boot
# and /vmlinuz untouched, nothing pip-installed into the system Python.
boot_state() {
    { ls -la /boot || true; ls -la / | grep -E 'vmlinuz|initrd' || true; dpkg-query -W 'linux-image-*' 2>/dev/null || true; } | md5sum
}
boot_before=$(boot_state)
echo "test: scripts/setup.sh"
bash scripts/setup.sh
if [[ "$(boot_state)" != "$boot_before" ]]; then
    echo "test: error: scripts/setup.sh changed /boot, /vmlinuz or the installed kernel images" >&2
    exit 1
fi
if /usr/bin/python3 -c 'import virtme' 2>/dev/null; then
    echo "test: error: virtme-ng is importable from the system Python; setup.sh must keep it in its virtual environment" >&2
    exit 1
fi

echo "test: swift build"
swift build --build-tests

# Serial on purpose: `--parallel` runs XCTest in worker processes and reprints its output, while
# Swift Testing already runs tests concurrently in-process. One run, one summary.
echo "test: swift test"
swift test --skip-build

# The sanitizer kernels' configuration (issue 15): virtme-ng's minimal configuration and the
# checker's fragments, merged and resolved by make olddefconfig on the Debian 6.1.176 tree, keep
# every option asked for. The full build is not run here (most of an hour on 2 cores: README.md,
# "Sanitizer kernels"); scripts/sanitizer-kernel.sh runs it on demand.
echo "test: checker kernel build --config-only (kasan-lockdep, kcsan-lockdep)"
checker=$(swift build --show-bin-path)/checker
"$checker" kernel build --kasan --lockdep --config-only
"$checker" kernel build --kcsan --lockdep --config-only

# The live checks in the test VM (virtme-ng, Debian 6.1.176 under TCG): see scripts/live-checks.sh.
echo "test: scripts/live-checks.sh"
bash scripts/live-checks.sh

# The vsock v5 series applied to Debian 6.1.176, its modules rebuilt and checked in the test VM,
# and two mutants of it: see scripts/series-checks.sh.
echo "test: scripts/series-checks.sh"
bash scripts/series-checks.sh

# Parallel histories checked for linearizability in the test VM, and finding 7's race: see
# scripts/parallel-checks.sh.
echo "test: scripts/parallel-checks.sh"
bash scripts/parallel-checks.sh

# SNP (issue 5): the patch-logic harness on the v8 48/56 seed, its regression cases and the
# candidate fix, and KVM_SET_MEMORY_ATTRIBUTES live in the 6.12 test VM: see scripts/snp-checks.sh.
echo "test: scripts/snp-checks.sh"
bash scripts/snp-checks.sh

# The SNP probes in the 6.12 test VM (EPYC CPU model, kvm_amd): attach, absent-with-reason, never
# a pass without SNP activity: see scripts/snp-live-checks.sh.
echo "test: scripts/snp-live-checks.sh"
bash scripts/snp-live-checks.sh
