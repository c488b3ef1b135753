#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import Probes

/// A real `ProbeSession` on the running kernel. Exactly one of the two tests runs: on a kernel
/// without kprobes (the 6.18 host) the probe must say *unavailable* and why; on one with kprobes
/// (the 6.1 test VM, as root) it must deliver real events. Neither passes by doing nothing.
@Suite("ProbeSession on the running kernel", .serialized)
struct ProbeSessionLiveTests {
    /// A syscall handler that always exists on x86-64 and that only this test calls.
    static let function = "__x64_sys_getppid"
    static let live = FeatureDetection.hasKprobes && geteuid() == 0

    init() {
        LibbpfLog.silence()
    }

    @Test("no kprobes: attach reports .unavailable naming the errno, or load fails typed",
          .enabled(if: !FeatureDetection.hasKprobes, "this kernel has kprobes: see the live test"))
    func unavailableIsReported() throws {
        let session: ProbeSession
        do {
            session = try ProbeSession(targetProcess: getpid())
        } catch {
            // Without privileges, or where kprobe programs cannot load: a typed load error.
            guard case .load(let program, let errno) = error else {
                Issue.record("expected a load error, got \(error)")
                return
            }
            #expect(program == "vsock")
            #expect(errno.rawValue > 0)
            return
        }
        let status = session.attach(ProbeSpec(function: Self.function))
        #expect(!status.isAttached)
        let error = try #require(status.error, "an unavailable probe carries its error")
        guard case .unavailable(let reason) = status.mechanism else {
            Issue.record("attached without kprobes: \(status)")
            return
        }
        #expect(reason.hasPrefix("kprobe \(Self.function): \(error.errno.symbol)"))
        #expect(reason.contains("no kprobes"))
        #expect(session.status(of: ProbeSpec(function: Self.function)) == nil)

        // module_put: fentry first (EPERM on the 6.18 host), then kprobe; both named.
        let modulePut = session.attachModulePut()
        if case .unavailable(let reason) = modulePut.mechanism {
            #expect(reason.contains("fentry module_put: "))
            #expect(reason.contains("kprobe module_put: "))
        } else {
            #expect(modulePut.mechanism == .fentry, "a kprobe cannot attach without kprobes")
        }
        #expect(session.drain().isEmpty)
        #expect(session.lostEvents == 0)
    }

    @Test("kprobes: call and return of getppid, this thread, in order, nothing lost",
          .enabled(if: live, "needs root and a kernel with kprobes (the test VM)"))
    func liveEvents() throws {
        let session = try ProbeSession(targetProcess: getpid())
        let spec = ProbeSpec(function: Self.function)
        let status = session.attach(spec)
        try #require(status.mechanism == .kprobe, "\(status)")
        #expect(session.attach(spec) == status)  // idempotent
        _ = session.drain()

        let parent = getppid()
        let tid = try #require(Self.currentThreadID())
        let mine = session.drain().filter { $0.tid == tid }
        try #require(mine.count == 2, "\(mine)")
        #expect(mine[0].kind == ProbeEvent.Kind.call && mine[0].function == Self.function)
        #expect(mine[1].kind == ProbeEvent.Kind.return && mine[1].returnedInt32 == parent)
        #expect(mine[0].timestamp <= mine[1].timestamp)
        #expect(mine.allSatisfy { $0.module == "" })

        session.detach(spec)
        _ = getppid()
        #expect(session.drain().filter { $0.tid == tid }.isEmpty)
        #expect(session.lostEvents == 0)
    }

    @Test("kprobes: a full ring buffer counts the events it dropped, never hides them",
          .enabled(if: live, "needs root and a kernel with kprobes (the test VM)"))
    func lostEventsAreCounted() throws {
        let session = try ProbeSession(targetProcess: getpid())
        let status = session.attach(ProbeSpec(function: Self.function))
        try #require(status.mechanism == .kprobe, "\(status)")
        #expect(session.lostEvents == 0)
        // 1 MiB of 128-byte records (120 + the ring's 8-byte header) holds 8192 events.
        let calls = 10_000
        for _ in 0..<calls { _ = getppid() }
        let kept = session.drain().count
        let lost = session.lostEvents
        #expect(kept > 0 && kept <= 8192)
        #expect(lost > 0)
        #expect(UInt64(kept) + lost >= UInt64(2 * calls), "kept \(kept), lost \(lost)")
    }

    @Test("kprobe events: a probe on a module function works in every load of it, attached once",
          .enabled(if: live, "needs root and a kernel with kprobes (the test VM)"))
    func acrossLoads() throws {
        // vhost_vsock's open() handler: this process calls it by opening /dev/vhost-vsock, and
        // the module unloads once the file is closed.
        let module = "vhost_vsock", function = "vhost_vsock_dev_open"
        _ = Self.modprobe(["-r", module])
        try #require(access("/sys/module/\(module)", F_OK) != 0, "\(module) is loaded and cannot be removed")
        let session = try ProbeSession(targetProcess: getpid())
        let spec = ProbeSpec(function: function)
        let status = session.attachAcrossLoads(spec, module: module)
        try #require(status.mechanism == .kprobeEvent, "\(status)")
        #expect(session.attachAcrossLoads(spec, module: module) == status)  // idempotent
        let tid = try #require(Self.currentThreadID())
        for load in 1...2 {
            try #require(Self.modprobe([module]), "modprobe \(module), load \(load)")
            _ = session.drain()
            let descriptor = open("/dev/vhost-vsock", O_RDWR)
            try #require(descriptor >= 0, "open /dev/vhost-vsock: errno \(errno)")
            close(descriptor)
            let mine = session.drain().filter { $0.tid == tid && $0.function == function }
            #expect(mine.map(\.kind) == [.call, .return], "load \(load): \(mine)")
            #expect(mine.last?.returnedInt32 == 0)
            try #require(Self.modprobe(["-r", module]), "modprobe -r \(module), load \(load)")
        }
        session.detach(spec)
        let listing = (try? String(contentsOfFile: "/sys/kernel/tracing/kprobe_events", encoding: .utf8)) ?? ""
        #expect(!listing.contains("checker_\(getpid())/"), "the events are removed with the probe: \(listing)")
        #expect(session.lostEvents == 0)
    }

    /// Runs modprobe; whether it succeeded.
    static func modprobe(_ arguments: [String]) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/modprobe")
        process.arguments = arguments
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }

    /// gettid(2), which Glibc's Swift overlay does not export: /proc/thread-self → "PID/task/TID".
    static func currentThreadID() -> UInt32? {
        var buffer = [CChar](repeating: 0, count: 64)
        let count = readlink("/proc/thread-self", &buffer, buffer.count - 1)
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.split(separator: "/").last.flatMap { UInt32($0) }
    }
}
