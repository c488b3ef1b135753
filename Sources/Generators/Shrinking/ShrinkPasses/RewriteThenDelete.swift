/// Rewrites the whole target (the domain's ``ShrinkDomain/rewrites``, such as two CIDs
/// exchanged wherever they occur) and then deletes one step, for short targets only.
///
/// A local minimum no deletion or lowering leaves: the same bug shown through another pair of
/// values, one of which needs a setup step the other does not. Mutant 13's live case bound a
/// socket at CID 2, which needs vhost loaded, and sent to CID 1; the same delivery bug shows
/// with the CIDs exchanged and no vhost, one step shorter. Neither the exchange alone (not
/// simpler) nor the deletion alone (the bind fails) is adopted, so the pass proposes them
/// together; a candidate is always shorter than the target, so the shrinker still terminates.
/// Hypothesis's shrinker changes duplicated values together for the same reason.
struct RewriteThenDelete: ShrinkPass {
    let name = "rewrite-then-delete"
    /// Up to 12 operations: rewrites × steps candidates, from the back.
    static let maximumLength = 12

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        guard shrinker.target.count <= Self.maximumLength else { return false }
        for rewritten in shrinker.domain.rewrites(shrinker.target) {
            for index in shrinker.target.indices.reversed() {
                for candidate in shrinker.domain.deleting(index..<(index + 1), rewritten).prefix(2)
                    where try shrinker.consider(candidate) {
                    return true
                }
            }
        }
        return false
    }
}
