import Generators
import Testing

/// The linearizability checker on hand-made histories of a key-value register, whose answers
/// are known: Herlihy and Wing's and Porcupine's classic cases.
@Suite("linearizability checker")
struct LinearizabilityTests {
    enum Op: Hashable, Sendable { case write(key: Int, value: Int), read(key: Int), append(key: Int, value: Int) }

    /// A map of registers; `read` observes the value (0 before any write). `append` adds its
    /// value to a set and observes nothing: a step that may leave either of two states is
    /// modelled with `unclear`, which lets a write of 9 set 9 or leave the value as it was.
    struct Registers: LinearizabilitySpecification {
        var unclearWrites = false
        var partitionByKey = false
        var expectedFinal: [Int: Int]?

        func successors(of state: [Int: Int], applying operation: Op, observed observation: Int) -> [[Int: Int]] {
            switch operation {
            case let .write(key, value):
                var next = state
                next[key] = value
                return unclearWrites && value == 9 ? [next, state] : [next]
            case let .read(key):
                return state[key, default: 0] == observation ? [state] : []
            case let .append(key, value):
                var next = state
                next[key, default: 0] += value
                return [next]
            }
        }

        func admitsFinal(_ state: [Int: Int]) -> Bool { expectedFinal.map { $0 == state } ?? true }

        func partitions(of entries: [ConcurrentHistory<Op, Int>.Entry]) -> [[Int]] {
            guard partitionByKey else { return [Array(entries.indices)] }
            var groups: [Int: [Int]] = [:]
            for (index, entry) in entries.enumerated() {
                switch entry.operation {
                case let .write(key, _), let .read(key), let .append(key, _): groups[key, default: []].append(index)
                }
            }
            return groups.keys.sorted().map { groups[$0]! }
        }
    }

    typealias Entry = ConcurrentHistory<Op, Int>.Entry

    static func entry(_ thread: Int, _ index: Int, _ operation: Op, _ observed: Int, _ from: UInt64, _ to: UInt64) -> Entry {
        Entry(thread: thread, index: index, operation: operation, observation: observed, invoked: from, responded: to)
    }

    @Test("overlapping write and reads: linearizable, with an order that explains every read")
    func linearizable() {
        // t0: write(1) [0,10]; t1: read→0 [1,3], read→1 [4,12]
        let history = ConcurrentHistory([Self.entry(0, 0, .write(key: 0, value: 1), 0, 0, 10),
                                         Self.entry(1, 0, .read(key: 0), 0, 1, 3),
                                         Self.entry(1, 1, .read(key: 0), 1, 4, 12)])
        guard case let .linearizable(order, _) = LinearizabilityChecker(Registers()).check(history, from: [:]) else {
            Issue.record("expected linearizable"); return
        }
        #expect(order == [1, 0, 2])
    }

    @Test("a read that sees a write's value before the write began is not linearizable; the counterexample names it")
    func notLinearizable() {
        // t1 reads 1 and returns before t0's write of 1 is invoked.
        let history = ConcurrentHistory([Self.entry(0, 0, .write(key: 0, value: 1), 0, 5, 9),
                                         Self.entry(1, 0, .read(key: 0), 1, 0, 4)])
        guard case let .notLinearizable(counterexample, _) = LinearizabilityChecker(Registers()).check(history, from: [:]) else {
            Issue.record("expected not linearizable"); return
        }
        #expect(counterexample.longest.isEmpty)
        #expect(counterexample.stuck == [1])
        #expect(!counterexample.finalStateRejected)
    }

    @Test("stale read after a completed write, in overlapping company: not linearizable")
    func staleRead() {
        // write(1) completes at 5; a later read [6,8] sees 0, while a concurrent write(2) [0,20]
        // cannot explain it either (it writes 2, not 0).
        let history = ConcurrentHistory([Self.entry(0, 0, .write(key: 0, value: 1), 0, 0, 5),
                                         Self.entry(1, 0, .write(key: 0, value: 2), 0, 0, 20),
                                         Self.entry(0, 1, .read(key: 0), 0, 6, 8)])
        guard case .notLinearizable = LinearizabilityChecker(Registers()).check(history, from: [:]) else {
            Issue.record("expected not linearizable"); return
        }
    }

    @Test("a step that may leave several states (unclear intent): the search tries each")
    func severalSuccessors() {
        // A write of 9 may or may not take effect; a later read of 0 is explained only if it did not.
        let history = ConcurrentHistory([Self.entry(0, 0, .write(key: 0, value: 9), 0, 0, 2),
                                         Self.entry(1, 0, .read(key: 0), 0, 3, 4)])
        guard case .notLinearizable = LinearizabilityChecker(Registers()).check(history, from: [:]) else {
            Issue.record("expected not linearizable without unclear writes"); return
        }
        guard case .linearizable = LinearizabilityChecker(Registers(unclearWrites: true)).check(history, from: [:]) else {
            Issue.record("expected linearizable with unclear writes"); return
        }
    }

    @Test("the final state is checked: an order that explains every observation but ends elsewhere is not enough")
    func finalState() {
        let history = ConcurrentHistory([Self.entry(0, 0, .write(key: 0, value: 1), 0, 0, 10),
                                         Self.entry(1, 0, .write(key: 0, value: 2), 0, 0, 10)])
        // Both orders are allowed; the final read decides which: 1 means write(2) went first.
        guard case let .linearizable(order, _) = LinearizabilityChecker(Registers(expectedFinal: [0: 1])).check(history, from: [:]) else {
            Issue.record("expected linearizable"); return
        }
        #expect(order == [1, 0])
        guard case let .notLinearizable(counterexample, _) = LinearizabilityChecker(Registers(expectedFinal: [0: 3])).check(history, from: [:]) else {
            Issue.record("expected not linearizable"); return
        }
        #expect(counterexample.finalStateRejected)
        #expect(counterexample.longest.count == 2)
    }

    @Test("a search that runs out of budget is inconclusive, never a pass")
    func budget() {
        // 12 concurrent appends and an impossible read: every order must be tried (memoisation
        // collapses orders to subsets, 2^12 of them) before the answer is no.
        var entries = (0..<12).map { Self.entry($0, 0, .append(key: 0, value: 1 << $0), 0, 0, 100) }
        entries.append(Self.entry(12, 0, .read(key: 0), -1, 0, 100))
        let history = ConcurrentHistory(entries)
        guard case let .inconclusive(steps) = LinearizabilityChecker(Registers(), budget: 500).check(history, from: [:]) else {
            Issue.record("expected inconclusive"); return
        }
        #expect(steps > 500)
        guard case .notLinearizable = LinearizabilityChecker(Registers(), budget: 1_000_000).check(history, from: [:]) else {
            Issue.record("expected not linearizable with a large budget"); return
        }
    }

    @Test("memoisation: many concurrent commuting writes are decided in few steps")
    func memoisation() {
        // 16 threads append to one register; then a read of the sum. Without memoisation 16!
        // orders; with it, at most 2^16 subsets.
        var entries = (0..<16).map { Self.entry($0, 0, .append(key: 0, value: 1), 0, 0, 100) }
        entries.append(Self.entry(16, 0, .read(key: 0), 16, 101, 102))
        guard case let .linearizable(_, steps) = LinearizabilityChecker(Registers()).check(ConcurrentHistory(entries), from: [:]) else {
            Issue.record("expected linearizable"); return
        }
        #expect(steps < 2_000)
    }

    @Test("independent partitions are checked apart; a bad one is named")
    func partitions() {
        let entries = [Self.entry(0, 0, .write(key: 0, value: 1), 0, 0, 5),
                       Self.entry(1, 0, .write(key: 1, value: 7), 0, 0, 5),
                       Self.entry(0, 1, .read(key: 0), 1, 6, 7),
                       Self.entry(1, 1, .read(key: 1), 8, 6, 7)]  // key 1 holds 7, not 8
        let spec = Registers(partitionByKey: true)
        guard case let .notLinearizable(counterexample, _) = LinearizabilityChecker(spec).check(ConcurrentHistory(entries), from: [:]) else {
            Issue.record("expected not linearizable"); return
        }
        #expect(counterexample.partition == [1, 3])
        #expect(counterexample.stuck == [3])
        var fixed = entries
        fixed[3].observation = 7
        guard case let .linearizable(order, _) = LinearizabilityChecker(spec).check(ConcurrentHistory(fixed), from: [:]) else {
            Issue.record("expected linearizable"); return
        }
        #expect(Set(order) == [0, 1, 2, 3])
    }
}
