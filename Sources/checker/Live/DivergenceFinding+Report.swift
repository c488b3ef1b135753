import Probes

extension DivergenceReport {
    /// The report entry for a shrunk divergence.
    init<Model>(_ finding: DivergenceFinding<Model>, caseFile: String?) {
        self.init(seed: finding.seed, signature: finding.signature.description, step: finding.step,
                  operation: finding.operation, expected: finding.expected, observed: finding.observed,
                  evidence: finding.evidence + (finding.notShrunk.map {
                      ["not shrunk: the kernel could not be reset after the divergence (\($0)); the sequence is the original run"]
                  } ?? (finding.shrinkExit == .fixpoint ? []
                      : ["shrinking stopped at its \(finding.shrinkExit.rawValue): the sequence may not be minimal"])),
                  minimal: finding.minimal.map { "\($0.0)  →  \($0.1)" },
                  caseFile: caseFile, shrinkExecutions: finding.shrinkExecutions,
                  reproduced: "\(finding.reproduced)/\(finding.attempts)")
    }
}

extension ProbeReport {
    init(_ status: ProbeStatus) {
        switch status.mechanism {
        case let .unavailable(reason):
            self.init(function: status.function, mechanism: "none", attached: false, reason: reason)
        default:
            self.init(function: status.function, mechanism: "\(status.mechanism)", attached: true, reason: nil)
        }
    }
}
