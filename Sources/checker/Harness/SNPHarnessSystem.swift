import Foundation
import Generators
import Model

/// The patch-logic harness: the C functions a patch adds to `arch/x86/kvm/svm/sev.c`
/// (`sev_update_mem_attr` and its helpers), compiled in user space against this project's
/// kernel-API shim and run against a simulated kernel.
///
/// The RMP and the restricted memfd are this system's own ``SNPEnvironment`` (the hardware and
/// the environment, the same types the model uses); the patch's code is the part under check. The
/// shim's helpers (`rmp_make_private`, `rmpupdate()`'s retries, `snp_lookup_rmpentry`, …, as the
/// series' other patches state them) call back into Swift for every hardware instruction and
/// memfd lookup, and every callback is recorded as evidence.
///
/// Not thread-safe: one call at a time per instance (the C side keeps the environment in a
/// thread-local for the duration of a call, so separate instances on separate threads are fine).
final class SNPHarnessSystem: EvidencedSystem {
    typealias Model = SNPModel

    /// The SNP seed patch (v8 48/56), looked for beside the project; the project never holds it.
    static let defaultPatchName = "001_e2a542b2580ac019.txt"

    let name: String
    /// The compiled `harness.so` this system runs.
    let library: String
    /// `num_present_cpus()`: `rmpupdate()` makes up to 4× this many attempts.
    let presentCPUs: Int
    private let loaded: HarnessLibrary

    /// The simulated world: memslot, folios, RMP.
    private(set) var environment = SNPEnvironment()
    /// The last conversion's callbacks and kernel log lines, in the order they happened.
    private(set) var lastEvidence: [String] = []

    private var calls: [String] = []
    private var trace: [String] = []
    private var referenceBalance = 0

    /// A patch's functions, compiled with the shim (or the cached build reused), not loaded: the
    /// checker compiles, its sandboxed child (``SandboxedHarness``) loads and runs.
    ///
    /// - Throws: ``UsageProblem`` (exit status 2) for an unreadable patch, a patch that adds no
    ///   `sev_update_mem_attr` to sev.c, or functions that do not compile against the shim (one
    ///   line naming the missing symbols); `SystemError.unavailable` when `cc` or the shim is missing.
    static func build(patch: String, cache: String = CheckerCache.defaultPath) throws -> HarnessBuild {
        let functions = try PatchFunctions(patchFile: patch)
        let compiled = try HarnessCompiler(cache: cache).compile(functions)
        return HarnessBuild(kind: .snpV8, library: compiled.library,
                            name: "patch-logic harness: \(functions.names.joined(separator: ", ")) from \(functions.patchName)")
    }

    /// Builds and loads in this process (tests and `bench`; `run` and `replay` use the sandbox).
    convenience init(patch: String, cache: String = CheckerCache.defaultPath, presentCPUs: Int = 2) throws {
        try self.init(try Self.build(patch: patch, cache: cache), presentCPUs: presentCPUs)
    }

    /// Loads a compiled harness.
    init(_ build: HarnessBuild, presentCPUs: Int = 2) throws {
        library = build.library
        name = build.name
        self.presentCPUs = presentCPUs
        loaded = try HarnessLibrary(path: build.library)
    }

    /// The harness for `--patch` (nil: the SNP seed, ``defaultPatch()``), with the default cache.
    /// - Throws: as ``init(patch:cache:presentCPUs:)``, and ``UsageProblem`` when no patch is
    ///   given and the seed is not beside the project.
    static func forPatch(_ path: String?, cache: String = CheckerCache.defaultPath) throws -> SNPHarnessSystem {
        try SNPHarnessSystem(patch: try patchPath(path), cache: cache)
    }

    /// `--patch`, or the SNP seed beside the project when none is given.
    static func patchPath(_ path: String?) throws -> String {
        guard let patch = path ?? defaultPatch() else {
            throw UsageProblem("the SNP seed \(defaultPatchName) is not in ../shared/seeds beside the project; "
                               + "give the patch with --patch FILE")
        }
        return patch
    }

    /// The SNP seed next to the project (`<project>/../shared/seeds/`), or in `shared/seeds` or
    /// `../shared/seeds` of the current directory; nil when it is nowhere.
    static func defaultPatch() -> String? {
        var project = URL(fileURLWithPath: VM.executablePath()).deletingLastPathComponent()
        for _ in 0..<5 where !FileManager.default.fileExists(atPath: project.appendingPathComponent("Package.swift").path) {
            project = project.deletingLastPathComponent()
        }
        let current = FileManager.default.currentDirectoryPath
        return [project.path + "/../shared/seeds", current + "/../shared/seeds", current + "/shared/seeds"]
            .map { URL(fileURLWithPath: $0 + "/" + defaultPatchName).standardizedFileURL.path }
            .first { FileManager.default.fileExists(atPath: $0) }
    }

    func reset() {
        environment = SNPEnvironment()
        lastEvidence = []
    }

    func execute(_ operation: SNPOperation) throws -> SNPObservation {
        guard case let .convert(start, end, toPrivate) = operation else {
            lastEvidence = []
            return environment.apply(operation) ? .applied : .refused
        }
        guard let slot = environment.slot else {
            lastEvidence = ["no memslot was set up: sev_update_mem_attr has no slot to run on"]
            return .refused
        }
        calls = []
        trace = []
        referenceBalance = 0
        let context = Unmanaged.passUnretained(self).toOpaque()
        let harnessEnvironment = HarnessEnvironment(
            context: context, snpGuest: slot.snpGuest, canBePrivate: slot.canBePrivate, presentCPUs: presentCPUs,
            asid: slot.asid, slotID: 0, baseGFN: slot.baseGFN, pages: slot.pages,
            getPFN: { context, gfn, pfn, order in
                SNPHarnessSystem.system(context).getPFN(gfn: gfn, pfn: pfn, order: order)
            },
            putPage: { context, pfn in SNPHarnessSystem.system(context).putPage(pfn: pfn) },
            lookup: { context, pfn, level in SNPHarnessSystem.system(context).lookup(pfn: pfn, level: level) },
            rmpupdate: { context, pfn, gpa, assigned, pageSize, immutable, asid in
                SNPHarnessSystem.system(context).rmpupdate(pfn: pfn, gpa: gpa, assigned: assigned, pageSize: pageSize,
                                                           immutable: immutable, asid: asid)
            },
            psmash: { context, pfn in SNPHarnessSystem.system(context).psmash(pfn: pfn) },
            log: { context, line in SNPHarnessSystem.system(context).log(line) })
        let result = withExtendedLifetime(self) {
            loaded.updateMemAttr(harnessEnvironment, attr: toPrivate ? Self.attributePrivate : 0, start: start, end: end)
        }
        lastEvidence = trace
        return .update(SNPUpdateOutcome(result: result, rmp: environment.rmp, leakedReferences: referenceBalance,
                                        calls: calls))
    }

    /// `KVM_MEMORY_ATTRIBUTE_PRIVATE`.
    static let attributePrivate: UInt32 = 1 << 3

    // MARK: - Callbacks (the C shim calls these through `struct harness_env`)

    private static func system(_ context: UnsafeMutableRawPointer?) -> SNPHarnessSystem {
        Unmanaged<SNPHarnessSystem>.fromOpaque(context!).takeUnretainedValue()
    }

    private func record(_ call: String) {
        calls.append(call)
        trace.append(call)
    }

    /// `kvm_restrictedmem_get_pfn`: the folio page backing `gfn` (a reference taken), or -ENOENT.
    private func getPFN(gfn: UInt64, pfn: UnsafeMutablePointer<UInt64>?, order: UnsafeMutablePointer<Int32>?) -> Int32 {
        guard let backing = environment.backing(of: gfn) else {
            let result = -Int32(ENOENT)
            record("get_pfn(gfn \(hexString(gfn))) = \(SNPUpdateOutcome.name(result))")
            return result
        }
        pfn?.pointee = backing.pfn
        order?.pointee = Int32(backing.order)
        referenceBalance += 1
        record("get_pfn(gfn \(hexString(gfn))) = pfn \(hexString(backing.pfn)) order \(backing.order)")
        return 0
    }

    private func putPage(pfn: UInt64) {
        referenceBalance -= 1
        record("put_page(\(hexString(pfn)))")
    }

    /// The RMP read behind `snp_lookup_rmpentry`: 1 assigned / 0 not, level of the 2M-aligned entry.
    private func lookup(pfn: UInt64, level: UnsafeMutablePointer<Int32>?) -> Int32 {
        let (entry, line) = SimulatedRMPInstructions.lookup(environment.rmp, pfn: pfn)
        level?.pointee = entry.level.x86Level
        record(line)
        return entry.assigned ? 1 : 0
    }

    /// One RMPUPDATE: the raw hardware code.
    private func rmpupdate(pfn: UInt64, gpa: UInt64, assigned: Int32, pageSize: Int32, immutable: Int32,
                           asid: UInt32) -> Int32 {
        let (code, line) = SimulatedRMPInstructions.rmpupdate(&environment.rmp, pfn: pfn, gpa: gpa, assigned: assigned,
                                                              pageSize: pageSize, immutable: immutable, asid: asid)
        record(line)
        return code
    }

    /// One PSMASH: the raw hardware code.
    private func psmash(pfn: UInt64) -> Int32 {
        let (code, line) = SimulatedRMPInstructions.psmash(&environment.rmp, pfn: pfn)
        record(line)
        return code
    }

    private func log(_ line: UnsafePointer<CChar>?) {
        guard let line else { return }
        trace.append(String(cString: line))
    }
}
