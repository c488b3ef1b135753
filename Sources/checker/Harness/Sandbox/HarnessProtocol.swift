import Foundation

/// The messages between the checker and its harness child (`checker harness-serve`): one JSON
/// object per line, each way. The child first says `{"ready": "<what the sandbox applied>"}`,
/// then answers every request with exactly one line; a child that dies instead leaves its crash
/// line on stderr (``HarnessCrashReport``).
enum HarnessProtocol {
    struct Request<Operation: Codable>: Codable {
        /// `reset` (a fresh world), `execute`, or `evidence` (the last operation's callbacks and
        /// log lines: asked for only when a report needs them, since they are most of the bytes).
        var request: String
        var operation: Operation?
    }

    struct Reply<Observation: Codable>: Codable {
        var observation: Observation?
        var evidence: [String]?
        /// The child's own failure (never the patch's): a request it could not decode.
        var error: String?
    }

    struct Ready: Codable {
        var ready: String
    }

    /// One line: the value's JSON and a newline.
    static func line<T: Encodable>(_ value: T) throws -> Data {
        var data = try JSONEncoder().encode(value)
        data.append(0x0A)
        return data
    }
}

/// A harness system the child serves without knowing its types: a request line in, a reply
/// line out.
protocol ServedHarness: AnyObject {
    func answer(_ request: Data) -> Data
}

/// Serves any ``EvidencedSystem`` whose operations are Codable.
final class ServedSystem<System: EvidencedSystem>: ServedHarness where System.Model.Operation: Codable {
    typealias Request = HarnessProtocol.Request<System.Model.Operation>
    typealias Reply = HarnessProtocol.Reply<System.Model.Observation>

    let system: System
    private let decoder = JSONDecoder()

    init(_ system: System) { self.system = system }

    func answer(_ line: Data) -> Data {
        let reply: Reply
        do {
            let request = try decoder.decode(Request.self, from: line)
            switch request.request {
            case "reset":
                try system.reset()
                reply = Reply(observation: nil, evidence: [])
            case "execute":
                guard let operation = request.operation else { throw HarnessServerError("execute without an operation") }
                reply = Reply(observation: try system.execute(operation))
            case "evidence":
                reply = Reply(evidence: system.lastEvidence)
            default:
                throw HarnessServerError("unknown request '\(request.request)'")
            }
        } catch {
            reply = Reply(error: "\(error)")
        }
        return (try? HarnessProtocol.line(reply)) ?? Data(#"{"error":"cannot encode the reply"}\#n"#.utf8)
    }
}

struct HarnessServerError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
