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
        Prefix(calls: calls + more, effects: effects + extra, rule: next ?? rule)
    }

    /// Ends the path here with `result`.
    func finish(_ result: ExpectedResult, calls more: [ExpectedCall] = [], effects extra: [VsockEffect] = [],
                rule next: Rule) -> VsockBranch {
        VsockBranch(calls: calls + more, result: result, effects: effects + extra, rule: next)
    }
}

extension Array where Element == Step {
    /// Continues every proceeding path with `next`; finished ones are kept as they are.
    func then(_ next: (Prefix) -> [Step]) -> [Step] {
        flatMap { step -> [Step] in
            switch step {
            case .done: return [step]
            case let .proceed(prefix): return next(prefix)
            }
        }
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
func allowThenEnqueue(on transport: TransportModule, after prefix: Prefix, rule: Rule) -> [Step] {
    [
        .done(prefix.finish(.propagated, calls: [ExpectedCall(transport, .dgramAllow, .success),
                                                 ExpectedCall(transport, .dgramEnqueue, .any)], rule: rule)),
        .done(prefix.finish(.exactly(.failure(.invalidArgument)),
                            calls: [ExpectedCall(transport, .dgramAllow, .failure)], rule: VsockRules.sendAllow)),
    ]
}
