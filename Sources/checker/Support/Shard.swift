import ArgumentParser

/// `--shard I/N`: this job's share of a run split across N CI jobs (a CI matrix, KernelCI/LAVA
/// jobs). The run's batches of seeds are dealt round-robin, batch k to shard k mod N + 1, so the
/// N shards cover every batch exactly once, each batch keeps its seeds and its test name whatever
/// N is, and no job needs to know of the others. `checker merge` puts the reports back together.
struct Shard: ExpressibleByArgument, Hashable, CustomStringConvertible {
    /// 1-based.
    let index: Int
    let count: Int

    init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    init?(argument: String) {
        let parts = argument.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]),
              count >= 1, (1...count).contains(index) else { return nil }
        self.init(index: index, count: count)
    }

    static var defaultCompletionKind: CompletionKind { .default }

    var description: String { "\(index)/\(count)" }

    /// `seeds` in batches of `size` (one reported test each), and of those the share of `shard`
    /// (all of them without one).
    static func batches(of seeds: [UInt64], size: Int, for shard: Shard?) -> [[UInt64]] {
        let all = stride(from: 0, to: seeds.count, by: size).map { Array(seeds[$0..<min($0 + size, seeds.count)]) }
        return shard?.share(of: all) ?? all
    }

    /// This shard's items of `all`, dealt round-robin.
    func share<T>(of all: [T]) -> [T] {
        all.enumerated().filter { $0.offset % count == index - 1 }.map(\.element)
    }
}
