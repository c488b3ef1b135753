import CLibBPF
import Testing
@testable import Probes

/// `bpf/snp.bpf.c`, compiled by the BPFCompiler plugin next to vsock.bpf.c, found as a resource
/// and opened by libbpf (no privileges, no bpf() syscall).
@Suite("bundled snp.bpf.o", .serialized)
struct SNPBundledObjectTests {
    init() {
        LibbpfLog.silence()
    }

    @Test("the plugin compiled a second object, and it is found")
    func found() throws {
        let url = try #require(BundledObject.url(named: BundledObject.snp))
        #expect(url.lastPathComponent == "snp.bpf.o")
        let bytes = try BundledObject.bytes(named: BundledObject.snp)
        #expect(bytes.starts(with: [0x7f, 0x45, 0x4c, 0x46]))  // ELF
        #expect(bytes[18] == 247)                               // e_machine EM_BPF
    }

    @Test("it holds every program the session names, and the shared maps; no .rodata (no filter)")
    func programsAndMaps() throws {
        let object = try ProbeObject(bytes: BundledObject.bytes(named: BundledObject.snp), name: "snp")
        let programs = Set(object.programNames)
        var expected: Set<String> = [SNPProbeSession.Name.kprobe, SNPProbeSession.Name.kretprobe]
        for function in SNPFunction.allCases { expected.formUnion(function.tracePrograms) }
        #expect(programs == expected)
        #expect(expected.count == 13)
        let maps = Set(object.mapNames)
        for name in SNPProbeSession.Name.sharedMaps { #expect(maps.contains(name), "map \(name) in \(maps)") }
        #expect(!maps.contains { $0.hasSuffix(".rodata") })
    }

    @Test("every function has an fexit unless it reports only its entry, and an fentry iff it reports its entry")
    func traceProgramsMatchTheEvents() {
        for function in SNPFunction.allCases {
            let programs = function.tracePrograms
            #expect(programs.contains { $0.hasPrefix("snp_fexit_") } == function.reportsReturn, "\(function)")
            #expect(programs.contains { $0.hasPrefix("snp_fentry_") } == function.reportsEntry, "\(function)")
            // fexit first: a call seen at entry always has its return seen too.
            if programs.count == 2 { #expect(programs[0].hasPrefix("snp_fexit_")) }
        }
        #expect(SNPFunction.rmpMakePrivate.hooks(for: .fentry) == "fexit")
        #expect(SNPFunction.gmemInvalidate.hooks(for: .fentry) == "fentry+fexit")
        #expect(SNPFunction.postSetMemoryAttributes.hooks(for: .fentry) == "fentry")
        #expect(SNPFunction.postSetMemoryAttributes.hooks(for: .kprobe) == "kprobe")
        #expect(SNPFunction.psmash.hooks(for: .kprobe) == "kprobe+kretprobe")
        #expect(SNPFunction.psmash.hooks(for: .unavailable(reason: "x")) == nil)
    }

    @Test("a function's trace programs can be selected alone (the per-function object)")
    func selectsOneFunction() throws {
        let object = try ProbeObject(bytes: BundledObject.bytes(named: BundledObject.snp), name: "snp_psmash")
        try object.loadOnly(Set(SNPFunction.psmash.tracePrograms))
        #expect(throws: ProbeError.configure(object: "snp_psmash", step: "find program snp_fentry_psmash",
                                             errno: .noSuchFileOrDirectory)) {
            _ = try object.program(named: "snp_fentry_psmash")
        }
    }
}

/// A function the running kernel lacks is reported absent, with the reason, and not tried.
@Suite("SNP absent functions")
struct SNPAbsentFunctionTests {
    let symbols = KernelSymbols(kallsyms: Array("""
        ffffffff81123450 T rmp_make_private
        ffffffff81123460 T psmash
        ffffffffc0a01000 t sev_gmem_prepare\t[kvm_amd]
        ffffffffc0a02000 t sev_gmem_invalidate.cold\t[kvm_amd]
        ffffffffc0a03000 t sev_update_mem_attr_helper\t[kvm_amd]

        """.utf8))

    @Test("sev_update_mem_attr on mainline: 'not in /proc/kallsyms: <why>'")
    func absentOnMainline() throws {
        let status = try #require(SNPProbeSession.absentStatus(
            .updateMemAttr, symbols: symbols,
            absence: "sev_update_mem_attr is added by the v8 SNP series, absent on mainline"))
        #expect(status.function == "sev_update_mem_attr")
        #expect(!status.isAttached)
        #expect(status.mechanism == .unavailable(
            reason: "not in /proc/kallsyms: sev_update_mem_attr is added by the v8 SNP series, absent on mainline"))
    }

    @Test("present functions are tried; a longer name or a .cold part is no function")
    func present() {
        #expect(SNPProbeSession.absentStatus(.rmpMakePrivate, symbols: symbols, absence: "x") == nil)
        #expect(SNPProbeSession.absentStatus(.psmash, symbols: symbols, absence: "x") == nil)
        #expect(SNPProbeSession.absentStatus(.gmemPrepare, symbols: symbols, absence: "x") == nil)
        #expect(SNPProbeSession.absentStatus(.gmemInvalidate, symbols: symbols, absence: "gone")?.mechanism
                == .unavailable(reason: "not in /proc/kallsyms: gone"))
        #expect(SNPProbeSession.absentStatus(.rmpMakeShared, symbols: symbols, absence: "y") != nil)
    }
}
