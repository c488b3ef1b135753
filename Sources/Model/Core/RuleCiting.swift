/// An expectation that can say which rules decided it (for `checker explain`'s "rules cited").
public protocol RuleCiting {
    var citedRules: [Rule] { get }
}

extension VsockExpectation: RuleCiting {
    public var citedRules: [Rule] { branches.map(\.rule) }
}

extension SNPExpectation: RuleCiting {
    public var citedRules: [Rule] { [rule] }
}

extension MemoryAttributesExpectation: RuleCiting {
    public var citedRules: [Rule] { branches.map(\.rule) }
}
