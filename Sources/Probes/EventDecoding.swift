import CLibBPF

/// Turns `struct kcc_event` records (the wire format in `bpf/events.h`) into ``ProbeEvent``s.
///
/// The decoder holds the session's spec table: an event's cookie carries the index of the spec
/// whose attachment fired (``ProbeCookie``). A record that cannot be decoded (wrong size, an
/// unknown type, a cookie naming no spec) yields `nil`; the session counts it with the events
/// lost in the kernel, since either way the observation is incomplete.
internal struct EventDecoder {
    /// The session's specs, by cookie index.
    var specs: [ProbeSpec]

    /// The size of one record: `sizeof(struct kcc_event)`, `KCC_EVENT_SIZE`.
    static let recordSize = MemoryLayout<kcc_event>.size

    /// Copies a record out of ring buffer memory, or `nil` if `bytes` has the wrong size.
    static func record(from bytes: UnsafeRawBufferPointer) -> kcc_event? {
        guard bytes.count == recordSize, let base = bytes.baseAddress else { return nil }
        return base.loadUnaligned(as: kcc_event.self)
    }

    /// Decodes one record, or `nil` if it names no known type or spec.
    func decode(_ record: kcc_event) -> ProbeEvent? {
        var record = record
        let module = withUnsafeBytes(of: &record.module) { bytes in
            String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self)
        }
        let spec: ProbeSpec?
        switch record.type {
        case KCC_CALL.rawValue, KCC_RETURN.rawValue:
            let cookie = ProbeCookie(rawValue: record.cookie)
            guard Int(cookie.index) < specs.count else { return nil }
            spec = specs[Int(cookie.index)]
        case KCC_MODULE_PUT.rawValue:
            spec = nil
        default:
            return nil
        }
        switch record.type {
        case KCC_CALL.rawValue:
            let args = [record.args.0, record.args.1, record.args.2, record.args.3]
            return ProbeEvent(kind: .call, spec: spec, tid: record.tid, args: args,
                              module: module, timestamp: record.timestamp_ns)
        case KCC_RETURN.rawValue:
            return ProbeEvent(kind: .return, spec: spec, tid: record.tid, returned: record.ret,
                              module: module, timestamp: record.timestamp_ns)
        default:
            return ProbeEvent(kind: .modulePut, spec: nil, tid: record.tid, module: module,
                              timestamp: record.timestamp_ns)
        }
    }
}
