import Testing
@testable import checker

/// The progress bar of long runs.
@Suite("progress bar")
struct ProgressBarTests {
    @Test("counts seeds, divergences and inconclusive ones; quiet unless enabled")
    func line() {
        var bar = ProgressBar(total: 4, enabled: false)
        bar.advance()
        bar.advance(diverged: true)
        #expect(bar.line.hasPrefix("[############............] 2/4 seeds, 1 diverged, 0 inconclusive"))
    }
}
