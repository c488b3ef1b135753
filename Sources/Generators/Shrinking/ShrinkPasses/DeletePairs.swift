/// Deletes two operations that are not next to each other, for short targets only.
///
/// A local minimum the single and chunk deletions leave: two steps that only matter together,
/// like a datagram sent and the receive that takes it off the queue before the receive that
/// diverges (deleting either alone changes what the later receive gets). Hypothesis's shrinker
/// tries such pairs too. Quadratic, so it runs only once the target is short and the cheaper
/// passes are done (it comes after them), and from the back, as the single deletions do.
struct DeletePairs: ShrinkPass {
    let name = "delete-pairs"
    /// Up to 12 operations: at most 55 pairs of non-adjacent steps.
    static let maximumLength = 12

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        guard shrinker.target.count <= Self.maximumLength else { return false }
        var later = shrinker.target.count - 1
        while later >= 2 {
            var earlier = later - 2
            while earlier >= 0 {
                if try shrinker.considerDeletingPair(earlier, later) { return true }
                earlier -= 1
            }
            later -= 1
        }
        return false
    }
}
