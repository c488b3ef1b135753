/// One recorded draw: the value chosen and the exclusive bound it was drawn below.
public struct Choice: Hashable, Sendable, Codable {
    public let value: UInt64
    public let bound: UInt64

    public init(value: UInt64, bound: UInt64) {
        self.value = value
        self.bound = bound
    }
}

/// Every random decision a generator makes, in order (Hypothesis's choice sequence).
///
/// A source either draws fresh choices from a seeded generator, recording each, or replays a
/// recorded sequence. Replaying the choices of a run regenerates exactly its operations, and
/// past the end of a recording every draw is 0, the simplest choice.
public struct ChoiceSource: Sendable {
    private var random: SplitMix64?
    private var replay: [Choice]
    private var cursor = 0
    /// The draws made so far.
    public private(set) var recorded: [Choice] = []

    /// Fresh draws from `seed`.
    public init(seed: UInt64) {
        random = SplitMix64(seed: seed)
        replay = []
    }

    /// Replays `choices`.
    public init(replaying choices: [Choice]) {
        random = nil
        replay = choices
    }

    /// A value in `0..<bound` (`bound` ≥ 1).
    public mutating func draw(below bound: UInt64) -> UInt64 {
        precondition(bound > 0, "a choice needs at least one option")
        let value: UInt64
        if var generator = random {
            value = generator.next(upperBound: bound)
            random = generator
        } else {
            value = cursor < replay.count ? min(replay[cursor].value, bound - 1) : 0
            cursor += 1
        }
        recorded.append(Choice(value: value, bound: bound))
        return value
    }

    /// An index into a collection of `count` elements.
    public mutating func index(_ count: Int) -> Int { Int(draw(below: UInt64(count))) }

    /// One of `options`, the first being the simplest.
    public mutating func pick<T>(_ options: [T]) -> T { options[index(options.count)] }

    /// True with probability `numerator / denominator`.
    public mutating func chance(_ numerator: UInt64, in denominator: UInt64) -> Bool {
        draw(below: denominator) < numerator
    }

    /// One of `options`, each drawn with probability proportional to its weight.
    public mutating func weighted<T>(_ options: [(weight: UInt64, value: T)]) -> T {
        let total = options.reduce(0) { $0 + $1.weight }
        var ticket = draw(below: total)
        for option in options {
            if ticket < option.weight { return option.value }
            ticket -= option.weight
        }
        return options[options.count - 1].value
    }
}
