import Foundation

/// A test case on disk, as JSON lines: a header line, then one line per step with the operation
/// and, where the case came from a run, what the system under test showed.
///
///     {"format":"checker-case/1","target":"vsock","profile":"vsock-dgram-v5","seed":7,...}
///     {"op":{"op":"load","module":"virtio"},"observed":{"result":{"value":0},...}}
///     {"op":{"op":"socket","type":"SOCK_DGRAM"}}
public struct CaseFile<Operation: Codable & Sendable, Observation: Codable & Sendable>: Sendable {
    /// The first line.
    public struct Header: Codable, Sendable, Equatable {
        public static var currentFormat: String { "checker-case/1" }
        public var format: String
        public var target: String
        public var profile: String
        public var seed: UInt64?
        /// The divergence this case reproduces, if it came from one.
        public var signature: DivergenceSignature?
        /// The system it was observed on ("simulated …", "live kernel 6.1.0-50-amd64").
        public var system: String?
        /// The kernel bug this case crashes the kernel with, if it came from a crash: the title
        /// of its crash signature (`BUG: kernel NULL pointer dereference in vsock_dgram_recvmsg`;
        /// same title, same bug). Such a case is run in a guest of its own, where a crash ends
        /// nothing else (`checker series`).
        public var crash: String?
        /// A parallel case (`checker run --parallel`): how many threads follow its prefix. Its
        /// steps then name their thread (none: the prefix).
        public var threads: Int?

        public init(target: String, profile: String, seed: UInt64? = nil,
                    signature: DivergenceSignature? = nil, system: String? = nil, crash: String? = nil,
                    threads: Int? = nil) {
            self.format = Self.currentFormat
            self.target = target
            self.profile = profile
            self.seed = seed
            self.signature = signature
            self.system = system
            self.crash = crash
            self.threads = threads
        }
    }

    /// One step.
    public struct Step: Codable, Sendable {
        public var op: Operation
        public var observed: Observation?

        public init(op: Operation, observed: Observation? = nil) {
            self.op = op
            self.observed = observed
        }
    }

    public var header: Header
    public var steps: [Step]

    public init(header: Header, steps: [Step]) {
        self.header = header
        self.steps = steps
    }

    /// The JSON-lines text.
    public func encoded() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var lines = [String(decoding: try encoder.encode(header), as: UTF8.self)]
        for step in steps { lines.append(String(decoding: try encoder.encode(step), as: UTF8.self)) }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Reads the header line alone (to learn the target before decoding its operations).
    public static func header(of text: String) throws(CaseFileError) -> Header {
        guard let first = text.split(separator: "\n", omittingEmptySubsequences: true).first else {
            throw CaseFileError(line: 1, message: "the file is empty; a case file starts with a header line")
        }
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(first.utf8))
        } catch {
            throw CaseFileError(line: 1, message: "not a case header: \(CaseFileError.describe(error))")
        }
        guard header.format == Header.currentFormat else {
            throw CaseFileError(line: 1, message: "format \"\(header.format)\" is not \"\(Header.currentFormat)\"")
        }
        return header
    }

    /// Parses the text of a case file.
    public init(decoding text: String) throws(CaseFileError) {
        header = try Self.header(of: text)
        steps = []
        let decoder = JSONDecoder()
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().dropFirst()
        where !line.allSatisfy(\.isWhitespace) {
            do {
                steps.append(try decoder.decode(Step.self, from: Data(line.utf8)))
            } catch {
                throw CaseFileError(line: index + 1, message: CaseFileError.describe(error))
            }
        }
    }
}

/// A case file that cannot be read, with the line at fault.
public struct CaseFileError: Error, Sendable, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }

    static func describe(_ error: Error) -> String {
        switch error {
        case let DecodingError.dataCorrupted(context):
            return context.underlyingError.map { _ in "not valid JSON" } ?? context.debugDescription
        case let DecodingError.keyNotFound(key, context):
            let path = (context.codingPath + [key]).map(\.stringValue).joined(separator: ".")
            return "missing \"\(path)\""
        case let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context):
            return "wrong type at \"\(context.codingPath.map(\.stringValue).joined(separator: "."))\""
        default:
            return "\(error)"
        }
    }
}
