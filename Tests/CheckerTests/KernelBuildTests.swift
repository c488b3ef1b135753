import Foundation
import Testing
@testable import checker

/// `checker kernel build`: flavours, the configuration fragments, the check of a generated
/// `.config`, the cache key and bad input; nothing here compiles a kernel.
@Suite struct KernelBuildTests {
    @Test("KASAN and KCSAN exclude each other: a usage problem naming Kconfig's reason")
    func exclusiveSanitizers() throws {
        #expect(throws: UsageProblem.self) { try KernelFlavour(kasan: true, kcsan: true, lockdep: false) }
        #expect(try KernelFlavour(kasan: true, kcsan: false, lockdep: true).description == "kasan-lockdep")
        #expect(try KernelFlavour(kasan: false, kcsan: true, lockdep: false).description == "kcsan")
        #expect(try KernelFlavour(kasan: false, kcsan: false, lockdep: true).description == "lockdep")
        #expect(try KernelFlavour(kasan: false, kcsan: false, lockdep: false).localVersion == "-checker-plain")
    }

    @Test("every flavour name reads back as its flavour; others do not")
    func flavourNames() {
        for name in KernelFlavour.names { #expect(KernelFlavour(name: name)?.description == name) }
        #expect(KernelFlavour(name: "kasan-kcsan") == nil)
        #expect(KernelFlavour(name: "lockdep-kasan") == nil)
    }

    @Test("each flavour asks for its sanitizer and never for the other one")
    func flavourOptions() {
        func names(_ flavour: KernelFlavour) -> Set<String> { Set(flavour.requested.map(\.name)) }
        let kasan = names(KernelFlavour(sanitizer: .kasan, lockdep: false))
        let kcsan = names(KernelFlavour(sanitizer: .kcsan, lockdep: true))
        #expect(kasan.isSuperset(of: ["KASAN", "KASAN_INLINE", "VSOCKETS", "DEBUG_INFO_BTF_MODULES", "KPROBES"]))
        #expect(!kasan.contains("KCSAN") && !kasan.contains("PROVE_LOCKING"))
        #expect(kcsan.isSuperset(of: ["KCSAN", "PROVE_LOCKING", "DEBUG_LOCKDEP"]))
        #expect(!kcsan.contains("KASAN"))
        // vsock and every transport are modules: the checker loads and unloads them.
        let transports = ["VSOCKETS", "VSOCKETS_LOOPBACK", "VIRTIO_VSOCKETS", "VIRTIO_VSOCKETS_COMMON", "VMWARE_VMCI_VSOCKETS", "VHOST_VSOCK", "HYPERV_VSOCKETS"]
        for name in transports {
            #expect(KernelFragmentLookup.value(name, in: KernelConfigFragment.checker) == .module, "\(name)")
        }
    }

    @Test("the fragment comments every option with its reason, and the checker's options come after virtme-ng's")
    func fragmentText() {
        let flavour = KernelFlavour(sanitizer: .kcsan, lockdep: false)
        let text = KernelBuild.fragment(virtme: "CONFIG_VSOCKETS=y\n", flavour: flavour)
        let lines = text.split(separator: "\n").map(String.init)
        for (index, line) in lines.enumerated() where line.hasPrefix("CONFIG_") && index > 0 {
            #expect(lines[index - 1].hasPrefix("# "), "\(line) has no comment above it")
        }
        // merge_config.sh lets the last assignment win: vsock must end up a module.
        #expect(lines.lastIndex(of: "CONFIG_VSOCKETS=m")! > lines.firstIndex(of: "CONFIG_VSOCKETS=y")!)
        #expect(lines.contains("CONFIG_LOCALVERSION=\"-checker-kcsan\""))
        #expect(lines.contains("CONFIG_KCSAN=y"))
        #expect(lines.contains("# CONFIG_MODULE_SIG is not set"))
    }

    @Test(".config lines are read as Kconfig writes them")
    func readsConfig() {
        let values = KernelConfigOption.values(in: """
            CONFIG_KASAN=y
            CONFIG_VSOCKETS=m
            # CONFIG_KCSAN is not set
            CONFIG_LOCALVERSION="-checker-kasan"
            CONFIG_NR_CPUS=64
            """)
        #expect(values["KASAN"] == .yes)
        #expect(values["VSOCKETS"] == .module)
        #expect(values["KCSAN"] == KernelConfigOption.Value.no)
        #expect(values["LOCALVERSION"] == .text("-checker-kasan"))
        #expect(values["NR_CPUS"] == .text("64"))
        #expect(values["PROVE_LOCKING"] == nil)
    }

    /// A Kconfig entry written for this test, in the shape of lib/Kconfig.kcsan's.
    static let kconfig = """
        config HAVE_RACE_COMPILER
        \tdef_bool y

        menuconfig RACES
        \tbool "A race detector"
        \tdepends on HAVE_RACE_COMPILER
        \tdepends on DEBUG_KERNEL && !SHADOW
        \tselect STACKTRACE
        \thelp
        \t  depends on NOTHING (help text is not an attribute)

        config OTHER
        \ttristate "Other"
        """

    @Test("an option olddefconfig dropped is named with what it became and its Kconfig dependencies")
    func lostOptions() throws {
        let entry = try #require(KconfigEntry.parse("RACES", in: Self.kconfig, file: "lib/Kconfig.races"))
        #expect(entry == KconfigEntry(place: "lib/Kconfig.races:4", dependencies: ["HAVE_RACE_COMPILER", "DEBUG_KERNEL && !SHADOW"]))
        #expect(KconfigEntry.parse("MISSING", in: Self.kconfig, file: "x") == nil)

        let check = KernelConfigCheck(requested: [
            KernelConfigOption("RACES", .yes, "why"),
            KernelConfigOption("VSOCKETS", .module, "why"),
            KernelConfigOption("MODULE_SIG", .no, "why"),
            KernelConfigOption("NOT_AN_OPTION", .yes, "why"),
        ])
        let config = "# CONFIG_RACES is not set\nCONFIG_VSOCKETS=y\n"
        let lost = check.lost(in: config) { $0 == "RACES" ? entry : nil }
        #expect(lost.map(\.option) == ["RACES", "VSOCKETS", "NOT_AN_OPTION"])
        #expect(lost[0].description == "CONFIG_RACES=y was asked for but is not set after make olddefconfig; lib/Kconfig.races:4: depends on HAVE_RACE_COMPILER; depends on DEBUG_KERNEL && !SHADOW")
        #expect(lost[1].description == "CONFIG_VSOCKETS=m was asked for but became y after make olddefconfig: no Kconfig file of this tree defines VSOCKETS")
        #expect(lost[2].description.hasSuffix("no Kconfig file of this tree defines NOT_AN_OPTION"))
        #expect(check.lost(in: "CONFIG_RACES=y\nCONFIG_VSOCKETS=m\nCONFIG_NOT_AN_OPTION=y\n") { _ in nil }.isEmpty)
    }

    @Test("the cache key follows the base, the flavour, the fragment and the patches, and nothing else")
    func cacheKey() throws {
        let kasan = KernelFlavour(sanitizer: .kasan, lockdep: true)
        let key = try KernelBuild.key(base: "6.1.176-1", flavour: kasan, fragment: "A", patchFiles: [])
        #expect(key.count == 16)
        #expect(try KernelBuild.key(base: "6.1.176-1", flavour: kasan, fragment: "A", patchFiles: []) == key)
        #expect(try KernelBuild.key(base: "6.1.175-1", flavour: kasan, fragment: "A", patchFiles: []) != key)
        #expect(try KernelBuild.key(base: "6.1.176-1", flavour: KernelFlavour(sanitizer: .kasan, lockdep: false), fragment: "A", patchFiles: []) != key)
        #expect(try KernelBuild.key(base: "6.1.176-1", flavour: kasan, fragment: "B", patchFiles: []) != key)
        let patch = try CheckerProcess.temporaryFile("--- a/x\n+++ b/x\n", name: "0001-x.patch")
        let patched = try KernelBuild.key(base: "6.1.176-1", flavour: kasan, fragment: "A", patchFiles: [patch])
        #expect(patched != key)
        try "--- a/x\n+++ b/y\n".write(toFile: patch, atomically: true, encoding: .utf8)
        #expect(try KernelBuild.key(base: "6.1.176-1", flavour: kasan, fragment: "A", patchFiles: [patch]) != patched)
    }
}

/// The value a fragment gives an option.
enum KernelFragmentLookup {
    static func value(_ name: String, in fragment: KernelConfigFragment) -> KernelConfigOption.Value? {
        fragment.options.first { $0.name == name }?.value
    }
}

extension KernelBuildTests {
    /// The Debian 6.1.176 tree `checker kernel build` unpacks (absent until it first ran).
    static let tree = CheckerCache.defaultPath + "/base/6.1.176-1/tree"

    @Test("on the real 6.1 tree, KCSAN lost beside KASAN is explained by lib/Kconfig.kcsan's !KASAN",
          .enabled(if: FileManager.default.fileExists(atPath: tree + "/.complete")))
    func realKconfig() throws {
        let check = KernelConfigCheck(requested: KernelConfigFragment.kcsan.options)
        let lost = check.lost(in: "CONFIG_KASAN=y\n# CONFIG_KCSAN is not set\n") { KconfigEntry.find($0, in: Self.tree) }
        #expect(lost.map(\.option) == ["KCSAN", "KCSAN_KUNIT_TEST"])
        let message = try #require(lost.first?.description)
        #expect(message.hasPrefix("CONFIG_KCSAN=y was asked for but is not set after make olddefconfig; lib/Kconfig.kcsan:"))
        #expect(message.contains("depends on DEBUG_KERNEL && !KASAN"))
    }
}
