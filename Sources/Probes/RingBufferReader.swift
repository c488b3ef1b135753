import CLibBPF

/// Reads `struct kcc_event` records from a `BPF_MAP_TYPE_RINGBUF` map without blocking.
///
/// libbpf's reader calls a C function for each record, with a context pointer; here the
/// context is an unmanaged ``Inbox`` that collects copies of the records, retained for the
/// reader's lifetime. ``consume()`` returns everything submitted so far, in ring order (for one
/// thread, the order the events happened in).
///
/// The probes submit synchronously, in the syscall that triggers them, so once a syscall has
/// returned its events are in the ring: no polling or timeout is needed.
///
/// The corresponding C type is `struct ring_buffer`.
internal final class RingBufferReader {
    /// Where the C callback puts the records.
    final class Inbox {
        var records: [kcc_event] = []
        /// Records of the wrong size: a mismatch between the object and this build.
        var malformed: UInt64 = 0
    }

    private let ring: OpaquePointer
    private let inbox: Unmanaged<Inbox>

    /// Maps the ring buffer behind `descriptor`.
    ///
    /// - Parameters:
    ///   - descriptor: The ring buffer map's file descriptor.
    ///   - object: The object's name, for errors.
    /// - Throws: ``ProbeError/configure(object:step:errno:)`` if the ring cannot be mapped.
    ///
    /// The corresponding C function is `ring_buffer__new`.
    init(descriptor: CInt, object: String) throws(ProbeError) {
        let inbox = Unmanaged.passRetained(Inbox())
        let ring = pointerOrLibbpfErrno {
            ring_buffer__new(descriptor, RingBufferReader.sample, inbox.toOpaque(), nil)
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

    /// Every record submitted since the last call, in ring order, and how many were malformed.
    ///
    /// The corresponding C function is `ring_buffer__consume`.
    func consume() -> (records: [kcc_event], malformed: UInt64) {
        // Negative only if the callback returns negative, which it never does.
        _ = ring_buffer__consume(ring)
        let box = inbox.takeUnretainedValue()
        defer {
            box.records.removeAll(keepingCapacity: true)
            box.malformed = 0
        }
        return (box.records, box.malformed)
    }

    /// The C callback: copies one record into the inbox.
    private static let sample: ring_buffer_sample_fn = { context, data, size in
        guard let context else { return 0 }
        let box = Unmanaged<Inbox>.fromOpaque(context).takeUnretainedValue()
        if let record = EventDecoder.record(from: UnsafeRawBufferPointer(start: data, count: size)) {
            box.records.append(record)
        } else {
            box.malformed += 1
        }
        return 0
    }
}
