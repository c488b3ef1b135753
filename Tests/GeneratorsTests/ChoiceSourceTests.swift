import Generators
import Testing

@Suite("choice sequences")
struct ChoiceSourceTests {
    @Test("the same seed draws the same choices")
    func seeded() {
        var first = ChoiceSource(seed: 42)
        var second = ChoiceSource(seed: 42)
        let a = (0..<200).map { _ in first.draw(below: 1000) }
        let b = (0..<200).map { _ in second.draw(below: 1000) }
        #expect(a == b)
        var other = ChoiceSource(seed: 43)
        #expect((0..<200).map { _ in other.draw(below: 1000) } != a)
    }

    @Test("replaying recorded choices draws them again; past the end every draw is 0")
    func replay() {
        var source = ChoiceSource(seed: 7)
        let drawn = (0..<50).map { _ in source.draw(below: 17) }
        var replay = ChoiceSource(replaying: source.recorded)
        #expect((0..<50).map { _ in replay.draw(below: 17) } == drawn)
        #expect(replay.draw(below: 17) == 0)
    }

    @Test("a replayed value above a smaller bound is clamped into range")
    func clamped() {
        var replay = ChoiceSource(replaying: [Choice(value: 9, bound: 10)])
        #expect(replay.draw(below: 4) == 3)
    }

    @Test("weighted draws respect zero-weight options")
    func weighted() {
        var source = ChoiceSource(seed: 1)
        for _ in 0..<500 {
            #expect(source.weighted([(weight: 0, value: "never"), (weight: 3, value: "a"), (weight: 1, value: "b")]) != "never")
        }
    }
}
