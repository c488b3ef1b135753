#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The first 64-bit value of a `BPF_F_MMAPABLE` array map, read through a shared mapping: no
/// `bpf()` syscall per read.
///
/// The live loop reads the `lost` counter after every operation; a map lookup is a syscall,
/// which under TCG costs tens of microseconds, per operation, for a value that is almost always
/// zero.
final class MappedCounter {
    private let base: UnsafeMutableRawPointer
    private let length: Int

    /// Maps the map behind `descriptor` read-only, or returns nil (the map was not created
    /// mmapable, or the kernel refuses).
    init?(descriptor: CInt) {
        length = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard let mapped = mmap(nil, length, PROT_READ, MAP_SHARED, descriptor, 0), mapped != MAP_FAILED else {
            return nil
        }
        base = mapped
    }

    deinit {
        munmap(base, length)
    }

    /// The value now (the BPF side adds to it atomically).
    var value: UInt64 {
        base.load(as: UInt64.self)
    }
}
