/// Cuts everything after the divergence in one step: the predicate returns only the steps that
/// ran up to it, so re-running the target itself adopts that cut.
struct DeleteTail: ShrinkPass {
    let name = "delete-tail"

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        guard shrinker.target.count > 1 else { return false }
        // Drop the last operation and everything is re-normalised; if the divergence was earlier
        // than the end, the predicate's cut makes the candidate shorter still.
        var changed = false
        while shrinker.target.count > 1, try shrinker.consider(Array(shrinker.target.dropLast())) {
            changed = true
        }
        return changed
    }
}
