import CKernelCalls
import Foundation
import Testing
@testable import checker

/// The barrier runner: threads start together, each list runs in order on its own kernel thread.
@Suite("barrier runner")
struct BarrierRunnerTests {
    @Test("three threads whose first item sleeps 50 ms: every first call starts before any returns")
    func overlap() {
        let threads: [[() -> (UInt64, UInt64, Int32)]] = (0..<3).map { _ in
            (0..<3).map { index in
                {
                    let start = BarrierRunner.now()
                    if index == 0 { usleep(50_000) }
                    return (start, BarrierRunner.now(), kcc_gettid())
                }
            }
        }
        let (results, tids) = BarrierRunner.run(threads)
        #expect(results.count == 3 && results.allSatisfy { $0.count == 3 })
        #expect(Set(tids).count == 3)
        #expect(!tids.contains(kcc_gettid()))
        let latestFirstStart = results.map { $0[0].0 }.max()!
        let earliestFirstEnd = results.map { $0[0].1 }.min()!
        #expect(latestFirstStart < earliestFirstEnd)
        for (thread, items) in results.enumerated() {
            // In order, on the thread the runner named.
            #expect(zip(items, items.dropFirst()).allSatisfy { $0.1 <= $1.0 })
            #expect(items.allSatisfy { $0.2 == tids[thread] })
        }
    }

    @Test("no threads: nothing runs")
    func empty() {
        let (results, tids) = BarrierRunner.run([[() -> Int]]())
        #expect(results.isEmpty && tids.isEmpty)
    }
}
