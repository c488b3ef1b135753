/// A rule of a reference model: one decision the kernel makes, with the source it comes from.
///
/// Every branch a model allows names the rule that produced it, so a report can say *why* the
/// model expected what it expected, and where a kernel developer can read that rule.
///
/// A class, not a struct: branches carry their rule on every step, and one reference is cheaper
/// to copy than a handful of strings (the model's hot path builds branches millions of times).
public final class Rule: Hashable, Sendable, CustomStringConvertible {
    /// A stable identifier, e.g. `vsock.dgram.sendto.no-transport`. Tests and reports use it.
    public let id: String
    /// One sentence: what the kernel decides.
    public let summary: String
    /// Where the rule comes from: a hunk of a patch series or a line of a kernel tree.
    public let source: Citation

    public init(id: String, summary: String, source: Citation) {
        self.id = id
        self.summary = summary
        self.source = source
    }

    public var description: String { "\(id): \(summary) [\(source)]" }

    /// Rules are the same when their ids are.
    public static func == (lhs: Rule, rhs: Rule) -> Bool { lhs.id == rhs.id }
    public func hash(into hasher: inout Hasher) { hasher.combine(id) }
}

/// Where a rule comes from.
public enum Citation: Hashable, Sendable, CustomStringConvertible {
    /// A hunk of a posted patch: series name, patch number, file, hunk header and function.
    case hunk(series: String, patch: Int, file: String, hunk: String, function: String)
    /// A line of a released kernel tree, e.g. Debian's 6.1.176 source package.
    case source(tree: String, file: String, line: Int, function: String)
    /// Words of a series: its cover letter, a commit message or a review mail (`where` names
    /// which: "cover letter", "patch 12 message", "Stefano Garzarella, 3 Aug 2023"), quoted.
    case message(series: String, where: String, quote: String)

    public var description: String {
        switch self {
        case let .hunk(series, patch, file, hunk, function):
            return "\(series) \(patch < 10 ? "0" : "")\(patch) \(file) \(hunk) \(function)()"
        case let .source(tree, file, line, function):
            return "\(tree) \(file):\(line) \(function)()"
        case let .message(series, place, quote):
            return "\(series), \(place): \"\(quote)\""
        }
    }
}
