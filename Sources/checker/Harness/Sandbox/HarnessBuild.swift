import Foundation

/// A compiled harness, ready to be loaded: which system runs it, where it is, its name for reports.
/// The checker compiles; only the sandboxed child (``HarnessChild``) loads it, so not even a
/// constructor in a patch runs in the checker's own process.
struct HarnessBuild: Hashable, Sendable {
    /// Which harness system serves the library (`checker harness-serve --kind`).
    enum Kind: String, Hashable, Sendable, CaseIterable {
        /// v8 48/56 `sev_update_mem_attr` (``SNPHarnessSystem``).
        case snpV8 = "snp-v8"
        /// Mainline's guest_memfd hooks cut from a tree's sev.c (``GmemHarnessSystem``).
        case snpGmem = "snp-gmem"
    }

    let kind: Kind
    let library: String
    let name: String

    /// The shim's files: frames in them are the kernel helpers, not the code under check.
    var shimFiles: Set<String> {
        switch kind {
        case .snpV8: return Set(HarnessShim.patch.files)
        case .snpGmem: return Set(HarnessShim.gmem.files)
        }
    }

    /// Loads the library into this process and serves it (the child's side).
    func served() throws -> ServedHarness {
        switch kind {
        case .snpV8: return ServedSystem(try SNPHarnessSystem(self))
        case .snpGmem: return ServedSystem(try GmemHarnessSystem(library: library, name: name))
        }
    }
}
