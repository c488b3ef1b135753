#!/usr/bin/env bash
# The project's main check: sets the machine up, builds the checker in release mode, and runs
# the live vsock check in the test VM (profile mainline against Debian's stock 6.1.176 kernel),
# then the engine benchmark. Results: .checker-results/<time>/ (KTAP, JUnit, JSON, cases).
# SEED, SEEDS, OPS and PROFILE override the defaults.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

bash scripts/setup.sh
echo "check: swift build -c release"
swift build -c release --product checker
checker=.build/release/checker
echo "check: $checker vm -- run --profile ${PROFILE:-mainline} --seed ${SEED:-1} --seeds ${SEEDS:-10} --ops ${OPS:-100}"
status=0
"$checker" vm -- run --profile "${PROFILE:-mainline}" --seed "${SEED:-1}" --seeds "${SEEDS:-10}" --ops "${OPS:-100}" || status=$?
echo "check: $checker bench"
"$checker" bench
exit "$status"
