import CLibBPF

/// One attachment of a loaded program to its hook, detached when the last reference goes.
///
/// Destroying the link is what frees the hook: a kprobe on a module function must be destroyed
/// before that module is unloaded (``ProbeSession/detach(_:)``).
///
/// The corresponding C type is `struct bpf_link`.
internal final class ProbeLink {
    /// libbpf's `struct bpf_link *`, `nil` once destroyed.
    private var link: OpaquePointer?

    /// Takes ownership of a link returned by a `bpf_program__attach_*` function.
    init(_ link: OpaquePointer) {
        self.link = link
    }

    /// Detaches now; later calls do nothing.
    ///
    /// The corresponding C function is `bpf_link__destroy`.
    func destroy() {
        if let link { _ = bpf_link__destroy(link) }
        link = nil
    }

    deinit {
        destroy()
    }
}
