#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What a kernel module file (`.ko`) says about itself, read from its ELF sections: the functions
/// it defines (`.symtab`) and its `modinfo` fields (`.modinfo`: `depends`, `srcversion`, …).
///
/// Which module holds a callback is a fact about the build, and the module's own file states it
/// before the module is loaded and without `/proc/kallsyms`, whose full read costs 300-450 ms under
/// TCG (measured in the 6.1 test VM); and its fields are what `modinfo` would print, without
/// starting `modinfo` (80 ms a process under TCG). Local (static) functions are included: kernel
/// modules keep their whole `.symtab` (Debian strips debug information only), since the kernel
/// needs it for `/proc/kallsyms`.
///
/// ```swift
/// let file = ModuleFile(path: ".../vmw_vsock_vmci_transport.ko")
/// file?.definedFunctions.contains("vmci_transport_dgram_bind")   // true
/// file?.depends                                                   // ["vsock", "vmw_vmci"]
/// ```
public struct ModuleFile: Sendable {
    /// The names of the `STT_FUNC` symbols the file defines (section index not `SHN_UNDEF`).
    public let definedFunctions: Set<String>
    /// `.modinfo`'s `key=value` strings, by key (a key may repeat, e.g. `alias`).
    public let modinfo: [String: [String]]

    /// The modules this one needs loaded first (`modinfo -F depends`).
    public var depends: [String] {
        (modinfo["depends"]?.first ?? "").split(separator: ",").map(String.init).filter { !$0.isEmpty }
    }

    /// Reads the file; nil when it cannot be read or is not an uncompressed little-endian ELF64
    /// object (`.ko.xz`, `.ko.zst`: then ask `modinfo` and `/proc/kallsyms`).
    public init?(path: String) {
        guard let bytes = Self.readFile(path) else { return nil }
        self.init(bytes: bytes)
    }

    /// The same, from the file's bytes.
    public init?(bytes: [UInt8]) {
        // ELF64 header: magic, class 2 (64-bit), data 1 (little-endian).
        guard bytes.count >= 64, bytes[0] == 0x7f, bytes[1] == 0x45, bytes[2] == 0x4c, bytes[3] == 0x46,
              bytes[4] == 2, bytes[5] == 1 else { return nil }
        let sectionTable = Int(Self.integer(bytes, at: 0x28, size: 8))
        let sectionSize = Int(Self.integer(bytes, at: 0x3a, size: 2))
        let sectionCount = Int(Self.integer(bytes, at: 0x3c, size: 2))
        let namesIndex = Int(Self.integer(bytes, at: 0x3e, size: 2))
        guard sectionSize >= 64, sectionTable > 0, namesIndex < sectionCount,
              sectionTable + sectionSize * sectionCount <= bytes.count else { return nil }
        let sections = (0..<sectionCount).map { index -> Section in
            let base = sectionTable + index * sectionSize
            return Section(name: Int(Self.integer(bytes, at: base, size: 4)),
                           type: UInt32(Self.integer(bytes, at: base + 4, size: 4)),
                           offset: Int(Self.integer(bytes, at: base + 0x18, size: 8)),
                           size: Int(Self.integer(bytes, at: base + 0x20, size: 8)),
                           link: Int(Self.integer(bytes, at: base + 0x28, size: 4)),
                           entrySize: Int(Self.integer(bytes, at: base + 0x38, size: 8)))
        }
        guard sections.allSatisfy({ $0.type == 8 /* SHT_NOBITS */ || $0.offset + $0.size <= bytes.count }) else { return nil }

        // .symtab: the defined functions.
        guard let symbols = sections.first(where: { $0.type == 2 /* SHT_SYMTAB */ }),
              symbols.link < sectionCount, symbols.entrySize >= 24 else { return nil }
        let strings = sections[symbols.link]
        var functions = Set<String>()
        for entry in stride(from: symbols.offset, to: symbols.offset + symbols.size, by: symbols.entrySize) {
            // Elf64_Sym: st_name (4), st_info (1), st_other (1), st_shndx (2), st_value, st_size.
            let info = bytes[entry + 4]
            let sectionIndex = Self.integer(bytes, at: entry + 6, size: 2)
            guard info & 0xf == 2, sectionIndex != 0 else { continue }  // STT_FUNC, defined
            if let name = Self.string(bytes, in: strings, at: Int(Self.integer(bytes, at: entry, size: 4))) {
                functions.insert(name)
            }
        }
        definedFunctions = functions

        // .modinfo: NUL-separated key=value strings.
        var fields: [String: [String]] = [:]
        let names = sections[namesIndex]
        if let info = sections.first(where: { Self.string(bytes, in: names, at: $0.name) == ".modinfo" }) {
            for field in bytes[info.offset..<info.offset + info.size].split(separator: 0) {
                let text = String(decoding: field, as: UTF8.self)
                guard let equals = text.firstIndex(of: "=") else { continue }
                fields[String(text[..<equals]), default: []].append(String(text[text.index(after: equals)...]))
            }
        }
        modinfo = fields
    }

    private struct Section {
        let name: Int
        let type: UInt32
        let offset: Int
        let size: Int
        let link: Int
        let entrySize: Int
    }

    /// The NUL-terminated string at `offset` in a string table section.
    private static func string(_ bytes: [UInt8], in table: Section, at offset: Int) -> String? {
        let start = table.offset + offset
        let end = table.offset + table.size
        guard offset >= 0, start < end else { return nil }
        var stop = start
        while stop < end && bytes[stop] != 0 { stop += 1 }
        return String(decoding: bytes[start..<stop], as: UTF8.self)
    }

    /// A little-endian unsigned integer of `size` bytes.
    private static func integer(_ bytes: [UInt8], at offset: Int, size: Int) -> UInt64 {
        var value: UInt64 = 0
        for index in (0..<size).reversed() { value = value << 8 | UInt64(bytes[offset + index]) }
        return value
    }

    private static func readFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var status = stat()
        guard fstat(descriptor, &status) == 0, status.st_size > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(status.st_size))
        var done = 0
        while done < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + done, $0.count - done) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return nil }
            done += got
        }
        return bytes
    }
}
