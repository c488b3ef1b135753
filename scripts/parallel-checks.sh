#!/usr/bin/env bash
# The parallel checks, in the test VM (issue 15): operations of 2-3 threads released together at a
# barrier, each history checked for linearizability against the model. CI runs them on every
# submission through scripts/test.sh (after scripts/series-checks.sh, whose module builds they
# reuse); a missing prerequisite fails loudly here.
#
# 1. Profile `mainline` on the stock 6.1.176 kernel, bounded (30 parallel cases, each run twice):
#    every history linearizable, no lost event, and the barrier made threads overlap (at least a
#    quarter of the thread operations overlapped another thread's: a run in which nothing
#    overlapped would check nothing parallel). The docs give the 1,000-case figures.
# 2. A hand-written parallel case (series/vsock-dgram-v5/race-mutants/unload-during-sendto.jsonl:
#    a sendto() through loopback in one thread, loopback's unload in another), replayed live on
#    the whole series with every finding's fix: every run linearizable (the per-packet module
#    reference may make the unload fail with EWOULDBLOCK; the model allows that only under overlap).
# 3. The same case on race mutant r2w (the per-packet reference dropped before its last use, the
#    window widened): the guest's kernel oopses in the freed module ("last unloaded:
#    vsock_loopback"), a vm.guest finding.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/env.sh
command -v vng >/dev/null || { echo "parallel-checks: error: vng (virtme-ng) missing; run scripts/setup.sh" >&2; exit 1; }
patches=${PATCHES:-../shared/patches/vsock-dgram-v5}
[[ -d "$patches" ]] || { echo "parallel-checks: error: the series is missing at $patches (../shared beside the project)" >&2; exit 1; }

echo "parallel-checks: swift build -c release --product checker"
swift build -c release --product checker
checker=$PWD/.build/release/checker
"$checker" kernel fetch 6.1.176-1 > /dev/null
results=$PWD/.checker-results/ci-parallel-$(date -u +%Y%m%dT%H%M%SZ)-$$
mkdir -p "$results"
source scripts/series-fixes.sh
case=$PWD/series/vsock-dgram-v5/race-mutants/unload-during-sendto.jsonl

set +e
echo "parallel-checks: checker vm -- run --profile mainline --parallel --seed 1 --seeds 30 --repeats 2"
"$checker" vm --timeout 1800 --results "$results/mainline" -- run --profile mainline --parallel --seed 1 --seeds 30 \
    --batch 15 --repeats 2 --store none > "$results/mainline.log" 2>&1
mainline_status=$?
tail -n 2 "$results/mainline.log"
fixed=$("$checker" series --patches "$patches" "${all_fixes[@]}" --build-only 2> "$results/fixed-build.log")
fixed_build=$?
mutant=$("$checker" series --patches "$patches" "${all_fixes[@]}" \
    --mutant series/vsock-dgram-v5/race-mutants/r2w-reference-dropped-before-use-widened.patch --build-only 2> "$results/r2w-build.log")
mutant_build=$?
echo "parallel-checks: the unload-during-sendto case on the whole series with every fix, and on race mutant r2w"
"$checker" vm --timeout 900 --results "$results/fixed" -- replay "$case" --on live --repeats 3 --modules "$fixed" \
    > "$results/fixed.log" 2>&1
fixed_status=$?
"$checker" vm --timeout 900 --results "$results/r2w" -- replay "$case" --on live --repeats 3 --modules "$mutant" \
    > "$results/r2w.log" 2>&1
mutant_status=$?
set -e

python3 - "$results" "$mainline_status" "$fixed_build" "$mutant_build" "$fixed_status" "$mutant_status" <<'PY'
import glob, json, os, re, sys

results, mainline_status, fixed_build, mutant_build, fixed_status, mutant_status = sys.argv[1], *map(int, sys.argv[2:])
passed = failed = 0

def check(name, ok, detail=""):
    global passed, failed
    print(("ok     " if ok else "FAILED ") + name + (f": {detail}" if detail else ""))
    if ok: passed += 1
    else: failed += 1

def summary(folder):
    found = sorted(glob.glob(os.path.join(results, folder, "*", "summary.json")))
    return json.load(open(found[-1])) if found else None

m = summary("mainline")
check("parallel mainline: exit status 0", mainline_status == 0, f"exit {mainline_status}")
check("parallel mainline: summary written", m is not None)
if m:
    batches = m["batches"]
    check("parallel mainline: every batch passed", all(b["outcome"] == "pass" for b in batches),
          ", ".join(f'{b["name"]}={b["outcome"]}' for b in batches))
    check("parallel mainline: zero divergences", sum(len(b["divergences"]) for b in batches) == 0)
    check("parallel mainline: zero lost events", all(b["lostEvents"] == 0 for b in batches))
    cases = runs = operations = overlapped = 0
    for b in batches:
        for line in b.get("diagnostics", []):
            found = re.search(r"(\d+) parallel cases, (\d+) runs .*?, (\d+) thread operations \((\d+) overlapped", line)
            if found:
                cases += int(found[1]); runs += int(found[2]); operations += int(found[3]); overlapped += int(found[4])
    check("parallel mainline: 30 parallel cases, each run twice", cases == 30 and runs >= 60, f"{cases} cases, {runs} runs")
    check("parallel mainline: a quarter of the thread operations overlapped another thread's",
          operations > 0 and overlapped * 4 >= operations, f"{overlapped} of {operations}")

check("the whole series with every fix builds", fixed_build == 0, open(os.path.join(results, "fixed-build.log")).read()[-300:])
check("race mutant r2w builds", mutant_build == 0, open(os.path.join(results, "r2w-build.log")).read()[-300:])
fixed_log = open(os.path.join(results, "fixed.log")).read()
check("unload during sendto, every fix: exit status 0", fixed_status == 0, f"exit {fixed_status}")
check("unload during sendto, every fix: 3 runs, each linearizable",
      fixed_log.count(": linearizable") == 3 and "0 of 3 runs diverged" in fixed_log)
mutant_log = open(os.path.join(results, "r2w.log")).read()
check("unload during sendto, race mutant r2w: the guest's kernel oopses in the unloaded module",
      mutant_status == 1 and "not ok 1 vm.guest" in mutant_log and "last unloaded: vsock_loopback" in mutant_log,
      f"exit {mutant_status}")
print(f"parallel: {passed} passed, {failed} failed")
sys.exit(0 if failed == 0 else 1)
PY
