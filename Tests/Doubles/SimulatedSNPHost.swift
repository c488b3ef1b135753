import Generators
import Model

/// A simulated SNP host: a Swift implementation of what `sev_update_mem_attr` is meant to do,
/// written independently of the model (it takes 2M steps where it can; the model only states end
/// states), with planted flaws.
///
/// A test double for the engine and the model: a correct host must never diverge, a flawed one
/// must be found and shrunk. It is not the patch (the harness compiles the patch's own C) and
/// never the live path.
public final class SimulatedSNPHost: SystemUnderTest {
    public typealias Model = SNPModel

    /// Planted flaws, each a mistake an implementation could make.
    public enum Flaw: String, CaseIterable, Sendable {
        /// v8's own: a folio above 2M advances by its size after one 2M RMPUPDATE.
        case largeFolioFirst2MOnly
        /// Makes a page of a 2M entry shared without PSMASH first (RMPUPDATE FAIL_OVERLAP).
        case noSplitBeforeShared
        /// Forgets put_page for pages that need no change.
        case leaksReferenceWhenDone
        /// Converts pages of a VM that is not an SNP guest.
        case ignoresNonSNP
    }

    public let flaw: Flaw?
    public private(set) var environment = SNPEnvironment()
    public var name: String { "simulated SNP host" + (flaw.map { " (flaw \($0.rawValue))" } ?? "") }

    public init(flaw: Flaw? = nil) { self.flaw = flaw }

    public func reset() throws { environment = SNPEnvironment() }

    public func execute(_ operation: SNPOperation) throws -> SNPObservation {
        guard case let .convert(start, end, toPrivate) = operation else {
            return environment.apply(operation) ? .applied : .refused
        }
        var references = 0
        let result = convert(start, end, toPrivate, references: &references)
        return .update(SNPUpdateOutcome(result: result, rmp: environment.rmp, leakedReferences: references))
    }

    private func convert(_ start: UInt64, _ end: UInt64, _ toPrivate: Bool, references: inout Int) -> Int32 {
        guard let slot = environment.slot else { return -22 }
        guard slot.snpGuest || flaw == .ignoresNonSNP else { return 0 }
        guard slot.canBePrivate else { return -1 }
        var gfn = start
        while gfn < end {
            guard let (pfn, order) = environment.backing(of: gfn) else { gfn += 1; continue }
            references += 1
            let entry = environment.rmp[pfn]
            let done = toPrivate ? entry.assigned && entry.asid == slot.asid && entry.gpa == gfn << 12 : !entry.assigned
            if done {
                if flaw != .leaksReferenceWhenDone { references -= 1 }
                gfn += 1
                continue
            }
            // A whole, aligned, unassigned 2M region inside the range: one 2M entry.
            let base = RMPTable.base(of: pfn)
            if toPrivate, order >= 9, pfn == base, gfn % 512 == 0, gfn + 512 <= end,
               (base..<(base + 512)).allSatisfy({ !environment.rmp[$0].assigned }) {
                let code = environment.rmp.rmpupdate(pfn: pfn, RMPEntry(assigned: true, pageSize: .size2M, asid: slot.asid, gpa: gfn << 12))
                references -= 1
                if code != .success { return -22 }
                gfn += flaw == .largeFolioFirst2MOnly ? UInt64(1) << UInt64(order) : 512
                continue
            }
            if environment.rmp.isInAssigned2M(pfn) && flaw != .noSplitBeforeShared {
                if environment.rmp.psmash(pfn: base) != .success { references -= 1; return -22 }
            }
            let code = environment.rmp.rmpupdate(pfn: pfn, toPrivate ? RMPEntry(assigned: true, asid: slot.asid, gpa: gfn << 12) : .hypervisor)
            references -= 1
            if code != .success { return -22 }
            gfn += 1
        }
        return 0
    }
}
