/// Building an operation's branches step by step, the way the kernel function runs: each step
/// either ends the syscall (a finished branch) or proceeds with the callbacks and effects so far.
enum Step {
    case done(VsockBranch)
    case proceed(Prefix)
}

/// The callbacks and effects of a path that has not ended yet, and the last rule on it.
struct Prefix {
    var calls: [ExpectedCall] = []
    var effects: [VsockEffect] = []
    var rule: Rule?

    func adding(calls more: [ExpectedCall] = [], effects extra: [VsockEffect] = [], rule next: Rule? = nil) -> Prefix {
        Prefix(calls: Self.joined(calls, more), effects: Self.joined(effects, extra), rule: next ?? rule)
    }

    /// Ends the path here with `result`.
    func finish(_ result: ExpectedResult, calls more: [ExpectedCall] = [], effects extra: [VsockEffect] = [],
                rule next: Rule) -> VsockBranch {
        VsockBranch(calls: Self.joined(calls, more), result: result, effects: Self.joined(effects, extra), rule: next)
    }

    /// `first + second`, without copying when either is empty (this runs on every step).
    private static func joined<T>(_ first: [T], _ second: [T]) -> [T] {
        if second.isEmpty { return first }
        if first.isEmpty { return second }
        return first + second
    }
}

extension Array where Element == Step {
    /// Continues every proceeding path with `next`; finished ones are kept as they are.
    func then(_ next: (Prefix) -> [Step]) -> [Step] {
        if count == 1, case let .proceed(prefix) = self[0] { return next(prefix) }
        var result: [Step] = []
        result.reserveCapacity(count + 2)
        for step in self {
            switch step {
            case .done: result.append(step)
            case let .proceed(prefix): result.append(contentsOf: next(prefix))
            }
        }
        return result
    }

    /// Ends every proceeding path with `result` under `rule`.
    func finishing(_ result: ExpectedResult, rule: Rule) -> [VsockBranch] {
        map { step in
            switch step {
            case let .done(branch): return branch
            case let .proceed(prefix): return prefix.finish(result, rule: prefix.rule ?? rule)
            }
        }
    }

    /// All paths must have ended.
    var branches: [VsockBranch] {
        compactMap { step in
            if case let .done(branch) = step { return branch }
            preconditionFailure("an operation's path did not end")
        }
    }
}

/// `[T.dgram_allow → true, T.dgram_enqueue → …]` proceeds to the callback's result; false → EINVAL.
/// A `delivery` through VMCI applies if the environment's callback accepted the datagram.
/// With `delivery` through `vsock_loopback` (under the whole series) the callbacks are
/// the series' own, not an environment's, so the result is decided (`vsock.dgram.send.loopback-carries`):
/// the whole length and the datagram delivered; EAGAIN with the send buffer full; above 64 KiB
/// EMSGSIZE or carried (docs/vsock-dgram-v5-intent.md, N5 and N9).
func allowThenEnqueue(on transport: TransportModule, after prefix: Prefix, rule: Rule,
                      delivery: VsockEffect? = nil) -> [Step] {
    let calls = SendCalls.table[transport.ordinal]
    if case let .deliver(_, length, _, .loopback)? = delivery {
        let refusedByEnqueue = [ExpectedCall(transport, .dgramAllow, .success), ExpectedCall(transport, .dgramEnqueue, .failure)]
        if length > VsockRules.virtioMaxPacket {
            // 64 KiB is mainline's bound on a virtio packet; the series states no datagram limit
            // (N5), so above it EMSGSIZE or carried whole (and then it only may arrive) are both allowed.
            return [.done(prefix.finish(.exactly(.failure(.messageTooLong)), calls: refusedByEnqueue,
                                        rule: VsockRules.sendLoopbackCarries)),
                    .done(prefix.finish(.exactly(.value(length)), calls: SendCalls.accepted[transport.ordinal],
                                        effects: [delivery!], rule: VsockRules.sendLoopbackCarries))]
        }
        return [
            .done(prefix.finish(.exactly(.value(length)), calls: SendCalls.accepted[transport.ordinal],
                                effects: [delivery!], rule: VsockRules.sendLoopbackCarries)),
            .done(prefix.finish(.exactly(.failure(.resourceTemporarilyUnavailable)), calls: refusedByEnqueue,
                                rule: VsockRules.sendLoopbackCarries)),
        ]
    }
    return [
        .done(prefix.finish(.propagated, calls: calls.allowedThenEnqueued, effects: delivery.map { [$0] } ?? [], rule: rule)),
        .done(prefix.finish(.exactly(.failure(.invalidArgument)), calls: calls.refused, rule: VsockRules.sendAllow)),
    ]
}

/// The two callback paths of a datagram send, built once per transport: sends are the most
/// frequent step, and sharing these arrays saves building them every time.
struct SendCalls {
    let allowedThenEnqueued: [ExpectedCall]
    let refused: [ExpectedCall]

    /// `[T.dgram_allow → true, T.dgram_enqueue → ok]`, by transport.
    static let accepted: [[ExpectedCall]] = TransportModule.allCases.map { transport in
        [ExpectedCall(transport, .dgramAllow, .success), ExpectedCall(transport, .dgramEnqueue, .success)]
    }

    static let table: [SendCalls] = TransportModule.allCases.map { transport in
        SendCalls(allowedThenEnqueued: [ExpectedCall(transport, .dgramAllow, .success),
                                        ExpectedCall(transport, .dgramEnqueue, .any)],
                  refused: [ExpectedCall(transport, .dgramAllow, .failure)])
    }
}
