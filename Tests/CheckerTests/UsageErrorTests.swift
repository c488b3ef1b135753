import Testing

/// Bad input: one line naming the problem and the fix on stderr, exit status 2, nothing on stdout.
@Suite("usage errors")
struct UsageErrorTests {
    static let cases: [(arguments: [String], message: String)] = [
        (["explain", "--target", "snp2"], "checker: unknown target 'snp2'; use one of: vsock, snp, memory-attributes"),
        (["explain", "--profile", "v9"],
         "checker: unknown profile 'v9' for target vsock; use one of: mainline, vsock-dgram-v5, vsock-dgram-v5-03"),
        (["explain", "--ops", "0"], "checker: --ops must be a positive number of operations, not 0 (see 'checker help')"),
        (["explain", "--seed", "abc"], "checker: The value 'abc' is invalid for '--seed <seed>' (see 'checker help')"),
        (["explain", "--seed", "-4"], "checker: Missing value for '--seed <seed>' (see 'checker help')"),
        (["frobnicate"], "checker: Unexpected argument 'frobnicate' (see 'checker help')"),
        (["replay", "/nonexistent/case.jsonl"],
         "checker: cannot read /nonexistent/case.jsonl: no such file or directory; give the path of a case file the checker wrote"),
        (["replay", "case.jsonl", "--reproducer", "repro.c"],
         "checker: --reproducer writes the C program of one vsock case replayed live; add --on live and give one case file (see 'checker help')"),
        (["run", "--target", "snp", "--parallel"],
         "checker: --parallel is for --target vsock (the live kernel's sockets and modules); drop it for snp"),
        (["explain", "--parallel", "--threads", "9"], "checker: --threads 9: a parallel case has 1 to 4 threads (see 'checker help')"),
        (["explain", "--parallel", "--repeats", "0"], "checker: --repeats and --search-budget must be positive (see 'checker help')"),
        (["replay", "case.jsonl", "--repeats", "0"], "checker: --repeats must be positive, not 0 (see 'checker help')"),
        (["replay", "case.jsonl", "--on", "live", "--reproducer", "/"],
         "checker: / exists and would be overwritten; give --reproducer a new file (see 'checker help')"),
        (["kernel", "build", "--kasan", "--kcsan"],
         "checker: --kasan and --kcsan cannot be built into one kernel (Kconfig: KCSAN depends on !KASAN); build one kernel of each (see 'checker help')"),
        (["kernel", "build", "--jobs", "0"], "checker: --jobs must be a positive number of make jobs, not 0 (see 'checker help')"),
        (["kernel", "build", "--base", "linux", "--config-only"],
         "checker: --base linux is not a Debian kernel version; give one like 6.1.176-1 (apt-cache madison linux-source-6.1 lists them)"),
        (["series", "--patches", "/tmp", "--kernel-build", "asan"],
         "checker: --kernel-build asan is not a kernel flavour; give one of: kasan, kcsan, lockdep, kasan-lockdep, kcsan-lockdep, plain (see 'checker help')"),
    ]

    @Test("one line, exit status 2", arguments: cases)
    func oneLine(arguments: [String], message: String) throws {
        let output = try CheckerProcess.run(arguments)
        #expect(output.status == 2)
        #expect(output.stderr == message + "\n")
        #expect(output.stdout.isEmpty)
    }
}
