/// Deletes one operation at a time, from the back.
struct DeleteSingleOps: ShrinkPass {
    let name = "delete-single-ops"

    func run<Operation>(_ shrinker: Shrinker<Operation>) throws -> Bool {
        var changed = false
        var index = shrinker.target.count - 1
        while index >= 0 {
            var candidate = shrinker.target
            candidate.remove(at: index)
            if try shrinker.consider(candidate) { changed = true }
            index = min(index - 1, shrinker.target.count - 1)
        }
        return changed
    }
}
