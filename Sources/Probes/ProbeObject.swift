import CLibBPF

/// A BPF object file (an ELF `.bpf.o`) opened by libbpf, closed when the last reference goes.
///
/// Follows libbpf-bootstrap's loader: open → configure → load → attach → destroy. This issue
/// provides the *open* stage only; loading and attaching the vsock probes come with the next
/// issue, each failure as a ``ProbeError`` naming its stage.
///
/// Opening parses the ELF file, its BTF and its relocations in user space: it needs no
/// privileges and makes no `bpf()` syscall.
///
/// ```swift
/// let object = try ProbeObject(bytes: Array(data), name: "vsock")
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
                var options = bpf_object_open_opts()
                options.sz = MemoryLayout<bpf_object_open_opts>.size
                options.object_name = cName
                return pointerOrLibbpfErrno {
                    bpf_object__open_mem(buffer.baseAddress, buffer.count, &options)
                }
            }
        }
        object = try result.mapError { ProbeError.open(object: name, errno: $0) }.get()
    }

    deinit {
        bpf_object__close(object)
    }
}
