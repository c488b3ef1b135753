#!/usr/bin/env bash
# Mutation catalogue: builds each mutant of the patched vsock core (series/vsock-dgram-v5/mutants)
# with `checker series --mutant`, runs it in the test VM until the first divergence, and prints a
# Markdown table: detected or not, the operations it took, the shrunk reproducer's length, the
# shrink executions, and how often the reproducer reproduced.
#
#   bash scripts/mutants.sh [MUTANT-NAME...]      (default: every mutant)
#   SEEDS=20 OPS=60 bash scripts/mutants.sh 01-fallback-first
#   CHECKER=path/to/checker bash scripts/mutants.sh ...   (another build of the checker)
#   SHRINK_SECONDS=900 (default): the cap on shrinking one divergence; every candidate is a live
#   run with module loads, and a long sequence hit run's default 300 s (mutant 22, 2 Dec 2026)
#
# Each mutant is applied on top of candidate fixes of the series' findings
# (series/vsock-dgram-v5/findings/*.fix.patch), so that a run looks past the known findings
# instead of ending in one:
#   FIXES=crash (default)  the fixes of the two crashes (findings 1 and 2);
#   FIXES=all              the fixes of findings 2, 5 (which supersedes 1's mitigation), 6, 3 and 4:
#                          no known divergence is left to mask a mutant. A mutant that changes a
#                          line one of these fixes rewrites (04, 10, 20) does not apply there; it
#                          runs on the crash fixes instead, and its row says so;
#   FIXES=                 the series alone.
#
# Exit status: 0 when every mutant run was detected, 1 otherwise. Build it first
# (swift build -c release); needs root (the VM loads modules) and the base kernel (scripts/setup.sh).
set -euo pipefail

cd "$(dirname "$0")/.."
# A mutant's cases come from a kernel nobody runs: they stay out of the user's failure store
# (which every later run replays first), and no stored case decides a mutant's row.
export CHECKER_FAILURE_STORE=none
checker=${CHECKER:-.build/release/checker}
patches=${PATCHES:-../shared/patches/vsock-dgram-v5}
mutants=series/vsock-dgram-v5/mutants
seeds=${SEEDS:-20}
ops=${OPS:-60}
results=${RESULTS:-.checker-results/mutants}
source scripts/series-fixes.sh
case "${FIXES-crash}" in
    crash) fixes=("${crash_fixes[@]}"); base="crash fixes" ;;
    all) fixes=("${all_fixes[@]}"); base="all fixes" ;;
    "") fixes=(); base="series alone" ;;
    *) echo "mutants: FIXES=$FIXES is not one of crash, all or empty; use FIXES=all" >&2; exit 2 ;;
esac

[[ -x "$checker" ]] || { echo "mutants: $checker is missing; run: swift build -c release" >&2; exit 1; }
[[ -d "$patches" ]] || { echo "mutants: no series at $patches; set PATCHES=DIR" >&2; exit 1; }

names=("$@")
if ((${#names[@]} == 0)); then
    for file in "$mutants"/*.patch; do names+=("$(basename "$file" .patch)"); done
fi

mkdir -p "$results"
rows=()
undetected=0
for name in "${names[@]}"; do
    file="$mutants/$name.patch"
    [[ -f "$file" ]] || { echo "mutants: no mutant $file" >&2; exit 1; }
    log="$results/$name.log"
    echo "mutants: $name ($seeds seeds x $ops operations at most)" >&2
    status=0
    on=$base
    run_fixes=("${fixes[@]}")
    if ! "$checker" series --patches "$patches" "${run_fixes[@]}" --mutant "$file" --build-only >"$log" 2>&1 \
        && [[ "$base" == "all fixes" ]] && grep -q "does not apply\|FAILED\|reversed" "$log"; then
        echo "mutants: $name does not apply on all fixes (it changes a line they rewrite); on the crash fixes" >&2
        on="crash fixes (conflicts with all)"
        run_fixes=("${crash_fixes[@]}")
    fi
    "$checker" series --patches "$patches" "${run_fixes[@]}" --mutant "$file" --seeds "$seeds" --ops "$ops" \
        --stop-at-first-divergence --shrink-seconds "${SHRINK_SECONDS:-900}" --results "$results" >"$log" 2>&1 || status=$?
    folder=$(sed -n 's/^checker vm: booting .*results in \(.*\)$/\1/p' "$log" | tail -n 1)
    if [[ -z "$folder" || ! -f "$folder/summary.json" ]]; then
        echo "mutants: $name did not run (exit $status); see $log" >&2
        rows+=("| $name | $on | not run (exit $status, see $log) | | | | |")
        undetected=$((undetected + 1))
        continue
    fi
    row=$(python3 - "$folder/summary.json" "$name" "$on" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
name, on = sys.argv[2], sys.argv[3]
operations = sum(batch["operations"] for batch in summary["batches"])
divergences = [d for batch in summary["batches"] for d in batch.get("divergences", [])]
outcomes = {batch["outcome"] for batch in summary["batches"]}
if divergences:
    d = divergences[0]
    print(f"| {name} | {on} | detected: {d['signature']} | seed {d['seed']}, {operations} ops | "
          f"{len(d['minimal'])} | {d['shrinkExecutions']} | {d['reproduced']} |")
else:
    print(f"| {name} | {on} | NOT detected ({'/'.join(sorted(outcomes))}) | {operations} ops | | | |")
EOF
)
    [[ "$row" == *"| detected:"* ]] || undetected=$((undetected + 1))
    rows+=("$row")
    echo "$row" >&2
done

echo "| Mutant | On | Result | Found after | Shrunk length | Shrink executions | Reproduced |"
echo "|---|---|---|---|---|---|---|"
printf '%s\n' "${rows[@]}"
echo "mutants: $(( ${#names[@]} - undetected )) of ${#names[@]} detected" >&2
((undetected == 0))
