import CSandbox
import Foundation
import Generators

/// A compiled `harness.so`, opened: the entry point that runs the patch's `sev_update_mem_attr`.
///
/// The environment crosses as `struct harness_env` (Shim/harness.h): 14 fields of 8 bytes, which
/// ``HarnessEnvironment`` writes by index; `harness_abi()` is checked at load so a shim and a
/// checker that disagree on it never meet.
final class HarnessLibrary {
    /// `harness.h`'s `HARNESS_ABI_VERSION` and the field count this file writes.
    static let abiVersion: UInt64 = 1
    static let fieldCount = 14

    typealias Entry = @convention(c) (UnsafeRawPointer?, UInt32, UInt64, UInt64) -> Int32
    private typealias ABI = @convention(c) () -> UInt64

    let path: String
    private let handle: UnsafeMutableRawPointer
    private let entry: Entry

    init(path: String) throws {
        guard let handle = dlopen(path, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "unknown error"
            throw SystemError.unavailable("cannot load the harness \(path): \(reason)")
        }
        guard let abiSymbol = dlsym(handle, "harness_abi"), let entrySymbol = dlsym(handle, "harness_update_mem_attr") else {
            dlclose(handle)
            throw SystemError.unavailable("the harness \(path) lacks harness_abi or harness_update_mem_attr; delete it to rebuild")
        }
        let abi = unsafeBitCast(abiSymbol, to: ABI.self)()
        let expected = Self.abiVersion << 32 | UInt64(Self.fieldCount * 8)
        guard abi == expected else {
            dlclose(handle)
            throw SystemError.unavailable("the harness \(path) has ABI \(String(abi, radix: 16)), this checker expects "
                                          + "\(String(expected, radix: 16)); the shim and the checker were built apart")
        }
        self.path = path
        self.handle = handle
        entry = unsafeBitCast(entrySymbol, to: Entry.self)
    }

    deinit { dlclose(handle) }

    /// `harness_update_mem_attr(env, attr, start, end)`.
    /// Bracketed as a call into the patch (``SandboxCall``), so a crash inside names it.
    func updateMemAttr(_ environment: HarnessEnvironment, attr: UInt32, start: UInt64, end: UInt64) -> Int32 {
        SandboxCall.sevUpdateMemAttr.run {
            environment.fields.withUnsafeBytes { entry($0.baseAddress, attr, start, end) }
        }
    }
}

/// `struct harness_env`, field by field (Shim/harness.h is the definition; keep the order).
struct HarnessEnvironment {
    typealias GetPFN = @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutablePointer<UInt64>?, UnsafeMutablePointer<Int32>?) -> Int32
    typealias PutPage = @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Void
    typealias Lookup = @convention(c) (UnsafeMutableRawPointer?, UInt64, UnsafeMutablePointer<Int32>?) -> Int32
    typealias RMPUpdate = @convention(c) (UnsafeMutableRawPointer?, UInt64, UInt64, Int32, Int32, Int32, UInt32) -> Int32
    typealias PSMASH = @convention(c) (UnsafeMutableRawPointer?, UInt64) -> Int32
    typealias Log = @convention(c) (UnsafeMutableRawPointer?, UnsafePointer<CChar>?) -> Void

    var fields = [UInt64](repeating: 0, count: HarnessLibrary.fieldCount)

    init(context: UnsafeMutableRawPointer, snpGuest: Bool, canBePrivate: Bool, presentCPUs: Int, asid: UInt32,
         slotID: UInt64, baseGFN: UInt64, pages: UInt64, getPFN: GetPFN, putPage: PutPage, lookup: Lookup,
         rmpupdate: RMPUpdate, psmash: PSMASH, log: Log) {
        func address(_ pointer: UnsafeRawPointer) -> UInt64 { UInt64(UInt(bitPattern: pointer)) }
        fields[0] = address(context)
        fields[1] = snpGuest ? 1 : 0
        fields[2] = canBePrivate ? 1 : 0
        fields[3] = UInt64(max(1, presentCPUs))
        fields[4] = UInt64(asid)
        fields[5] = slotID
        fields[6] = baseGFN
        fields[7] = pages
        fields[8] = address(unsafeBitCast(getPFN, to: UnsafeRawPointer.self))
        fields[9] = address(unsafeBitCast(putPage, to: UnsafeRawPointer.self))
        fields[10] = address(unsafeBitCast(lookup, to: UnsafeRawPointer.self))
        fields[11] = address(unsafeBitCast(rmpupdate, to: UnsafeRawPointer.self))
        fields[12] = address(unsafeBitCast(psmash, to: UnsafeRawPointer.self))
        fields[13] = address(unsafeBitCast(log, to: UnsafeRawPointer.self))
    }
}
