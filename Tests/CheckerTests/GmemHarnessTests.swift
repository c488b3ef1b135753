import Foundation
import Model
import Testing
@testable import checker

/// Extraction of the guest_memfd hooks from a whole sev.c, and the gmem shim, on a fixture of
/// this project's own (no kernel code): hooks with the names and signatures 6.12 uses, whose
/// bodies are small stand-ins, a multi-line macro before them, and a static function nobody calls.
struct GmemHarnessTests {
    static let fixture = """
        #define TWO_LINE_MACRO(x) \\
        \t((x) + 1)

        static int unused_helper(int a)
        {
        \treturn a;
        }

        static bool all_free(kvm_pfn_t start, kvm_pfn_t end)
        {
        \tbool assigned; int level;
        \tfor (; start < end; start++)
        \t\tif (snp_lookup_rmpentry(start, &assigned, &level) || assigned)
        \t\t\treturn false;
        \treturn true;
        }

        int sev_gmem_prepare(struct kvm *kvm, kvm_pfn_t pfn, gfn_t gfn, int max_order)
        {
        \t/* unused_helper is only named in this comment */
        \tif (!sev_snp_guest(kvm) || !all_free(pfn, pfn + 1))
        \t\treturn 0;
        \treturn rmp_make_private(pfn, gfn_to_gpa(gfn), PG_LEVEL_4K, to_kvm_svm(kvm)->sev_info.asid, false) ? -EINVAL : 0;
        }

        void sev_gmem_invalidate(kvm_pfn_t start, kvm_pfn_t end)
        {
        \tfor (; start < end; start++)
        \t\tWARN_ONCE(rmp_make_shared(start, PG_LEVEL_4K), "pfn %llx", start);
        }

        int sev_private_max_mapping_level(struct kvm *kvm, kvm_pfn_t pfn)
        {
        \treturn PG_LEVEL_4K;
        }
        """

    static func scratch() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("gmem-tests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func cutsTheHooksAndTheStaticHelpersTheyCall() throws {
        let functions = try SourceFunctions(text: Self.fixture, path: "sev.c")
        #expect(functions.names == ["all_free", "sev_gmem_prepare", "sev_gmem_invalidate", "sev_private_max_mapping_level"])
        // Line numbers count the macro's continued line.
        #expect(functions.functions.first { $0.name == "all_free" }?.line == 9)
        #expect(functions.source.contains("#line 18 \"sev.c\""))
    }

    @Test func aMissingHookIsOneLineNamingIt() throws {
        let text = Self.fixture.replacingOccurrences(of: "sev_private_max_mapping_level", with: "other_level")
        #expect(throws: UsageProblem.self) { try SourceFunctions(text: text, path: "sev.c") }
        do { _ = try SourceFunctions(text: text, path: "sev.c") } catch let problem as UsageProblem {
            #expect("\(problem)".contains("sev_private_max_mapping_level"))
            #expect(!"\(problem)".contains("\n"))
        }
    }

    @Test func aSymbolTheShimLacksNamesTheGmemShim() throws {
        let text = Self.fixture.replacingOccurrences(of: "return PG_LEVEL_4K;", with: "return kvm_no_such_helper(pfn);")
        let functions = try SourceFunctions(text: text, path: "sev.c")
        do {
            _ = try HarnessCompiler(cache: try Self.scratch(), kind: HarnessShim.gmem).compile(functions)
            Issue.record("a call to an undeclared function compiled")
        } catch let problem as UsageProblem {
            #expect("\(problem)".contains("missing kvm_no_such_helper"))
            #expect("\(problem)".contains("Sources/checker/Harness/ShimGmem/kernel_api.h"))
        }
    }

    @Test func theFixtureRunsInTheHarnessAndAWarnIsCounted() throws {
        let folder = try Self.scratch()
        let file = folder + "/sev.c"
        try Self.fixture.write(toFile: file, atomically: true, encoding: .utf8)
        let built = try GmemHarnessSystem.compile(GmemSource(sevC: file, displayName: "fixture"), cache: folder)
        let system = try GmemHarnessSystem(library: built.library, name: built.name)
        #expect(try system.execute(.setup(SNPMemslot(baseGFN: 0, pages: 1024))) == .applied)
        guard case let .call(prepared) = try system.execute(.prepare(gfn: 5)) else { Issue.record("no call"); return }
        #expect(prepared.result == 0)
        let pfn = system.environment.world.backing(of: 5)!.pfn
        #expect(prepared.rmp[pfn].ownership == .guest(asid: 1, gpa: 5 << 12, immutable: false))
        // An immutable page cannot be made shared: the stand-in WARNs, and the WARN is counted.
        #expect(try system.execute(.preset(gfn: 6, .firmwareImmutable)) == .refused)   // no folio at gfn 6 yet
        #expect(try system.execute(.allocate(index: 512, order: 9)) == .applied)
        #expect(try system.execute(.preset(gfn: 512, .firmwareImmutable)) == .applied)
        guard case let .call(freed) = try system.execute(.invalidate(index: 512, pages: 512)) else { Issue.record("no call"); return }
        #expect(freed.warnings.count == 1)
    }
}
