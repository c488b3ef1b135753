/// The kernel bugs a long run hit, by signature: which seeds crashed the guest with each, so that
/// a hundred crashes of one bug read as one finding (`checker series --keep-going`). Bugs whose
/// stored crash case still crashes the kernel (``StoredCrashes``) are known before the first seed.
struct CrashLedger: Sendable {
    struct Entry: Sendable, Equatable {
        var signature: CrashSignature
        var seeds: [UInt64]
        /// The failure store's case of this bug, when it was known from there.
        var storedCase: String?
    }

    /// What a crash was, for the ledger.
    enum Sighting: Equatable {
        /// A bug not seen before in this run or the store: worth reproducing.
        case new
        /// The bug an earlier seed of this run hit.
        case again(firstSeed: UInt64)
        /// The bug of a stored crash case that still crashes.
        case stored(case: String)
    }

    private(set) var entries: [Entry] = []

    /// Records a crash of `seed`, and what it was.
    @discardableResult
    mutating func record(_ signature: CrashSignature, seed: UInt64) -> Sighting {
        guard let index = entries.firstIndex(where: { $0.signature.isSameBug(as: signature) }) else {
            entries.append(Entry(signature: signature, seeds: [seed]))
            return .new
        }
        let entry = entries[index]
        entries[index].seeds.append(seed)
        // A whole report replaces a cut one: it names the function.
        if entry.signature.truncated && !signature.truncated { entries[index].signature = signature }
        if let first = entry.seeds.first { return .again(firstSeed: first) }
        return .stored(case: entry.storedCase ?? "")
    }

    /// Records a bug the failure store's case `path` still crashes the kernel with.
    mutating func know(_ signature: CrashSignature, storedCase path: String) {
        guard !entries.contains(where: { $0.signature.isSameBug(as: signature) }) else { return }
        entries.append(Entry(signature: signature, seeds: [], storedCase: path))
    }

    /// What a new crash of a seed is: `new bug: …`, `the bug of seed N again: …`, or the known
    /// bug of a stored case.
    static func describe(_ signature: CrashSignature, _ sighting: Sighting) -> String {
        switch sighting {
        case .new: return "new bug: \(signature)"
        case let .again(first): return "the bug of seed \(first) again: \(signature.title)"
        case let .stored(path): return "a known bug, its stored case \(path) still crashes: \(signature.title)"
        }
    }

    /// One line per bug the run's seeds hit, the most frequent first.
    var summary: [String] {
        entries.filter { !$0.seeds.isEmpty }.sorted { $0.seeds.count > $1.seeds.count }.map { entry in
            "\(entry.signature) — \(entry.seeds.count) crash\(entry.seeds.count == 1 ? "" : "es"), seeds "
                + entry.seeds.map(String.init).joined(separator: ", ")
                + (entry.storedCase.map { " (known: \($0))" } ?? "")
        }
    }
}
