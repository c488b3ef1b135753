import Foundation
import Generators
import Model

/// The operations of the execution under way, kept as a case file on the shared filesystem
/// before each one runs: a guest whose kernel crashes mid-operation leaves the exact sequence
/// that led there (the crashing operation last), which the host replays in fresh guests to
/// confirm, shrink and reproduce the crash (`checker series`, issue 13).
///
/// Each execution (a seed's run, a shrink candidate, a replay) starts the file again with its
/// header; each operation is one appended line. One `write` per operation to the 9p share, as
/// for ``ProgressFile``; the truncation happens once per execution, not per operation.
final class ExecutionJournal {
    static let fileName = "execution.jsonl"
    /// A parallel run's journal: the whole parallel case under way, written before each run of
    /// it (which thread was where when the kernel crashed, no file can say).
    static let parallelFileName = "execution-parallel.jsonl"

    private let descriptor: Int32
    private let header: CaseFile<VsockOperation, VsockObservation>.Header
    private let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }()

    init(path: String, header: CaseFile<VsockOperation, VsockObservation>.Header) {
        descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0o644)
        self.header = header
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// A new execution: the file holds the header alone.
    func begin() {
        guard descriptor >= 0 else { return }
        _ = ftruncate(descriptor, 0)
        if let text = try? CaseFile<VsockOperation, VsockObservation>(header: header, steps: []).encoded() { write(text) }
    }

    /// The operation about to run.
    func record(_ operation: VsockOperation) {
        guard descriptor >= 0, let line = try? encoder.encode(CaseFile<VsockOperation, VsockObservation>.Step(op: operation)) else { return }
        write(String(decoding: line, as: UTF8.self) + "\n")
    }

    private func write(_ text: String) {
        var bytes = Array(text.utf8)
        _ = bytes.withUnsafeMutableBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) }
    }
}
