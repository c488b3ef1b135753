#!/usr/bin/env bash
# The project's main check: sets the machine up, builds the checker in release mode, runs the
# live vsock check in the test VM (profile mainline against Debian's stock 6.1.176 kernel) and the
# SNP seed patch in the patch-logic harness, then the benchmarks. Results:
# .checker-results/check-<time>/ (KTAP, JUnit, JSON, cases). Exit status: the worst of the parts.
# SEED, SEEDS, OPS, PROFILE and SNP_SEEDS override the defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh

bash scripts/setup.sh
echo "check: swift build -c release"
swift build -c release --product checker
checker=.build/release/checker
results=.checker-results/check-$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$results"
status=0
echo "check: $checker vm -- run --profile ${PROFILE:-mainline} --seed ${SEED:-1} --seeds ${SEEDS:-10} --ops ${OPS:-100}"
vsock=0
"$checker" vm --results "$results/vsock" -- run --profile "${PROFILE:-mainline}" --seed "${SEED:-1}" --seeds "${SEEDS:-10}" --ops "${OPS:-100}" || vsock=$?
# The SNP hook of v8 48/56 (the seed in ../shared/seeds), its own code in the patch-logic harness:
# it diverges (docs/snp-v8.md), so this part exits 1 until the patch is fixed.
echo "check: $checker run --target snp --seed ${SEED:-1} --seeds ${SNP_SEEDS:-100} --ops 30"
snp=0
"$checker" run --target snp --seed "${SEED:-1}" --seeds "${SNP_SEEDS:-100}" --ops 30 --batch 50 --results "$results/snp" \
    > "$results/snp.log" || snp=$?
grep -E '^(not )?ok|^# Totals' "$results/snp.log" || true
echo "check: $checker bench"
"$checker" bench
echo "check: $checker bench --target snp"
"$checker" bench --target snp
echo "check: vsock (live, test VM): exit $vsock; snp (harness, the v8 48/56 seed): exit $snp; results in $results"
for part in $vsock $snp; do (( part > status )) && status=$part; done
exit "$status"
