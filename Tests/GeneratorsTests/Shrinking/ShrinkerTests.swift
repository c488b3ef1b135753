@testable import Generators
import Testing

/// The shrinker on literal sequences of integers, with predicates stated in the test: it knows
/// nothing of kernels, so none is needed to test it.
@Suite("shrinker")
struct ShrinkerTests {
    /// Integers simplify toward 0, one step at a time.
    static let domain = ShrinkDomain<Int>(
        simplify: { value in value > 0 ? [0, value / 2, value - 1].filter { $0 < value } : [] },
        deleting: { range, values in
            var remaining = values
            remaining.removeSubrange(range)
            return [remaining]
        })

    /// "Diverges" when a 3 is followed, later, by a value ≥ 7; the sequence is cut after it.
    static func threeThenSeven(_ values: [Int]) -> [Int]? {
        guard let three = values.firstIndex(of: 3),
              let seven = values[(three + 1)...].firstIndex(where: { $0 >= 7 }) else { return nil }
        return Array(values[...seven])
    }

    @Test("cuts the tail, deletes unrelated operations, lowers arguments to the minimum")
    func minimises() throws {
        let initial = [5, 9, 3, 1, 4, 1, 5, 9, 2, 6, 8, 8, 4]
        let shrinker = Shrinker(initial: initial, domain: Self.domain, predicate: Self.threeThenSeven)
        let result = try shrinker.shrink()
        #expect(result.minimal == [3, 7])
        #expect(result.exitReason == .fixpoint)
        #expect(result.acceptedByPass["lower-arguments", default: 0] >= 1)
        #expect(result.acceptedByPass["delete-chunks", default: 0] + result.acceptedByPass["delete-single-ops", default: 0]
                + result.acceptedByPass["delete-tail", default: 0] >= 1)
    }

    @Test("delete-chunks removes a whole unrelated run in one step")
    func chunks() throws {
        let initial = [3] + Array(repeating: 1, count: 16) + [7]
        let shrinker = Shrinker(initial: initial, domain: Self.domain, predicate: Self.threeThenSeven)
        #expect(try DeleteChunks().run(shrinker))
        // Chunks of 9, 4 and 2 leave at most one 1 for delete-single-ops.
        #expect(shrinker.target.first == 3 && shrinker.target.last == 7 && shrinker.target.count <= 3)
        // Far fewer executions than deleting sixteen ones one at a time.
        #expect(shrinker.executions < 16)
        #expect(try DeleteSingleOps().run(shrinker) || shrinker.target.count == 2)
        #expect(shrinker.target == [3, 7])
    }

    @Test("delete-pairs removes two steps that only go together, which no other deletion can")
    func pairs() throws {
        // 2 and 4 are needed; 1 and 3 must both be there or both gone (a datagram sent and the
        // receive that takes it off the queue). Every chunk holds 2 or 4 or splits the pair.
        let predicate: ([Int]) -> [Int]? = { values in
            values.contains(2) && values.contains(4) && values.contains(1) == values.contains(3) ? values : nil
        }
        let undeletable = Shrinker(initial: [1, 2, 3, 4], domain: Self.domain, predicate: predicate)
        #expect(try !DeleteChunks().run(undeletable) && !DeleteSingleOps().run(undeletable))
        #expect(try DeletePairs().run(undeletable))
        #expect(undeletable.target == [2, 4])
        let whole = Shrinker(initial: [1, 2, 3, 4], domain: Self.domain, predicate: predicate)
        #expect(try whole.shrink().minimal == [2, 4])
    }

    @Test("rewrite-then-delete exchanges two values throughout and drops the step only one of them needed")
    func rewriteThenDelete() throws {
        // A bind of 5 or 6 and a later send to 15 or 16 show the bug when they name different
        // values (bind 6, send 15; or bind 5, send 16); binding 6 needs the setup step 9 first
        // (as binding CID 2 needs vhost). From [9, 6, 15] no deletion reproduces and the exchange
        // alone is no simpler; exchanged ([9, 5, 16]), the 9 can go.
        let predicate: ([Int]) -> [Int]? = { values in
            guard let bind = values.firstIndex(where: { $0 == 5 || $0 == 6 }),
                  let send = values[(bind + 1)...].first(where: { $0 == 15 || $0 == 16 }),
                  send - 10 != values[bind], values[bind] == 5 || values[..<bind].contains(9) else { return nil }
            return values
        }
        let exchange = ShrinkDomain<Int>(
            simplify: { _ in [] }, deleting: Self.domain.deleting,
            rewrites: { values in [values.map { [5: 6, 6: 5, 15: 16, 16: 15][$0] ?? $0 }] })
        let stuck = Shrinker(initial: [9, 6, 15], domain: exchange, predicate: predicate)
        #expect(try !DeleteChunks().run(stuck) && !DeleteSingleOps().run(stuck) && !DeletePairs().run(stuck))
        #expect(try RewriteThenDelete().run(stuck))
        #expect(stuck.target == [5, 16])
        #expect(try Shrinker(initial: [9, 6, 15], domain: exchange, predicate: predicate).shrink().minimal == [5, 16])
        // Without rewrites the pass proposes nothing.
        let plain = Shrinker(initial: [9, 6, 15], domain: Self.domain, predicate: predicate)
        #expect(try !RewriteThenDelete().run(plain))
        #expect(plain.target == [9, 6, 15])
    }

    @Test("lower-arguments moves each value to its simplest reproducing variant")
    func lowers() throws {
        let shrinker = Shrinker(initial: [3, 100], domain: Self.domain, predicate: Self.threeThenSeven)
        #expect(try LowerArguments().run(shrinker))
        #expect(shrinker.target == [3, 7])
    }

    @Test("a candidate tried once is never run again")
    func duplicates() throws {
        var runs: [[Int]] = []
        let shrinker = Shrinker(initial: [3, 1, 1, 9], domain: Self.domain) { candidate in
            runs.append(candidate)
            return Self.threeThenSeven(candidate)
        }
        let result = try shrinker.shrink()
        #expect(Set(runs).count == runs.count)
        #expect(result.duplicatesSkipped > 0)
    }

    @Test("the execution cap stops shrinking and says so")
    func executionCap() throws {
        let shrinker = Shrinker(initial: Array(0..<40) + [3, 50], limits: ShrinkLimits(maxExecutions: 5),
                                domain: Self.domain, predicate: Self.threeThenSeven)
        let result = try shrinker.shrink()
        #expect(result.exitReason == .executionLimit)
        #expect(result.executions == 5)
    }

    @Test("a flaky predicate cannot fake a shrink when confirmations are required")
    func confirmations() throws {
        // Reproduces every other time for any candidate other than the original.
        var calls = 0
        let initial = [3, 1, 9]
        let flaky: Shrinker<Int>.Predicate = { candidate in
            calls += 1
            return calls % 2 == 0 ? Self.threeThenSeven(candidate) : nil
        }
        let confirmed = Shrinker(initial: initial, limits: ShrinkLimits(confirmations: 3), domain: Self.domain,
                                 predicate: flaky)
        #expect(try confirmed.shrink().minimal == initial)
        calls = 0
        let trusting = Shrinker(initial: initial, limits: ShrinkLimits(confirmations: 1), domain: Self.domain,
                                predicate: flaky)
        #expect(try trusting.shrink().minimal != initial)
    }

    @Test("few executions (a crash, one boot each): 1-minimal with far fewer executions than the thorough passes")
    func fewExecutions() throws {
        // A crash needs steps 5, 20 and 33 of 42, and ends in the crashing step 41 (the journal
        // cuts there: the predicate returns the steps up to it).
        let initial = Array(0..<42)
        let needed: Set<Int> = [5, 20, 33]
        let crashes: ([Int]) -> [Int]? = { values in
            guard let crash = values.firstIndex(of: 41), needed.isSubset(of: values[..<crash]) else { return nil }
            return Array(values[...crash])
        }
        let thorough = try Shrinker(initial: initial, domain: Self.domain, predicate: crashes).shrink()
        let few = try Shrinker(initial: initial, domain: Self.domain, strategy: .fewExecutions, predicate: crashes).shrink()
        #expect(few.minimal == [5, 20, 33, 41])
        #expect(thorough.minimal.count == 4)
        #expect(few.executions * 2 < thorough.executions, "few \(few.executions), thorough \(thorough.executions)")
    }
}
