#!/usr/bin/env bash
# The project's main check command. Sets the machine up, builds the checker in release mode and
# runs it.
#
# This slice has no live backend yet (it arrives with the eBPF probes and the test VM): the check
# prints what the reference model expects, under each profile, for a generated sequence, and the
# engine benchmark. Nothing here talks to a kernel, and nothing here claims to.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! command -v swift >/dev/null 2>&1 && [[ -x /opt/swift/usr/bin/swift ]]; then
    export PATH="/opt/swift/usr/bin:$PATH"
fi

bash scripts/setup.sh
echo "check: swift build -c release"
swift build -c release --product checker
checker=.build/release/checker
seed=${SEED:-1}
for profile in mainline vsock-dgram-v5; do
    echo "check: $checker explain --profile $profile --seed $seed --ops 25"
    "$checker" explain --profile "$profile" --seed "$seed" --ops 25
done
echo "check: $checker bench"
"$checker" bench
