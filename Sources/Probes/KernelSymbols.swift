#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A snapshot of the kernel's function symbols, from `/proc/kallsyms`: which exist, and in
/// which module.
///
/// Lines read `ffffffffc0a01000 t vmci_transport_dgram_allow\t[vmw_vsock_vmci_transport]`;
/// only text symbols (`t`, `T`, `w`, `W`) count. Without root the addresses read as zeros,
/// but the names are there.
///
/// ```swift
/// let symbols = KernelSymbols.current()
/// symbols.module(of: "vsock_bind")   // "vsock"
/// symbols.module(of: "module_put")   // "" (vmlinux)
/// ```
public struct KernelSymbols: Sendable {
    /// The file's bytes, NUL-terminated for `strstr`.
    private let text: [UInt8]

    /// Keeps the text of a `/proc/kallsyms` file; lookups scan it.
    ///
    /// A scan with `strstr` costs a few milliseconds, where building a table of the 100,000+
    /// names costs seconds in a debug build under TCG, and a checker looks up a dozen names.
    ///
    /// - Parameter text: The file's bytes.
    public init(kallsyms text: [UInt8]) {
        var copy = text
        copy.append(0)
        self.text = copy
    }

    /// Reads `/proc/kallsyms` now; an empty snapshot if it cannot be read.
    public static func current(path: String = FeatureDetection.kallsymsPath) -> KernelSymbols {
        KernelSymbols(kallsyms: readWholeFile(path) ?? [])
    }

    /// Whether the kernel has a function called `function`.
    public func contains(_ function: String) -> Bool { module(of: function) != nil }

    /// The module that holds `function`: its name, `""` for vmlinux, `nil` if absent.
    public func module(of function: String) -> String? {
        for symbol in symbols(named: function) where symbol.name == function {
            return symbol.module
        }
        return nil
    }

    /// Those of `functions` that `module` holds (`""` for vmlinux).
    public func functions(named functions: [String], in module: String) -> Set<String> {
        Set(functions.filter { self.module(of: $0) == module })
    }

    /// Compiler-made copies of `function` (`function.isra.0`, `function.constprop.0`), which a
    /// kprobe by the plain name cannot reach.
    public func variants(of function: String) -> [String] {
        let names = symbols(named: function).map(\.name)
            .filter { $0 != function && !$0.hasSuffix(".cold") }
        return Array(Set(names)).sorted()
    }

    /// The text symbols whose name is `function` or starts with `function.`.
    private func symbols(named function: String) -> [(name: String, module: String)] {
        let newline = CChar(UInt8(ascii: "\n")), space = CChar(UInt8(ascii: " "))
        let tab = CChar(UInt8(ascii: "\t")), dot = CChar(UInt8(ascii: "."))
        let textTypes: Set<CChar> = Set("tTwW".utf8.map { CChar($0) })
        var matches: [(name: String, module: String)] = []
        guard !function.isEmpty else { return matches }
        text.withUnsafeBufferPointer { bytes in
          bytes.withMemoryRebound(to: CChar.self) { buffer in
            let base = buffer.baseAddress!
            let end = base + buffer.count - 1  // the NUL
            function.withCString { needle in
                let length = strlen(needle)
                var cursor = base
                while let found = strstr(cursor, needle) {
                    let hit = UnsafePointer(found)
                    cursor = hit + 1
                    // "<address> <type> <name>…": the name follows "<type> " at a line's third field.
                    guard hit - base >= 3, hit[-1] == space, hit[-3] == space,
                          textTypes.contains(hit[-2]) else { continue }
                    let after = hit[length]
                    guard after == tab || after == newline || after == 0 || after == dot else { continue }
                    var nameEnd = hit + length
                    while nameEnd < end && nameEnd.pointee != tab && nameEnd.pointee != newline {
                        nameEnd += 1
                    }
                    var module = ""
                    if nameEnd < end && nameEnd.pointee == tab {
                        var moduleEnd = nameEnd + 1
                        while moduleEnd < end && moduleEnd.pointee != newline { moduleEnd += 1 }
                        module = string(from: nameEnd + 1, to: moduleEnd)
                            .trimmingBrackets()
                    }
                    matches.append((string(from: hit, to: nameEnd), module))
                }
            }
          }
        }
        return matches
    }

    private func string(from start: UnsafePointer<CChar>, to end: UnsafePointer<CChar>) -> String {
        String(decoding: UnsafeRawBufferPointer(start: start, count: end - start), as: UTF8.self)
    }

    /// Reads a file whose size `stat` does not know (procfs), in chunks.
    private static func readWholeFile(_ path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(1 << 23)
        let chunk = 1 << 16
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 8)
        defer { buffer.deallocate() }
        while true {
            let got = read(descriptor, buffer.baseAddress, chunk)
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return got == 0 ? bytes : nil }
            bytes.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[..<got]))
        }
    }
}

private extension String {
    /// `[vsock]` → `vsock`.
    func trimmingBrackets() -> String {
        var text = Substring(self)
        if text.hasPrefix("[") { text = text.dropFirst() }
        if text.hasSuffix("]") { text = text.dropLast() }
        return String(text)
    }
}
