/// The VM's `mem_attr_array` as the model keeps it: the attributes of every gfn, as sorted,
/// disjoint, coalesced runs of non-zero values (a gfn in no run has attributes 0, like an absent
/// xarray entry). Runs, not gfns: a single request may name 2^52 of them.
public struct AttributeMap: Hashable, Sendable, CustomStringConvertible {
    public struct Run: Hashable, Sendable {
        public var gfns: Range<UInt64>
        public var attributes: UInt64
    }

    public private(set) var runs: [Run] = []

    public init() {}

    /// The attributes of one gfn (`kvm_get_memory_attributes()`).
    public func attributes(of gfn: UInt64) -> UInt64 {
        runs.first { $0.gfns.contains(gfn) }?.attributes ?? 0
    }

    /// Whether every gfn of `gfns` has exactly `attributes`
    /// (`kvm_range_has_memory_attributes(kvm, start, end, ~0, attributes)`, kvm_main.c:2417).
    public func has(_ attributes: UInt64, throughout gfns: Range<UInt64>) -> Bool {
        let overlapping = runs.filter { $0.gfns.overlaps(gfns) }
        if attributes == 0 { return overlapping.isEmpty }
        var next = gfns.lowerBound
        for run in overlapping {
            guard run.attributes == attributes, run.gfns.lowerBound <= next else { return false }
            next = max(next, run.gfns.upperBound)
        }
        return next >= gfns.upperBound
    }

    /// Gives every gfn of `gfns` `attributes` (the `xa_store` loop, kvm_main.c:2566–2571).
    public mutating func set(_ attributes: UInt64, over gfns: Range<UInt64>) {
        guard !gfns.isEmpty else { return }
        var result: [Run] = []
        for run in runs {
            if run.gfns.lowerBound < gfns.lowerBound {
                result.append(Run(gfns: run.gfns.lowerBound..<min(run.gfns.upperBound, gfns.lowerBound),
                                  attributes: run.attributes))
            }
            if run.gfns.upperBound > gfns.upperBound {
                result.append(Run(gfns: max(run.gfns.lowerBound, gfns.upperBound)..<run.gfns.upperBound,
                                  attributes: run.attributes))
            }
        }
        if attributes != 0 { result.append(Run(gfns: gfns, attributes: attributes)) }
        result.sort { $0.gfns.lowerBound < $1.gfns.lowerBound }
        // Coalesce neighbours with the same attributes.
        var merged: [Run] = []
        for run in result {
            if let last = merged.last, last.attributes == run.attributes, last.gfns.upperBound == run.gfns.lowerBound {
                merged[merged.count - 1].gfns = last.gfns.lowerBound..<run.gfns.upperBound
            } else {
                merged.append(run)
            }
        }
        runs = merged
    }

    public var description: String {
        runs.isEmpty ? "all 0"
            : runs.map { "[\(hexString($0.gfns.lowerBound)), \(hexString($0.gfns.upperBound)))=\(hexString($0.attributes))" }
                .joined(separator: " ")
    }
}
