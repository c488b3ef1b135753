import CLibBPF

/// A BPF object file (an ELF `.bpf.o`) opened by libbpf, closed when the last reference goes.
///
/// Follows libbpf-bootstrap's loader: open → configure → load → attach → destroy. Each failure
/// is a ``ProbeError`` naming its stage. ``ProbeSession`` drives one of these for the vsock
/// probes; this type stays a thin wrapper that knows nothing of vsock.
///
/// Opening parses the ELF file, its BTF and its relocations in user space: it needs no
/// privileges and makes no `bpf()` syscall. Loading runs the verifier and needs `CAP_BPF`
/// (root in the test VM).
///
/// ```swift
/// let object = try ProbeObject(bytes: Array(data), name: "vsock")
/// print(object.programNames)   // ["kcc_entry", "kcc_return", …]
/// ```
///
/// A `ProbeObject` is not `Sendable`: libbpf objects are not thread-safe, so keep one on the
/// task that made it.
public final class ProbeObject {
    /// The name given at open, used in errors and in libbpf's log.
    public let name: String

    /// libbpf's `struct bpf_object *`, never `NULL`.
    internal let object: OpaquePointer

    /// Opens a BPF object from the bytes of its ELF file.
    ///
    /// libbpf copies the bytes, so the array need not outlive the object.
    ///
    /// - Parameters:
    ///   - bytes: The whole ELF file, as written by `clang -target bpf`.
    ///   - name: The object's name, for errors and libbpf's log (for example `vsock`).
    /// - Throws: ``ProbeError/open(object:errno:)``: `EINVAL` for an empty buffer,
    ///   `LIBBPF_ERRNO__FORMAT` or `LIBBPF_ERRNO__LIBELF` for bytes that are not a BPF ELF object.
    ///
    /// The corresponding C function is `bpf_object__open_mem`.
    public init(bytes: [UInt8], name: String) throws(ProbeError) {
        self.name = name
        let result = bytes.withUnsafeBytes { buffer in
            name.withCString { cName in
                withZeroedOptions(bpf_object_open_opts.self) { options in
                    options.pointee.sz = MemoryLayout<bpf_object_open_opts>.size
                    options.pointee.object_name = cName
                    return pointerOrLibbpfErrno {
                        bpf_object__open_mem(buffer.baseAddress, buffer.count, options)
                    }
                }
            }
        }
        object = try result.mapError { ProbeError.open(object: name, errno: $0) }.get()
    }

    deinit {
        bpf_object__close(object)
    }

    /// The names of the object's programs (their C function names), in section order.
    ///
    /// The corresponding C functions are `bpf_object__next_program` and `bpf_program__name`.
    public var programNames: [String] {
        var names: [String] = []
        var program = bpf_object__next_program(object, nil)
        while let current = program {
            names.append(String(cString: bpf_program__name(current)))
            program = bpf_object__next_program(object, current)
        }
        return names
    }

    /// The names of the object's maps, including libbpf's internal ones (`vsock.rodata`).
    ///
    /// The corresponding C functions are `bpf_object__next_map` and `bpf_map__name`.
    public var mapNames: [String] {
        var names: [String] = []
        var map = bpf_object__next_map(object, nil)
        while let current = map {
            names.append(String(cString: bpf_map__name(current)))
            map = bpf_object__next_map(object, current)
        }
        return names
    }

    // MARK: - Configure (before load)

    /// The program called `name`, or ``ProbeError/configure(object:step:errno:)`` with `ENOENT`.
    ///
    /// The corresponding C function is `bpf_object__find_program_by_name`.
    internal func program(named programName: String) throws(ProbeError) -> OpaquePointer {
        try pointerOrLibbpfErrno { bpf_object__find_program_by_name(object, programName) }
            .mapError { ProbeError.configure(object: name, step: "find program \(programName)",
                                             errno: $0) }
            .get()
    }

    /// The map called `name` (`.rodata` finds the internal read-only data map), or
    /// ``ProbeError/configure(object:step:errno:)`` with `ENOENT`.
    ///
    /// The corresponding C function is `bpf_object__find_map_by_name`.
    internal func map(named mapName: String) throws(ProbeError) -> OpaquePointer {
        try pointerOrLibbpfErrno { bpf_object__find_map_by_name(object, mapName) }
            .mapError { ProbeError.configure(object: name, step: "find map \(mapName)", errno: $0) }
            .get()
    }

    /// Loads only the programs named in `programs` (libbpf loads every program by default).
    ///
    /// The corresponding C function is `bpf_program__set_autoload`.
    internal func loadOnly(_ programs: Set<String>) throws(ProbeError) {
        for programName in programNames {
            let program = try program(named: programName)
            _ = try valueOrLibbpfErrno {
                bpf_program__set_autoload(program, programs.contains(programName))
            }
            .mapError { ProbeError.configure(object: name, step: "autoload \(programName)",
                                             errno: $0) }
            .get()
        }
    }

    /// Replaces the initial contents of `.rodata` (the `const volatile` globals) with `value`.
    ///
    /// `value` must have exactly the size of the section: `EINVAL` otherwise.
    ///
    /// The corresponding C function is `bpf_map__set_initial_value`.
    internal func setReadOnlyData<Value>(_ value: Value) throws(ProbeError) {
        let rodata = try map(named: ".rodata")
        var copy = value
        _ = try valueOrLibbpfErrno {
            withUnsafeBytes(of: &copy) { bpf_map__set_initial_value(rodata, $0.baseAddress, $0.count) }
        }
        .mapError { ProbeError.configure(object: name, step: "set .rodata", errno: $0) }
        .get()
    }

    /// Makes this object's map `mapName` the very map behind `descriptor` (another loaded
    /// object's), so two objects share a ring buffer or a hash map.
    ///
    /// The corresponding C function is `bpf_map__reuse_fd`.
    internal func reuseMap(named mapName: String, descriptor: CInt) throws(ProbeError) {
        let map = try map(named: mapName)
        _ = try valueOrLibbpfErrno { bpf_map__reuse_fd(map, descriptor) }
            .mapError { ProbeError.configure(object: name, step: "reuse map \(mapName)", errno: $0) }
            .get()
    }

    // MARK: - Load

    /// Loads every program marked for loading and creates the maps; the verifier's log goes to
    /// ``LibbpfLog``.
    ///
    /// - Throws: ``ProbeError/load(program:errno:)`` naming the object: `EPERM` without
    ///   privileges (or for fentry where the kernel refuses trampolines), `EACCES` or `EINVAL`
    ///   when the verifier rejects a program, `ENOENT` when a CO-RE relocation or an attach
    ///   target is missing from the kernel's BTF.
    ///
    /// The corresponding C function is `bpf_object__load`.
    internal func load() throws(ProbeError) {
        _ = try valueOrLibbpfErrno { bpf_object__load(object) }
            .mapError { ProbeError.load(program: name, errno: $0) }
            .get()
    }

    /// The file descriptor of a loaded map.
    ///
    /// The corresponding C function is `bpf_map__fd`.
    internal func descriptor(ofMap mapName: String) throws(ProbeError) -> CInt {
        let map = try map(named: mapName)
        return try valueOrLibbpfErrno { bpf_map__fd(map) }
            .mapError { ProbeError.configure(object: name, step: "fd of map \(mapName)", errno: $0) }
            .get()
    }

    // MARK: - Attach (after load)

    /// Attaches a loaded kprobe program to the entry, or the return, of a kernel function.
    ///
    /// - Parameters:
    ///   - programName: The program, of type `SEC("kprobe")` or `SEC("kretprobe")`.
    ///   - function: The kernel function, by its `/proc/kallsyms` name.
    ///   - cookie: The value the program reads with `bpf_get_attach_cookie`.
    ///   - isReturn: `true` for a kretprobe.
    /// - Returns: The link; the probe stays attached until it is destroyed.
    /// - Throws: ``ProbeError/attach(program:errno:)``, the program named `kcc_entry/function`.
    ///
    /// The corresponding C function is `bpf_program__attach_kprobe_opts`.
    internal func attachKprobe(program programName: String, to function: String, cookie: UInt64,
                               isReturn: Bool) throws(ProbeError) -> ProbeLink {
        try link(programName, label: function) { program in
            withZeroedOptions(bpf_kprobe_opts.self) { options in
                options.pointee.sz = MemoryLayout<bpf_kprobe_opts>.size
                options.pointee.bpf_cookie = cookie
                options.pointee.retprobe = isReturn
                return pointerOrLibbpfErrno { bpf_program__attach_kprobe_opts(program, function, options) }
            }
        }
    }

    /// Attaches a loaded program to an open perf event (a trace event's), with a cookie. The
    /// link owns the descriptor and closes it when destroyed.
    ///
    /// The corresponding C function is `bpf_program__attach_perf_event_opts`.
    internal func attachPerfEvent(program programName: String, descriptor: CInt, cookie: UInt64,
                                  label: String) throws(ProbeError) -> ProbeLink {
        try link(programName, label: label) { program in
            withZeroedOptions(bpf_perf_event_opts.self) { options in
                options.pointee.sz = MemoryLayout<bpf_perf_event_opts>.size
                options.pointee.bpf_cookie = cookie
                return pointerOrLibbpfErrno { bpf_program__attach_perf_event_opts(program, descriptor, options) }
            }
        }
    }

    /// Attaches a loaded fentry/fexit program to the function named in its section.
    ///
    /// The corresponding C function is `bpf_program__attach_trace`.
    internal func attachTrace(program programName: String) throws(ProbeError) -> ProbeLink {
        try link(programName, label: nil) { program in pointerOrLibbpfErrno { bpf_program__attach_trace(program) } }
    }

    /// Runs one of libbpf's attach functions on the named program and wraps the link; a failure
    /// is ``ProbeError/attach(program:errno:)`` naming `program/label`.
    private func link(_ programName: String, label: String?,
                      attach: (OpaquePointer) -> Result<OpaquePointer, LibbpfErrno>) throws(ProbeError) -> ProbeLink {
        let program = try program(named: programName)
        return ProbeLink(try attach(program).mapError {
            ProbeError.attach(program: label.map { "\(programName)/\($0)" } ?? programName, errno: $0)
        }.get())
    }

    /// Reads the `UInt64` at `key` of an array or hash map with 4-byte keys.
    ///
    /// The corresponding C function is `bpf_map__lookup_elem`.
    internal func lookup(map mapName: String, key: UInt32) throws(ProbeError) -> UInt64 {
        let map = try map(named: mapName)
        var key = key
        var value: UInt64 = 0
        _ = try valueOrLibbpfErrno {
            bpf_map__lookup_elem(map, &key, MemoryLayout<UInt32>.size,
                                 &value, MemoryLayout<UInt64>.size, 0)
        }
        .mapError { ProbeError.configure(object: name, step: "read map \(mapName)", errno: $0) }
        .get()
        return value
    }
}

/// Calls `body` with a libbpf options struct whose every byte is zero, padding included.
///
/// libbpf refuses options whose bytes past the last field it knows are not zero (`OPTS_VALID`
/// → EINVAL). A Swift value's padding is undefined (in a release build it held garbage and every
/// kprobe attach failed with EINVAL), so the struct lives in zeroed memory and is set in place.
func withZeroedOptions<Options, Result>(_ type: Options.Type,
                                        _ body: (UnsafeMutablePointer<Options>) -> Result) -> Result {
    let storage = UnsafeMutableRawPointer.allocate(byteCount: MemoryLayout<Options>.size,
                                                   alignment: MemoryLayout<Options>.alignment)
    defer { storage.deallocate() }
    storage.initializeMemory(as: UInt8.self, repeating: 0, count: MemoryLayout<Options>.size)
    return body(storage.assumingMemoryBound(to: Options.self))
}
