/// The seeds `first, first + stride, first + 2·stride, …` below `end`: one guest's share of a
/// keep-going pool (`checker series --jobs N --keep-going`).
///
/// A guest runs it as `run --seed first --seeds (end − first) --batch 1 --shard 1/stride`: one
/// seed per batch (a crash names its seed), and shard 1 of `stride` gets batch 0, stride,
/// 2·stride, … of the range (``Shard``), i.e. exactly these seeds. So what a crashed guest left
/// unrun — the seeds after the one it crashed on — is again a progression, and can be split over
/// the next round's guests by interleaving (twice the stride, two starts).
struct SeedProgression: Equatable, Sendable, CustomStringConvertible {
    var first: UInt64
    /// One past the last seed that may be in it.
    var end: UInt64
    var stride: Int

    var seeds: [UInt64] { first < end ? Array(Swift.stride(from: first, to: end, by: stride)) : [] }

    /// The `run` arguments that run exactly these seeds.
    var arguments: [String] {
        ["--seed", String(first), "--seeds", String(end - first), "--batch", "1", "--shard", "1/\(stride)"]
    }

    var description: String {
        let seeds = seeds
        guard let last = seeds.last else { return "no seeds" }
        if seeds.count == 1 { return "seed \(first)" }
        return stride == 1 ? "seeds \(first)-\(last)" : "seeds \(first), \(first + UInt64(stride)), … \(last)"
    }

    /// Seeds `start..<end` dealt over `count` guests: guest i gets the seeds `--shard i/count`
    /// would give it with one seed per batch.
    static func split(from start: UInt64, to end: UInt64, into count: Int) -> [SeedProgression] {
        SeedProgression(first: start, end: end, stride: 1).split(into: count)
    }

    /// These seeds, interleaved over at most `count` parts (never an empty one).
    func split(into count: Int) -> [SeedProgression] {
        let parts = max(1, min(count, seeds.count))
        return (0..<parts).map { SeedProgression(first: first + UInt64(stride * $0), end: end, stride: stride * parts) }
    }

    /// The seed a crashed guest was on: the first of these without a finished batch.
    func crashedSeed(finished: [UInt64]) -> UInt64? {
        let done = Set(finished)
        return seeds.first { !done.contains($0) }
    }

    /// What a guest that crashed on `crashed` left unrun, if anything.
    func after(_ crashed: UInt64) -> SeedProgression? {
        let next = SeedProgression(first: crashed + UInt64(stride), end: end, stride: stride)
        return next.seeds.isEmpty ? nil : next
    }

    /// The next round's shares: the leftovers of the crashed guests, each split so that the
    /// round keeps up to `guests` guests busy.
    static func nextRound(_ leftovers: [SeedProgression], guests: Int) -> [SeedProgression] {
        guard !leftovers.isEmpty else { return [] }
        let parts = max(1, guests / leftovers.count)
        return leftovers.flatMap { $0.split(into: parts) }
    }
}
