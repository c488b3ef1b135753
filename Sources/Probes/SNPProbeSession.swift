import CLibBPF

extension BundledObject {
    /// The SNP probes, from `bpf/snp.bpf.c`.
    public static let snp = "snp.bpf.o"
}

/// A kernel function the SNP probes (`bpf/snp.bpf.c`) can observe. The raw value is the
/// function's `enum snp_function` (`bpf/snp_events.h`), the cookie of the generic kprobes.
public enum SNPFunction: UInt32, CaseIterable, Sendable, Hashable, CustomStringConvertible {
    case updateMemAttr = 1
    case getPFN = 2
    case rmpMakePrivate = 3
    case rmpMakeShared = 4
    case psmash = 5
    case gmemPrepare = 6
    case gmemInvalidate = 7
    case postSetMemoryAttributes = 8

    /// The kernel function, by its `/proc/kallsyms` name.
    public var name: String {
        switch self {
        case .updateMemAttr: "sev_update_mem_attr"
        case .getPFN: "kvm_restrictedmem_get_pfn"
        case .rmpMakePrivate: "rmp_make_private"
        case .rmpMakeShared: "rmp_make_shared"
        case .psmash: "psmash"
        case .gmemPrepare: "sev_gmem_prepare"
        case .gmemInvalidate: "sev_gmem_invalidate"
        case .postSetMemoryAttributes: "kvm_arch_post_set_memory_attributes"
        }
    }

    public var description: String { name }

    /// Whether a call is reported when it starts (with the arguments).
    public var reportsEntry: Bool {
        switch self {
        case .updateMemAttr, .gmemPrepare, .gmemInvalidate, .postSetMemoryAttributes: true
        case .getPFN, .rmpMakePrivate, .rmpMakeShared, .psmash: false
        }
    }

    /// Whether a call is reported when it returns.
    public var reportsReturn: Bool { self != .postSetMemoryAttributes }

    /// The fentry/fexit programs of `bpf/snp.bpf.c` for this function, fexit first.
    var tracePrograms: [String] {
        switch self {
        case .updateMemAttr: ["snp_fexit_update_mem_attr", "snp_fentry_update_mem_attr"]
        case .getPFN: ["snp_fexit_get_pfn"]
        case .rmpMakePrivate: ["snp_fexit_rmp_make_private"]
        case .rmpMakeShared: ["snp_fexit_rmp_make_shared"]
        case .psmash: ["snp_fexit_psmash"]
        case .gmemPrepare: ["snp_fexit_gmem_prepare", "snp_fentry_gmem_prepare"]
        case .gmemInvalidate: ["snp_fexit_gmem_invalidate", "snp_fentry_gmem_invalidate"]
        case .postSetMemoryAttributes: ["snp_fentry_post_set_attrs"]
        }
    }

    /// The hooks in use under `mechanism`, for example `fentry+fexit`, `fexit`,
    /// `kprobe+kretprobe`; `nil` when not attached.
    public func hooks(for mechanism: ProbeStatus.Mechanism) -> String? {
        switch mechanism {
        case .fentry:
            return [reportsEntry ? "fentry" : nil, reportsReturn ? "fexit" : nil]
                .compactMap { $0 }.joined(separator: "+")
        case .kprobe, .kprobeEvent:
            return reportsReturn ? "kprobe+kretprobe" : "kprobe"
        case .unavailable:
            return nil
        }
    }
}

/// The SNP probes: loaded once, attached per function, drained while a workload runs.
///
/// The session loads `bpf/snp.bpf.c` (``BundledObject/snp``) with only its generic
/// `snp_kprobe`/`snp_kretprobe` programs; that object owns the ring buffer and the `lost`
/// counter. ``attach(_:symbols:absence:)`` then tries, per function, fentry/fexit first: the
/// function's trace programs are loaded in an object of their own that reuses the first one's
/// maps (libbpf loads an object's programs all at once, and a trace program whose target the
/// kernel lacks fails to load), then the generic kprobes with the function as cookie.
///
/// No process filter: the workload is another process (a VMM). Every event counts, and any lost
/// or undecodable one makes ``lostEvents`` non-zero.
///
/// ```swift
/// let session = try SNPProbeSession()
/// let symbols = KernelSymbols.current()
/// let status = session.attach(.psmash, symbols: symbols, absence: "…")
/// runWorkload()
/// let events = session.drain()
/// precondition(session.lostEvents == 0, "inconclusive: events were lost")
/// ```
///
/// Create the session after `kvm` and `kvm_amd` are loaded: the kprobe programs' CO-RE reads of
/// `struct kvm_memory_slot` and `struct kvm_gfn_range` resolve against the `kvm` module's BTF
/// at load time.
///
/// Not `Sendable`: libbpf objects are not thread-safe.
public final class SNPProbeSession {
    private let objectBytes: [UInt8]
    private let object: ProbeObject
    private let reader: RingBufferReader<snp_event>
    private var attachments: [SNPFunction: Attachment] = [:]
    private var undecodable: UInt64 = 0
    /// The first few records that could not be decoded, for the report.
    public private(set) var decodeProblems: [SNPDecodeProblem] = []

    private struct Attachment {
        var status: ProbeStatus
        var links: [ProbeLink]
        var object: ProbeObject?

        func destroy() {
            // Entry first, so no call is seen whose return is not.
            for link in links.reversed() { link.destroy() }
        }
    }

    /// Names shared with `bpf/snp.bpf.c`.
    enum Name {
        static let object = "snp"
        static let kprobe = "snp_kprobe"
        static let kretprobe = "snp_kretprobe"
        static let events = "events"
        static let lost = "lost"
        static let sharedMaps = ["events", "lost", "saved_args"]
    }

    /// Opens the bundled SNP object and loads its kprobe programs and maps. Nothing is attached.
    ///
    /// - Throws: ``ProbeError/open(object:errno:)`` if the bundled object is missing,
    ///   ``ProbeError/load(program:errno:)`` (for example `EPERM` without root).
    public convenience init() throws(ProbeError) {
        try self.init(objectBytes: BundledObject.bytes(named: BundledObject.snp))
    }

    init(objectBytes: [UInt8]) throws(ProbeError) {
        self.objectBytes = objectBytes
        let object = try ProbeObject(bytes: objectBytes, name: Name.object)
        try object.loadOnly([Name.kprobe, Name.kretprobe])
        try object.load()
        reader = try RingBufferReader(descriptor: object.descriptor(ofMap: Name.events),
                                      object: Name.object, decode: SNPEventDecoder.record(from:))
        self.object = object
    }

    deinit {
        detachAll()
    }

    // MARK: - Attach and detach

    /// Attaches the probes of `function`: fentry/fexit, else kprobe/kretprobe.
    ///
    /// A function missing from `symbols` is not tried: it is reported unavailable with
    /// `not in /proc/kallsyms: <absence>`. Idempotent once attached; a function that could not
    /// attach can be tried again.
    ///
    /// - Parameters:
    ///   - function: The function.
    ///   - symbols: A snapshot of `/proc/kallsyms`.
    ///   - absence: Why the function may be missing (for example `sev_update_mem_attr is added by
    ///     the v8 SNP series, absent on mainline`), used when it is.
    /// - Returns: ``ProbeStatus/Mechanism/fentry`` (fentry and/or fexit, see
    ///   ``SNPFunction/hooks(for:)``), ``ProbeStatus/Mechanism/kprobe`` with the fentry error in
    ///   ``ProbeStatus/error``, or ``ProbeStatus/Mechanism/unavailable(reason:)``.
    public func attach(_ function: SNPFunction, symbols: KernelSymbols, absence: String) -> ProbeStatus {
        if let attachment = attachments[function] { return attachment.status }
        let name = function.name
        if let absent = Self.absentStatus(function, symbols: symbols, absence: absence) { return absent }
        let fentryError: ProbeError
        do throws(ProbeError) {
            let (traceObject, links) = try loadTrace(function)
            let status = ProbeStatus(function: name, mechanism: .fentry)
            attachments[function] = Attachment(status: status, links: links, object: traceObject)
            return status
        } catch {
            fentryError = error
        }
        let fentryReason = FeatureDetection.reason(for: .fentry, function: name, error: fentryError,
                                                   symbols: symbols)
        let cookie = UInt64(function.rawValue)
        var links: [ProbeLink] = []
        do throws(ProbeError) {
            // Return first: a call seen at entry always has its return seen too.
            if function.reportsReturn {
                links.append(try object.attachKprobe(program: Name.kretprobe, to: name, cookie: cookie,
                                                     isReturn: true))
            }
            // Every function needs its entry probe: to report the entry, or to save the
            // arguments its return event carries (return_needs_arguments in snp.bpf.c).
            links.append(try object.attachKprobe(program: Name.kprobe, to: name, cookie: cookie,
                                                 isReturn: false))
            let status = ProbeStatus(function: name, mechanism: .kprobe, error: fentryError)
            attachments[function] = Attachment(status: status, links: links, object: nil)
            return status
        } catch {
            for link in links { link.destroy() }
            let kprobeReason = FeatureDetection.reason(for: .kprobe, function: name, error: error,
                                                       symbols: symbols)
            return ProbeStatus(function: name,
                               mechanism: .unavailable(reason: "\(fentryReason); \(kprobeReason)"),
                               error: error)
        }
    }

    /// The status of a function missing from `symbols`, `nil` if it is there: unavailable with
    /// `not in /proc/kallsyms: <absence>` (and the compiler-made copies the kernel has instead,
    /// such as `name.isra.0`, which a probe by the plain name cannot reach).
    ///
    /// - Parameters:
    ///   - function: The function.
    ///   - symbols: A snapshot of `/proc/kallsyms`.
    ///   - absence: Why the function may be missing.
    public static func absentStatus(_ function: SNPFunction, symbols: KernelSymbols,
                                    absence: String) -> ProbeStatus? {
        let name = function.name
        guard !symbols.contains(name) else { return nil }
        var reason = "not in \(FeatureDetection.kallsymsPath): \(absence)"
        let variants = symbols.variants(of: name)
        if !variants.isEmpty { reason += "; it has \(variants.joined(separator: ", "))" }
        return ProbeStatus(function: name, mechanism: .unavailable(reason: reason))
    }

    /// Loads `function`'s fentry/fexit programs in a second object sharing this one's maps, and
    /// attaches them (fexit first).
    private func loadTrace(_ function: SNPFunction) throws(ProbeError) -> (ProbeObject, [ProbeLink]) {
        let trace = try ProbeObject(bytes: objectBytes, name: "snp_\(function.name)")
        try trace.loadOnly(Set(function.tracePrograms))
        for map in Name.sharedMaps {
            try trace.reuseMap(named: map, descriptor: object.descriptor(ofMap: map))
        }
        try trace.load()
        var links: [ProbeLink] = []
        do throws(ProbeError) {
            for program in function.tracePrograms {
                links.append(try trace.attachTrace(program: program))
            }
        } catch {
            for link in links { link.destroy() }
            throw error
        }
        return (trace, links)
    }

    /// Detaches every function.
    public func detachAll() {
        for attachment in attachments.values { attachment.destroy() }
        attachments.removeAll()
    }

    /// The status of an attached function, `nil` if it is not attached.
    public func status(of function: SNPFunction) -> ProbeStatus? {
        attachments[function]?.status
    }

    // MARK: - Events

    /// Every event submitted since the last drain, decoded, in ring order. Records that cannot
    /// be decoded are counted in ``lostEvents`` (the first few kept in ``decodeProblems``).
    public func drain() -> [SNPProbeEvent] {
        let (records, malformed) = reader.consume()
        undecodable += UInt64(malformed.count)
        for size in malformed { note(.wrongSize(size)) }
        var events: [SNPProbeEvent] = []
        events.reserveCapacity(records.count)
        for record in records {
            switch SNPEventDecoder.decode(record) {
            case .success(let event): events.append(event)
            case .failure(let problem):
                undecodable += 1
                note(problem)
            }
        }
        return events
    }

    private func note(_ problem: SNPDecodeProblem) {
        if decodeProblems.count < 10 { decodeProblems.append(problem) }
    }

    /// Events lost since the session was loaded: dropped in the kernel because the ring buffer
    /// was full (the `lost` map), plus records that could not be decoded or were incomplete.
    /// `UInt64.max` if the counter cannot be read. Any loss makes a run inconclusive.
    public var lostEvents: UInt64 {
        guard let dropped = try? object.lookup(map: Name.lost, key: 0) else { return .max }
        return dropped &+ undecodable
    }
}
