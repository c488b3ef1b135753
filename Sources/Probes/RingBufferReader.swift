import CLibBPF

/// Reads fixed-size records (`struct kcc_event`, `struct snp_event`) from a
/// `BPF_MAP_TYPE_RINGBUF` map without blocking.
///
/// libbpf's reader calls a C function for each record, with a context pointer; here the
/// context is an unmanaged ``Inbox`` that collects copies of the records, retained for the
/// reader's lifetime. ``consume()`` returns everything submitted so far, in ring order (for one
/// thread, the order the events happened in).
///
/// The vsock probes submit synchronously, in the syscall that triggers them, so once a syscall
/// has returned its events are in the ring. The SNP probes fire in other processes (the VMM), so
/// their records arrive at any time; each ``consume()`` returns those submitted so far.
///
/// The corresponding C type is `struct ring_buffer`.
internal final class RingBufferReader<Record> {
    /// Where the C callback puts the records.
    final class Inbox: RingBufferInbox {
        let decode: (UnsafeRawBufferPointer) -> Record?
        var records: [Record] = []
        /// The sizes of records of the wrong size: a mismatch between the object and this build.
        var malformed: [Int] = []

        init(decode: @escaping (UnsafeRawBufferPointer) -> Record?) { self.decode = decode }

        override func accept(_ bytes: UnsafeRawBufferPointer) {
            if let record = decode(bytes) { records.append(record) } else { malformed.append(bytes.count) }
        }
    }

    private let ring: OpaquePointer
    private let inbox: Unmanaged<Inbox>

    /// Maps the ring buffer behind `descriptor`.
    ///
    /// - Parameters:
    ///   - descriptor: The ring buffer map's file descriptor.
    ///   - object: The object's name, for errors.
    ///   - decode: A record from its bytes, or nil when they are not one (wrong size).
    /// - Throws: ``ProbeError/configure(object:step:errno:)`` if the ring cannot be mapped.
    ///
    /// The corresponding C function is `ring_buffer__new`.
    init(descriptor: CInt, object: String, decode: @escaping (UnsafeRawBufferPointer) -> Record?) throws(ProbeError) {
        let inbox = Unmanaged.passRetained(Inbox(decode: decode))
        let ring = pointerOrLibbpfErrno {
            ring_buffer__new(descriptor, ringBufferSample, inbox.toOpaque(), nil)
        }
        switch ring {
        case .success(let ring):
            self.ring = ring
            self.inbox = inbox
        case .failure(let errno):
            inbox.release()
            throw .configure(object: object, step: "ring_buffer__new", errno: errno)
        }
    }

    deinit {
        ring_buffer__free(ring)
        inbox.release()
    }

    /// Every record submitted since the last call, in ring order, and the sizes of malformed ones.
    ///
    /// The corresponding C function is `ring_buffer__consume`.
    func consume() -> (records: [Record], malformed: [Int]) {
        // Negative only if the callback returns negative, which it never does.
        _ = ring_buffer__consume(ring)
        let box = inbox.takeUnretainedValue()
        defer {
            box.records.removeAll(keepingCapacity: true)
            box.malformed.removeAll()
        }
        return (box.records, box.malformed)
    }
}

/// The non-generic face of an inbox, which the C callback can reach.
internal class RingBufferInbox {
    func accept(_ bytes: UnsafeRawBufferPointer) {}
}

/// The C callback: hands one record to the inbox behind the context pointer.
private let ringBufferSample: ring_buffer_sample_fn = { context, data, size in
    guard let context else { return 0 }
    Unmanaged<RingBufferInbox>.fromOpaque(context).takeUnretainedValue()
        .accept(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
