import Foundation
import Generators
import Model
import Testing
@testable import checker

/// The patch-logic harness: extraction of the functions a patch adds to sev.c, their compilation
/// against the kernel-API shim, and what the SNP seed's own code does to a simulated RMP.
///
/// The seed (v8 48/56) is read from `../shared/seeds/` beside the project (the project holds no
/// kernel code). It is a prerequisite: without it these tests fail, loudly, never skip.
@Suite struct HarnessTests {
    static let project = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let seed = project.appendingPathComponent("../shared/seeds/" + SNPHarnessSystem.defaultPatchName).standardizedFileURL.path
    static let seedExists = FileManager.default.fileExists(atPath: seed)
    /// One cache for the tests that only need a compiled seed (a build is made once, then reused).
    static let sharedCache = FileManager.default.temporaryDirectory.appendingPathComponent("checker-harness-tests-\(getpid())").path

    static func scratch() -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("checker-harness-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    static func seedHarness() throws -> SNPHarnessSystem {
        try #require(seedExists, "the SNP seed \(seed) is missing: put ../shared beside the project")
        return try SNPHarnessSystem(patch: seed, cache: sharedCache)
    }

    /// A harness with a memslot of `pages` pages at `base` (file offset `offset`) and folios.
    static func world(base: UInt64, pages: UInt64, offset: UInt64 = 0, folios: [(index: UInt64, order: Int)]) throws
        -> SNPHarnessSystem {
        let system = try seedHarness()
        system.reset()
        #expect(try system.execute(.setup(SNPMemslot(asid: 1, baseGFN: base, pages: pages, gmemOffset: offset))) == .applied)
        for folio in folios {
            #expect(try system.execute(.allocate(index: folio.index, order: folio.order)) == .applied)
        }
        return system
    }

    static func convert(_ system: SNPHarnessSystem, _ start: UInt64, _ end: UInt64, toPrivate: Bool) throws -> SNPUpdateOutcome {
        guard case let .update(outcome) = try system.execute(.convert(start: start, end: end, toPrivate: toPrivate)) else {
            Issue.record("convert did not reach sev_update_mem_attr")
            return SNPUpdateOutcome(result: .min, rmp: RMPTable())
        }
        return outcome
    }

    static func pfn(_ system: SNPHarnessSystem, _ gfn: UInt64) -> UInt64 { system.environment.backing(of: gfn)!.pfn }

    // MARK: - Extraction

    @Test
    func extractsTheSeedsThreeFunctions() throws {
        let functions = try PatchFunctions(patchFile: Self.seed)
        #expect(functions.names == ["snp_make_page_shared", "order_to_level", "sev_update_mem_attr"])
        #expect(functions.functions.map(\.description)
                == ["snp_make_page_shared (static)", "order_to_level (static inline)", "sev_update_mem_attr"])
        // Whole definitions: header to closing brace, nothing of the context or of svm.c/svm.h.
        let entry = try #require(functions.functions.last)
        #expect(entry.text.hasPrefix("int sev_update_mem_attr(struct kvm_memory_slot *slot, unsigned int attr,"))
        #expect(entry.text.hasSuffix("\treturn 0;\n}"))
        #expect(!functions.source.contains("snp_rmptable_psmash(struct kvm *kvm, kvm_pfn_t pfn)\n{"))
        #expect(!functions.source.contains(".update_mem_attr = sev_update_mem_attr"))
    }

    /// Only complete definitions made of added lines of sev.c count; prototypes, initialisers,
    /// functions with context lines inside, other files, and braces in strings and comments do not
    /// confuse it. (A made-up patch; no kernel code.)
    @Test func extractsOnlyWholeAddedDefinitions() throws {
        let patch = """
            diff --git a/arch/x86/kvm/svm/svm.c b/arch/x86/kvm/svm/svm.c
            --- a/arch/x86/kvm/svm/svm.c
            +++ b/arch/x86/kvm/svm/svm.c
            @@ -1,1 +1,4 @@
             int keep;
            +int other_file(void)
            +{
            +}
            diff --git a/arch/x86/kvm/svm/sev.c b/arch/x86/kvm/svm/sev.c
            --- a/arch/x86/kvm/svm/sev.c
            +++ b/arch/x86/kvm/svm/sev.c
            @@ -10,4 +10,20 @@ static int context(void)
             static int partly_added(int a)
             {
            +\tif (a)
            +\t\treturn 1;
             \treturn 0;
             }
            +int prototype_only(int a);
            +static const int table[] = { 1, 2 };
            +/* a comment with a brace { */
            +static int tricky(const char *s)
            +{
            +\tconst char *t = "}{";   // }
            +\treturn s[0] == '{';
            +}
            +
            +int sev_update_mem_attr(struct kvm_memory_slot *slot, unsigned int attr,
            +\t\t\tgfn_t start, gfn_t end)
            +{
            +\treturn tricky("x");
            +}
            -- 
            2.25.1
            """
        let functions = try PatchFunctions(text: patch, name: "made-up.patch")
        #expect(functions.names == ["tricky", "sev_update_mem_attr"])
        #expect(functions.functions.map(\.line) == [22, 28])
    }

    @Test func aPatchWithoutTheEntryPointIsAUsageError() {
        let patch = """
            --- a/arch/x86/kvm/svm/sev.c
            +++ b/arch/x86/kvm/svm/sev.c
            @@ -1,0 +1,3 @@
            +static int helper(void)
            +{
            +}
            """
        #expect {
            try PatchFunctions(text: patch, name: "helper.patch")
        } throws: { error in
            let message = (error as? UsageProblem)?.message ?? ""
            return message.contains("sev_update_mem_attr") && message.contains("only helper") && !message.contains("\n")
        }
    }

    // MARK: - Compilation

    /// A kernel helper the shim does not have: one line naming it and where it goes.
    @Test
    func aRenamedHelperNamesTheMissingSymbol() throws {
        let text = try String(contentsOfFile: Self.seed, encoding: .utf8)
            .replacingOccurrences(of: "snp_lookup_rmpentry(", with: "snp_lookup_rmpentry_v9(")
        let functions = try PatchFunctions(text: text, name: "renamed.patch")
        #expect {
            try HarnessCompiler(cache: Self.scratch()).compile(functions)
        } throws: { error in
            let message = (error as? UsageProblem)?.message ?? ""
            return message.contains("missing snp_lookup_rmpentry_v9;")
                && message.contains("Sources/checker/Harness/Shim/kernel_api.h") && !message.contains("\n")
        }
        // The parser on both compilers' words.
        #expect(HarnessCompiler.missingSymbols(in: """
            x.txt:50:14: error: implicit declaration of function 'foo' [-Werror=implicit-function-declaration]
            x.txt:51:3: error: 'BAR' undeclared (first use in this function)
            x.txt:52:3: error: unknown type name 'baz_t'
            x.txt:53:3: error: call to undeclared function 'foo'; ISO C99 and later do not support implicit function declarations
            x.txt:54:3: error: use of undeclared identifier 'QUX'
            """) == ["foo", "BAR", "baz_t", "QUX"])
    }

    /// The built checker finds its shim through its resource bundle and stops with status 2 and
    /// one line for a patch that does not compile.
    @Test
    func theCommandRejectsAPatchThatDoesNotCompile() throws {
        let text = try String(contentsOfFile: Self.seed, encoding: .utf8)
            .replacingOccurrences(of: "rmp_make_shared(", with: "rmp_make_shared_page(")
        let patch = Self.scratch() + "/renamed.patch"
        try text.write(toFile: patch, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = CheckerProcess.executable
        process.arguments = ["run", "--target", "snp", "--backend", "harness", "--patch", patch]
        var environment = ProcessInfo.processInfo.environment
        environment["XDG_CACHE_HOME"] = Self.scratch()
        process.environment = environment
        let err = Pipe()
        process.standardError = err
        process.standardOutput = Pipe()
        try process.run()
        let stderr = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 2)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(stderr.contains("missing rmp_make_shared_page;") && stderr.contains("kernel_api.h"))
    }

    @Test
    func aSecondCompileReusesTheCache() throws {
        let cache = Self.scratch()
        let functions = try PatchFunctions(patchFile: Self.seed)
        let compiler = try HarnessCompiler(cache: cache)
        let first = try compiler.compile(functions)
        let second = try compiler.compile(functions)
        #expect(!first.reused)
        #expect(second.reused)
        #expect(first.library == second.library)
        #expect(first.folder.hasPrefix(cache + "/harness/"))
        let build = try FileManager.default.contentsOfDirectory(atPath: first.folder)
        #expect(Set(build).isSuperset(of: ["harness.so", "kernel_api.h", "harness.c", "patch_functions.c", "build.log"]))
        // Another patch text is another build.
        let changed = try PatchFunctions(text: try String(contentsOfFile: Self.seed, encoding: .utf8)
            .replacingOccurrences(of: "int npages = 1;", with: "int npages = 1; /* changed */"), name: "changed.patch")
        let third = try compiler.compile(changed)
        #expect(!third.reused)
        #expect(third.folder != first.folder)
    }

    // MARK: - The seed's behaviour

    /// A 512-page order-9 folio at a 2M-aligned gfn: one 2M RMPUPDATE makes all 512 pages private.
    @Test
    func privateConversionOfAnAlignedOrder9FolioIsOne2MUpdate() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, folios: [(0, 9)])
        let outcome = try Self.convert(system, 0x200, 0x400, toPrivate: true)
        #expect(outcome.result == 0)
        #expect(outcome.leakedReferences == 0)
        let updates = outcome.calls.filter { $0.hasPrefix("rmpupdate") }
        let base = Self.pfn(system, 0x200)
        #expect(updates == ["rmpupdate(\(hexString(base)), 2M, private ASID 1 gpa 0x200000) = 0"])
        for offset in UInt64(0)..<512 {
            let entry = outcome.rmp[base + offset]
            #expect(entry.assigned && entry.asid == 1 && entry.gpa == (0x200 + offset) << 12 && entry.pageSize == .size2M)
        }
        #expect(system.lastEvidence.contains { $0.hasPrefix("pr_debug: sev_update_mem_attr: GFN 0x200 - 0x400, op: 1") })
    }

    /// One page made shared inside a 2M private entry: PSMASH of the 2M page first, then a 4K
    /// RMPUPDATE; the other 511 pages stay private as 4K entries.
    @Test
    func sharedConversionInsideA2MEntryPsmashesFirst() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, folios: [(0, 9)])
        #expect(try system.execute(.preset(gfn: 0x200, .hugePrivate)) == .applied)
        let base = Self.pfn(system, 0x200)
        let outcome = try Self.convert(system, 0x205, 0x206, toPrivate: false)
        #expect(outcome.result == 0)
        #expect(outcome.leakedReferences == 0)
        let hex = hexString
        #expect(outcome.calls == [
            "get_pfn(gfn 0x205) = pfn \(hex(base + 5)) order 9",
            "lookup(\(hex(base + 5))) = assigned, 2M",
            "psmash(\(hex(base))) = 0",
            "rmpupdate(\(hex(base + 5)), 4K, shared) = 0",
            "put_page(\(hex(base + 5)))",
        ])
        #expect(!outcome.rmp[base + 5].assigned)
        #expect(outcome.rmp[base + 4].assigned && outcome.rmp[base + 4].pageSize == .size4K && outcome.rmp[base + 4].gpa == 0x204 << 12)
        #expect(outcome.rmp[base + 6].assigned && outcome.rmp[base + 6].pageSize == .size4K)
    }

    /// A whole 2M private region made shared: shared conversions always go 4K at a time, so the
    /// first page PSMASHes the 2M entry and all 512 pages get their own 4K RMPUPDATE.
    @Test
    func sharedConversionOfA2MRegionSmashesOnceThenGoes4K() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, folios: [(0, 9)])
        #expect(try Self.convert(system, 0x200, 0x400, toPrivate: true).result == 0)
        let outcome = try Self.convert(system, 0x200, 0x400, toPrivate: false)
        #expect(outcome.result == 0)
        #expect(outcome.leakedReferences == 0)
        #expect(outcome.calls.filter { $0.hasPrefix("psmash") } == ["psmash(\(hexString(Self.pfn(system, 0x200)))) = 0"])
        let updates = outcome.calls.filter { $0.hasPrefix("rmpupdate") }
        #expect(updates.count == 512 && updates.allSatisfy { $0.hasSuffix(", 4K, shared) = 0") })
        #expect(outcome.rmp == RMPTable())
    }

    /// An order-10 folio (4 MiB) made private in one step: `order_to_level(10)` is 2M, the code
    /// issues ONE 2M RMPUPDATE for the first 512 pages and then steps over all 1024 gfns, so the
    /// second half stays shared while the call returns 0. The model must call that a divergence.
    @Test
    func anOrder10FolioMadePrivateLeavesItsSecondHalfShared() throws {
        let system = try Self.world(base: 0x400, pages: 0x800, folios: [(0, 10)])
        let model = SNPModel()
        var state = model.initialState
        for operation in [SNPOperation.setup(SNPMemslot(asid: 1, baseGFN: 0x400, pages: 0x800)), .allocate(index: 0, order: 10)] {
            _ = model.judge(.applied, of: operation, against: model.expect(operation, in: state), state: &state)
        }
        let conversion = SNPOperation.convert(start: 0x400, end: 0x800, toPrivate: true)
        let expectation = model.expect(conversion, in: state)
        let outcome = try Self.convert(system, 0x400, 0x800, toPrivate: true)
        #expect(outcome.result == 0)
        let base = Self.pfn(system, 0x400)
        #expect(outcome.calls.filter { $0.hasPrefix("rmpupdate") }
                == ["rmpupdate(\(hexString(base)), 2M, private ASID 1 gpa 0x400000) = 0"])
        #expect(outcome.calls.filter { $0.hasPrefix("get_pfn") }.count == 1)
        #expect((0..<512).allSatisfy { outcome.rmp[base + $0].assigned })
        #expect((512..<1024).allSatisfy { !outcome.rmp[base + $0].assigned })
        if case .agrees = model.judge(.update(outcome), of: conversion, against: expectation, state: &state) {
            Issue.record("the model accepted a private conversion that left 512 pages shared")
        }
    }

    /// A 2M-aligned gfn whose page is not 2M-aligned in memory (the memslot's file offset is not a
    /// multiple of 512): the code still asks for a 2M entry at the unaligned pfn; RMPUPDATE fails
    /// with FAIL_INPUT on all 8 attempts (4 × 2 CPUs), rmpupdate() returns -EFAULT and the call -EINVAL.
    @Test
    func aligned2MGFNOverAnUnalignedPFNFails() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, offset: 0x100, folios: [(0x200, 9)])
        let pfn = Self.pfn(system, 0x400)
        #expect(pfn % 512 == 0x100)
        let outcome = try Self.convert(system, 0x400, 0x600, toPrivate: true)
        #expect(outcome.result == -EINVAL)
        #expect(outcome.leakedReferences == 0)
        let updates = outcome.calls.filter { $0.hasPrefix("rmpupdate") }
        #expect(updates.count == 8)
        #expect(Set(updates) == ["rmpupdate(\(hexString(pfn)), 2M, private ASID 1 gpa 0x400000) = 1 FAIL_INPUT"])
        #expect(outcome.rmp == RMPTable())
        #expect(system.lastEvidence.contains { $0.hasPrefix("pr_err: sev_update_mem_attr: failed op 1 gpa 400000") && $0.hasSuffix("level 2 rc -14") })

        // The unaligned gfns of the same folio: 4K entries, one per gfn, all succeed.
        let small = try Self.convert(system, 0x300, 0x400, toPrivate: true)
        #expect(small.result == 0)
        #expect(small.calls.filter { $0.hasPrefix("rmpupdate") }.count == 256)
        #expect(small.calls.filter { $0.contains(", 4K, private") && $0.hasSuffix(") = 0") }.count == 256)
    }

    /// A 2M private conversion over a region where one 4K page is already private: the 2M
    /// RMPUPDATE overlaps an assigned 4K entry, fails with FAIL_OVERLAP 8 times, -EINVAL.
    @Test
    func twoMPrivateOverAPrivate4KPageFails() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, folios: [(0, 9)])
        #expect(try Self.convert(system, 0x205, 0x206, toPrivate: true).result == 0)
        let outcome = try Self.convert(system, 0x200, 0x400, toPrivate: true)
        #expect(outcome.result == -EINVAL)
        let updates = outcome.calls.filter { $0.hasPrefix("rmpupdate") }
        #expect(updates.count == 8 && updates.allSatisfy { $0.hasSuffix("= 4 FAIL_OVERLAP") && $0.contains(", 2M, ") })
        let base = Self.pfn(system, 0x200)
        #expect(outcome.rmp[base + 5].assigned && !outcome.rmp[base].assigned && !outcome.rmp[base + 6].assigned)
    }

    /// A 4K private conversion inside a 2M private entry: the 4K RMPUPDATE overlaps the 2M entry
    /// (no PSMASH on the private path), FAIL_OVERLAP 8 times, -EINVAL; the 2M entry is intact.
    @Test
    func fourKPrivateInsideA2MPrivateEntryFails() throws {
        let system = try Self.world(base: 0x200, pages: 0x400, folios: [(0, 9)])
        #expect(try system.execute(.preset(gfn: 0x200, .hugePrivate)) == .applied)
        let outcome = try Self.convert(system, 0x201, 0x202, toPrivate: true)
        #expect(outcome.result == -EINVAL)
        #expect(outcome.calls.filter { $0.hasPrefix("psmash") }.isEmpty)
        #expect(outcome.calls.filter { $0.hasPrefix("rmpupdate") }.count == 8)
        #expect(outcome.rmp[Self.pfn(system, 0x200)].pageSize == .size2M)
    }

    /// The early returns: not an SNP guest → 0 and no RMP call; a slot that cannot be private → -EPERM.
    @Test
    func earlyReturns() throws {
        let system = try Self.seedHarness()
        #expect(try system.execute(.setup(SNPMemslot(snpGuest: false, baseGFN: 0, pages: 16))) == .applied)
        #expect(try system.execute(.allocate(index: 0, order: 0)) == .applied)
        let nonSNP = try Self.convert(system, 0, 1, toPrivate: true)
        #expect(nonSNP.result == 0 && nonSNP.calls.isEmpty)
        system.reset()
        #expect(try system.execute(.setup(SNPMemslot(baseGFN: 0, pages: 16, canBePrivate: false))) == .applied)
        let notPrivate = try Self.convert(system, 0, 1, toPrivate: true)
        #expect(notPrivate.result == -EPERM && notPrivate.calls.isEmpty)
        #expect(system.lastEvidence.contains("pr_err: sev_update_mem_attr: memslot for gfn: 0x0 is not private."))
    }
}
