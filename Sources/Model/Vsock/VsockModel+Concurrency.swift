/// The model's statement for operations that overlap in time (`checker run --parallel`).
///
/// The rules are the sequential ones: an overlapping operation must take effect at one point
/// between its call and its return, as if it ran alone there. Nothing in the series says
/// otherwise, and the baseline is built that way: each socket call holds the socket's lock for
/// its work (`lock_sock(sk)`, e.g. af_vsock.c 6.1.176:1230 in `vsock_dgram_sendmsg`), the
/// transport registry is read and written under `vsock_register_mutex` (465-503 in
/// `vsock_assign_transport`, 2486-2534 in `vsock_core_register`, 2541-2555 in
/// `vsock_core_unregister`), and module load and unload run under `module_mutex`.
///
/// What changes is what one operation can observe, and one outcome that only concurrency has:
/// - reference counts: `/sys/module/*/refcnt` read after one thread's call races every other
///   thread's, so no step of a parallel section is judged on them; the counts read once every
///   thread has returned are judged against the state the whole order ends in
///   (``VsockState/admitsRefcounts(_:)``).
/// - where several branches admit an observation and differ in their effects (sequentially the
///   reference counts decide), each is a possible state: the search tries them all.
/// - a module syscall overlapping another of the same module may fail with EBUSY and change
///   nothing (``moduleContention``);
/// - under the series, an unload overlapping a `sendto()` with an address may fail with
///   EWOULDBLOCK and change nothing: the send holds a module reference of its own for the call
///   (``perPacketReference``); and such a send overlapping an unload may fail with ENODEV after
///   its auto-bind, when the module it looked up is going away (``perPacketModuleGoing``).
extension VsockModel {
    /// `delete_module` of a module another thread is still loading (state COMING) or unloading
    /// (GOING) fails with EBUSY ("Doing init or already dying?", kernel/module/main.c 6.1.176:
    /// 730-735); `finit_module` of one another thread is unloading, or whose concurrent load
    /// failed, fails with EBUSY too (`add_unformed_module`, 2588-2617). Neither changes anything.
    public static let moduleContention = Rule(
        id: "module.concurrent.ebusy",
        summary: "a module load or unload overlapping another of the same module may fail with EBUSY and change nothing",
        source: .source(tree: "linux 6.1.176", file: "kernel/module/main.c", line: 731, function: "delete_module"))

    /// v5 03 takes a module reference per packet in `vsock_dgram_sendmsg()` and drops it before
    /// returning ("When looking up a transport dynamically and acquiring a reference on the
    /// module, we need to remember to release the reference later"); `delete_module` of a module
    /// with a reference fails with EWOULDBLOCK (kernel/module/main.c 6.1.176:670, `try_stop_module`).
    /// So an unload overlapping such a send may fail and change nothing, though no socket holds
    /// the module before or after.
    public static let perPacketReference = Rule(
        id: "module.concurrent.per-packet-reference",
        summary: "under the series, an unload overlapping a sendto() with an address may fail with EWOULDBLOCK (the send's own module reference)",
        source: .hunk(series: "vsock-dgram-v5", patch: 3, file: "net/vmw_vsock/af_vsock.c", hunk: "@@ -1173,19 +1190,34 @@",
                      function: "vsock_dgram_sendmsg"))

    /// v5 03: "if (!try_module_get(transport->module)) { err = -ENODEV; goto out; }" in
    /// `vsock_dgram_sendmsg()`, after the auto-bind and the lookup: `try_module_get` fails only
    /// for a module that is being unloaded (kernel/module/main.c 6.1.176, `try_module_get` takes
    /// no reference unless `module_is_live`). So a send overlapping an unload may fail with ENODEV
    /// with only its auto-bind done; sequentially no lookup can find a module going away.
    public static let perPacketModuleGoing = Rule(
        id: "vsock.dgram.sendto.per-packet.module-going",
        summary: "under the series, a sendto() with an address overlapping an unload may fail with ENODEV after its auto-bind (the looked-up module is going away)",
        source: .hunk(series: "vsock-dgram-v5", patch: 3, file: "net/vmw_vsock/af_vsock.c", hunk: "@@ -1173,19 +1190,34 @@",
                      function: "vsock_dgram_sendmsg"))

    /// The states `operation` may leave when it showed `observation` in `state`, as the
    /// `number`-th operation of the run (the tag its datagram carries); empty when no branch
    /// admits it. The state's operation counter is left at `restingCount`, so that orders that
    /// reach the same state compare equal (the search remembers states it has explored).
    /// `contended`: another thread's load or unload of the same module overlapped this one;
    /// `overlapsAddressedSend`: another thread's `sendto()` with an address overlapped it;
    /// `overlapsUnload`: another thread's module unload overlapped it.
    public func concurrentSuccessors(of state: VsockState, applying operation: VsockOperation,
                                     observed observation: VsockObservation, number: Int,
                                     restingCount: Int, contended: Bool = false,
                                     overlapsAddressedSend: Bool = false, overlapsUnload: Bool = false) -> [VsockState] {
        guard isApplicable(operation, in: state) else { return [] }
        var successors: [VsockState] = []
        if observation.calls.isEmpty {
            switch (operation, observation.result) {
            case (.loadTransport, .failure(.resourceBusy)) where contended,
                 (.unloadTransport, .failure(.resourceBusy)) where contended:
                successors.append(state)
            case (.unloadTransport, .failure(.wouldBlock))
                where overlapsAddressedSend && profile.dgramLookup == .connectibleThenFallback:
                successors.append(state)
            default:
                break
            }
        }
        var start = state
        start.operationsJudged = number - 1
        let expectation = expect(operation, in: start)
        start.operationsJudged = number
        if case .sendto = operation, overlapsUnload, profile.dgramLookup == .connectibleThenFallback,
           observation.result == .failure(.operationNotSupportedByDevice),
           observation.calls.allSatisfy({ $0.hook == .dgramBind }) {
            // Its auto-bind ran as a branch of the sequential rules says (the same calls, so far),
            // and only the binding stays.
            for branch in expectation.branches
            where branch.calls.count >= observation.calls.count
                && zip(branch.calls, observation.calls).allSatisfy({ $0.admits($1) }) {
                var next = start
                next.apply(branch.effects.filter { if case .bind = $0 { return true } else { return false } },
                           target: operation.socket?.position, observed: observation.result)
                next.operationsJudged = restingCount
                if !successors.contains(next) { successors.append(next) }
            }
        }
        if transmissionMismatch(observation, of: operation, in: start) != nil { return successors }
        for branch in expectation.branches where branch.admits(observation) {
            var next = start
            next.apply(branch.effects, target: operation.socket?.position, observed: observation.result)
            next.operationsJudged = restingCount
            if !successors.contains(next) { successors.append(next) }
        }
        return successors
    }

    /// The outcomes the model allows for `operation` in `state` as the `number`-th operation, in
    /// words: what a report of a history no order explains shows where the search got stuck.
    public func describeExpectation(of operation: VsockOperation, in state: VsockState, number: Int) -> String {
        guard isApplicable(operation, in: state) else { return "(not applicable here)" }
        var start = state
        start.operationsJudged = number - 1
        return expect(operation, in: start).description
    }
}

extension VsockState {
    /// Whether reference counts read once every thread had returned agree with this state
    /// (closed connectible sockets' lingering references may still be held).
    public func admitsRefcounts(_ observed: ModuleRefcounts) -> Bool {
        refcountsAdmit(observed, definite: refcounts)
    }
}
