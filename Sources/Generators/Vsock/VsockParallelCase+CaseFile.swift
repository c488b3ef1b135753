import Model

/// One line of a parallel case file: a prefix operation (no thread), or a thread's operation
/// with the socket it names (`{"thread":1,"socket":"o0","op":{…}}`).
public struct VsockParallelCaseStep: Codable, Sendable, Hashable {
    public var thread: Int?
    public var socket: ThreadSocket?
    public var op: VsockOperation

    public init(thread: Int?, socket: ThreadSocket?, op: VsockOperation) {
        self.thread = thread
        self.socket = socket
        self.op = op
    }
}

extension VsockParallelCase {
    public typealias File = CaseFile<VsockParallelCaseStep, VsockThreadObservation>

    /// The case as a case file: the prefix's operations, then each thread's in order.
    public func caseFile(profile: String, seed: UInt64?, signature: DivergenceSignature?, system: String?) -> File {
        var steps = prefix.map { File.Step(op: VsockParallelCaseStep(thread: nil, socket: nil, op: $0)) }
        for (thread, operations) in threads.enumerated() {
            steps += operations.map {
                File.Step(op: VsockParallelCaseStep(thread: thread, socket: $0.socket, op: $0.operation))
            }
        }
        return File(header: .init(target: "vsock", profile: profile, seed: seed, signature: signature, system: system,
                                  threads: threads.count),
                    steps: steps)
    }

    /// The case a parallel case file holds.
    public init(_ file: File) throws(CaseFileError) {
        guard let count = file.header.threads, count > 0 else {
            throw CaseFileError(line: 1, message: "not a parallel case (its header names no \"threads\")")
        }
        var prefix: [VsockOperation] = []
        var threads = Array(repeating: [VsockThreadOperation](), count: count)
        for (index, step) in file.steps.enumerated() {
            guard let thread = step.op.thread else {
                guard threads.allSatisfy(\.isEmpty) else {
                    throw CaseFileError(line: index + 2, message: "a prefix operation after the threads' operations")
                }
                prefix.append(step.op.op)
                continue
            }
            guard threads.indices.contains(thread) else {
                throw CaseFileError(line: index + 2, message: "thread \(thread) is not one of the header's \(count)")
            }
            threads[thread].append(VsockThreadOperation(step.op.op, socket: step.op.socket))
        }
        self.init(prefix: prefix, threads: threads)
    }
}
