import Foundation

/// Where a live run's time goes: named phases, each with how often it ran and for how long.
///
/// Two kinds of names: an operation kind (`socket`, `load`, …) for the whole of each operation,
/// and a phase inside or between operations (`probe attach`, `module load`, `settle`, `reset`,
/// …), so that the report can say which part of an operation is the kernel's and which the
/// checker's. Phases nest inside operations: their times are parts of the operations', not
/// additions to them.
struct TimeLedger: Sendable {
    struct Entry: Equatable, Sendable {
        var count = 0
        var time: Duration = .zero

        var milliseconds: Double { time.seconds * 1000 }
        var millisecondsEach: Double { count == 0 ? 0 : milliseconds / Double(count) }
    }

    private(set) var entries: [String: Entry] = [:]

    init(entries: [String: Entry] = [:]) {
        self.entries = entries
    }

    /// Adds one occurrence of `name` that took `duration`.
    mutating func add(_ name: String, _ duration: Duration, count: Int = 1) {
        entries[name, default: Entry()].count += count
        entries[name, default: Entry()].time += duration
    }

    subscript(name: String) -> Entry? { entries[name] }

    /// One line per entry, the largest total first: `name  count × each = total`.
    func lines(prefix: String = "") -> [String] {
        let width = entries.keys.map(\.count).max() ?? 0
        return entries.sorted { $0.value.time > $1.value.time }.map { name, entry in
            prefix + name.padding(toLength: width, withPad: " ", startingAt: 0)
                + String(format: "  %6d × %8.2f ms = %9.1f ms", entry.count, entry.millisecondsEach, entry.milliseconds)
        }
    }
}
