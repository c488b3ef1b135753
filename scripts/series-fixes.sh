# The candidate fixes of the vsock v5 series' findings (series/vsock-dgram-v5/findings), as
# `checker series --mutant` arguments, in the order they apply (each to the tree the ones before it
# left; docs/vsock-dgram-v5.md, "The series with a candidate fix for every finding"). Sourced by
# scripts/series-checks.sh and scripts/mutants.sh, so that both apply the same fixes.
findings=series/vsock-dgram-v5/findings
# The two crashes: finding 2's fix and finding 1's mitigation.
crash_fixes=(--mutant "$findings/loopback-recvfrom-null-dgram-addr-init.fix.patch"
             --mutant "$findings/vmci-socket-sendto-loopback-wild-call.fix.patch")
# Every finding: 2, 5 (the real fix of 1, instead of its mitigation), 6, 3 and 4.
all_fixes=(--mutant "$findings/loopback-recvfrom-null-dgram-addr-init.fix.patch"
           --mutant "$findings/loopback-lookup-sent-by-socket-transport.fix.patch"
           --mutant "$findings/ephemeral-port-wrong-bucket.fix.patch"
           --mutant "$findings/loopback-only-dgram-socket.fix.patch"
           --mutant "$findings/refused-connect-moves-transport.fix.patch")
