import Foundation
import Generators
import Model

/// The guest_memfd harness: mainline's SNP hooks (`sev_gmem_prepare`, `sev_gmem_invalidate`,
/// `sev_private_max_mapping_level` and their static helpers, cut from a whole sev.c), compiled in
/// user space against `Sources/checker/Harness/ShimGmem` and run against a simulated RMP.
///
/// Compiling and loading are apart: ``compile(_:cache:)`` extracts and builds `harness.so` and
/// returns its path; ``init(library:name:)`` only loads a built library, so the system can be
/// made in a sandboxed child process that is handed nothing but that path. This file depends on
/// nothing else of the harness side (no HarnessLibrary, no SNPHarnessSystem).
///
/// The world around the hooks (memslot, folios, preparedness, RMP) is this system's own
/// ``GmemEnvironment``; what guest_memfd does around a hook (which folio, which gfn and pfn, the
/// release of freed pages) is done here as 6.12's virt/kvm/guest_memfd.c does it. Every RMP
/// instruction, WARN and log line the hooks cause is recorded as evidence.
///
/// Not thread-safe: one call at a time per instance.
final class GmemHarnessSystem: EvidencedSystem {
    typealias Model = GmemModel

    /// `harness_gmem.h`'s `HARNESS_GMEM_ABI_VERSION` and the field count this file writes.
    static let abiVersion: UInt64 = 1
    static let fieldCount = 10
    /// `HARNESS_GMEM_STUCK`.
    static let stuckResult = Int32.min

    private typealias ABI = @convention(c) () -> UInt64
    private typealias Prepare = @convention(c) (UnsafeRawPointer?, UInt64, UInt64, Int32) -> Int32
    private typealias Invalidate = @convention(c) (UnsafeRawPointer?, UInt64, UInt64) -> Int32
    private typealias MaxLevel = @convention(c) (UnsafeRawPointer?, UInt64) -> Int32

    private typealias Lookup = @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Int32>?) -> Int32
    private typealias RMPUpdate = @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt64, Int32, Int32, Int32, UInt32) -> Int32
    private typealias PSMASH = @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32
    private typealias Line = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void
    private typealias Flush = @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt64) -> Void

    let name: String
    let library: String
    private let handle: UnsafeMutableRawPointer
    private let prepareEntry: Prepare
    private let invalidateEntry: Invalidate
    private let maxLevelEntry: MaxLevel

    /// The simulated world: memslot, folios, preparedness, RMP.
    private(set) var environment = GmemEnvironment()
    /// The last call's RMP instructions, WARNs and kernel log lines, in order.
    private(set) var lastEvidence: [String] = []

    private var calls: [String] = []
    private var trace: [String] = []
    private var warnings: [String] = []
    private var stuck: String?

    /// Extracts the hooks from `source`'s sev.c and builds them with the gmem shim (or reuses
    /// the cached build): the library's path and a name for reports.
    /// - Throws: ``UsageProblem`` for a sev.c without the hooks or hooks that do not compile (one
    ///   line naming the missing symbols and the shim to add them to).
    static func compile(_ source: GmemSource, cache: String = CheckerCache.defaultPath) throws -> HarnessBuild {
        let functions = try SourceFunctions(file: source.sevC)
        let compiled = try HarnessCompiler(cache: cache, kind: HarnessShim.gmem).compile(functions)
        return HarnessBuild(kind: .snpGmem, library: compiled.library,
                            name: "gmem harness: \(functions.names.joined(separator: ", ")) from \(source.displayName)")
    }

    /// The patch entry each operation calls (crash reports name it), nil for setup operations.
    static func entry(of operation: GmemOperation) -> SandboxCall? {
        switch operation {
        case .prepare: return .sevGmemPrepare
        case .invalidate: return .sevGmemInvalidate
        case .maxLevel: return .sevPrivateMaxMappingLevel
        case .setup, .allocate, .preset: return nil
        }
    }

    /// Loads a `harness.so` that ``compile(_:cache:)`` built.
    /// - Throws: `SystemError.unavailable` when it does not load or has another ABI.
    init(library: String, name: String) throws {
        guard let handle = dlopen(library, RTLD_NOW | RTLD_LOCAL) else {
            throw SystemError.unavailable("cannot load the gmem harness \(library): \(dlerror().map { String(cString: $0) } ?? "unknown error")")
        }
        guard let abi = dlsym(handle, "harness_gmem_abi"), let prepare = dlsym(handle, "harness_gmem_prepare"),
              let invalidate = dlsym(handle, "harness_gmem_invalidate"), let maxLevel = dlsym(handle, "harness_gmem_max_mapping_level") else {
            dlclose(handle)
            throw SystemError.unavailable("the gmem harness \(library) lacks the harness_gmem_* entry points; delete it to rebuild")
        }
        let expected = Self.abiVersion << 32 | UInt64(Self.fieldCount * 8)
        let found = unsafeBitCast(abi, to: ABI.self)()
        guard found == expected else {
            dlclose(handle)
            throw SystemError.unavailable("the gmem harness \(library) has ABI \(String(found, radix: 16)), this checker expects "
                                          + "\(String(expected, radix: 16)); the shim and the checker were built apart")
        }
        self.handle = handle
        self.library = library
        self.name = name
        prepareEntry = unsafeBitCast(prepare, to: Prepare.self)
        invalidateEntry = unsafeBitCast(invalidate, to: Invalidate.self)
        maxLevelEntry = unsafeBitCast(maxLevel, to: MaxLevel.self)
    }

    deinit { dlclose(handle) }

    func reset() {
        environment = GmemEnvironment()
        lastEvidence = []
    }

    func execute(_ operation: GmemOperation) throws -> GmemObservation {
        lastEvidence = []
        guard let slot = environment.slot, environment.canApply(operation) else {
            if case .setup = operation, environment.slot == nil { environment.apply(operation); return .applied }
            return .refused
        }
        switch operation {
        case .setup, .allocate, .preset:
            environment.apply(operation)
            return .applied
        case let .prepare(gfn):
            // 6.12 guest_memfd.c:81-83, 28-34: the folio's first index, its gfn, the folio's pfn
            // and order (the fault allocated an order-0 folio where there was none).
            guard let fault = environment.fault(at: gfn) else { return .refused }
            environment.apply(operation)
            let observation = call(slot, .sevGmemPrepare) { env in prepareEntry(env, fault.folio.pfn, fault.gfn, Int32(fault.folio.order)) }
            if case let .call(outcome) = observation, outcome.result == 0 { environment.markPrepared(folioAt: fault.folio.index) }
            return observation
        case let .invalidate(index, pages):
            // 6.12 guest_memfd.c:366-372: kvm_arch_gmem_invalidate(pfn, pfn + nr) of the pages freed.
            guard let pfns = environment.pfns(ofFilePages: index, pages: pages) else { return .refused }
            let observation = call(slot, .sevGmemInvalidate) { env in invalidateEntry(env, pfns.lowerBound, pfns.upperBound) }
            environment.apply(operation)
            return observation
        case let .maxLevel(gfn):
            guard let backing = environment.world.backing(of: gfn) else { return .refused }
            return call(slot, .sevPrivateMaxMappingLevel) { env in maxLevelEntry(env, backing.pfn) }
        }
    }

    /// Runs one entry point with a fresh `struct harness_gmem_env` and makes its observation.
    private func call(_ slot: SNPMemslot, _ called: SandboxCall, _ entry: (UnsafeRawPointer?) -> Int32) -> GmemObservation {
        calls = []
        trace = []
        warnings = []
        stuck = nil
        var fields = [UInt64](repeating: 0, count: Self.fieldCount)
        func address(_ pointer: UnsafeRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }
        fields[0] = address(Unmanaged.passUnretained(self).toOpaque())
        fields[1] = slot.snpGuest ? 1 : 0
        fields[2] = UInt64(slot.asid)
        let lookup: Lookup = { context, pfn, assigned, level in GmemHarnessSystem.system(context).lookup(pfn: pfn, assigned: assigned, level: level) }
        let rmpupdate: RMPUpdate = { context, pfn, gpa, assigned, size, immutable, asid in
            GmemHarnessSystem.system(context).rmpupdate(pfn: pfn, gpa: gpa, assigned: assigned, pageSize: size, immutable: immutable, asid: asid)
        }
        let psmash: PSMASH = { context, pfn in GmemHarnessSystem.system(context).psmash(pfn: pfn) }
        let log: Line = { context, line in GmemHarnessSystem.system(context).trace.append(line.map { String(cString: $0) } ?? "") }
        let warn: Line = { context, line in GmemHarnessSystem.system(context).warn(line.map { String(cString: $0) } ?? "WARN") }
        let flush: Flush = { context, pfn, bytes in GmemHarnessSystem.system(context).record("clflush(\(hexString(pfn)), \(bytes / 4096) page(s))") }
        let stuck: Line = { context, line in GmemHarnessSystem.system(context).stuck = line.map { String(cString: $0) } ?? "stuck" }
        fields[3] = address(unsafeBitCast(lookup, to: UnsafeRawPointer.self))
        fields[4] = address(unsafeBitCast(rmpupdate, to: UnsafeRawPointer.self))
        fields[5] = address(unsafeBitCast(psmash, to: UnsafeRawPointer.self))
        fields[6] = address(unsafeBitCast(log, to: UnsafeRawPointer.self))
        fields[7] = address(unsafeBitCast(warn, to: UnsafeRawPointer.self))
        fields[8] = address(unsafeBitCast(flush, to: UnsafeRawPointer.self))
        fields[9] = address(unsafeBitCast(stuck, to: UnsafeRawPointer.self))
        let result = withExtendedLifetime(self) { called.run { fields.withUnsafeBytes { entry($0.baseAddress) } } }
        if let reason = self.stuck {
            trace.append(reason)
            lastEvidence = trace
            return .crashed(HarnessCrash(kind: .timeout, signature: "RMPUPDATE FAIL_OVERLAP retried forever (6.12 arch/x86/virt/svm/sev.c:518)",
                                         detail: [reason] + calls.suffix(4)))
        }
        lastEvidence = trace
        return .call(GmemCallOutcome(result: result == Self.stuckResult ? -1 : result, rmp: environment.rmp,
                                     warnings: warnings, calls: calls))
    }

    // MARK: - Callbacks (harness_gmem.c calls these through struct harness_gmem_env)

    private static func system(_ context: UnsafeMutableRawPointer?) -> GmemHarnessSystem {
        Unmanaged<GmemHarnessSystem>.fromOpaque(context!).takeUnretainedValue()
    }

    private func record(_ call: String) {
        calls.append(call)
        trace.append(call)
    }

    private func warn(_ line: String) {
        warnings.append(line)
        trace.append(line)
    }

    /// The RMP read behind `snp_lookup_rmpentry`: assigned from the pfn's entry, level from the
    /// 2M-aligned one (6.12 arch/x86/virt/svm/sev.c:284-290).
    private func lookup(pfn: UInt64, assigned: UnsafeMutablePointer<Int32>?, level: UnsafeMutablePointer<Int32>?) -> Int32 {
        let (entry, line) = SimulatedRMPInstructions.lookup(environment.rmp, pfn: pfn)
        assigned?.pointee = entry.assigned ? 1 : 0
        level?.pointee = entry.level.x86Level
        record(line)
        return 0
    }

    /// One RMPUPDATE: the raw hardware code.
    private func rmpupdate(pfn: UInt64, gpa: UInt64, assigned: Int32, pageSize: Int32, immutable: Int32, asid: UInt32) -> Int32 {
        let (code, line) = SimulatedRMPInstructions.rmpupdate(&environment.rmp, pfn: pfn, gpa: gpa, assigned: assigned,
                                                              pageSize: pageSize, immutable: immutable, asid: asid)
        // A FAIL_OVERLAP is retried by the caller: record the first of a run only.
        if calls.last != line { record(line) }
        return code
    }

    /// One PSMASH: the raw hardware code.
    private func psmash(pfn: UInt64) -> Int32 {
        let (code, line) = SimulatedRMPInstructions.psmash(&environment.rmp, pfn: pfn)
        record(line)
        return code
    }
}
