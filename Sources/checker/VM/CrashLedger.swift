/// The kernel bugs a long run hit, by signature: which seeds crashed the guest with each, so that
/// a hundred crashes of one bug read as one finding (`checker series --keep-going`).
struct CrashLedger: Sendable {
    struct Entry: Sendable, Equatable {
        var signature: CrashSignature
        var seeds: [UInt64]
    }

    private(set) var entries: [Entry] = []

    /// Records a crash of `seed`; returns the seeds that hit the same bug before (empty: a new one).
    @discardableResult
    mutating func record(_ signature: CrashSignature, seed: UInt64) -> [UInt64] {
        if let index = entries.firstIndex(where: { $0.signature.isSameBug(as: signature) }) {
            let earlier = entries[index].seeds
            entries[index].seeds.append(seed)
            // A whole report replaces a cut one: it names the function.
            if entries[index].signature.truncated && !signature.truncated { entries[index].signature = signature }
            return earlier
        }
        entries.append(Entry(signature: signature, seeds: [seed]))
        return []
    }

    /// What a new crash of `seed` is: `new bug: …`, or `the bug of seed N: …`.
    static func describe(_ signature: CrashSignature, earlier: [UInt64]) -> String {
        earlier.isEmpty ? "new bug: \(signature)" : "the bug of seed \(earlier[0]) again: \(signature.title)"
    }

    /// One line per bug, the most frequent first.
    var summary: [String] {
        entries.sorted { $0.seeds.count > $1.seeds.count }.map { entry in
            "\(entry.signature) — \(entry.seeds.count) crash\(entry.seeds.count == 1 ? "" : "es"), seeds "
                + entry.seeds.map(String.init).joined(separator: ", ")
        }
    }
}
