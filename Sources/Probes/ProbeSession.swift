#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CLibBPF

/// The vsock probes of one target process: loaded once, attached per kernel function, drained
/// after each operation.
///
/// A session loads `bpf/vsock.bpf.c` (the bundled object, ``BundledObject``) with the target's
/// pid written into its `.rodata`, so only that process is reported. Each ``ProbeSpec`` is then
/// attached as a kprobe and a kretprobe on its function, sharing two generic programs and told
/// apart by the attach cookie. Events go through one ring buffer; ``drain()`` returns those
/// submitted so far.
///
/// ```swift
/// let session = try ProbeSession(targetProcess: getpid())
/// let status = session.attach(ProbeSpec(function: "vsock_dgram_sendmsg", flags: .arg0IsSocket))
/// guard status.isAttached else { skip(status.mechanism) }
/// _ = sendto(fd, …)
/// for event in session.drain() { print(event) }
/// precondition(session.lostEvents == 0, "inconclusive: events were lost")
/// ```
///
/// Order of operations the live backend must respect:
/// - Create the session after the `vsock` core module under test is loaded: libbpf resolves
///   the layout of `struct vsock_sock` from that module's BTF at load time. Without it (or with
///   a rebuilt module that has no BTF) events carry no module names (``resolvesTransportNames``
///   is `false`), and a session made for one build of `vsock` must be made anew when another is
///   inserted.
/// - Attach a transport's specs with ``attachAcrossLoads(_:module:)``, once, loaded or not: the
///   kernel arms them at every load of the module (``KprobeEventGroup``), so loads and unloads
///   need nothing from the session. ``attach(_:)`` binds a kprobe to a loaded function's address;
///   it is for functions whose module stays loaded (the vsock core): once that module unloads,
///   such a probe is gone for good.
///
/// Not `Sendable`: libbpf objects are not thread-safe.
public final class ProbeSession {
    /// The process whose events are reported (its tgid, `getpid()`); 0 reports every process.
    public let targetProcess: Int32
    /// Whether the kernel had BTF for `struct vsock_sock` when the session was loaded (vsock
    /// built in, or the `vsock` module loaded with its BTF), so that events can name transport
    /// modules. When `false`, every event's ``ProbeEvent/module`` is `""`, except `module_put`'s.
    public let resolvesTransportNames: Bool

    private let objectBytes: [UInt8]
    private let object: ProbeObject
    private let reader: RingBufferReader<kcc_event>
    private var decoder = EventDecoder(specs: [])
    private var indexBySpec: [ProbeSpec: UInt32] = [:]
    private var attachments: [ProbeSpec: Attachment] = [:]
    private var modulePut: Attachment?
    private var undecodable: UInt64 = 0
    /// The `lost` counter, mapped; nil where the kernel cannot mmap the map (then read by lookup).
    private let lostCounter: MappedCounter?
    /// This session's kprobe events in tracefs, made on first use; nil without tracefs.
    private lazy var eventGroup: KprobeEventGroup? = KprobeEventGroup(pid: getpid())

    /// The links of one attached spec, and the object that holds the program if it is not the
    /// session's own (the fentry `module_put` object).
    private struct Attachment {
        var status: ProbeStatus
        var links: [ProbeLink]
        var object: ProbeObject? = nil
        /// The trace events the links hang on (``attachAcrossLoads(_:module:)``), removed after them.
        var events: [String] = []

        func destroy() {
            // Entry first, so no call is seen whose return is not.
            for link in links.reversed() { link.destroy() }
        }
    }

    /// Names shared with `bpf/vsock.bpf.c`.
    enum Name {
        static let object = "vsock"
        static let entry = "kcc_entry"
        static let `return` = "kcc_return"
        static let modulePutKprobe = "kcc_module_put"
        static let modulePutFentry = "kcc_module_put_fentry"
        static let events = "events"
        static let lost = "lost"
        static let sharedMaps = ["events", "lost", "current_socket", "saved_vsock_sock"]
        static let modulePutFunction = "module_put"
    }

    /// Opens the bundled vsock object, sets the target process and loads it.
    ///
    /// Nothing is attached yet.
    ///
    /// - Parameter targetProcess: The tgid (`getpid()`) of the process to observe; 0 for all.
    /// - Throws: ``ProbeError/open(object:errno:)`` if the bundled object is missing or
    ///   unreadable, ``ProbeError/configure(object:step:errno:)`` or
    ///   ``ProbeError/load(program:errno:)`` (for example `EPERM` without root).
    public convenience init(targetProcess: Int32) throws(ProbeError) {
        try self.init(targetProcess: targetProcess,
                      objectBytes: BundledObject.bytes(named: BundledObject.vsock))
    }

    /// Opens, configures and loads the given vsock object bytes.
    init(targetProcess: Int32, objectBytes: [UInt8]) throws(ProbeError) {
        self.targetProcess = targetProcess
        self.objectBytes = objectBytes
        resolvesTransportNames = FeatureDetection.kernelBTFHasStruct("vsock_sock", module: "vsock")
        let object = try ProbeObject(bytes: objectBytes, name: Name.object)
        try object.loadOnly([Name.entry, Name.return, Name.modulePutKprobe])
        try object.setReadOnlyData(kcc_config(target_tgid: UInt32(bitPattern: targetProcess)))
        try object.load()
        reader = try RingBufferReader(descriptor: object.descriptor(ofMap: Name.events),
                                      object: Name.object, decode: EventDecoder.record(from:))
        lostCounter = MappedCounter(descriptor: try object.descriptor(ofMap: Name.lost))
        self.object = object
    }

    deinit {
        for attachment in attachments.values { attachment.destroy() }
        modulePut?.destroy()
        // The event group goes after this: it removes the events, whose perf events are closed now.
    }

    /// Whether the running kernel has `function` (see ``FeatureDetection/isAvailable(function:)``).
    ///
    /// - Parameter function: The exact `/proc/kallsyms` name.
    public static func isAvailable(function: String) -> Bool {
        FeatureDetection.isAvailable(function: function)
    }

    // MARK: - Attach and detach

    /// Attaches a kretprobe and a kprobe on `spec.function`, with the spec's cookie.
    ///
    /// Idempotent: attaching an attached spec returns its status and changes nothing. A spec
    /// that could not attach is not remembered, so it can be tried again once its module is
    /// loaded.
    ///
    /// - Parameter spec: The function and how to read its first argument.
    /// - Returns: ``ProbeStatus/Mechanism/kprobe``, or ``ProbeStatus/Mechanism/unavailable(reason:)``
    ///   with the errno and its likely cause (the function is missing from `/proc/kallsyms`, the
    ///   kernel has no kprobes, …).
    public func attach(_ spec: ProbeSpec) -> ProbeStatus {
        if let attachment = attachments[spec] { return attachment.status }
        let cookie = ProbeCookie(index: index(of: spec), flags: spec.flags).rawValue
        do throws(ProbeError) {
            // Return first: a call seen at entry always has its return seen too.
            let exit = try object.attachKprobe(program: Name.return, to: spec.function,
                                               cookie: cookie, isReturn: true)
            var links = [exit]
            if !spec.returnOnly {
                links.append(try object.attachKprobe(program: Name.entry, to: spec.function,
                                                     cookie: cookie, isReturn: false))
            }
            let status = ProbeStatus(function: spec.function, mechanism: .kprobe)
            attachments[spec] = Attachment(status: status, links: links)
            return status
        } catch {
            let reason = FeatureDetection.reason(for: .kprobe, function: spec.function, error: error)
            return ProbeStatus(function: spec.function, mechanism: .unavailable(reason: reason),
                               error: error)
        }
    }

    /// Detaches `spec`'s probes; nothing happens if it is not attached.
    ///
    /// Call it before unloading the module that holds `spec.function`.
    ///
    /// - Parameter spec: A spec given to ``attach(_:)``.
    public func detach(_ spec: ProbeSpec) {
        guard let attachment = attachments.removeValue(forKey: spec) else { return }
        attachment.destroy()
        for name in attachment.events { eventGroup?.remove(name) }
    }

    /// Attaches `spec` to `module:function` through trace events the kernel arms again at every
    /// load of `module` (``KprobeEventGroup``): attach once, whether the module is loaded or not,
    /// and the probe works in every later load of it, from before the module's init runs.
    /// Idempotent, like ``attach(_:)``.
    ///
    /// Why: arming and disarming are the kernel's business at load and unload either way (about 40
    /// and 30 ms per function under TCG), but an address-bound kprobe must also be attached after
    /// each load and closed after each unload, and the close waits for RCU grace periods with
    /// `event_mutex` held (about 100 ms, blocking loads and attaches meanwhile).
    ///
    /// - Parameters:
    ///   - spec: The function and how to read its first argument.
    ///   - module: The module that holds the function (read from its `.ko` file), `""` for vmlinux.
    /// - Returns: ``ProbeStatus/Mechanism/kprobeEvent``, or ``ProbeStatus/Mechanism/unavailable(reason:)``
    ///   (no tracefs, or the kernel refused the definition: the reason names the errno).
    public func attachAcrossLoads(_ spec: ProbeSpec, module: String) -> ProbeStatus {
        if let attachment = attachments[spec] { return attachment.status }
        guard let group = eventGroup else {
            return ProbeStatus(function: spec.function, mechanism: .unavailable(
                reason: "kprobe event \(spec.function): no tracefs with kprobe_events (mount -t tracefs nodev /sys/kernel/tracing)"))
        }
        let cookie = ProbeCookie(index: index(of: spec), flags: spec.flags).rawValue
        var attachment = Attachment(status: ProbeStatus(function: spec.function, mechanism: .kprobeEvent), links: [])
        do throws(ProbeError) {
            // Return first: a call seen at entry always has its return seen too.
            for isReturn in spec.returnOnly ? [true] : [true, false] {
                let name = String(((isReturn ? "r_" : "p_") + spec.function).prefix(63))
                let id = try group.define(name: name, function: spec.function, module: module, isReturn: isReturn)
                attachment.events.append(name)
                let descriptor = try group.open(id: id, name: name)
                do throws(ProbeError) {
                    attachment.links.append(try object.attachPerfEvent(
                        program: isReturn ? Name.return : Name.entry, descriptor: descriptor, cookie: cookie,
                        label: "\(group.group)/\(name)"))
                } catch {
                    close(descriptor)
                    throw error
                }
            }
            attachments[spec] = attachment
            return attachment.status
        } catch {
            attachment.destroy()
            for name in attachment.events { group.remove(name) }
            return ProbeStatus(function: spec.function,
                               mechanism: .unavailable(reason: "kprobe event \(spec.function) in \(module.isEmpty ? "vmlinux" : module): \(error)"),
                               error: error)
        }
    }

    /// Detaches every spec and the `module_put` probe.
    public func detachAll() {
        for spec in Array(attachments.keys) { detach(spec) }
        detachModulePut()
    }

    /// The status of an attached spec, `nil` if it is not attached.
    ///
    /// - Parameter spec: A spec given to ``attach(_:)``.
    public func status(of spec: ProbeSpec) -> ProbeStatus? {
        attachments[spec]?.status
    }

    /// Reports `module_put(mod)` calls made inside a core handler (a spec with
    /// ``ProbeFlags/arg0IsSocket``) of the target process, as ``ProbeEvent/Kind/modulePut``.
    ///
    /// Tries fentry first (vmlinux function: no module is pinned), then a kprobe. Idempotent
    /// once attached.
    ///
    /// - Returns: ``ProbeStatus/Mechanism/fentry``, ``ProbeStatus/Mechanism/kprobe`` (with the
    ///   fentry error in ``ProbeStatus/error``), or ``ProbeStatus/Mechanism/unavailable(reason:)``
    ///   naming both failures.
    public func attachModulePut() -> ProbeStatus {
        if let modulePut { return modulePut.status }
        let function = Name.modulePutFunction
        let fentryError: ProbeError
        do throws(ProbeError) {
            let (fentryObject, link) = try loadModulePutFentry()
            let status = ProbeStatus(function: function, mechanism: .fentry)
            modulePut = Attachment(status: status, links: [link], object: fentryObject)
            return status
        } catch {
            fentryError = error
        }
        let symbols = KernelSymbols.current()
        let fentryReason = FeatureDetection.reason(for: .fentry, function: function,
                                                   error: fentryError, symbols: symbols)
        do throws(ProbeError) {
            let link = try object.attachKprobe(program: Name.modulePutKprobe, to: function,
                                               cookie: 0, isReturn: false)
            let status = ProbeStatus(function: function, mechanism: .kprobe, error: fentryError)
            modulePut = Attachment(status: status, links: [link])
            return status
        } catch {
            let kprobeReason = FeatureDetection.reason(for: .kprobe, function: function,
                                                       error: error, symbols: symbols)
            return ProbeStatus(function: function,
                               mechanism: .unavailable(reason: "\(fentryReason); \(kprobeReason)"),
                               error: error)
        }
    }

    /// Detaches the `module_put` probe; nothing happens if it is not attached.
    public func detachModulePut() {
        modulePut?.destroy()
        modulePut = nil
    }

    /// Loads `kcc_module_put_fentry` in a second object that shares this session's maps, and
    /// attaches it. A separate object, because libbpf loads an object's programs all at once and
    /// a kernel that refuses fentry (EPERM) must not stop the kprobes from loading.
    private func loadModulePutFentry() throws(ProbeError) -> (ProbeObject, ProbeLink) {
        let fentry = try ProbeObject(bytes: objectBytes, name: "vsock_fentry")
        try fentry.loadOnly([Name.modulePutFentry])
        try fentry.setReadOnlyData(kcc_config(target_tgid: UInt32(bitPattern: targetProcess)))
        for map in Name.sharedMaps {
            try fentry.reuseMap(named: map, descriptor: object.descriptor(ofMap: map))
        }
        try fentry.load()
        return (fentry, try fentry.attachTrace(program: Name.modulePutFentry))
    }

    /// The spec's cookie index, assigned on first use and kept for the session's life.
    private func index(of spec: ProbeSpec) -> UInt32 {
        if let index = indexBySpec[spec] { return index }
        let index = UInt32(decoder.specs.count)
        decoder.specs.append(spec)
        indexBySpec[spec] = index
        return index
    }

    // MARK: - Events

    /// Every event submitted since the last drain, decoded, in ring order (for one thread, the
    /// order in which they happened).
    ///
    /// Probes submit in the syscall that fires them, so after a syscall returns, its events are
    /// here. Records that cannot be decoded are counted in ``lostEvents``.
    ///
    /// The corresponding C function is `ring_buffer__consume`.
    public func drain() -> [ProbeEvent] {
        let (records, malformed) = reader.consume()
        undecodable += UInt64(malformed.count)
        var events: [ProbeEvent] = []
        events.reserveCapacity(records.count)
        for record in records {
            if let event = decoder.decode(record) {
                events.append(event)
            } else {
                undecodable += 1
            }
        }
        return events
    }

    /// Events lost since the session was loaded: dropped in the kernel because the ring buffer
    /// was full (the `lost` map), plus records that could not be decoded. `UInt64.max` if the
    /// counter cannot be read.
    ///
    /// Any loss makes a run inconclusive, never passed.
    public var lostEvents: UInt64 {
        if let lostCounter { return lostCounter.value &+ undecodable }
        guard let dropped = try? object.lookup(map: Name.lost, key: 0) else { return .max }
        return dropped &+ undecodable
    }
}
