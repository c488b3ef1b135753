import CSandbox
import Foundation

/// A call into a patch's code, named for crash reports: while it runs, a crash, an abort, an
/// exit or a forbidden system call is the patch's (`in-call=<entry>`); outside one, it is the
/// checker's own failure. The names live as long as the process (the C side keeps the pointer).
struct SandboxCall: @unchecked Sendable {
    private let entry: UnsafeMutablePointer<CChar>

    init(_ entry: String) { self.entry = strdup(entry) }

    static let sevUpdateMemAttr = SandboxCall("sev_update_mem_attr")
    static let sevGmemPrepare = SandboxCall("sev_gmem_prepare")
    static let sevGmemInvalidate = SandboxCall("sev_gmem_invalidate")
    static let sevPrivateMaxMappingLevel = SandboxCall("sev_private_max_mapping_level")

    var name: String { String(cString: entry) }

    func run<T>(_ body: () throws -> T) rethrows -> T {
        kcc_sandbox_call_begin(entry)
        defer { kcc_sandbox_call_end() }
        return try body()
    }
}
