import Model

/// A parallel test case: a sequential prefix, then 2-3 threads released together at a barrier,
/// each running its own few operations.
///
/// Operations are numbered as the run executes them: the prefix's applicable steps 1…P, then
/// the threads' operations P+1… in thread order (skipped ones keep their numbers). A datagram
/// carries its operation's number as its tag, so the model and the kernel agree on tags whatever
/// the interleaving.
public struct VsockParallelCase: Hashable, Sendable, Codable, CustomStringConvertible {
    public var prefix: [VsockOperation]
    public var threads: [[VsockThreadOperation]]

    public init(prefix: [VsockOperation], threads: [[VsockThreadOperation]]) {
        self.prefix = prefix
        self.threads = threads
    }

    /// Operations in all, prefix and threads.
    public var count: Int { prefix.count + threads.reduce(0) { $0 + $1.count } }

    /// The number of thread `thread`'s `index`-th operation, after `prefixSteps` prefix steps ran.
    public func number(thread: Int, index: Int, prefixSteps: Int) -> Int {
        prefixSteps + 1 + threads[..<thread].reduce(0) { $0 + $1.count } + index
    }

    /// Which `socket()` of its thread the `index`-th operation of `thread` is (nil: not a socket()).
    public func ownIndex(thread: Int, index: Int) -> Int? {
        guard case .socket = threads[thread][index].operation else { return nil }
        return threads[thread][..<index].filter { if case .socket = $0.operation { return true } else { return false } }.count
    }

    /// Whether thread `thread`'s `index`-th operation can run on the sockets the prefix really left
    /// (`afterPrefix`, which may differ from what the case was drawn for): the model's
    /// applicability rules that do not depend on the interleaving — its socket's type admits it
    /// (a send needs a datagram socket), and a connectible socket is connected once, by its own
    /// thread. Operations that cannot run are left out on both sides, as a sequential run skips them.
    public func canRun(thread: Int, index: Int, afterPrefix: VsockState) -> Bool {
        let operation = threads[thread][index]
        guard let name = operation.socket else { return true }
        let type: SocketType?
        switch name {
        case let .prefix(position):
            type = afterPrefix.sockets.indices.contains(position) ? afterPrefix.sockets[position].type : nil
        case let .own(own):
            type = threads[thread][..<index].compactMap { earlier -> SocketType? in
                if case let .socket(type) = earlier.operation { return type } else { return nil }
            }.dropFirst(own).first
        }
        // A socket that never exists: the operation is skipped at run time (the kernel shows why).
        guard let type else { return true }
        switch operation.operation {
        case .sendto, .send: return type == .dgram
        case .connect:
            guard type.isConnectible else { return true }
            guard case .own = name else { return false }
            return !threads[thread][..<index].contains { $0.socket == name && $0.kindName == VsockOperationKind.connect.rawValue }
        case .bindLearned, .sendtoLearned: return false
        default: return true
        }
    }

    public var description: String {
        var lines = prefix.enumerated().map { "  \($0.offset + 1). \($0.element)" }
        for (thread, operations) in threads.enumerated() {
            lines.append("  thread \(thread): " + operations.map(\.description).joined(separator: "; "))
        }
        return lines.joined(separator: "\n")
    }
}

/// Draws parallel cases: the prefix with the sequential generator, stepped by the model's nominal
/// outcomes, then each thread's operations drawn from the state the prefix leaves, as if the
/// thread ran alone there (the interleaving is the kernel's to choose).
///
/// Threads leave out what interleaving would make ambiguous: operations naming a learned port
/// by its index (which port is learned first depends on the order), a close of a prefix socket
/// (another thread may be using its descriptor, which the kernel may reuse), and a connect of a
/// prefix socket that is connectible (the model states only a connectible socket's first connect,
/// and which thread's is first is the interleaving's).
public struct VsockParallelGenerator: Sendable {
    public let model: VsockModel
    public let generator: VsockOperationGenerator

    public init(model: VsockModel, generator: VsockOperationGenerator = VsockOperationGenerator()) {
        self.model = model
        self.generator = generator
    }

    public func draw(seed: UInt64, prefixLength: Int, threads: Int, operationsPerThread: Int) -> VsockParallelCase {
        var source = ChoiceSource(seed: seed)
        let enabled = Runner(model: model, generator: generator).swarmKinds(true, source: &source)
        var state = model.initialState
        var prefix: [VsockOperation] = []
        for _ in 0..<prefixLength {
            let operation = generator.draw(from: &source, state: state, enabled: enabled)
            guard model.isApplicable(operation, in: state) else { continue }
            model.takeNominal(operation, in: &state)
            prefix.append(operation)
        }
        let threadCount = threads
        var drawn: [[VsockThreadOperation]] = []
        for _ in 0..<threadCount {
            var alone = state
            var names: [ThreadSocket] = state.sockets.indices.map(ThreadSocket.prefix)
            var ownSockets = 0
            var operations: [VsockThreadOperation] = []
            var attempts = 0
            while operations.count < operationsPerThread && attempts < operationsPerThread * 8 {
                attempts += 1
                let operation = generator.draw(from: &source, state: alone, enabled: enabled)
                guard model.isApplicable(operation, in: alone), allowedInThread(operation, alone, names) else { continue }
                let name = operation.socket.map { names[$0.position] }
                let sockets = alone.sockets.count
                model.takeNominal(operation, in: &alone)
                switch operation {
                case .socket:
                    if alone.sockets.count > sockets { names.append(.own(ownSockets)) }
                    ownSockets += 1
                case let .close(ref):
                    names.remove(at: ref.position)
                default:
                    break
                }
                operations.append(VsockThreadOperation(operation, socket: name))
            }
            drawn.append(operations)
        }
        return VsockParallelCase(prefix: prefix, threads: drawn)
    }

    private func allowedInThread(_ operation: VsockOperation, _ state: VsockState, _ names: [ThreadSocket]) -> Bool {
        switch operation {
        case .bindLearned, .sendtoLearned: return false
        case let .close(ref): if case .prefix = names[ref.position] { return false }
        case let .connect(ref, _):
            if case .prefix = names[ref.position], state.sockets[ref.position].type.isConnectible { return false }
        default: break
        }
        return true
    }
}
